"""Random cells of a chemical system (aiida_gaprss.rss.compound_generation, composition, species, dimers)."""

import itertools
from collections import Counter

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from aiida_gaprss.rss.composition import formula_counts, formula_string, parse_composition
from aiida_gaprss.rss.compound_generation import compound_initial_pool, generate_compound_cells
from aiida_gaprss.rss.dimers import generate_dimers, generate_pair_dimers, isolated_atoms
from aiida_gaprss.rss.generation import imposed_operations
from aiida_gaprss.rss.species import species_scales
from aiida_gaprss.rss.wyckoff import can_hold_counts, decompose_stoichiometry, space_group, species_reach

from .test_generation import _contains_imposed

N_POOL = 400
RADII = {'Si': 1.11, 'C': 0.76, 'O': 0.66}


@pytest.fixture(scope='module')
def sic_pool():
    """The paper's first-iteration split on 400 SiC cells (fixed stoichiometry), two processes."""
    return compound_initial_pool('SiC', N_POOL, seed=2019, processes=2)


@pytest.fixture(scope='module')
def system_cells():
    """200 cells over the whole Si–C system (any composition, pure elements included)."""
    return generate_compound_cells(200, 'Si-C', seed=5, natoms=(4, 16), symmops=(1, 4))


def _separation_table(atoms):
    symbols = sorted({s for pair in atoms.info['min_separations'] for s in pair.split('-')})
    table = {}
    for key, value in atoms.info['min_separations'].items():
        a, b = key.split('-')
        table[(a, b)] = table[(b, a)] = value
    return symbols, table


def _violations(atoms):
    """Pairs closer than their own minimum separation, found by ase's neighbour list (independent of the generator)."""
    _, table = _separation_table(atoms)
    i, j, d = neighbor_list('ijd', atoms, 1.2 * max(table.values()))
    symbols = atoms.get_chemical_symbols()
    needed = np.array([table[(symbols[a], symbols[b])] for a, b in zip(i, j, strict=True)])
    return int(np.sum(d < needed * (1 - 1e-9)))


def test_pool_counts_exact_and_split(sic_pool):
    assert len(sic_pool) == N_POOL
    for atoms in sic_pool:
        counts = Counter(atoms.get_chemical_symbols())
        assert counts['Si'] == counts['C'] and set(counts) == {'Si', 'C'}
        assert atoms.info['composition'] == 'SiC'
    # SiC has no odd cell: the odd narrow share goes to the even narrow batch
    narrow = [a for a in sic_pool if a.info['volume_mode'] == 'narrow']
    assert len(narrow) == N_POOL // 2 and all(len(a) % 2 == 0 for a in sic_pool)
    assert {len(a) for a in sic_pool} == set(range(6, 25, 2))


def test_pair_separations_met(sic_pool, system_cells):
    for atoms in [*sic_pool, *system_cells]:
        assert _violations(atoms) == 0
    d = sic_pool[0].info['min_separations']
    assert d['Si-C'] == pytest.approx(1.8 * (1.11 + 0.76) / 2)
    assert d['Si-Si'] == pytest.approx(1.8 * 1.11) and d['C-C'] == pytest.approx(1.8 * 0.76)


def test_symmetry_as_requested(sic_pool):
    results = [_contains_imposed(a, 1e-3) for a in sic_pool]
    assert np.mean([r[0] for r in results]) >= 0.98
    assert np.mean([r[1] >= a.info['symmops'] for r, a in zip(results, sic_pool, strict=True)]) >= 0.98
    used = Counter(a.info['symmops'] for a in sic_pool)
    assert set(used) == {1, 2, 3, 4, 6, 8}
    assert all(len(imposed_operations(a.info['spacegroup'])[0]) == a.info['symmops'] for a in sic_pool)


def test_wyckoff_assignment_matches_the_stoichiometry(sic_pool):
    """Every orbit holds one species and the orbits of each species add up to its count."""
    for atoms in sic_pool[:100]:
        group = space_group(atoms.info['spacegroup'])
        multiplicity = {w.label: w.multiplicity for w in group.wyckoffs}
        per_species = Counter()
        for item in atoms.info['wyckoff'].split():
            symbol, label = item.split(':')
            per_species[symbol] += multiplicity[label]
        assert per_species == Counter(atoms.get_chemical_symbols())


