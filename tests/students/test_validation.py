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
