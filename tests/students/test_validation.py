"""Physically guided validation (Morrow & Deringer Fig. 4, Table I, cost) on known structures, Stillinger--Weber Si."""

import math

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from aiida_gaprss.rss.analysis import amorphous_metrics, soap_similarity
from aiida_gaprss.rss.phases import build_phase
from aiida_gaprss.rss.potentials import SW_SI_COHESIVE_ENERGY, stillinger_weber_si
from aiida_gaprss.students.validation import (
    SIMILARITY_SOAP,
    diamond_energy,
    md_cost,
    pressure_reference_grid,
    quench_metrics,
    reference_at_pressure,
    similarity_curve,
    snapshot_pressures,
    speed_cell,
    trajectory_failure,
)

SOAP = {key: value for key, value in SIMILARITY_SOAP.items() if key != 'zeta'}


@pytest.fixture(scope='module')
def sw():
    return stillinger_weber_si()


@pytest.fixture(scope='module')
def sh_grid(sw):
    return pressure_reference_grid(sw, [10.0, 0.0, 20.0])


def test_diamond_metrics_table_one(sw):
    """Diamond Si: N4 = 100 %, N3 = N5 = 0, every bond angle 109.47°, ΔE = 0 against itself."""
    diamond = bulk('Si', 'diamond', 5.431, cubic=True) * (3, 3, 3)
    metrics, relaxed = quench_metrics(diamond, sw, reference_energy_per_atom=diamond_energy(sw), relax=True)
    assert metrics['N4'] == 1.0 and metrics['N3'] == 0.0 and metrics['N5'] == 0.0
    assert metrics['bond_angle_mean'] == pytest.approx(109.4712, abs=1e-3)
    assert metrics['bond_angle_width'] == pytest.approx(0.0, abs=1e-3)
    assert metrics['delta_e'] == pytest.approx(0.0, abs=1e-6)
    assert metrics['energy_per_atom'] == pytest.approx(SW_SI_COHESIVE_ENERGY, abs=1e-4)
    assert math.isfinite(metrics['H_inv']) and metrics['H_inv'] > 0
    assert relaxed.info['converged']


def test_quench_metrics_of_a_disordered_cell(sw):
    """A rattled random cell has under- and over-coordinated atoms and a positive ΔE over diamond."""
    from aiida_gaprss.rss.md import random_start

    atoms = random_start(32, 'Si', volume_per_atom=20.0, min_distance=2.2, seed=5)
    metrics, _ = quench_metrics(atoms, sw, reference_energy_per_atom=diamond_energy(sw), relax=True, steps=60)
    assert metrics['N4'] < 1.0
    assert metrics['delta_e'] > 0.0
    assert metrics['N3'] + metrics['N4'] + metrics['N5'] <= 1.0 + 1e-12


def test_sh_similarity_to_itself_and_to_diamond():
    """Similarity of sh Si to itself is 1, to diamond clearly below 1 (SOAP of the similarity analysis)."""
    sh = build_phase('Si', 'sh')
    values = soap_similarity([sh, sh * (2, 2, 2), build_phase('Si', 'diamond')], sh, **SOAP, zeta=4.0)
    assert values[0] == pytest.approx(1.0, abs=1e-9)
    assert values[1] == pytest.approx(1.0, abs=1e-9)
    assert values[2] < 0.9


def test_reference_grid_keeps_sh_and_contracts(sw, sh_grid):
    assert [atoms.info['pressure'] for atoms in sh_grid] == [0.0, 10.0, 20.0]
    volumes = [atoms.info['volume_per_atom'] for atoms in sh_grid]
    assert volumes[0] > volumes[1] > volumes[2]
    for atoms in sh_grid:
        a, b, c, alpha, beta, gamma = atoms.cell.cellpar()
        assert a == pytest.approx(b) and gamma == pytest.approx(120.0) and alpha == pytest.approx(90.0)
        assert len(atoms) == 1
    middle = reference_at_pressure(sh_grid, 5.0)
    expected = 0.5 * (sh_grid[0].cell.array + sh_grid[1].cell.array)
    assert np.allclose(middle.cell.array, expected)
    assert np.allclose(reference_at_pressure(sh_grid, -3.0).cell.array, sh_grid[0].cell.array)
    assert np.allclose(reference_at_pressure(sh_grid, 99.0).cell.array, sh_grid[-1].cell.array)


