"""The pool-generation, selection and relaxation-batch CalcJobs, run for real with the job Python."""

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import CalculationFactory

from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet

GeneratePool = CalculationFactory('gaprss.generate_pool')
SelectStructures = CalculationFactory('gaprss.select_structures')
RelaxBatch = CalculationFactory('gaprss.relax_batch')

SMALL_SOAP = {'n_max': 4, 'l_max': 4, 'sigma': 0.5, 'r_cut': 4.0}


@pytest.fixture
def pool(fixture_code):
    """A real pool: 8 random Si cells (initial split) plus 2 dimers."""
    parameters = {'element': 'Si', 'n': 8, 'seed': 3, 'mode': 'initial', 'dimers': 2, 'iteration': 0,
                  'natoms': [4, 8]}  # fmt: skip
    _, node = run_get_node(GeneratePool, code=fixture_code('python'), parameters=orm.Dict(parameters))
    assert node.is_finished_ok, node.exit_message
    return node.outputs.structures


def test_generate_pool(pool):
    frames = pool.get_atoms()
    assert len(frames) == 10
    assert pool.config_types == {'rss_random': 8, 'dimer': 2}
    assert [atoms.info['origin'] for atoms in frames] == [f'pool:0:{i}' for i in range(10)]
    assert all(4 <= len(atoms) <= 8 for atoms in frames[:8])
    assert all(len(atoms) == 2 for atoms in frames[8:])
    assert pool.labels == []


def test_generate_pool_is_reproducible(fixture_code, pool):
    parameters = {'element': 'Si', 'n': 8, 'seed': 3, 'mode': 'initial', 'dimers': 2, 'iteration': 0,
                  'natoms': [4, 8]}  # fmt: skip
    _, node = run_get_node(GeneratePool, code=fixture_code('python'), parameters=orm.Dict(parameters))
    assert node.outputs.structures.sha256 == pool.sha256


@pytest.mark.parametrize(
    'parameters, message',
    [
        ({'element': 'Xx', 'n': 3, 'seed': 0}, 'parameters.element'),
        ({'element': 'Si', 'n': 0, 'seed': 0}, 'parameters.n'),
        ({'element': 'Si', 'n': 3, 'seed': 0, 'mode': 'huge'}, 'parameters.mode'),
        ({'element': 'Si', 'n': 3, 'seed': 0, 'natoms': [9, 3]}, 'parameters.natoms'),
        ({'element': 'Si', 'n': 3, 'seed': 0, 'radius': -1.0}, 'parameters.radius'),
        ({'element': 'Si', 'n': 3, 'seed': 0, 'rm -rf': 1}, 'parameters.rm -rf'),
    ],
)
def test_generate_pool_refuses_bad_parameters(fixture_code, parameters, message):
    with pytest.raises(ValueError, match=message):
        run_get_node(GeneratePool, code=fixture_code('python'), parameters=orm.Dict(parameters))


@pytest.mark.parametrize('method', ['kernel_cur', 'descriptor_cur', 'random'])
def test_select_from_pool(fixture_code, pool, method):
    parameters = {'method': method, 'n': 4, 'seed': 1, 'soap': SMALL_SOAP}
    _, node = run_get_node(
        SelectStructures, code=fixture_code('python'), structures=pool, parameters=orm.Dict(parameters)
    )
    assert node.is_finished_ok, node.exit_message
    report = node.outputs.report.get_dict()
    assert len(report['indices']) == 4 == len(node.outputs.structures)
    assert report['num_candidates'] == 10
    origins = [atoms.info['origin'] for atoms in node.outputs.structures.get_atoms()]
    assert origins == [f'pool:0:{i}' for i in report['indices']]


