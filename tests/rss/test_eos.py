"""Birch–Murnaghan fits and fixed-volume energy–volume scans with real calculators."""

import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT

from aiida_gaprss.rss.eos import (
    birch_murnaghan,
    energy_volume_scan,
    fit_birch_murnaghan,
    fit_scan,
    is_cubic,
)
from aiida_gaprss.rss.phases import build_phase
from aiida_gaprss.rss.potentials import SW_SI_LATTICE_CONSTANT, stillinger_weber_si


def test_fit_recovers_analytic_parameters():
    """Exact Birch–Murnaghan data (V0 = 20 Å³, B0 = 100 GPa, B0' = 4.2) are recovered."""
    b0_ev = 100.0 * units.GPa
    volumes = np.linspace(16.0, 24.5, 11)
    energies = birch_murnaghan(volumes, -4.3, 20.0, b0_ev, 4.2)
    fit = fit_birch_murnaghan(volumes, energies)
    assert fit.v0 == pytest.approx(20.0, rel=1e-6)
    assert fit.e0 == pytest.approx(-4.3, abs=1e-8)
    assert fit.b0 == pytest.approx(100.0, rel=1e-5)
    assert fit.b0_prime == pytest.approx(4.2, rel=1e-4)
    assert fit.rms_residual < 1e-8
    assert set(fit.as_dict()) == {'v0', 'e0', 'b0', 'b0_prime', 'rms_residual'}


def test_fit_of_a_parabola_gives_its_curvature():
    """E = E0 + B0 (V − V0)² / (2 V0) near V0 has bulk modulus B0 (small range: B0' is irrelevant)."""
    b0_ev = 50.0 * units.GPa
    volumes = np.linspace(9.8, 10.2, 9)
    energies = 1.0 + b0_ev * (volumes - 10.0) ** 2 / (2 * 10.0)
    fit = fit_birch_murnaghan(volumes, energies)
    assert fit.b0 == pytest.approx(50.0, rel=0.01)
    assert fit.v0 == pytest.approx(10.0, rel=1e-4)


def test_emt_copper_bulk_modulus():
    """ASE's EMT gives B ≈ 134 GPa for fcc Cu (ASE's EOS tutorial); cross-checked with ase.eos."""
    from ase.eos import EquationOfState

    frames = energy_volume_scan(bulk('Cu', 'fcc', a=3.6), EMT(), np.linspace(0.9, 1.1, 9))
    fit = fit_scan(frames)
    assert fit.b0 == pytest.approx(134.0, abs=1.5)
    volumes = [f.info['volume_per_atom'] for f in frames]
    energies = [f.info['energy_per_atom'] for f in frames]
    v0, _, b0 = EquationOfState(volumes, energies, eos='birchmurnaghan').fit()
    assert fit.v0 == pytest.approx(v0, rel=1e-6)
    assert fit.b0 == pytest.approx(b0 / units.GPa, rel=1e-4)
    assert frames[0].info['relax'] == 'positions'  # cubic


def test_stillinger_weber_silicon_diamond():
    """SW Si (QUIP parameters): a = 5.431 Å, E0 = −4.335 eV/atom, B ≈ 101 GPa."""
    atoms = build_phase('Si', 'diamond', scale=SW_SI_LATTICE_CONSTANT / 5.431)
    frames = energy_volume_scan(atoms, stillinger_weber_si(), np.linspace(0.9, 1.1, 9))
    fit = fit_scan(frames)
    assert fit.b0 == pytest.approx(101.4, abs=1.0)
    assert fit.v0 == pytest.approx(SW_SI_LATTICE_CONSTANT**3 / 8, rel=1e-3)
    assert fit.e0 == pytest.approx(-4.335, abs=1e-3)
    volumes = [f.info['volume_per_atom'] for f in frames]
    assert volumes == sorted(volumes)
    assert all(f.info['converged'] for f in frames)


def test_non_cubic_cell_relaxes_shape_at_constant_volume():
    """hcp Cu (EMT) with a wrong c/a: the scan keeps each volume exactly but relaxes c/a toward ideal."""
    atoms = bulk('Cu', 'hcp', a=2.55, c=2.55 * 1.5)
    assert not is_cubic(atoms)
    frames = energy_volume_scan(atoms, EMT(), [0.98, 1.0, 1.02], fmax=0.005)
    v_input = atoms.get_volume() / len(atoms)
    for frame in frames:
        assert frame.info['relax'] == 'shape'
        assert frame.info['volume_per_atom'] == pytest.approx(frame.info['volume_factor'] * v_input, rel=1e-6)
        a, _, c = frame.cell.cellpar()[:3]
        assert abs(c / a - np.sqrt(8 / 3)) < abs(1.5 - np.sqrt(8 / 3))
    fixed = energy_volume_scan(atoms, EMT(), [1.0], relax='none')
    assert frames[1].info['energy'] < fixed[0].info['energy']


def test_absolute_volumes():
    frames = energy_volume_scan(bulk('Cu', 'fcc', a=3.6), EMT(), volumes=[11.0, 12.0], relax='none')
    assert [f.info['volume_per_atom'] for f in frames] == pytest.approx([11.0, 12.0])


@pytest.mark.parametrize(
    ('volumes', 'energies', 'field'),
    [
        ([1, 2, 3], [1, 0, 1], 'volumes'),
        ([10, 11, 12, 13, 14], [5, 4, 3, 2, 1], 'volumes'),  # minimum at the edge
        ([10, 11, 12, 13, 14], [1, 0, np.nan, 0, 1], 'energies'),
        ([10, 10, 12, 13, 14], [1, 0, 0, 0, 1], 'volumes'),
    ],
)
def test_fit_bad_input(volumes, energies, field):
    with pytest.raises(ValueError, match=field):
        fit_birch_murnaghan(volumes, energies)


def test_scan_bad_input():
    atoms = bulk('Cu', 'fcc', a=3.6)
    with pytest.raises(ValueError, match='relax'):
        energy_volume_scan(atoms, EMT(), [1.0], relax='cell')
    with pytest.raises(ValueError, match='volume_factors'):
        energy_volume_scan(atoms, EMT(), [1.0, -1.0])
    with pytest.raises(ValueError, match='volumes'):
        energy_volume_scan(atoms, EMT(), [1.0], volumes=[12.0])


def test_energy_volume_curves_of_several_phases():
    from aiida_gaprss.rss.eos import energy_volume_curves

    structures = {'fcc': bulk('Cu', 'fcc', a=3.6), 'bcc': bulk('Cu', 'bcc', a=2.87)}
    curves = energy_volume_curves(structures, EMT(), np.linspace(0.92, 1.08, 7))
    assert set(curves) == {'fcc', 'bcc'}
    for entry in curves.values():
        assert len(entry['volumes']) == len(entry['energies']) == 7
        assert entry['converged'] and entry['fit_error'] is None
    assert curves['fcc']['fit']['b0'] == pytest.approx(134.0, abs=1.5)
    assert curves['fcc']['fit']['e0'] < curves['bcc']['fit']['e0']  # EMT Cu prefers fcc
    with pytest.raises(ValueError, match='structures'):
        energy_volume_curves({}, EMT())