def test_similarity_curve_pressure_adjusted(sh_grid):
    """Compressed sh snapshots are identical to the pressure-adjusted reference (1) but not to the fixed one."""
    snapshots = []
    for pressure, reference in ((0.0, sh_grid[0]), (10.0, sh_grid[1]), (20.0, sh_grid[2])):
        atoms = reference * (2, 2, 2)
        atoms.info.update(pressure_target=pressure, pressure_instantaneous=pressure, time_ps=pressure, energy=0.0)
        snapshots.append(atoms)
    thermalise = bulk('Si', 'diamond', 5.431)
    thermalise.info.update(pressure_instantaneous=0.0)  # no target: the NVT stage, left out
    curve = similarity_curve([thermalise, *snapshots], sh_grid, pressure_window=1)
    assert curve['pressure'] == [0.0, 10.0, 20.0]
    assert curve['similarity'] == pytest.approx([1.0, 1.0, 1.0], abs=1e-9)
    assert curve['similarity_fixed'][0] == pytest.approx(1.0, abs=1e-9)
    assert curve['similarity_fixed'][2] < 1.0 - 1e-6
    diamond = bulk('Si', 'diamond', 5.431, cubic=True)
    diamond.info.update(pressure_target=0.0, pressure_instantaneous=0.0)
    assert similarity_curve([diamond], sh_grid)['similarity'][0] < 0.9


def test_snapshot_pressures_window():
    frames = [Atoms('Si', cell=[3, 3, 3], pbc=True, info={'pressure_instantaneous': p}) for p in (0.0, 3.0, 6.0, 9.0)]
    assert snapshot_pressures(frames, 1).tolist() == [0.0, 3.0, 6.0, 9.0]
    assert snapshot_pressures(frames, 3).tolist() == pytest.approx([1.5, 3.0, 6.0, 7.5])
    with pytest.raises(ValueError, match='pressure_window'):
        snapshot_pressures(frames, 0)


def test_trajectory_failure():
    good = bulk('Si', 'diamond', 5.431, cubic=True)
    good.info['energy'] = -34.0
    close = good.copy()
    close.positions[1] = close.positions[0] + [0.5, 0.0, 0.0]
    close.info['energy'] = -30.0
    broken = good.copy()
    broken.info['energy'] = float('nan')
    assert trajectory_failure([good, good]) is None
    assert trajectory_failure([good, close, good]) == 1
    assert trajectory_failure([good, good, broken]) == 2


def test_md_cost_and_speed_cell(sw):
    cell = speed_cell('diamond', 64)
    assert len(cell) == 64
    assert len(speed_cell('amorphous', 20, seed=1)) == 20
    cost = md_cost(cell, sw, steps=3, repeats=2)
    assert 0 < cost < 1.0
    with pytest.raises(ValueError, match='speed_cell.kind'):
        speed_cell('liquid', 10)
    with pytest.raises(ValueError, match='speed_steps'):
        md_cost(cell, sw, steps=0)


def test_amorphous_metrics_matches_quench_without_relax(sw):
    diamond = bulk('Si', 'diamond', 5.431, cubic=True) * (2, 2, 2)
    metrics, _ = quench_metrics(diamond, sw, relax=False)
    reference = amorphous_metrics(diamond)
    assert metrics['H_inv'] == pytest.approx(reference['H_inv'])
    assert 'delta_e' not in metrics


def _logistic(pressure, centre=12.0, width=1.0, low=0.3, high=0.8):
    return low + (high - low) / (1.0 + np.exp(-(np.asarray(pressure) - centre) / width))


