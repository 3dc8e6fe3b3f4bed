"""Tests of the ``gaprss.ase_batch`` CalcJob, its job module and parser, with real calculators."""

from __future__ import annotations

import json

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from ase.build import bulk
from ase.calculators.emt import EMT

from aiida_gaprss.calculations.ase_batch import AseBatch
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.jobs import ase_batch as job
from aiida_gaprss.rss.potentials import stillinger_weber_si


def si_structures():
    """Three small, distinct Si structures (two periodic, one cluster with old labels to be replaced)."""
    rng = np.random.default_rng(1)
    first = bulk('Si', 'diamond', a=5.43, cubic=True)
    first.rattle(0.05, seed=2)
    second = bulk('Si', 'diamond', a=5.6) * (2, 1, 1)
    second.positions += rng.normal(0, 0.03, second.positions.shape)
    second.info['config_type'] = 'rattled'
    cluster = bulk('Si', 'diamond', a=5.43)
    cluster.center(vacuum=4.0)
    cluster.pbc = True
    cluster.info['energy'] = 123.0
    return [first, second, cluster]


def run_batch(code, structures, **inputs):
    builder = AseBatch.get_builder()
    builder.code = code
    builder.structures = StructureSet.from_atoms(structures)
    for key, value in inputs.items():
        builder[key] = value
    return run_get_node(builder)


def test_sw_labels_equal_direct_calculator(fixture_code):
    """Energies, forces and virials from the job equal quippy SW's own, structure by structure."""
    structures = si_structures()
    results, node = run_batch(fixture_code('python'), structures, calculator=orm.Dict({'type': 'sw_si'}))
    assert node.is_finished_ok, node.exit_message
    labelled = results['structures'].get_atoms()
    assert results['report']['num_labelled'] == 3
    assert results['report']['indices'] == [0, 1, 2]
    assert labelled[1].info['config_type'] == 'rattled'
    calculator = stillinger_weber_si()
    for atoms, got in zip(structures, labelled, strict=True):
        atoms = atoms.copy()
        atoms.calc = calculator
        assert got.info['energy'] == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
        np.testing.assert_allclose(got.arrays['forces'], atoms.get_forces(), atol=1e-8)
        virial = -atoms.get_stress(voigt=False) * atoms.get_volume()
        np.testing.assert_allclose(got.info['virial'], virial, atol=1e-8)
    assert labelled[2].info['energy'] != 123.0
    assert results['structures'].labels == ['energy', 'forces', 'virial']


def test_import_calculator_with_kwargs_and_a_failing_structure(fixture_code):
    """EMT has no Si: that structure is excluded and recorded, the Cu ones are labelled with EMT's numbers."""
    copper = bulk('Cu', 'fcc', a=3.6) * (2, 1, 1)
    copper.rattle(0.02, seed=3)
    structures = [copper, bulk('Si', 'diamond', a=5.43), bulk('Cu', 'fcc', a=3.7)]
    spec = {'type': 'import', 'path': 'ase.calculators.emt:EMT', 'kwargs': {'fixed_cutoff': True}}
    results, node = run_batch(fixture_code('python'), structures, calculator=orm.Dict(spec))
    assert node.is_finished_ok, node.exit_message
    report = results['report'].get_dict()
    assert report['indices'] == [0, 2]
    assert [failure['index'] for failure in report['failures']] == [1]
    assert 'Si' in report['failures'][0]['error']
    for index, got in zip(report['indices'], results['structures'].get_atoms(), strict=True):
        atoms = structures[index].copy()
        atoms.calc = EMT(fixed_cutoff=True)
        assert got.info['energy'] == pytest.approx(atoms.get_potential_energy(), abs=1e-10)


def test_every_structure_failing_gives_exit_code(fixture_code):
    spec = {'type': 'import', 'path': 'ase.calculators.emt:EMT'}
    results, node = run_batch(fixture_code('python'), [bulk('Si', 'diamond', a=5.43)], calculator=orm.Dict(spec))
    assert node.exit_status == AseBatch.exit_codes.ERROR_ALL_STRUCTURES_FAILED.status
    assert 'structures' not in results
    assert results['report']['num_labelled'] == 0


def test_task_exception_gives_job_failed(fixture_code):
    """A calculator that cannot be built in the job: exit code 301 carrying the exception message."""
    spec = {'type': 'import', 'path': 'ase.calculators.mixing:SumCalculator', 'kwargs': {}}
    _, node = run_batch(fixture_code('python'), [bulk('Si', 'diamond', a=5.43)], calculator=orm.Dict(spec))
    assert node.exit_status == AseBatch.exit_codes.ERROR_JOB_FAILED.status
    assert 'calcs' in node.exit_message  # SumCalculator() misses its required argument


