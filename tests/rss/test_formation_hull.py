"""Formation-energy hulls, multi-species selection descriptors and sigmas (aiida_gaprss.rss.formation_hull)."""

import numpy as np
import pytest
from ase import Atoms

from aiida_gaprss.rss.compound_generation import generate_compound_cells
from aiida_gaprss.rss.formation_hull import (
    composition_fractions,
    composition_volume_hull_distance,
    energy_above_formation_hull,
    enthalpy_above_formation_hull,
    formation_energies,
    lower_hull_distance_nd,
    multicomponent_sigmas,
)
from aiida_gaprss.rss.hull import enthalpy_above_hull, lower_hull_distance, per_structure_sigmas
from aiida_gaprss.rss.selection import flat_histogram
from aiida_gaprss.rss.soap import averaged_soap


def test_formation_hull_of_a_binary():
    """Si (0), SiC (-0.5 formation), C (0); Si2C above the tie-line Si–SiC, a C-rich point above SiC–C."""
    x_c = np.array([0.0, 0.5, 1.0, 1 / 3, 0.75, 0.5])
    mu = np.array([-5.0, -8.0])  # Si, C references
    e_form = np.array([0.0, -0.5, 0.0, -0.1, -0.1, -0.2])
    X = np.column_stack([1 - x_c, x_c])
    E = e_form + X @ mu
    distance = energy_above_formation_hull(X, E)
    # hull: 0 at Si, -0.5 at SiC, 0 at C -> -1/3 at x=1/3, -0.25 at x=0.75
    np.testing.assert_allclose(distance, [0, 0, 0, -0.1 + 1 / 3, -0.1 + 0.25, 0.3], atol=1e-12)
    np.testing.assert_allclose(formation_energies(X, E, ['Si', 'C']), e_form, atol=1e-12)
    np.testing.assert_allclose(formation_energies(X, E, ['Si', 'C'], {'Si': -4.0}), e_form - X[:, 0], atol=1e-12)
    with pytest.raises(ValueError, match='references'):
        formation_energies(X[1:2], E[1:2], ['Si', 'C'])


def test_ternary_hull_against_brute_force():
    """3 elements: qhull's lower hull equals the linear-programming minimum over mixtures."""
    from scipy.optimize import linprog

    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.ones(3), size=40)
    X[:3] = np.eye(3)
    E = rng.normal(size=40) - 0.5 * (X**2).sum(axis=1)
    distance = energy_above_formation_hull(X, E)
    for i in range(40):
        lp = linprog(E, A_eq=np.vstack([X.T, np.ones(40)]), b_eq=np.append(X[i], 1.0), bounds=(0, None))
        assert distance[i] == pytest.approx(E[i] - lp.fun, abs=1e-8)


def test_one_element_gives_the_elemental_numbers():
    rng = np.random.default_rng(1)
    V, E, P = rng.uniform(15, 25, 50), rng.normal(-4, 0.3, 50), rng.exponential(0.2, 50)
    X = np.ones((50, 1))
    np.testing.assert_array_equal(composition_volume_hull_distance(X, V, E), lower_hull_distance(V, E))
    np.testing.assert_array_equal(enthalpy_above_formation_hull(X, V, E, P), enthalpy_above_hull(V, E, P))
    np.testing.assert_array_equal(lower_hull_distance_nd(V[:, None], E), lower_hull_distance(V, E))


def test_enthalpy_hull_at_pressure():
    """At high pressure a dense Si phase is the reference of Si-rich compositions, not the open ground state."""
    X = np.array([[1, 0], [1, 0], [0.5, 0.5], [0, 1]], dtype=float)
    V = np.array([20.0, 15.0, 10.0, 6.0])
    E = np.array([-5.0, -4.8, -6.2, -8.0])
    dh0 = enthalpy_above_formation_hull(X, V, E, np.zeros(4))
    np.testing.assert_allclose(dh0, [0, 0.2, 0.3, 0], atol=1e-12)
    p = 20.0  # GPa: p ΔV = 20 GPa × 5 Å3 = 0.624 eV favours the dense Si
    dh = enthalpy_above_formation_hull(X, V, E, np.full(4, p))
    k = p / 160.21766208
    h = E + k * V
    assert dh[1] == pytest.approx(0.0) and dh[0] == pytest.approx(h[0] - h[1])
    assert dh[2] == pytest.approx(max(0.0, h[2] - 0.5 * (h[1] + h[3])))