def test_transition_pressure_of_a_clean_rise():
    """A logistic rise from 0.3 to 0.8 centred at 12 GPa crosses half-way (0.55) at 12 GPa, in any point order."""
    from aiida_gaprss.students.validation import transition_level, transition_pressure

    pressure = np.linspace(0.0, 20.0, 81)
    similarity = _logistic(pressure)
    ends = transition_level(pressure, similarity)
    assert ends['low'] == pytest.approx(0.3, abs=0.01) and ends['high'] == pytest.approx(0.8, abs=0.01)
    assert ends['level'] == pytest.approx(0.55, abs=0.01)
    assert transition_pressure(pressure, similarity) == pytest.approx(12.0, abs=0.1)
    order = np.random.default_rng(1).permutation(len(pressure))
    assert transition_pressure(pressure[order], similarity[order]) == pytest.approx(12.0, abs=0.1)
    assert transition_pressure(pressure, similarity, level=0.3 + 0.5 * 0.75) == pytest.approx(13.1, abs=0.15)
    assert transition_pressure(pressure, similarity, window=1) == pytest.approx(12.0, abs=0.1)


def test_transition_pressure_never_crossed():
    """A flat curve, a curve that ends below the level and one that starts above it have no transition."""
    from aiida_gaprss.students.validation import transition_pressure

    pressure = np.linspace(0.0, 20.0, 41)
    flat = np.full_like(pressure, 0.4) + 0.005 * np.sin(pressure)
    assert transition_pressure(pressure, flat) is None  # rise below min_rise
    assert transition_pressure(pressure, _logistic(pressure, centre=30.0), level=0.55) is None  # ends below
    assert transition_pressure(pressure, _logistic(pressure), level=0.2) is None  # above it everywhere
    assert transition_pressure([], []) is None and transition_pressure([5.0], [0.5]) is None
    with pytest.raises(ValueError, match='same length|one length'):
        transition_pressure([0.0, 1.0], [0.5])


def test_transition_pressure_of_a_noisy_rise():
    """Noise (σ 0.03, a ramp's scatter of pressure too) and an early blip above the level: the crossing found is
    the rise's, within 1 GPa of the noiseless one; without smoothing the noise moves it more."""
    from aiida_gaprss.students.validation import transition_pressure

    rng = np.random.default_rng(7)
    pressure = np.linspace(0.0, 20.0, 101) + rng.normal(0.0, 0.5, 101)
    similarity = _logistic(pressure) + rng.normal(0.0, 0.03, 101)
    similarity[10] = 0.9  # a spike at ~2 GPa: crosses the level, falls back
    assert transition_pressure(pressure, similarity, window=7) == pytest.approx(12.0, abs=1.0)
    assert transition_pressure(pressure, [np.nan, *similarity[1:]], window=7) == pytest.approx(12.0, abs=1.0)


def test_validation_job_reports_transition_pressures():
    """The job's compression report: the teacher's half-way level, each model's transition pressure at it (None for
    a student that never gets there, and for everyone when the teacher's curve does not rise)."""
    from aiida_gaprss.jobs.student_validation import _transitions

    pressure = np.linspace(0.0, 20.0, 41).tolist()
    result = {'curves': {
        'teacher': {'pressure': pressure, 'similarity': _logistic(pressure).tolist()},
        'early': {'pressure': pressure, 'similarity': _logistic(pressure, centre=9.0).tolist()},
        'never': {'pressure': pressure, 'similarity': _logistic(pressure, high=0.5).tolist()},
        'failed': {'pressure': [], 'similarity': []},
    }}  # fmt: skip
    _transitions(result)
    assert result['transition']['level'] == pytest.approx(0.55, abs=0.01) and result['transition']['of'] == 'teacher'
    curves = result['curves']
    assert curves['teacher']['transition_pressure'] == pytest.approx(12.0, abs=0.2)
    assert curves['early']['transition_pressure'] == pytest.approx(9.0, abs=0.2)
    assert curves['never']['transition_pressure'] is None and curves['failed']['transition_pressure'] is None
    flat = {'curves': {'teacher': {'pressure': pressure, 'similarity': [0.4] * 41},
                       'early': dict(result['curves']['early'])}}  # fmt: skip
    _transitions(flat)
    assert flat['transition']['level'] is None and flat['curves']['early']['transition_pressure'] is None