def test_volumes_from_the_species_radii(sic_pool, system_cells):
    scales = species_scales(['Si', 'C'])
    for atoms in [*sic_pool, *system_cells]:
        counts = Counter(atoms.get_chemical_symbols())
        v0 = scales.volume_per_atom([counts['Si'], counts['C']])
        x = counts['C'] / len(atoms)
        assert v0 == pytest.approx(14.5 * ((1 - x) * 1.11 + x * 0.76) ** 3)
        half_width = 0.05 if atoms.info['volume_mode'] == 'narrow' else 0.25
        ratio = atoms.get_volume() / len(atoms) / v0
        assert 1 - half_width - 1e-9 <= ratio <= 1 + half_width + 1e-9


def test_composition_range_sampled_uniformly_per_cell():
    """With N fixed to 8, the nine Si_nC_(8-n) compositions are equally likely (pure elements included)."""
    cells = generate_compound_cells(270, 'Si-C', seed=3, natoms=(8, 8), symmops=(1, 2))
    n_c = Counter(a.get_chemical_symbols().count('C') for a in cells)
    assert set(n_c) == set(range(9))
    assert all(12 <= n_c[k] <= 50 for k in range(9)), n_c  # 30 expected each; binomial sd 5.2
    assert all(a.info['composition'] == formula_string(Counter(a.get_chemical_symbols())) for a in cells)


def test_fraction_ranges_and_several_stoichiometries(system_cells):
    ranged = generate_compound_cells(60, {'Si': (0.25, 0.5), 'C': (0.5, 0.75)}, seed=1, natoms=(4, 12))
    for atoms in ranged:
        x = atoms.get_chemical_symbols().count('Si') / len(atoms)
        assert 0.25 - 1e-9 <= x <= 0.5 + 1e-9
    several = generate_compound_cells(60, ['SiC', 'SiO2'], seed=1, natoms=(6, 12))
    seen = set()
    for atoms in several:
        counts = Counter(atoms.get_chemical_symbols())
        seen.add(atoms.info['composition'])
        assert counts['O'] == 2 * counts['Si'] if 'O' in counts else counts['Si'] == counts['C']
    assert seen == {'SiC', 'SiO2'}
    assert {a.info['composition'] for a in system_cells} >= {'Si', 'C', 'SiC'}


def test_reproducible_and_independent_of_processes():
    one = generate_compound_cells(16, 'SiO2', seed=7, processes=1)
    two = generate_compound_cells(16, 'SiO2', seed=7, processes=2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a.positions, b.positions)
        assert a.get_chemical_symbols() == b.get_chemical_symbols() and a.info == b.info


def test_user_radii_and_pair_separations():
    cells = generate_compound_cells(10, 'SiC', seed=2, radii={'C': 0.8}, min_separations={'Si-C': 1.75})
    for atoms in cells:
        assert atoms.info['min_separations']['Si-C'] == 1.75
        assert atoms.info['min_separations']['C-C'] == pytest.approx(1.44)
        assert _violations(atoms) == 0


def test_stoichiometric_decomposition_and_reach():
    """One species: the reach table is the elemental bitset; two: every decomposition adds up per species."""
    for number in (1, 14, 47, 62, 139, 166, 225):
        group = space_group(number)
        specials = list(range(1, len(group.wyckoffs)))
        bits = group.special_reach(specials, 24)
        assert [bool(v) for v in species_reach(group, [24], specials)] == [bool((bits >> n) & 1) for n in range(25)]
    rng = np.random.default_rng(0)
    group = space_group(62)  # Pnma: 4c on mirrors, 4a/4b fixed, 8d general
    for counts in itertools.product(range(0, 13, 4), repeat=2):
        if sum(counts) == 0:
            continue
        assert can_hold_counts(group, counts)
        indices, species = decompose_stoichiometry(group, counts, rng)
        totals = [0, 0]
        for index, s in zip(indices, species, strict=True):
            totals[s] += group.wyckoffs[index].multiplicity
        assert totals == list(counts)
    assert not can_hold_counts(group, (1, 4))