def test_flat_histogram_lets_compositions_compete():
    """Raw energies per atom would only ever pick C-rich cells; the distance above the formation hull does not."""
    rng = np.random.default_rng(2)
    x_c = rng.integers(0, 9, 400) / 8
    X = np.column_stack([1 - x_c, x_c])
    e_form = rng.exponential(0.3, 400)
    E = X @ np.array([-5.4, -9.0]) + e_form
    V = 20 - 12 * x_c
    dh = enthalpy_above_formation_hull(X, V, E, np.zeros(400))
    raw = flat_histogram(E, 60, kT=0.1, seed=1)
    fair = flat_histogram(dh, 60, kT=0.1, seed=1)
    assert x_c[raw].mean() > 0.85
    assert 0.3 < x_c[fair].mean() < 0.7


def _labelled(cells, rng):
    out = []
    for atoms in cells:
        atoms = atoms.copy()
        x_c = atoms.get_chemical_symbols().count('C') / len(atoms)
        atoms.info['energy'] = len(atoms) * (-5.4 * (1 - x_c) - 9.0 * x_c + rng.exponential(0.4))
        out.append(atoms)
    return out


def test_multicomponent_sigmas():
    rng = np.random.default_rng(3)
    cells = _labelled(generate_compound_cells(24, 'Si-C', seed=1, natoms=(4, 8), symmops=(1, 2)), rng)
    cells.append(Atoms('SiC', positions=[[0, 0, 0], [1.9, 0, 0]], cell=[20] * 3, pbc=True, info={'energy': -1.0}))
    cells[-1].info['config_type'] = 'dimer'
    result = multicomponent_sigmas(cells, ['Si', 'C'])
    X = composition_fractions(cells[:-1], ['Si', 'C'])
    V = np.array([a.get_volume() / len(a) for a in cells[:-1]])
    E = np.array([a.info['energy'] / len(a) for a in cells[:-1]])
    np.testing.assert_allclose(result['distance'][:-1], composition_volume_hull_distance(X, V, E))
    assert np.isnan(result['distance'][-1]) and result['energy_sigma'][-1] == pytest.approx(0.1 * 2)
    assert (result['distance'][:-1] <= energy_above_formation_hull(X, E) + 1e-12).all()  # more coordinates, lower
    # elemental structures alone: the elemental sigmas exactly
    silicon = [a for a in cells[:-1] if set(a.get_chemical_symbols()) == {'Si'}]
    assert len(silicon) >= 2
    for key, value in multicomponent_sigmas(silicon, ['Si', 'C']).items():
        np.testing.assert_array_equal(value, per_structure_sigmas(silicon)[key])


def test_multispecies_averaged_soap_backends_agree():
    """Species-resolved averaged SOAP of Si–C cells: dscribe and quippy kernels agree; swapping species changes it."""
    cells = generate_compound_cells(12, 'Si-C', seed=4, natoms=(4, 8), symmops=(1, 2))
    kwargs = {'n_max': 4, 'l_max': 3, 'r_cut': 5.0, 'species': ['Si', 'C'], 'processes': 1}
    P = averaged_soap(cells, backend='dscribe', **kwargs)
    Q = averaged_soap(cells, backend='quippy', **kwargs)
    assert P.shape == Q.shape == (12, 4 * (2 * 4 * 5 // 2 + 16))
    upper = np.triu_indices(12, 1)
    assert np.corrcoef(((P @ P.T) ** 4)[upper], ((Q @ Q.T) ** 4)[upper])[0, 1] > 0.95
    mixed = next(a for a in cells if len(set(a.get_chemical_symbols())) == 2)
    swapped = mixed.copy()
    swapped.set_chemical_symbols(['C' if s == 'Si' else 'Si' for s in mixed.get_chemical_symbols()])
    pair = averaged_soap([mixed, swapped], **kwargs)
    assert pair[0] @ pair[1] < 0.99
