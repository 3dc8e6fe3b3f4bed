"""The numpy evaluation of dscribe's averaged GTO SOAP (aiida_gaprss.rss.soap_gto) against dscribe itself."""

import warnings

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from aiida_gaprss.rss.soap import _dscribe_pair_weights, averaged_soap
from aiida_gaprss.rss.soap_gto import GtoSoap, gto_basis, solid_harmonics

#: agreement with dscribe, relative to the largest component of each row (measured: ~1e-11)
RTOL = 1e-8


def random_cell(rng, n, element='Si', volume_per_atom=20.0):
    a = (n * volume_per_atom) ** (1 / 3)
    cell = np.diag([a, a * rng.uniform(0.9, 1.1), a]) + rng.uniform(-0.5, 0.5, (3, 3))
    return Atoms(f'{element}{n}', scaled_positions=rng.random((n, 3)), cell=cell, pbc=True)


def dscribe_rows(species, cells, periodic=True, **parameters):
    from dscribe.descriptors import SOAP

    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        soap = SOAP(species=species, periodic=periodic, average='inner', rbf='gto', **parameters)
        return np.asarray(soap.create(cells)).reshape(len(cells), -1)


def assert_same(reference, ours):
    assert reference.shape == ours.shape
    scale = np.abs(reference).max(axis=1, keepdims=True)
    assert np.abs(reference - ours).max(axis=1).max() <= RTOL * scale.min()


def test_solid_harmonics_are_orthonormal():
    """Exact quadrature on the unit sphere (Gauss-Legendre in cos θ x uniform φ) of Y_lm Y_l'm' up to l = 12."""
    l_max = 12
    x, w = np.polynomial.legendre.leggauss(20)
    phi = np.linspace(0.0, 2 * np.pi, 40, endpoint=False)
    ct, ph = np.meshgrid(x, phi, indexing='ij')
    st = np.sqrt(1 - ct**2)
    vectors = np.stack([st * np.cos(ph), st * np.sin(ph), ct], axis=-1).reshape(-1, 3)
    weights = (w[:, None] * np.full(phi.size, 2 * np.pi / phi.size)[None, :]).reshape(-1)
    harmonics = solid_harmonics(vectors, l_max)
    table = np.concatenate([harmonics[ell] for ell in range(l_max + 1)], axis=1)
    gram = table.T @ (table * weights[:, None])
    assert gram.shape == ((l_max + 1) ** 2,) * 2
    assert np.allclose(gram, np.eye(gram.shape[0]), atol=1e-10)
    # solid harmonics scale as r^l
    scaled = solid_harmonics(2.0 * vectors[:5], l_max)
    for ell in (0, 3, 12):
        assert np.allclose(scaled[ell], 2.0**ell * harmonics[ell][:5])


def test_gto_basis_matches_dscribe():
    from dscribe.descriptors import SOAP

    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        parameters = {'r_cut': 10.5, 'n_max': 12, 'l_max': 12, 'sigma': 0.5}
        soap = SOAP(species=['Si'], periodic=True, average='inner', rbf='gto', **parameters)
    alphas, betas = gto_basis(10.5, 12, 12)
    assert np.allclose(alphas, soap._alphas, rtol=1e-12)
    assert np.allclose(betas, soap._betas, rtol=1e-9, atol=0)


@pytest.mark.parametrize('sigma', [0.5, 0.0875])
def test_paper_descriptor_equals_dscribe(sigma):
    """n = l = 12, r_cut 10.5 Å on random cells, a 2-atom diamond cell (many periodic images) and fcc."""
    rng = np.random.default_rng(5)
    cells = [random_cell(rng, n) for n in (6, 11)] + [bulk('Si', 'diamond', a=5.43), bulk('Si', 'fcc', a=3.8)]
    parameters = {'r_cut': 10.5, 'n_max': 12, 'l_max': 12, 'sigma': sigma}
    ours = GtoSoap(species=['Si'], **parameters).create(cells)
    assert_same(dscribe_rows(['Si'], cells, **parameters), ours)


def test_clusters_and_several_species_equal_dscribe():
    rng = np.random.default_rng(6)
    parameters = {'r_cut': 5.0, 'n_max': 5, 'l_max': 5, 'sigma': 0.4}
    dimer = Atoms('Si2', positions=[[0, 0, 0], [0, 0, 2.3]], pbc=False)
    trimer = Atoms('Si3', positions=[[0, 0, 0], [0, 0, 2.3], [1.1, 1.7, 0.4]], pbc=False)
    assert_same(dscribe_rows(['Si'], [dimer, trimer], periodic=False, **parameters),
                GtoSoap(species=['Si'], **parameters).create([dimer, trimer]))  # fmt: skip
    mixed = []
    for n in (5, 9):
        cell = random_cell(rng, n)
        cell.symbols[: n // 2] = 'Ge'
        mixed.append(cell)
    mixed.append(bulk('SiO', 'rocksalt', a=4.5))  # no Ge: its channels are zero
    species = ['O', 'Si', 'Ge']
    ours = GtoSoap(species=species, **parameters).create(mixed)
    assert_same(dscribe_rows(species, mixed, **parameters), ours)
    assert np.abs(ours[:2]).max() > 0


def test_numpy_backend_is_the_dscribe_backend():
    """Through averaged_soap (√2 weights, normalisation, processes): the two backends give the same rows."""
    rng = np.random.default_rng(7)
    cells = [random_cell(rng, int(n)) for n in rng.integers(4, 12, 6)]
    parameters = {'r_cut': 6.0, 'n_max': 6, 'l_max': 6, 'sigma': 0.5, 'processes': 1}
    fast = averaged_soap(cells, backend='numpy', **parameters)
    reference = averaged_soap(cells, backend='dscribe', **parameters)
    assert np.allclose(fast, reference, atol=1e-9)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0)
    two = averaged_soap(cells, backend='numpy', chunk_size=2, **{**parameters, 'processes': 2})
    assert np.array_equal(fast, two)
    assert _dscribe_pair_weights(6, 6, 1).size == fast.shape[1]


def test_numpy_backend_invariances():
    """Supercell, permutation, translation and rotation leave the averaged vector unchanged."""
    rng = np.random.default_rng(8)
    cell = random_cell(rng, 7)
    supercell = cell.repeat((1, 2, 1))
    permuted = cell[rng.permutation(len(cell))]
    moved = cell.copy()
    moved.translate([0.37, -1.2, 2.9])
    moved.wrap()
    rotated = cell.copy()
    rotated.rotate(37, 'x', rotate_cell=True)
    rotated.rotate(-71, 'z', rotate_cell=True)
    rows = averaged_soap([cell, supercell, permuted, moved, rotated], backend='numpy', processes=1,
                         r_cut=10.5, n_max=12, l_max=12, sigma=0.5)  # fmt: skip
    for row in rows[1:]:
        assert np.allclose(row, rows[0], atol=1e-9)
