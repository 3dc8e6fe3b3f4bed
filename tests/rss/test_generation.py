"""Buildcell-style random cells and dimers (aiida_gaprss.rss.generation)."""

import numpy as np
import pytest
import spglib
from ase.neighborlist import neighbor_list

from aiida_gaprss.rss.elements import volume_per_atom
from aiida_gaprss.rss.generation import (
    generate_dimers,
    generate_random_cells,
    imposed_operations,
    initial_pool,
    minimum_distance,
)

N_POOL = 1000


@pytest.fixture(scope='module')
def pool():
    """The paper's first-iteration split on 1,000 Si cells, made on two processes."""
    return initial_pool('Si', N_POOL, seed=2019, processes=2)


def _shortest(atoms):
    """Shortest distance over periodic images, independently of the generator (ase.neighborlist)."""
    d = neighbor_list('d', atoms, 1.2 * atoms.info['min_separation'])
    return d.min() if len(d) else np.inf


def _contains_imposed(atoms, symprec):
    """Whether spglib finds every imposed operation, and how many operations it finds."""
    found = spglib.get_symmetry((atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers), symprec=symprec)
    rotations, translations = imposed_operations(atoms.info['spacegroup'])
    for rot, trans in zip(rotations, translations, strict=True):
        same = np.all(found['rotations'] == rot, axis=(1, 2))
        diff = (found['translations'][same] - trans + 0.5) % 1.0 - 0.5
        if not np.any(np.abs(diff).max(axis=1) < 10 * symprec):
            return False, len(found['rotations'])
    return True, len(found['rotations'])


def test_pool_split_and_parity(pool):
    assert len(pool) == N_POOL
    narrow = [a for a in pool if a.info['volume_mode'] == 'narrow']
    wide = [a for a in pool if a.info['volume_mode'] == 'wide']
    assert len(narrow) == N_POOL // 2 and len(wide) == N_POOL // 2
    narrow_even = sum(len(a) % 2 == 0 for a in narrow)
    assert narrow_even == 400  # exactly 80 % of the narrow half
    assert sum(len(a) % 2 == 1 for a in narrow) == 100
    assert all(len(a) % 2 == 0 for a in wide)
    assert all(a.info['parity'] == ('even' if len(a) % 2 == 0 else 'odd') for a in pool)
    counts = {len(a) for a in pool}
    assert counts == set(range(6, 25))
    assert all(a.info['config_type'] == 'rss_random' for a in pool)
    assert all(a.get_chemical_symbols() == ['Si'] * len(a) for a in pool)


def test_minimum_separation(pool):
    dmin = 1.8 * 1.11
    assert all(a.info['min_separation'] == pytest.approx(dmin) for a in pool)
    shortest = np.array([_shortest(a) for a in pool])
    assert np.all(shortest >= dmin * (1 - 1e-9))
    # The generator's own check agrees with ase's on a sample.
    for atoms in pool[::100]:
        assert minimum_distance(atoms) == pytest.approx(min(_shortest(atoms), minimum_distance(atoms)))


@pytest.mark.parametrize(('mode', 'half_width'), [('narrow', 0.05), ('wide', 0.25)])
def test_volume_distribution(pool, mode, half_width):
    v0 = volume_per_atom('Si')
    ratio = np.array([a.get_volume() / len(a) / v0 for a in pool if a.info['volume_mode'] == mode])
    assert ratio.min() >= 1 - half_width - 1e-9
    assert ratio.max() <= 1 + half_width + 1e-9
    # Uniform on [1 - w, 1 + w]: mean 1, standard deviation 2w / sqrt(12); 500 samples.
    sd = 2 * half_width / np.sqrt(12)
    assert abs(ratio.mean() - 1.0) < 4 * sd / np.sqrt(len(ratio))
    assert ratio.std() == pytest.approx(sd, rel=0.12)
    assert ratio.min() < 1 - 0.9 * half_width and ratio.max() > 1 + 0.9 * half_width
    target = np.array([a.info['target_volume_per_atom'] for a in pool if a.info['volume_mode'] == mode])
    np.testing.assert_allclose(ratio * v0, target, rtol=1e-9)


def test_symmetry_found_by_spglib(pool):
    results = [_contains_imposed(a, 1e-3) for a in pool]
    contains = np.array([r[0] for r in results])
    enough = np.array([r[1] >= a.info['symmops'] for r, a in zip(results, pool, strict=True)])
    assert contains.mean() >= 0.98, contains.mean()
    assert enough.mean() >= 0.98, enough.mean()
    # Every requested operation count of 1-8 is used, none outside.
    used = np.array([a.info['symmops'] for a in pool])
    assert set(used) == {1, 2, 3, 4, 6, 8}
    assert all(np.bincount(used)[k] > 0.08 * N_POOL for k in (1, 2, 3, 4, 6, 8))
    # The imposed group has as many operations (per primitive cell) as recorded.
    assert all(len(imposed_operations(a.info['spacegroup'])[0]) == a.info['symmops'] for a in pool)


def test_generic_cells_match_their_group(pool):
    """Cells whose atoms all sit on general positions have exactly the imposed group, in most cases."""
    generic = [a for a in pool if all(w.endswith(a.info['wyckoff'].split()[0][-1]) for w in a.info['wyckoff'].split())]
    generic = [a for a in generic if a.info['symmops'] > 1][:200]
    same = [spglib.get_symmetry_dataset((a.cell[:], a.get_scaled_positions(), a.numbers), symprec=1e-3).number
            == a.info['spacegroup'] for a in generic]  # fmt: skip
    assert len(generic) > 50
    assert np.mean(same) >= 0.9


