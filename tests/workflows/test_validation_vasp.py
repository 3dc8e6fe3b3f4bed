"""ValidationWorkChain with the VASP reference side (aiida-vasp VaspRelaxWorkChain) on the fake VASP computing SW Si.

The fake VASP (tests/fake_vasp/vasp) relaxes with Stillinger–Weber as the INCAR asks (IBRION, NSW, ISIF, EDIFFG) and
writes VASP's outputs, which aiida-vasp parses; so the VASP reference side must reproduce the SW minima that ASE finds
(:func:`aiida_gaprss.rss.validation.relax_phase`): SW against fake-VASP(SW) is converged (< 1 meV/atom) on every phase.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node

from aiida_gaprss.workflows.validation import ValidationWorkChain, vasp_relax_builder
from tests.fake_vasp import FAKE_VASP, FAMILY

PHASES = ['diamond', 'beta_sn']
PARAMETERS = {
    'relax': {'fmax': 0.01, 'steps': 100, 'smax': 0.01},
    'eos': {'volume_factors': [0.94, 0.97, 1.0, 1.03, 1.06], 'fmax': 0.01, 'steps': 60},
}


def vasp_namespace(code, **kwargs):
    namespace = {
        'code': code,
        'potential_family': orm.Str(FAMILY),
        'potential_mapping': orm.Dict({'Si': 'Si'}),
        'options': orm.Dict({'withmpi': False}),
        'max_iterations': orm.Int(1),
    }
    namespace.update(kwargs)
    return namespace


def builder_for(python, potential, vasp, **kwargs):
    builder = ValidationWorkChain.get_builder()
    builder.potential = potential
    builder.element = orm.Str('Si')
    builder.phases = orm.List(PHASES)
    builder.code = python
    builder.parameters = orm.Dict(PARAMETERS)
    builder.reference = {'engine': orm.Str('vasp'), 'vasp': vasp}
    for key, value in kwargs.items():
        builder[key] = value
    return builder


def test_relax_builder_modes(vasp_code, potcar_family):
    """ISIF 3 / 4 / 2 from the relax settings; the label protocol's single-point tags are left to them."""
    from aiida_vasp.assistant.parameters import ParametersMassage

    from aiida_gaprss.rss.phases import build_phase

    atoms = build_phase('Si', 'beta_sn')
    vasp = vasp_namespace(vasp_code)
    expected = {'vc-relax': 3, 'shape': 4, 'relax': 2}
    for mode, isif in expected.items():
        builder = vasp_relax_builder(vasp, atoms, mode, {'fmax': 0.02, 'steps': 40})
        incar = builder.vasp.parameters.get_dict()['incar']
        assert not {'ibrion', 'nsw', 'isif', 'ediffg'} & set(incar)
        assert incar['encut'] == 400.0 and incar['gga'] == 'PS'
        assert builder.vasp.kpoints_spacing.value == pytest.approx(0.25 / (2 * 3.141592653589793))
        settings = builder.relax_settings.get_dict()
        assert settings['force_cutoff'] == 0.02 and settings['steps'] == 40
        # what aiida-vasp's VaspWorkChain writes to the INCAR from these settings
        massaged = ParametersMassage({'incar': incar, 'relax': settings}).parameters.incar
        assert massaged['isif'] == isif, mode
        assert massaged['ibrion'] == 2 and massaged['nsw'] == 40 and massaged['ediffg'] == -0.02
    builder = vasp_relax_builder(vasp, atoms, 'none', {'fmax': 0.02}, mesh=[3, 3, 5])
    assert builder.relax_settings['perform'] is False
    assert builder.vasp.kpoints.get_kpoints_mesh()[0] == [3, 3, 5]


def _run_fake_vasp(folder: pathlib.Path, atoms, incar: str) -> None:
    """Run the fake VASP in ``folder`` on ``atoms`` with the INCAR text ``incar``, as aiida-vasp would."""
    import os
    import subprocess

    from ase.io import write

    from tests.fake_vasp.potcars import fake_potcar

    folder.mkdir()
    write(folder / 'POSCAR', atoms, format='vasp', direct=True)
    (folder / 'POTCAR').write_text(fake_potcar('Si'))
    (folder / 'KPOINTS').write_text('mesh\n0\nGamma\n4 4 4\n0 0 0\n')
    (folder / 'INCAR').write_text(incar)
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PATH': f'{pathlib.Path(sys.executable).parent}:{os.environ["PATH"]}'}
    subprocess.run([str(FAKE_VASP)], cwd=folder, env=env, check=True, capture_output=True, timeout=300)