def test_select_refuses_bad_parameters(fixture_code, pool):
    with pytest.raises(ValueError, match='parameters.method'):
        run_get_node(SelectStructures, code=fixture_code('python'), structures=pool,
                     parameters=orm.Dict({'method': 'best', 'n': 2}))  # fmt: skip
    with pytest.raises(ValueError, match='parameters.kT'):
        run_get_node(SelectStructures, code=fixture_code('python'), structures=pool,
                     parameters=orm.Dict({'method': 'flat_histogram_cur', 'n': 2, 'kT': -1}))  # fmt: skip
    parameters = {'method': 'flat_histogram_cur', 'n': 2, 'kT': 0.1, 'diversity': 'kmeans'}
    with pytest.raises(ValueError, match='parameters.diversity'):
        run_get_node(SelectStructures, code=fixture_code('python'), structures=pool, parameters=orm.Dict(parameters))


def test_iteration_parameters_refuse_bad_diversity():
    """The ablation switch of the loop (``parameters.selection.diversity``) is checked with the iteration's."""
    from aiida_gaprss.workflows.iteration import validate_iteration_parameters

    for method in ('kernel_cur', 'descriptor_cur', 'random'):
        validate_iteration_parameters({'selection': {'diversity': method}}, 'Si')
    with pytest.raises(ValueError, match='field `parameters.selection.diversity`: expected one of'):
        validate_iteration_parameters({'selection': {'diversity': 'kmeans'}}, 'Si')


def test_relax_then_flat_histogram(fixture_code, small_gap_folder):
    from tests.conftest import labelled_si_cells

    cells = labelled_si_cells(3, seed=5)
    for i, atoms in enumerate(cells):
        atoms.info['origin'] = f'pool:1:{i}'
    structures = StructureSet.from_atoms(cells)
    potential = GapPotential.from_folder(small_gap_folder)
    parameters = {'seed': 2, 'fmax': 0.05, 'steps': 15, 'iteration': 1, 'trajectory_offset': 100}
    _, node = run_get_node(RelaxBatch, code=fixture_code('python'), structures=structures, potential=potential,
                           parameters=orm.Dict(parameters))  # fmt: skip
    assert node.is_finished_ok, node.exit_message
    frames = node.outputs.structures.get_atoms()
    report = node.outputs.report.get_dict()
    assert report['num_cells'] == 3 and report['num_frames'] == len(frames)
    assert sorted({atoms.info['trajectory_id'] for atoms in frames}) == [100, 101, 102]
    assert all(atoms.info['iteration'] == 1 for atoms in frames)
    assert all(atoms.info['origin'].startswith('pool:1:') for atoms in frames)
    pressures = {atoms.info['trajectory_id']: atoms.info['pressure'] for atoms in frames}
    assert all(p >= 0 for p in pressures.values()) and len(set(pressures.values())) == 3
    for atoms in frames:
        pv = atoms.info['pressure'] * 0.006241509074460764 * atoms.get_volume()  # GPa·Å³ -> eV
        assert atoms.info['enthalpy'] == pytest.approx(atoms.info['energy'] + pv, abs=1e-6)
    assert sum(report['status_counts'].values()) == 3

    selection = {'method': 'flat_histogram_cur', 'n': 2, 'n_flat': 5, 'kT': 0.3, 'seed': 0, 'soap': SMALL_SOAP}
    _, chosen = run_get_node(SelectStructures, code=fixture_code('python'), structures=node.outputs.structures,
                             parameters=orm.Dict(selection))  # fmt: skip
    assert chosen.is_finished_ok, chosen.exit_message
    indices = chosen.outputs.report['indices']
    assert len(indices) == 2 and len(set(indices)) == 2
    picked = chosen.outputs.structures.get_atoms()
    assert all(np.isfinite(atoms.info['enthalpy']) for atoms in picked)


def test_relax_refuses_bad_parameters(fixture_code, small_gap_folder):
    from tests.conftest import labelled_si_cells

    structures = StructureSet.from_atoms(labelled_si_cells(1))
    potential = GapPotential.from_folder(small_gap_folder)
    for parameters, message in (({'fmax': 0.1}, 'parameters.seed'), ({'seed': 1, 'fmax': -1}, 'parameters.fmax'),
                                ({'seed': 1, 'pressure': {'p0': 0}}, 'parameters.pressure.p0')):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            run_get_node(RelaxBatch, code=fixture_code('python'), structures=structures, potential=potential,
                         parameters=orm.Dict(parameters))  # fmt: skip