def test_reproducible_and_independent_of_processes():
    one = generate_random_cells(24, 'Si', seed=7, processes=1)
    two = generate_random_cells(24, 'Si', seed=7, processes=2)
    again = generate_random_cells(24, 'Si', seed=7, processes=1)
    other = generate_random_cells(24, 'Si', seed=8, processes=1)
    for a, b, c in zip(one, two, again, strict=True):
        np.testing.assert_array_equal(a.cell[:], b.cell[:])
        np.testing.assert_array_equal(a.positions, b.positions)
        np.testing.assert_array_equal(a.positions, c.positions)
        assert a.info == b.info
    assert [a.info['index'] for a in one] == list(range(24))
    assert any(len(a) != len(b) or not np.allclose(a.positions, b.positions) for a, b in zip(one, other, strict=True))


def test_metallic_titanium():
    cells = generate_random_cells(20, 'Ti', seed=3, natoms=(6, 12))
    v0 = 5.5 * 1.47**3
    for atoms in cells:
        assert atoms.info['bonding'] == 'metallic'
        assert 0.95 - 1e-9 <= atoms.get_volume() / len(atoms) / v0 <= 1.05 + 1e-9
        assert _shortest(atoms) >= 1.8 * 1.47 * (1 - 1e-9)
        assert _contains_imposed(atoms, 1e-3)[0]


def test_options_are_honoured():
    cells = generate_random_cells(30, 'C', seed=1, volume_mode='wide', parity='odd', natoms='7-9', symmops=(1, 1))
    assert {len(a) for a in cells} <= {7, 9}
    assert all(a.info['spacegroup'] == 1 and a.info['symmops'] == 1 for a in cells)
    high = generate_random_cells(10, 'Si', seed=1, natoms=(8, 16), symmops='8-8', parity='even')
    assert all(a.info['symmops'] == 8 and _contains_imposed(a, 1e-3)[0] for a in high)
    custom = generate_random_cells(5, 'Si', seed=1, radius=1.0)
    assert all(a.info['min_separation'] == pytest.approx(1.8) for a in custom)


def test_progress_callback():
    seen = []
    generate_random_cells(12, 'Si', seed=1, processes=2, progress=seen.append)
    assert sum(seen) == 12


def test_imposed_operations_tables():
    rotations, translations = imposed_operations(225)  # Fm-3m: 48 operations in the primitive cell
    assert rotations.shape == (48, 3, 3) and translations.shape == (48, 3)
    assert len(imposed_operations(1)[0]) == 1
    rotations, _ = imposed_operations(166)  # R-3m, rhombohedral primitive cell: 12
    assert len(rotations) == 12
    assert np.all(np.abs(np.linalg.det(rotations)) == 1)


def test_dimers():
    dimers = generate_dimers('Si', 11)
    lengths = np.array([a.get_distance(0, 1) for a in dimers])
    np.testing.assert_allclose(lengths, np.linspace(1.3 * 1.11, 5.0 * 1.11, 11))
    np.testing.assert_allclose([a.info['bond_length'] for a in dimers], lengths)
    assert all(a.info['config_type'] == 'dimer' and len(a) == 2 for a in dimers)
    box = dimers[0].cell.lengths()
    assert np.all(box >= 5.0 * 1.11 + 9.0 * 1.11)  # no periodic image within the 2-body cut-off
    custom = generate_dimers('Ti', 3, r_min=2.0, r_max=3.0, box=25.0)
    np.testing.assert_allclose([a.get_distance(0, 1) for a in custom], [2.0, 2.5, 3.0])
    assert custom[0].cell.lengths()[0] == 25.0


@pytest.mark.parametrize(
    ('kwargs', 'field'),
    [
        ({'natoms': (24, 6)}, 'natoms'),
        ({'natoms': '9-3'}, 'natoms'),
        ({'natoms': (0, 4)}, 'natoms'),
        ({'symmops': (0, 8)}, 'symmops'),
        ({'symmops': (1, 49)}, 'symmops'),
        ({'element': 'Xx'}, 'element'),
        ({'radius': -1.0}, 'radius'),
        ({'parity': 'prime'}, 'parity'),
        ({'natoms': (7, 7), 'parity': 'even'}, 'natoms'),
        ({'volume_mode': 'huge'}, 'volume_mode'),
        ({'seed': -1}, 'seed'),
        ({'processes': 0}, 'processes'),
        ({'n': -3}, 'n'),
    ],
)
def test_bad_input(kwargs, field):
    args = {'n': 2, 'element': 'Si', 'seed': 1} | kwargs
    n, element = args.pop('n'), args.pop('element')
    with pytest.raises(ValueError, match=field):
        generate_random_cells(n, element, **args)


def test_bad_dimer_input():
    with pytest.raises(ValueError, match='r_min'):
        generate_dimers('Si', 3, r_min=3.0, r_max=2.0)
    with pytest.raises(ValueError, match='box'):
        generate_dimers('Si', 3, box=5.0)
    with pytest.raises(ValueError, match='element'):
        generate_dimers('Qq', 3)
