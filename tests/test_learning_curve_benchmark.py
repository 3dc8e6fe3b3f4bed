"""The learning-curve benchmark (``benchmarks/si_learning_curve.py`` and ``_scoring.py``) for elements other than Si.

Issue 25: a carbon run is scored on carbon's known phases (diamond, graphite, lonsdaleite), relative to its ground
state, and written to its own files; the Si names and behaviour stay as they were (issue 18's results files).
"""

from __future__ import annotations

import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def benchmarks():
    sys.path.insert(0, str(ROOT / 'benchmarks'))
    try:
        yield
    finally:
        sys.path.remove(str(ROOT / 'benchmarks'))


def test_scoring_relaxes_the_phases_of_the_run_element(benchmarks):
    """The validation parameters name the element: carbon's graphite is built, in carbon's cell (not Si's)."""
    from _scoring import score_calculator
    from ase.calculators.lj import LennardJones

    parameters = {'element': 'C', 'phases': ['diamond', 'graphite'], 'relax': {'fmax': 0.5, 'steps': 2, 'smax': 1.0}}
    scored = score_calculator(LennardJones(sigma=1.4, epsilon=1.0, rc=3.5), ['diamond', 'graphite'], [], parameters)
    assert set(scored['phases']) == {'diamond', 'graphite'}
    # diamond C has 5.7 Å^3/atom, diamond Si 20.0: two optimiser steps do not bridge that
    assert scored['phases']['diamond']['volume_per_atom'] < 8.0


def test_scoring_element_argument_wins_and_si_stays_the_default(benchmarks):
    from _scoring import score_calculator
    from ase.calculators.lj import LennardJones

    relax = {'relax': {'fmax': 0.5, 'steps': 1, 'smax': 1.0}}
    calculator = LennardJones(sigma=2.1, epsilon=1.0, rc=5.0)
    si = score_calculator(calculator, ['diamond'], [], relax)
    carbon = score_calculator(calculator, ['diamond'], [], {**relax, 'element': 'Si'}, element='C')
    assert si['phases']['diamond']['volume_per_atom'] > 15.0
    assert carbon['phases']['diamond']['volume_per_atom'] < 8.0


def test_relative_errors_refer_to_the_element_ground_state(benchmarks):
    """Ti has no diamond: the relative errors refer to its first validated phase, hcp; C and Si to diamond."""
    from _scoring import compare, ground_state

    assert ground_state('Si') == 'diamond' and ground_state('C') == 'diamond'
    assert ground_state('Ti') == 'hcp' and ground_state('B') == 'alpha_b12'
    reference = {'phases': {'hcp': {'energy_per_atom': -7.0}, 'bcc': {'energy_per_atom': -6.9}}}
    scored = {'phases': {'hcp': {'energy_per_atom': -7.01}, 'bcc': {'energy_per_atom': -6.88}}, 'energy_volume': {}}
    result = compare(scored, reference)
    assert result['relative_errors']['bcc'] == pytest.approx(0.03)
    assert result['relative_errors']['hcp'] == pytest.approx(0.0)
    graphite_first = {'graphite': {'energy_per_atom': -9.2}, 'diamond': {'energy_per_atom': -9.1}}
    scored = {'phases': {'graphite': {'energy_per_atom': -9.2}, 'diamond': {'energy_per_atom': -9.09}}}
    assert compare({**scored, 'energy_volume': {}}, {'phases': graphite_first})['relative_errors']['graphite'] == (
        pytest.approx(-0.01)
    )


def test_file_and_profile_names_per_element(benchmarks):
    """Si keeps its names (issue 18's files and the bench-si profile of its run); C gets its own."""
    from si_learning_curve import profile_name, results_name

    assert results_name('Si', 'fast400') == 'si_learning_curve.fast400.json'
    assert (ROOT / 'benchmarks' / 'results' / results_name('Si', 'fast400')).is_file()
    assert results_name('Si') == 'si_learning_curve.json'
    assert results_name('C') == 'c_learning_curve.json'
    assert results_name('C', 'x', 'potential_evaluation') == 'c_potential_evaluation.x.json'
    assert profile_name('Si') == 'bench-si' and profile_name('C') == 'bench-c'


