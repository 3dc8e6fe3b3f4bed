"""Tests of the lower (V, E) hull and the per-structure gap_fit sigmas (aiida_gaprss.rss.hull)."""

import numpy as np
import pytest
from ase import Atoms

from aiida_gaprss.rss import hull


def test_four_point_hull_by_hand():
    """(10,-5.0) (11,-4.9) (12,-5.2) (14,-4.8): the hull at V=11 is -5.1, so the second point is 0.2 eV above."""
    V = [11.0, 10.0, 14.0, 12.0]
    E = [-4.9, -5.0, -4.8, -5.2]
    assert np.allclose(hull.lower_hull(V, E), [[10, -5.0], [12, -5.2], [14, -4.8]])
    assert np.allclose(hull.lower_hull_distance(V, E), [0.2, 0.0, 0.0, 0.0])
    # a fifth point at V=13, E=-4.0: hull there is (-5.2 - 4.8)/2 = -5.0 -> 1.0 eV above
    assert np.isclose(hull.lower_hull_distance(V + [13.0], E + [-4.0])[-1], 1.0)


def test_degenerate_hulls():
    assert np.allclose(hull.lower_hull_distance([10.0], [-3.0]), [0.0])
    assert np.allclose(hull.lower_hull_distance([10.0, 12.0], [-3.0, -1.0]), [0.0, 0.0])
    # collinear points all lie on the hull
    assert np.allclose(hull.lower_hull_distance([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]), 0.0)
    # same volume: only the lowest is on the hull
    assert np.allclose(hull.lower_hull_distance([10.0, 10.0, 10.0], [-3.0, -2.5, -3.0]), [0.0, 0.5, 0.0])
    with pytest.raises(ValueError, match='energies_per_atom'):
        hull.lower_hull_distance([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(ValueError, match='differ in length'):
        hull.lower_hull_distance([1.0, 2.0], [1.0])


def test_matches_scipy_convex_hull():
    from scipy.spatial import ConvexHull

    rng = np.random.default_rng(0)
    V = rng.uniform(10, 30, 300)
    E = 0.01 * (V - 20) ** 2 - 5 + rng.exponential(0.3, 300)
    ours = hull.lower_hull_distance(V, E)
    points = np.column_stack([V, E])
    ch = ConvexHull(points)
    # facets with outward normal pointing down (n_E < 0) form the lower hull: n·x + b = 0
    lower = ch.equations[ch.equations[:, 1] < 0]
    surface = np.max(-(lower[:, [0]] * V + lower[:, [2]]) / lower[:, [1]], axis=0)
    assert np.allclose(ours, E - surface, atol=1e-10)
    assert ours.min() == 0.0


@pytest.mark.parametrize(
    'dE, expected',
    [
        (0.0, (0.001, 0.0316, 0.0632)),
        (0.1, (0.001, 0.0316, 0.0632)),
        (0.55, (0.0505, 0.1738, 0.3476)),
        (1.0, (0.1, 0.316, 0.632)),
        (2.0, (0.1, 0.316, 0.632)),
    ],
)
def test_sigma_ramp(dE, expected):
    assert np.allclose(hull.sigmas_from_distance(dE), expected)


def si_cell(n, volume_per_atom, energy_per_atom, **info):
    a = (n * volume_per_atom) ** (1 / 3)
    atoms = Atoms(f'Si{n}', scaled_positions=np.random.default_rng(n).random((n, 3)), cell=[a, a, a], pbc=True)
    atoms.info.update(energy=n * energy_per_atom, **info)
    return atoms


def test_set_sigmas_on_atoms():
    structures = [
        si_cell(8, 10.0, -5.0),
        si_cell(4, 11.0, -4.9),  # 0.2 eV above -> ramp
        si_cell(2, 12.0, -5.2),
        si_cell(6, 14.0, -4.8),
        si_cell(3, 13.0, -2.0),  # 3 eV above -> loosest
        Atoms('Si2', positions=[[0, 0, 0], [0, 0, 2.2]], cell=[20, 20, 20], pbc=False, info={'energy': -1.0}),
        si_cell(2, 4000.0, -9.0, config_type='dimer'),  # would be the right end of the hull if not excluded
    ]
    hull.set_sigmas(structures)
    sE, sF, sV = hull.sigmas_from_distance(0.2)
    s = structures[1].info
    assert np.isclose(s['hull_distance'], 0.2)
    assert np.isclose(s['energy_sigma'], 4 * sE) and np.isclose(s['force_sigma'], sF)
    assert np.isclose(s['virial_sigma'], 4 * sV)
    assert np.isclose(structures[0].info['energy_sigma'], 8 * 0.001)
    assert np.isclose(structures[4].info['energy_sigma'], 3 * 0.1)
    for special in structures[5:]:
        assert 'hull_distance' not in special.info
        assert np.isclose(special.info['energy_sigma'], 2 * 0.1) and np.isclose(special.info['force_sigma'], 0.316)
    # gap_fit's own per-atom convention
    root = hull.per_structure_sigmas(structures, natoms_scaling='sqrt')
    assert np.isclose(root['energy_sigma'][1], 2 * sE) and np.isclose(root['virial_sigma'][0], np.sqrt(8) * 0.0632)


def test_special_sigmas_replace_the_loosest_ones():
    structures = [
        si_cell(8, 10.0, -5.0),
        si_cell(2, 4000.0, -9.0, config_type='dimer'),
        si_cell(1, 4000.0, -0.5, config_type='isolated_atom'),
    ]
    sigmas = hull.per_structure_sigmas(structures, special_sigmas={'dimer': [0.01, 0.05, 0.02]})
    dimer = [sigmas[key][1] for key in ('energy_sigma', 'force_sigma', 'virial_sigma')]
    assert np.allclose(dimer, [0.02, 0.05, 0.04])
    assert np.isclose(sigmas['energy_sigma'][2], 0.1)  # not named: still the loosest
    assert np.isclose(sigmas['energy_sigma'][0], 8 * 0.001)  # on the hull: untouched
    root = hull.per_structure_sigmas(structures, natoms_scaling='sqrt', special_sigmas={'dimer': [0.01, 0.05, 0.02]})
    assert np.isclose(root['energy_sigma'][1], np.sqrt(2) * 0.01)
    for bad in ([0.01, 0.05], [0.01, -0.05, 0.02], ['a', 1, 1], None):
        with pytest.raises(ValueError, match='special_sigmas.dimer: expected three positive numbers'):
            hull.per_structure_sigmas(structures, special_sigmas={'dimer': bad})


def test_bad_structures():
    no_energy = si_cell(2, 12.0, -5.0)
    del no_energy.info['energy']
    with pytest.raises(ValueError, match=r"atoms_list\[1\] has no info\['energy'\]"):
        hull.per_structure_sigmas([si_cell(4, 12.0, -5.0), no_energy])
    with pytest.raises(ValueError, match='natoms_scaling'):
        hull.per_structure_sigmas([si_cell(4, 12.0, -5.0)], natoms_scaling='cube')


def test_enthalpy_above_hull_is_the_brute_force_minimum_at_each_pressure():
    from aiida_gaprss.rss.hull import GPA_A3_IN_EV, enthalpy_above_hull

    rng = np.random.default_rng(4)
    volumes = rng.uniform(12.0, 24.0, 300)
    energies = 0.02 * (volumes - 20.0) ** 2 + rng.uniform(0.0, 1.0, 300)
    pressures = rng.uniform(0.0, 20.0, 300)
    above = enthalpy_above_hull(volumes, energies, pressures)
    p = pressures * GPA_A3_IN_EV
    brute = energies + p * volumes - np.min(energies[None, :] + p[:, None] * volumes[None, :], axis=1)
    assert np.allclose(above, brute, atol=1e-12)
    assert above.min() == 0.0 and np.all(above >= 0.0)
    # at one common pressure it is H - min H: the paper's Boltzmann bias is unchanged
    same = enthalpy_above_hull(volumes, energies, np.full(300, 5.0))
    enthalpy = energies + 5.0 * GPA_A3_IN_EV * volumes
    assert np.allclose(same, enthalpy - enthalpy.min(), atol=1e-12)
    # a dense minimum relaxed at 20 GPa sits on the hull there although its enthalpy per atom is ~2 eV higher
    assert enthalpy_above_hull([20.0, 15.0], [0.0, 0.3], [0.0, 20.0])[1] == 0.0
    with pytest.raises(ValueError, match='differ in length'):
        enthalpy_above_hull([1.0, 2.0], [0.0, 1.0], [0.0])
