"""Tests for the variable-cell relaxation engine (real Stillinger--Weber Si through quippy)."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk

from aiida_gaprss.rss.potentials import SW_SI_COHESIVE_ENERGY, stillinger_weber_si
from aiida_gaprss.rss.relax import (
    STATUSES,
    final_frames,
    relax_one,
    relax_structures,
    split_trajectories,
    status_counts,
)

SW = {'type': 'sw_si'}
CALCULATORS = pathlib.Path(__file__).parents[1] / 'fixtures' / 'potentials'
REQUIRED_INFO = (
    'energy',
    'enthalpy',
    'pressure',
    'volume',
    'virial',
    'trajectory_id',
    'step',
    'converged',
    'status',
    'config_type',
    'optimizer',
    'final',
)


@pytest.fixture
def test_calculators(monkeypatch):
    """Make the pathological calculators importable (forked workers inherit sys.path)."""
    monkeypatch.syspath_prepend(str(CALCULATORS))
    return 'gaprss_test_calculators'


def strained_diamond(a: float = 5.6, seed: int = 1) -> Atoms:
    atoms = bulk('Si', 'diamond', a=a, cubic=True)
    atoms.rattle(0.05, seed=seed)
    strain = np.array([[1.0, 0.03, 0.0], [0.0, 1.0, 0.02], [0.0, 0.0, 0.97]])
    atoms.set_cell(atoms.cell.array @ strain, scale_atoms=True)
    return atoms


def assert_trajectory_well_formed(frames, trajectory_id=0):
    assert frames, 'no frames'
    assert [f.info['step'] for f in frames] == list(range(len(frames)))
    for frame in frames:
        for key in REQUIRED_INFO:
            assert key in frame.info, key
        assert frame.info['trajectory_id'] == trajectory_id
        assert frame.info['config_type'] == 'rss_relax'
        assert frame.info['status'] in STATUSES
        assert frame.arrays['forces'].shape == (len(frame), 3)
        assert np.asarray(frame.info['virial']).shape == (3, 3)
        assert frame.calc is None
    assert [f.info['final'] for f in frames] == [False] * (len(frames) - 1) + [True]
    assert len({f.info['status'] for f in frames}) == 1
    assert frames[-1].info['n_steps'] == len(frames) - 1


def test_diamond_zero_pressure_recovers_sw_lattice():
    start = strained_diamond()
    frames = relax_one(start, SW, 0.0, fmax=0.01, steps=300)
    assert_trajectory_well_formed(frames)
    last = frames[-1]
    assert last.info['converged'] is True
    assert last.info['status'] == 'converged'
    cellpar = last.cell.cellpar()
    assert np.allclose(cellpar[:3], 5.431, atol=5e-3)
    assert np.allclose(cellpar[3:], 90.0, atol=0.2)
    assert last.info['energy'] / len(last) == pytest.approx(SW_SI_COHESIVE_ENERGY, abs=1e-3)
    assert np.sqrt((last.arrays['forces'] ** 2).sum(axis=1)).max() < 0.01
    # the input is not modified and the first frame is the input geometry
    assert np.allclose(frames[0].positions, start.positions)
    assert np.allclose(frames[0].cell.array, start.cell.array)
    assert start.calc is None
    # energy decreases overall (enthalpy = energy at 0 GPa)
    assert last.info['enthalpy'] < frames[0].info['enthalpy']
    assert all(f.info['enthalpy'] == pytest.approx(f.info['energy']) for f in frames)


def test_labels_are_the_calculators_single_points():
    frames = relax_one(strained_diamond(), SW, 2.0, steps=8)
    sw = stillinger_weber_si()
    for frame in (frames[0], frames[4], frames[-1]):
        check = frame.copy()
        check.calc = sw
        assert check.get_potential_energy() == pytest.approx(frame.info['energy'], abs=1e-8)
        assert np.allclose(check.get_forces(), frame.arrays['forces'], atol=1e-8)
        virial = -check.get_stress(voigt=False) * check.get_volume()
        assert np.allclose(virial, frame.info['virial'], atol=1e-7)
        assert frame.info['volume'] == pytest.approx(check.get_volume())


def test_high_pressure_shrinks_and_enthalpy_is_e_plus_pv():
    p_gpa = 10.0
    frames = relax_one(strained_diamond(a=5.43), SW, p_gpa, fmax=0.01, steps=300)
    assert_trajectory_well_formed(frames)
    last = frames[-1]
    assert last.info['status'] == 'converged'
    v0 = 5.431**3 / 8  # equilibrium volume per atom of SW diamond at 0 GPa
    assert last.get_volume() / len(last) < 0.97 * v0
    for frame in frames:
        assert frame.info['pressure'] == p_gpa
        expected = frame.info['energy'] + p_gpa * units.GPa * frame.get_volume()
        assert frame.info['enthalpy'] == pytest.approx(expected, abs=1e-9)
    # at convergence the internal stress balances the external pressure: virial / V = p * 1
    virial_over_v = np.asarray(last.info['virial']) / last.get_volume()
    assert np.allclose(virial_over_v, p_gpa * units.GPa * np.eye(3), atol=0.1 * units.GPa)
    # the enthalpy, the minimised quantity, goes down
    assert last.info['enthalpy'] < frames[0].info['enthalpy']


def test_exploding_cell_is_flagged_not_raised(test_calculators):
    spec = {'type': 'import', 'path': f'{test_calculators}:VolumePull', 'kwargs': {'a': -1.0}}
    start = strained_diamond()
    frames = relax_one(start, spec, 0.0, steps=300, explode_factor=2.0, maxstep=0.2)
    assert_trajectory_well_formed(frames)
    assert frames[-1].info['status'] == 'exploded'
    assert frames[-1].info['converged'] is False
    assert 'volume per atom' in frames[-1].info['error']
    assert len(frames) > 2
    # every kept frame is within the limit, and the volume was growing
    assert all(f.get_volume() <= 2.0 * start.get_volume() for f in frames)
    assert frames[-1].get_volume() > 1.5 * start.get_volume()


def test_collapsing_cell_is_flagged_not_raised(test_calculators):
    spec = {'type': 'import', 'path': f'{test_calculators}:VolumePull', 'kwargs': {'a': 1.0}}
    frames = relax_one(strained_diamond(), spec, 0.0, steps=300, collapse_factor=0.5, min_distance=1.0)
    assert_trajectory_well_formed(frames)
    assert frames[-1].info['status'] == 'collapsed'
    assert frames[-1].info['converged'] is False
    assert frames[-1].get_volume() < frames[0].get_volume()


def test_calculator_failure_falls_back_then_fails(test_calculators):
    # one failure on the 4th call: PreconLBFGS raises, FIRE takes over from the last kept frame
    spec = {'type': 'import', 'path': f'{test_calculators}:Flaky', 'kwargs': {'fail_on': [4]}}
    frames = relax_one(strained_diamond(), spec, 0.0, steps=40)
    assert_trajectory_well_formed(frames)
    assert frames[-1].info['fallback'] is True
    assert frames[0].info['optimizer'] == 'PreconLBFGS'
    assert frames[-1].info['optimizer'] == 'FIRE'
    assert frames[-1].info['status'] in ('converged', 'max_steps')

    # a calculator that keeps failing: status 'failed', the frames so far are kept, nothing raised
    spec['kwargs'] = {'fail_on': list(range(4, 50))}
    frames = relax_one(strained_diamond(), spec, 0.0, steps=300)
    assert_trajectory_well_formed(frames)
    assert frames[-1].info['status'] == 'failed'
    assert 'flaky calculator' in frames[-1].info['error']

    # without fallback the first exception ends the trajectory
    spec['kwargs'] = {'fail_on': [4]}
    frames = relax_one(strained_diamond(), spec, 0.0, steps=300, fallback=None)
    assert frames[-1].info['status'] == 'failed'
    assert frames[-1].info['fallback'] is False
    assert all(f.info['optimizer'] == 'PreconLBFGS' for f in frames)


def test_max_steps_is_recorded():
    frames = relax_one(strained_diamond(), SW, 0.0, steps=3)
    assert_trajectory_well_formed(frames)
    assert len(frames) == 4
    assert frames[-1].info['status'] == 'max_steps'
    assert frames[-1].info['converged'] is False


def _cells():
    return [
        strained_diamond(a=5.6, seed=1),
        bulk('Si', 'diamond', a=5.2) * (1, 1, 2),
        strained_diamond(a=5.3, seed=2),
    ]


def test_relax_structures_parallel_equals_serial_and_is_reproducible():
    cells = _cells()
    pressures = [0.0, 1.0, 5.0]
    serial = relax_structures(cells, SW, pressures, processes=1, steps=30)
    parallel = relax_structures(cells, SW, pressures, processes=2, steps=30)
    again = relax_structures(cells, SW, pressures, processes=2, steps=30)
    ids = [f.info['trajectory_id'] for f in serial]
    assert ids == sorted(ids) and set(ids) == {0, 1, 2}
    for tid, traj in split_trajectories(serial).items():
        assert_trajectory_well_formed(traj, tid)
        assert traj[0].info['pressure'] == pressures[tid]
    for other in (parallel, again):
        assert len(other) == len(serial)
        for a, b in zip(serial, other, strict=True):
            assert a.info['trajectory_id'] == b.info['trajectory_id']
            assert a.info['step'] == b.info['step']
            assert a.info['energy'] == b.info['energy']
            assert np.array_equal(a.positions, b.positions)
            assert np.array_equal(a.cell.array, b.cell.array)
    assert sum(status_counts(serial).values()) == 3
    assert [f.info['trajectory_id'] for f in final_frames(serial)] == [0, 1, 2]


def test_relax_structures_rattle_uses_seed():
    cells = _cells()[:2]
    a = relax_structures(cells, SW, 0.0, processes=1, steps=0, rattle=0.05, seed=7)
    b = relax_structures(cells, SW, 0.0, processes=2, steps=0, rattle=0.05, seed=7)
    c = relax_structures(cells, SW, 0.0, processes=1, steps=0, rattle=0.05, seed=8)
    assert len(a) == 2  # steps=0: the starting frame only
    assert all(np.array_equal(x.positions, y.positions) for x, y in zip(a, b, strict=True))
    assert not np.allclose(a[0].positions, c[0].positions)
    assert not np.allclose(a[0].positions, cells[0].positions)


def test_batch_survives_pathological_structures(test_calculators):
    spec = {'type': 'import', 'path': f'{test_calculators}:VolumePull', 'kwargs': {'a': -1.0}}
    frames = relax_structures(_cells(), spec, 0.0, processes=2, steps=200, explode_factor=1.5, maxstep=0.2)
    assert status_counts(frames)['exploded'] == 3
    assert len(split_trajectories(frames)) == 3


@pytest.mark.parametrize(
    ('kwargs', 'field'),
    [
        ({'pressures': [0.0, 1.0]}, 'pressures'),
        ({'pressures': [0.0, float('nan'), 1.0]}, 'pressures[1]'),
        ({'calculator_spec': {'type': 'nope'}}, "calculator_spec['type']"),
        ({'steps': -1}, 'steps'),
        ({'fmax': 0}, 'fmax'),
        ({'processes': 0}, 'processes'),
        ({'optimizer': 'SD'}, 'optimizer'),
        ({'not_an_option': 1}, 'not_an_option'),
    ],
)
def test_relax_structures_validation(kwargs, field):
    args = {'atoms_list': _cells(), 'calculator_spec': SW, 'pressures': 0.0}
    args.update(kwargs)
    with pytest.raises(ValueError) as info:
        relax_structures(**args)
    assert field in str(info.value)


def test_relax_structures_rejects_bad_structures():
    cells = _cells()
    cells[1].pbc = False
    with pytest.raises(ValueError, match=r'atoms_list\[1\]'):
        relax_structures(cells, SW, 0.0)
    with pytest.raises(ValueError, match=r'atoms_list\[0\]'):
        relax_structures(['Si'], SW, 0.0)
    assert relax_structures([], SW, 0.0) == []


@pytest.mark.slow
@pytest.mark.ci_slow
def test_random_cells_batch():
    """Random 8-12 atom Si cells at 1 GPa: most converge with SW, nothing raises, every frame is kept."""
    from ase.neighborlist import neighbor_list

    rng = np.random.default_rng(3)
    cells = []
    while len(cells) < 6:
        n = int(rng.integers(8, 13))
        cell = np.diag([1.0, 1.0, 1.0]) + rng.uniform(-0.2, 0.2, (3, 3))
        cell *= (n * 20.0 / abs(np.linalg.det(cell))) ** (1 / 3)
        atoms = Atoms(f'Si{n}', scaled_positions=rng.random((n, 3)), cell=cell, pbc=True)
        if len(neighbor_list('d', atoms, 2.0)) == 0:
            cells.append(atoms)
    frames = relax_structures(cells, SW, 1.0, processes=2, steps=300)
    counts = status_counts(frames)
    assert sum(counts.values()) == 6
    assert counts['converged'] >= 3
    for tid, traj in split_trajectories(frames).items():
        assert_trajectory_well_formed(traj, tid)


def test_non_finite_first_energy_gives_no_frames(test_calculators):
    spec = {'type': 'import', 'path': f'{test_calculators}:Flaky', 'kwargs': {'nan_on': [1]}}
    assert relax_one(strained_diamond(), spec, 0.0, steps=10, fallback=None) == []
    # in a batch, the other structures are unaffected
    frames = relax_structures(_cells()[:2], spec, 0.0, processes=1, steps=5, fallback=None)
    assert sorted(split_trajectories(frames)) == [1]