def _validation(run, label: str, reference: dict | None, reference_inputs: dict, relax: dict):
    """A finished validation node of ``run`` (CALL link ``label``) with ``reference__*`` inputs and its outputs."""
    from aiida import orm
    from aiida.common.links import LinkType

    node = orm.WorkflowNode()
    if run is not None:
        node.base.links.add_incoming(run, LinkType.CALL_WORK, label)
    for name, value in reference_inputs.items():
        node.base.links.add_incoming(value, LinkType.INPUT_WORK, name)
    node.base.links.add_incoming(orm.Dict({'relax': relax}).store(), LinkType.INPUT_WORK, 'parameters')
    node.set_process_state('finished')
    node.set_exit_status(0)
    node.store()
    if reference is not None:
        output = orm.Dict(reference).store()
        output.base.links.add_incoming(node, LinkType.RETURN, 'reference_results')
    return node


def test_a_reference_side_with_failed_phases_is_completed_by_its_supplement(benchmarks):
    """A pw.x killed with its machine leaves a phase out of the run's reference side: a supplement with the run's own
    reference inputs fills it in; one with other inputs is ignored; the failures list keeps what is still missing."""
    from aiida import orm
    from aiida.common.links import LinkType
    from si_learning_curve import SUPPLEMENT_EXTRA, reference_side, reference_validation

    from aiida_gaprss.rss.validation import complete_reference_side

    code, other_code = orm.Str('pw@localhost').store(), orm.Str('other').store()
    relax = {'fmax': 0.01, 'steps': 200}
    run = orm.WorkflowNode().store()
    first = {
        'phases': {'diamond': {'energy_per_atom': -5.0}, 'beta_sn': {'energy_per_atom': -4.7}},
        'energy_volume': {'diamond': {'fit': {'v0': 20.4}}},
        'failures': [{'phase': 'st12', 'error': 'failed'}, {'phase': 'oS24', 'error': 'failed'}],
    }
    source = _validation(run, 'validation_00', first, {'reference__qe__code': code}, relax)
    assert reference_validation(run).pk == source.pk

    good = _validation(None, '', {'phases': {'st12': {'energy_per_atom': -4.8}}, 'energy_volume': {}, 'failures': []},
                       {'reference__qe__code': code}, relax)  # fmt: skip
    wrong = _validation(None, '', {'phases': {'oS24': {'energy_per_atom': -9.9}}, 'energy_volume': {}, 'failures': []},
                        {'reference__qe__code': other_code}, relax)  # fmt: skip
    for node in (good, wrong):
        node.base.extras.set(SUPPLEMENT_EXTRA, run.uuid)

    with pytest.raises(RuntimeError, match='no validation job'):  # no potential job in the validation yet
        reference_side(run)
    job = orm.WorkflowNode()
    job.base.links.add_incoming(source, LinkType.CALL_WORK, 'potential')
    job.base.links.add_incoming(orm.Dict({'phases': ['diamond', 'st12']}).store(), LinkType.INPUT_WORK, 'parameters')
    job.store()
    reference, parameters = reference_side(run)
    assert parameters == {'phases': ['diamond', 'st12']}
    assert sorted(reference['phases']) == ['beta_sn', 'diamond', 'st12']
    assert reference['supplements'] == [good.uuid] and reference['failures'] == [{'phase': 'oS24', 'error': 'failed'}]
    assert reference['completed_phases'] == ['st12']

    merged = complete_reference_side(first, good.outputs.reference_results.get_dict())
    assert merged['phases']['st12'] == {'energy_per_atom': -4.8}
    assert merged['phases']['diamond'] == first['phases']['diamond']  # never replaced
    assert [row['phase'] for row in merged['failures']] == ['oS24']
    assert merged['completed_phases'] == ['st12']
    assert 'st12' not in first['phases']  # the input is not changed

    from si_learning_curve import supplements

    assert [node.pk for node in supplements(run)] == [good.pk]  # other reference inputs: ignored


def test_evaluation_uses_per_element(benchmarks):
    """The Si potential's 'for / not for' lists are Si's; another element gets none (the card's general text)."""
    from si_learning_curve import uses_of

    from aiida_gaprss.potentials.card import DEFAULT_INTENDED_USE

    silicon = uses_of('Si')
    assert set(silicon) == {'intended_use', 'not_for'}
    assert all('Si' in text for text in silicon['intended_use'][:2])
    assert uses_of('C') == {}
    assert '{elements}' in DEFAULT_INTENDED_USE[0]  # what a carbon card says instead, with its element filled in
