"""Formation energies and the formation-energy hull of validated phases (rss.validation), by hand-computed numbers."""

from __future__ import annotations

import pytest

from aiida_gaprss.rss.validation import formation_energy_errors, formation_energy_table

HALF = {'Si': 0.5, 'C': 0.5}
COMPOSITIONS = {
    'Si_diamond': {'Si': 1.0},
    'C_diamond': {'C': 1.0},
    'C_graphite': {'C': 1.0},
    'SiC_3C': HALF,
    'SiC_4H': HALF,
    'SiC_rocksalt': HALF,
    'Si2C': {'Si': 2.0 / 3.0, 'C': 1.0 / 3.0},
}


def _phases(**energies):
    return {name: {'energy_per_atom': value} for name, value in energies.items()}


def test_formation_energies_and_hull():
    phases = _phases(
        Si_diamond=-4.6, C_diamond=-7.35, C_graphite=-7.4, SiC_3C=-6.2, SiC_4H=-6.2005, SiC_rocksalt=-4.7, Si2C=-5.5
    )
    table = formation_energy_table(phases, COMPOSITIONS, ['Si', 'C'])
    assert table['ground_states'] == {
        'Si': {'phase': 'Si_diamond', 'energy_per_atom': -4.6},
        'C': {'phase': 'C_graphite', 'energy_per_atom': -7.4},
    }
    rows = table['phases']
    # E_f = E - (x_Si mu_Si + x_C mu_C), mu from the ground states (-4.6, -7.4): SiC -6.0, Si2C -5.5333
    assert rows['SiC_3C']['formation_energy'] == pytest.approx(-0.2)
    assert rows['SiC_4H']['formation_energy'] == pytest.approx(-0.2005)
    assert rows['C_diamond']['formation_energy'] == pytest.approx(0.05)
    assert rows['Si2C']['formation_energy'] == pytest.approx(-5.5 + (2 * 4.6 + 7.4) / 3)
    # hull: Si (0), 4H (x = 1/2, -0.2005), graphite (1); at x_C = 1/3 the hull is -0.2005 * 2/3 = -0.13367
    assert table['on_hull'] == ['Si_diamond', 'C_graphite', 'SiC_4H']
    assert rows['SiC_3C']['above_hull'] == pytest.approx(0.0005)
    assert rows['Si2C']['above_hull'] == pytest.approx(rows['Si2C']['formation_energy'] + 0.2005 * 2 / 3)
    assert rows['SiC_rocksalt']['above_hull'] == pytest.approx(1.5005)
    assert rows['Si2C']['composition'] == {'Si': pytest.approx(2 / 3), 'C': pytest.approx(1 / 3)}

    shifted = _phases(**{name: row['energy_per_atom'] + 0.3 for name, row in phases.items()})
    shifted['SiC_3C']['energy_per_atom'] -= 0.01  # 3C now 9.5 meV/atom below 4H
    other = formation_energy_table(shifted, COMPOSITIONS, ['Si', 'C'])
    errors = formation_energy_errors(other, table)
    # a constant shift cancels in formation energies; only 3C's -10 meV/atom remains
    assert errors['phases']['SiC_3C']['formation_energy_error'] == pytest.approx(-0.01)
    assert errors['phases']['Si2C']['formation_energy_error'] == pytest.approx(0.0, abs=1e-12)
    assert errors['max_abs_formation_energy_error'] == pytest.approx(0.01)
    assert not errors['hull_agrees'] and not errors['phases']['SiC_4H']['on_hull_agrees']


def test_a_missing_end_member_is_refused():
    with pytest.raises(ValueError, match='no pure C phase'):
        formation_energy_table(_phases(Si_diamond=-4.6, SiC_3C=-6.2), COMPOSITIONS, ['Si', 'C'])