@pytest.mark.parametrize(('isif', 'keeps'), [(2, 'cell'), (3, None), (4, 'volume')])
def test_fake_vasp_relaxes_as_the_incar_asks(tmp_path, isif, keeps):
    """IBRION/NSW/ISIF/EDIFFG relaxations with SW, written as VASP does and read by aiida-vasp's vasprun parser."""
    from aiida_vasp.parsers.content_parsers.vasprun import VasprunParser
    from ase.build import bulk
    from ase.io import read

    from aiida_gaprss.rss.potentials import stillinger_weber_si

    start = bulk('Si', 'diamond', a=5.55, cubic=True)
    start.set_cell(start.cell.array @ np.diag([1.02, 1.0, 0.98]), scale_atoms=True)  # strained: shape and volume
    start.rattle(0.05, seed=3)
    _run_fake_vasp(tmp_path / 'run', start, f'IBRION = 2\nNSW = 80\nISIF = {isif}\nEDIFFG = -0.01\n')

    with open(tmp_path / 'run' / 'vasprun.xml', 'rb') as handle:  # as aiida-vasp opens it (OPEN_MODE)
        settings = {'quantities_to_parse': ['energies', 'trajectory'], 'energy_type': ['energy_free']}
        parser = VasprunParser(handler=handle, settings=settings)
        status = parser.run_status  # what aiida-vasp's VaspParser checks (ionic_converged: fewer steps than NSW)
        energies = parser.get_quantity('energies')
        trajectory = parser.get_quantity('trajectory')
    assert status['finished'] and status['electronic_converged'] and status['ionic_converged']
    steps = len(trajectory['cells'])
    assert 1 < steps < 80
    final = read(tmp_path / 'run' / 'CONTCAR', format='vasp')
    np.testing.assert_allclose(trajectory['cells'][-1], final.cell.array, atol=1e-8)
    # the energy of the last ionic step is SW's at the final structure, and the forces are relaxed
    final.calc = stillinger_weber_si()
    assert energies['energy_free'][-1] == pytest.approx(final.get_potential_energy(), abs=1e-6)
    assert np.abs(final.get_forces()).max() < 0.01
    if keeps == 'cell':
        np.testing.assert_allclose(final.cell.array, start.cell.array, atol=1e-8)
    elif keeps == 'volume':
        assert final.get_volume() == pytest.approx(start.get_volume(), rel=1e-6)
        assert not np.allclose(final.cell.cellpar()[:3], start.cell.cellpar()[:3], atol=1e-3)  # the shape relaxed
    else:  # ISIF 3: SW diamond at 0 GPa, a = 5.431 Å
        assert final.get_volume() / len(final) == pytest.approx(5.43095**3 / 8, rel=2e-3)
        assert energies['energy_free'][-1] / len(final) == pytest.approx(-4.335, abs=2e-4)


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        (None, 'reference.vasp.code'),
        (('parameters', {'ISIF': 3}), 'reference.vasp.parameters.ISIF'),
        (('potential_mapping', {'C': 'C'}), 'element Si: missing from `reference.vasp.potential_mapping`'),
        (('protocol', 'nonsense'), 'field `reference.vasp.protocol`'),
    ],
)
def test_bad_vasp_reference_refused(fixture_code, small_gap, vasp_code, potcar_family, change, message):
    vasp = {}
    if change is not None:
        key, value = change
        vasp = vasp_namespace(vasp_code, **{key: orm.Dict(value) if isinstance(value, dict) else orm.Str(value)})
    builder = builder_for(fixture_code('python'), small_gap, vasp)
    with pytest.raises(ValueError, match=message):
        run_get_node(builder)