def _trajectory_frames():
    """Six hand-made 'trajectories' of three frames each; trajectories 0-3 end converged, at the enthalpies given."""
    from tests.conftest import labelled_si_cells

    cells = labelled_si_cells(18, seed=11)
    final_enthalpy = {0: -4.50, 1: -4.90, 2: -4.80, 3: -4.60, 4: -5.00, 5: -5.10}  # eV/atom; 4, 5 not converged
    frames = []
    for index, atoms in enumerate(cells):
        trajectory, step = divmod(index, 3)
        final = step == 2
        per_atom = final_enthalpy[trajectory] + (0.0 if final else 0.4 - 0.1 * step)
        atoms.info.update(enthalpy=per_atom * len(atoms), pressure=0.0, trajectory_id=trajectory, step=step,
                          final=final, origin=f'pool:1:{trajectory}:step{step}')  # fmt: skip
        if final:
            atoms.info['status'] = 'converged' if trajectory < 4 else 'max_steps'
        frames.append(atoms)
    return frames


def test_select_with_strained_copies_of_the_lowest_converged_minima(fixture_code):
    frames = _trajectory_frames()
    parameters = {'method': 'flat_histogram_cur', 'n': 5, 'n_flat': 8, 'kT': 0.3, 'seed': 4, 'soap': SMALL_SOAP,
                  'enthalpy': 'above_hull', 'strained': {'n': 2, 'pool': 1, 'volume_range': [0.9, 1.1]}}  # fmt: skip
    _, node = run_get_node(SelectStructures, code=fixture_code('python'), structures=StructureSet.from_atoms(frames),
                           parameters=orm.Dict(parameters))  # fmt: skip
    assert node.is_finished_ok, node.exit_message
    report = node.outputs.report.get_dict()
    # the two lowest *converged* minima (trajectories 1 and 2; 4 and 5 are lower but did not converge)
    assert report['strained_sources'] == [5, 8]
    assert len(report['indices']) == 3 and len(node.outputs.structures) == 5
    chosen = node.outputs.structures.get_atoms()
    copies = [atoms for atoms in chosen if atoms.info.get('config_type') == 'rss_strained']
    assert len(copies) == 2
    for copy, source, factor in zip(copies, report['strained_sources'], report['strained_volume_factors'], strict=True):
        assert 0.9 <= factor <= 1.1
        assert copy.get_volume() == pytest.approx(factor * frames[source].get_volume(), rel=1e-9)
        assert copy.info['origin'].startswith(f'pool:1:{source // 3}:step2:strained')
        assert 'energy' not in copy.info and 'enthalpy' not in copy.info


def test_select_refuses_bad_strained_and_enthalpy_settings(fixture_code, pool):
    base = {'method': 'flat_histogram_cur', 'n': 2, 'kT': 0.1}
    for extra, message in (
        (
            {'enthalpy': 'gibbs'},
            r"field `parameters.enthalpy`: expected one of \('own', 'above_hull', 'above_formation_hull'\)",
        ),
        ({'strained': {'n': -1}}, r'field `parameters.strained.n`: expected an integer >= 0'),
        ({'strained': {'n': 2, 'volume_range': [1.2, 0.8]}}, r'field `parameters.strained.volume_range`: expected'),
        ({'strained': {'n': 2, 'shear': 0.1}}, r'field `parameters.strained.shear`: unknown key'),
        ({'strained': 3}, r'field `parameters.strained`: expected a dict'),
    ):
        with pytest.raises(ValueError, match=message):
            run_get_node(SelectStructures, code=fixture_code('python'), structures=pool,
                         parameters=orm.Dict({**base, **extra}))  # fmt: skip
