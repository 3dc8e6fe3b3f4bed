"""A reference relaxation cut off by its machine is relaunched from the geometry it reached, and a reused reference
side that lacks a phase (its relaxation failed in an earlier validation) is completed, not carried on without it."""

from __future__ import annotations

import pytest
from aiida import orm
from aiida.engine import run_get_node

from aiida_gaprss.rss.validation import MAX_REFERENCE_ATTEMPTS, complete_reference_side, retry_phases
from aiida_gaprss.workflows.validation import ValidationWorkChain
from aiida_gaprss.workflows.validation.relaunch import INTERRUPTED_EXIT_STATUSES, base_tag

SETTINGS = {'element': 'Si', 'engine': 'qe', 'relax': {'fmax': 0.02, 'steps': 100, 'smax': 0.1}, 'eos': None,
            'num_points': 0, 'units': {'energy': 'eV'}}  # fmt: skip
BETA_SN = {'energy': -210.0, 'energy_per_atom': -105.0, 'volume_per_atom': 15.5, 'natoms': 2, 'converged': True,
           'status': 'converged'}  # fmt: skip


def test_complete_reference_side_takes_only_what_is_missing():
    previous = {**SETTINGS, 'phases': {'beta_sn': BETA_SN}, 'energy_volume': {'beta_sn': {'fit': 1}},
                'failures': [{'phase': 'st12', 'error': 'failed'}, {'phase': 'oS24', 'error': 'failed'}]}  # fmt: skip
    assert retry_phases(previous) == ['st12', 'oS24']
    computed = {**SETTINGS, 'phases': {'st12': {'energy_per_atom': -104.9}, 'beta_sn': {'energy_per_atom': 0.0}},
                'energy_volume': {'beta_sn': {'fit': 2}}, 'failures': [{'phase': 'oS24', 'error': 'x'}]}  # fmt: skip
    merged = complete_reference_side(previous, computed)
    assert merged['phases']['beta_sn'] == BETA_SN and merged['energy_volume']['beta_sn'] == {'fit': 1}  # kept
    assert merged['phases']['st12'] == {'energy_per_atom': -104.9}
    assert merged['completed_phases'] == ['st12']
    assert merged['failures'] == [{'phase': 'oS24', 'error': 'x', 'attempts': 2}]
    assert retry_phases(merged) == []  # given up after MAX_REFERENCE_ATTEMPTS
    assert MAX_REFERENCE_ATTEMPTS == 2
    assert previous['failures'][0] == {'phase': 'st12', 'error': 'failed'}  # the input is not changed
    assert base_tag('relax_st12_relaunch2') == 'relax_st12' and base_tag('eos_st12_03') == 'eos_st12_03'
    assert 312 in INTERRUPTED_EXIT_STATUSES and 305 in INTERRUPTED_EXIT_STATUSES


@pytest.mark.slow
@pytest.mark.ci_slow
def test_a_killed_reference_relaxation_is_relaunched_and_completes_the_reused_side(
    fixture_code, small_gap, pw_code_lost_once
):
    """The reused side lacks diamond (its relaxation failed once before): only diamond is relaxed with pw.x; that
    job dies like a killed one (no output); it is relaunched and the side is completed, beta-Sn left as it was."""
    from aiida_gaprss.pseudos import install_debian_family

    install_debian_family()
    code, marker = pw_code_lost_once
    reused = orm.Dict({**SETTINGS, 'phases': {'beta_sn': BETA_SN}, 'energy_volume': {},
                       'failures': [{'phase': 'diamond', 'error': 'PwRelaxWorkChain failed'}]})  # fmt: skip
    builder = ValidationWorkChain.get_builder()
    builder.potential = small_gap
    builder.element = orm.Str('Si')
    builder.phases = orm.List(['diamond', 'beta_sn'])
    builder.code = fixture_code('python')
    builder.parameters = orm.Dict({'relax': SETTINGS['relax'], 'eos': None})
    builder.reference = {'engine': orm.Str('qe'), 'qe': {'code': code, 'kpoints_spacing': orm.Float(0.5)}}
    builder.reference_results = reused
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    assert marker.exists()  # the first pw.x job died
    labels = sorted(link.link_label for link in node.base.links.get_outgoing().all())
    assert [label for label in labels if label.startswith('reference_relax')] == [
        'reference_relax_diamond', 'reference_relax_diamond_relaunch1'
    ]  # fmt: skip
    first = node.base.links.get_outgoing(link_label_filter='reference_relax_diamond').one().node
    assert not first.is_finished_ok
    reports = ' '.join(log.message for log in orm.Log.collection.get_logs_for(node))
    assert 'relaunched from the geometry it reached' in reports
    side = results['reference_results'].get_dict()
    assert side['phases']['beta_sn'] == BETA_SN  # the reused phase, untouched
    assert 19.0 < side['phases']['diamond']['volume_per_atom'] < 21.5  # PBE Si, coarse k-mesh
    assert side['completed_phases'] == ['diamond'] and side['failures'] == []
    assert results['reference_results'].pk != reused.pk
    assert set(results['phase_errors']['phases']) == {'diamond', 'beta_sn'}