def test_compositions_parsed():
    assert formula_counts('SiO2') == {'Si': 1, 'O': 2}
    space = parse_composition({'Si': 2, 'C': 2})
    assert space.elements == ('Si', 'C') and space.stoichiometries == ((1, 1),)
    assert parse_composition('SiO2').count_vectors(9) == [(3, 6)] and parse_composition('SiO2').count_vectors(8) == []
    system = parse_composition('Si-C')
    assert system.count_vectors(3) == [(0, 3), (1, 2), (2, 1), (3, 0)]
    assert parse_composition(['Si', 'SiC']).stoichiometries == ((1, 0), (1, 1))


@pytest.mark.parametrize(
    ('composition', 'kwargs', 'field'),
    [
        ('SiXx', {}, 'composition'),
        ('Si-Qq', {}, 'composition'),
        ({'Si': 1, 'Zz': 1}, {}, 'composition'),
        ('Si(C)2', {}, 'composition'),
        ({'Si': (0.6, 1.0), 'C': (0.6, 1.0)}, {}, 'composition'),
        ({'Si': (0.5, 1.5), 'C': (0.0, 1.0)}, {}, 'composition.Si'),
        ('Si3C5', {'natoms': (6, 7)}, 'natoms'),
        ('SiC', {'natoms': (6, 9), 'parity': 'odd'}, 'natoms'),
        ('SiC', {'radii': {'Si': 3.0}, 'bonding': {'Si': 'metallic'}, 'volume_mode': 'wide'}, 'radii'),
        ('SiC', {'min_separations': {'Si-Si': 4.0}}, 'min_separations'),
        ('SiC', {'min_separations': {'Si-O': 1.0}}, 'min_separations'),
        ('SiC', {'min_separations': {'Si-C': -1.0}}, 'min_separations'),
        ('SiC', {'radii': {'O': 1.0}}, 'radii'),
        ('SiC', {'radii': {'Si': -1.0}}, 'radius'),
        ('SiC', {'volume_mode': 'huge'}, 'volume_mode'),
        ('SiC', {'symmops': (1, 49)}, 'symmops'),
        ('SiC', {'seed': -1}, 'seed'),
    ],
)
def test_bad_input_refused_by_name(composition, kwargs, field):
    args = {'seed': 1} | kwargs
    with pytest.raises(ValueError, match=field):
        generate_compound_cells(2, composition, **args)


def test_dimers_for_every_pair_and_isolated_atoms():
    dimers = generate_pair_dimers(['Si', 'C'], 5)
    assert [a.info['pair'] for a in dimers[::5]] == ['Si-Si', 'Si-C', 'C-C']
    sic = [a for a in dimers if a.info['pair'] == 'Si-C']
    r_ab = (1.11 + 0.76) / 2
    np.testing.assert_allclose([a.get_distance(0, 1) for a in sic], np.linspace(1.3 * r_ab, 5.0 * r_ab, 5))
    assert all(a.get_chemical_symbols() == ['Si', 'C'] and a.info['config_type'] == 'dimer' for a in sic)
    # one element: the elemental dimers exactly
    for a, b in zip(generate_pair_dimers(['Si'], 4), generate_dimers('Si', 4), strict=True):
        np.testing.assert_array_equal(a.positions, b.positions)
        np.testing.assert_array_equal(a.cell[:], b.cell[:])
    atoms = isolated_atoms(['Si', 'C'])
    assert [a.get_chemical_symbols() for a in atoms] == [['Si'], ['C']]
    assert all(a.info['config_type'] == 'isolated_atom' and np.all(a.pbc) for a in atoms)
    with pytest.raises(ValueError, match='elements'):
        generate_pair_dimers(['Si', 'Si'], 3)
    with pytest.raises(ValueError, match='element'):
        isolated_atoms(['Si', 'Xq'])