@pytest.mark.parametrize(
    ('inputs', 'message'),
    [
        ({}, 'exactly one of the inputs `calculator`'),
        ({'calculator': {'type': 'gap', 'xml': '/tmp/gap.xml'}}, 'give the `potential` input'),
        ({'calculator': {'type': 'import', 'path': 'no_such_module_xyz:Calc'}}, 'module `no_such_module_xyz`'),
        ({'calculator': {'type': 'import', 'path': 'ase.calculators.lj'}}, 'field `calculator.path`'),
        ({'calculator': {'type': 'import', 'path': 'ase.calculators.lj:NoSuchCalculator'}}, 'field `calculator.path`'),
        ({'calculator': {'type': 'import', 'path': 'os:system', 'kwargs': {'command': 'id'}}}, 'not an ASE calculator'),
        ({'calculator': {'type': 'magic'}}, 'field `calculator.type`'),
        ({'calculator': {'type': 'sw_si'}, 'parameters': {'colour': True}}, 'field `parameters.colour`'),
    ],
)
def test_bad_inputs_refused(fixture_code, inputs, message):
    builder = AseBatch.get_builder()
    builder.code = fixture_code('python')
    builder.structures = StructureSet.from_atoms([bulk('Si', 'diamond', a=5.43)])
    for key, value in inputs.items():
        builder[key] = orm.Dict(value)
    with pytest.raises(ValueError, match=message):
        run_get_node(builder)


def test_job_module_runs_without_aiida(tmp_path):
    """The job's `run` is plain Python: reading, labelling and the report."""
    from aiida_gaprss.data.extxyz import frames_to_string

    (tmp_path / 'in.xyz').write_text(frames_to_string(si_structures()[:2]))
    content = {
        'parameters': {
            'structures': 'in.xyz',
            'output': 'out.xyz',
            'report': 'report.json',
            'calculator': {'type': 'import', 'path': 'ase.calculators.lj:LennardJones', 'kwargs': {'sigma': 2.1}},
            'compute_virial': False,
        }
    }
    summary = job.run(content, tmp_path)
    assert summary == {'num_labelled': 2, 'num_failed': 0}
    report = json.loads((tmp_path / 'report.json').read_text())
    assert report['indices'] == [0, 1]
    text = (tmp_path / 'out.xyz').read_text()
    assert 'energy=' in text
    assert 'virial' not in text


@pytest.fixture
def tiny_gap(tmp_path):
    """A real 2-body GAP fitted by gap_fit on 8 SW-labelled Si cells (2-3 s)."""
    import subprocess

    from aiida_gaprss.data.extxyz import frames_to_string
    from aiida_gaprss.data.gap_potential import GapPotential
    from tests.conftest import installed_program

    gap_fit = installed_program('gap_fit')
    calculator = stillinger_weber_si()
    frames = []
    for k in range(8):
        atoms = bulk('Si', 'diamond', a=5.2 + 0.06 * k, cubic=True)
        atoms.rattle(0.1, seed=k)
        frames.append(job.label_structure(atoms, calculator))
    folder = tmp_path / 'gap'
    folder.mkdir()
    (folder / 'train.xyz').write_text(frames_to_string(frames))
    command = [
        gap_fit,
        'at_file=train.xyz',
        'gap={distance_2b cutoff=4.0 n_sparse=10 covariance_type=ard_se delta=1.0 theta_uniform=1.0 '
        'sparse_method=uniform}',
        'default_sigma={0.01 0.2 0.2 0.0}',
        'e0={Si:0.0}',
        'gp_file=gap.xml',
    ]
    subprocess.run(command, cwd=folder, check=True, capture_output=True)
    for name in ('train.xyz', 'train.xyz.idx'):
        (folder / name).unlink(missing_ok=True)
    return GapPotential.from_folder(folder, command_line=' '.join(command[1:]))


def test_gap_potential_input(fixture_code, tiny_gap):
    """A GapPotential node as the calculator: its files travel with the job; labels equal quippy's own."""
    structures = si_structures()[:2]
    results, node = run_batch(fixture_code('python'), structures, potential=tiny_gap)
    assert node.is_finished_ok, node.exit_message
    assert results['report']['calculator']['type'] == 'gap'
    calculator = tiny_gap.get_calculator()
    for atoms, got in zip(structures, results['structures'].get_atoms(), strict=True):
        atoms = atoms.copy()
        atoms.calc = calculator
        assert got.info['energy'] == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
        np.testing.assert_allclose(got.arrays['forces'], atoms.get_forces(), atol=1e-8)
    assert node.inputs.potential.pk == tiny_gap.pk


def test_calculator_and_potential_together_refused(fixture_code, tiny_gap):
    builder = AseBatch.get_builder()
    builder.code = fixture_code('python')
    builder.structures = StructureSet.from_atoms(si_structures()[:1])
    builder.calculator = orm.Dict({'type': 'sw_si'})
    builder.potential = tiny_gap
    with pytest.raises(ValueError, match='exactly one of the inputs'):
        run_get_node(builder)
