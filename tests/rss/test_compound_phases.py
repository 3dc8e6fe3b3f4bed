"""Known phases of SiC (3C, 2H, 4H, 6H, rock salt) and the phases of a chemical system."""

from __future__ import annotations

import numpy as np
import pytest
import spglib

from aiida_gaprss.rss.phases import (
    COMPOUND_PHASES,
    build_phase,
    build_system_phase,
    cheapest_cell,
    split_system_phase,
    system_phase_names,
)

AMU_PER_A3_IN_G_CM3 = 1.66053906660  # 1 amu/Å^3 in g/cm^3

#: atoms in the primitive and conventional cells, space group, density (g/cm^3) from the cell constants of the table
EXPECTED = {
    '3C': (2, 8, 216, 3.2142),
    '2H': (4, 4, 186, 3.2186),
    '4H': (8, 8, 186, 3.2157),
    '6H': (12, 12, 186, 3.2153),
    'rocksalt': (2, 8, 225, 4.1613),
}


def _spacegroup(atoms) -> int:
    cell = (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers)
    return spglib.get_symmetry_dataset(cell, symprec=1e-4).number


def _density(atoms) -> float:
    return atoms.get_masses().sum() * AMU_PER_A3_IN_G_CM3 / atoms.get_volume()


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_sic_phase_counts_symmetry_density(name):
    primitive, conventional, spacegroup, density = EXPECTED[name]
    atoms = build_phase('SiC', name)
    assert len(atoms) == primitive
    assert len(build_phase('SiC', name, primitive=False)) == conventional
    symbols = atoms.get_chemical_symbols()
    assert symbols.count('Si') == symbols.count('C') == primitive // 2
    assert _spacegroup(atoms) == spacegroup == atoms.info['spacegroup']
    assert _density(atoms) == pytest.approx(density, abs=5e-4)
    assert atoms.info['formula'] == 'SiC' and atoms.info['phase'] == name


@pytest.mark.parametrize('name', ['3C', '2H', '4H', '6H'])
def test_polytypes_are_tetrahedral_with_the_bond_length_of_sic(name):
    """Every atom has four neighbours of the other species at 1.88–1.89 Å (measured Si–C bond 1.888 Å)."""
    from ase.neighborlist import neighbor_list

    atoms = build_phase('SiC', name)
    first, second, distances = neighbor_list('ijd', atoms, 2.2)
    assert np.bincount(first, minlength=len(atoms)).tolist() == [4] * len(atoms)
    numbers = atoms.numbers
    assert (numbers[first] != numbers[second]).all()
    assert distances.min() > 1.875 and distances.max() < 1.895


def test_rocksalt_is_six_fold():
    from ase.neighborlist import neighbor_list

    atoms = build_phase('SiC', 'rocksalt')
    first, _, distances = neighbor_list('ijd', atoms, 2.1)
    assert np.bincount(first).tolist() == [6, 6]
    assert distances == pytest.approx(2.0)


def test_stacking_sequences_of_the_hexagonal_polytypes():
    """The in-plane positions of the Si layers along c, lettered in order of appearance: 2H AB, 4H ABAC, 6H ABCACB."""
    for name, expected in (('2H', 'AB'), ('4H', 'ABAC'), ('6H', 'ABCACB')):
        atoms = build_phase('SiC', name)
        scaled = atoms.get_scaled_positions()[atoms.numbers == 14]
        layers = scaled[np.argsort(scaled[:, 2])]
        sites = [(round(3 * p[0]) % 3, round(3 * p[1]) % 3) for p in layers]
        letters = {}
        for site in sites:
            if site not in letters:
                letters[site] = 'ABC'[len(letters)]
        stacking = ''.join(letters[site] for site in sites)
        assert stacking == expected, name


def test_system_phase_names_and_builders():
    names = system_phase_names(['Si', 'C'])
    assert names == ['Si_diamond', 'C_diamond', 'C_graphite'] + [f'SiC_{name}' for name in COMPOUND_PHASES['SiC']]
    assert system_phase_names(['C', 'Si'])[:3] == ['C_diamond', 'C_graphite', 'Si_diamond']
    assert not [name for name in system_phase_names(['Si', 'Ti']) if name.startswith('SiC')]
    assert split_system_phase('Si_beta_sn') == ('Si', 'beta_sn')
    atoms = build_system_phase('SiC_4H')
    assert atoms.info['phase'] == 'SiC_4H' and len(atoms) == 8
    silicon = build_system_phase('Si_diamond')
    assert silicon.get_chemical_formula() == 'Si2' and silicon.info['phase'] == 'Si_diamond'
    assert cheapest_cell(['Si', 'C'], 'SiC_3C', 0.2).info['cell_choice'] == 'primitive'
    with pytest.raises(ValueError, match='elements: no known phases for'):
        system_phase_names(['Si', 'Xe'])
    with pytest.raises(ValueError, match='unknown phase'):
        build_system_phase('SiC_8H')
    with pytest.raises(ValueError, match='unknown phase'):
        build_phase('SiC', '8H')