@pytest.mark.slow
@pytest.mark.ci_slow
def test_vasp_reference_reproduces_stillinger_weber(fixture_code, small_gap, vasp_code, potcar_family):
    """Fake VASP (SW) relaxations give the SW minima and E(V): SW vs fake-VASP(SW) is converged on every phase."""
    from aiida_gaprss.rss.phases import build_phase
    from aiida_gaprss.rss.potentials import stillinger_weber_si
    from aiida_gaprss.rss.validation import phase_energy_errors, relax_phase

    builder = builder_for(fixture_code('python'), small_gap, vasp_namespace(vasp_code))
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message

    outgoing = {link.link_label: link.node for link in node.base.links.get_outgoing().all()}
    for name in PHASES:
        relax = outgoing[f'reference_relax_{name}']
        assert relax.process_label == 'VaspRelaxWorkChain'
        assert relax.is_finished_ok, relax.exit_message
        assert sum(label.startswith(f'reference_eos_{name}_') for label in outgoing) == 5
    # the variable-cell relaxation is restarted with a fresh basis (its first run changes the volume), then the energy
    # comes from a single point in the relaxed cell
    labels = {link.link_label for link in outgoing['reference_relax_beta_sn'].base.links.get_outgoing().all()}
    assert {'relax_01', 'relax_02', 'singlepoint'} <= labels
    # the INCAR of the variable-cell relaxation and of the fixed-volume points of a non-cubic phase
    calculations = [
        n for n in outgoing['reference_relax_beta_sn'].called_descendants if n.process_label == 'VaspCalculation'
    ]
    assert {c.inputs.parameters['isif'] for c in calculations if 'isif' in c.inputs.parameters.get_dict()} == {3}
    assert any('nsw' not in c.inputs.parameters.get_dict() for c in calculations)  # the final single point
    calculations = [
        n for n in outgoing['reference_eos_beta_sn_00'].called_descendants if n.process_label == 'VaspCalculation'
    ]
    assert {c.inputs.parameters.get_dict().get('isif') for c in calculations} >= {4}
    calculations = [
        n for n in outgoing['reference_eos_diamond_00'].called_descendants if n.process_label == 'VaspCalculation'
    ]
    assert {c.inputs.parameters.get_dict().get('isif') for c in calculations} == {2}

    reference = results['reference_results'].get_dict()
    assert reference['engine'] == 'vasp' and not reference['failures']
    relax = PARAMETERS['relax']
    sw = stillinger_weber_si()
    by_hand = {}
    for name in PHASES:
        frame = relax_phase(build_phase('Si', name), sw, relax['fmax'], relax['steps'], smax=relax['smax'])
        by_hand[name] = {'energy_per_atom': frame.info['energy_per_atom']}
        row = reference['phases'][name]
        assert row['energy_per_atom'] == pytest.approx(frame.info['energy_per_atom'], abs=2e-4), name
        assert row['volume_per_atom'] == pytest.approx(frame.info['volume_per_atom'], rel=5e-3), name
    # SW against fake-VASP(SW): every phase converged, the paper's way (each at its own minimum)
    errors = phase_energy_errors(by_hand, reference['phases'])
    assert errors['all_converged'], errors
    assert reference['phases']['diamond']['energy_per_atom'] == pytest.approx(
        -4.335, abs=2e-4
    )  # -2 eps (as the ASE test)

    fit = reference['energy_volume']['diamond']['fit']
    assert fit['v0'] == pytest.approx(5.43095**3 / 8, rel=2e-3)
    assert 90 < fit['b0'] < 115  # SW silicon: B0 = 101 GPa
    assert fit['e0'] == pytest.approx(reference['phases']['diamond']['energy_per_atom'], abs=1e-4)
    assert reference['energy_volume']['beta_sn']['converged']

    # the GAP's errors against the VASP side are those against SW
    rows = results['phase_errors']['phases']
    potential = results['potential_results']['phases']
    for name in PHASES:
        assert rows[name]['error'] == pytest.approx(
            potential[name]['energy_per_atom'] - reference['phases'][name]['energy_per_atom'], abs=1e-12
        )
    assert results['plots']['energy_volume'].get_content(mode='rb')[:4] == b'\x89PNG'
