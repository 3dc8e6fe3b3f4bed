"""Tests of the configuration-averaged SOAP (aiida_gaprss.rss.soap) with the real dscribe and quippy."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from aiida_gaprss.rss.soap import DEFAULT_SIGMA, _dscribe_pair_weights, averaged_soap, soap_species

SMALL = {'n_max': 4, 'l_max': 4, 'r_cut': 4.5, 'sigma': 0.5}


def random_cell(rng, n=8, element='Si', volume_per_atom=20.0):
    a = (n * volume_per_atom) ** (1 / 3)
    cell = np.diag([a, a * rng.uniform(0.9, 1.1), a]) + rng.uniform(-0.5, 0.5, (3, 3))
    return Atoms(f'{element}{n}', scaled_positions=rng.random((n, 3)), cell=cell, pbc=True)


def block_l(n_max, l_max):
    """Angular channel of each dscribe feature for one species (layout: l, then n <= n')."""
    pairs = n_max * (n_max + 1) // 2
    return np.repeat(np.arange(l_max + 1), pairs)


def test_default_shape_and_normalisation():
    """Paper's selection parameters (n = l = 12, 10.5 Å): 1014 features, unit rows."""
    rng = np.random.default_rng(1)
    cells = [random_cell(rng, n) for n in (6, 9)]
    P = averaged_soap(cells, processes=1)
    assert P.shape == (2, 13 * 12 * 13 // 2)
    assert np.allclose(np.linalg.norm(P, axis=1), 1.0)
    assert DEFAULT_SIGMA == 0.5


@pytest.mark.parametrize('backend', ['numpy', 'dscribe', 'quippy'])
def test_supercell_permutation_translation_invariance(backend):
    """Averaging coefficients over a 2x1x1 supercell, a permuted or a translated cell changes nothing."""
    rng = np.random.default_rng(2)
    cell = random_cell(rng, 6)
    supercell = cell.repeat((2, 1, 1))
    permuted = cell[rng.permutation(len(cell))]
    translated = cell.copy()
    translated.translate([0.37, -1.2, 2.9])
    translated.wrap()
    P = averaged_soap([cell, supercell, permuted, translated], backend=backend, processes=1, **SMALL)
    for row in P[1:]:
        assert np.allclose(row, P[0], atol=1e-7)
    assert P.shape[1] == 5 * 4 * 5 // 2  # quippy's trailing zero dropped


def test_coefficients_are_averaged_before_the_power_spectrum():
    """Diamond: the two sublattices are related by inversion, so c_nlm of odd l cancel in the cell average.

    The inner (coefficient) average therefore has an exactly zero odd-l power spectrum, while the average of the
    atomic power spectra (dscribe 'outer') does not: this distinguishes Eq. 2-3 from averaging atomic SOAPs.
    """
    from dscribe.descriptors import SOAP

    diamond = bulk('Si', 'diamond', a=5.43)
    P = averaged_soap([diamond], processes=1, **SMALL)[0]
    l_of = block_l(SMALL['n_max'], SMALL['l_max'])
    odd = l_of % 2 == 1
    assert np.abs(P[odd]).max() < 1e-8
    assert np.abs(P[~odd]).max() > 1e-2
    outer = SOAP(species=['Si'], periodic=True, average='outer', rbf='gto', **SMALL)
    atomic_mean = outer.create(diamond)
    assert np.abs(atomic_mean[odd]).max() > 1e-4 * np.abs(atomic_mean).max()
    # fcc: every atom has the same, identically oriented environment -> inner == outer
    fcc = bulk('Cu', 'fcc', a=3.6).repeat((2, 1, 1))
    inner_fcc = averaged_soap([fcc], processes=1, **SMALL)[0]
    outer_fcc = SOAP(species=['Cu'], periodic=True, average='outer', rbf='gto', **SMALL).create(fcc)
    outer_fcc = outer_fcc * _dscribe_pair_weights(4, 4, 1)
    assert np.allclose(inner_fcc, outer_fcc / np.linalg.norm(outer_fcc), atol=1e-8)


def test_pair_weights_give_full_sum():
    """sqrt(2) on off-diagonal (n != n') entries: dot product = sum over all ordered (n, n') pairs."""
    w = _dscribe_pair_weights(3, 0, 1)
    assert np.allclose(w**2, [1, 2, 2, 1, 2, 1])
    assert _dscribe_pair_weights(3, 1, 2).size == 2 * (2 * 6) + 2 * 9


def test_processes_and_chunks_do_not_change_the_result():
    rng = np.random.default_rng(3)
    cells = [random_cell(rng, int(n)) for n in rng.integers(4, 10, 9)]
    done = []
    one = averaged_soap(cells, processes=1, **SMALL)
    two = averaged_soap(cells, processes=2, chunk_size=2, progress=done.append, **SMALL)
    assert np.array_equal(one, two)
    assert sum(done) == 9


def test_multi_species_and_dimer():
    rng = np.random.default_rng(4)
    sic = random_cell(rng, 8)
    sic.symbols[:4] = 'C'
    dimer = Atoms('Si2', positions=[[0, 0, 0], [0, 0, 2.3]], cell=[20, 20, 20], pbc=False)
    assert soap_species([dimer, sic]) == ['C', 'Si']
    P = averaged_soap([sic, dimer], processes=1, **SMALL)
    n, lmax = SMALL['n_max'], SMALL['l_max']
    assert P.shape == (2, (lmax + 1) * (2 * n * (n + 1) // 2 + n * n))
    assert np.all(np.isfinite(P))
    with pytest.raises(ValueError, match=r'atoms_list\[0\].*C'):
        averaged_soap([sic], species=['Si'], processes=1, **SMALL)


@pytest.mark.parametrize(
    'kwargs, field',
    [
        ({'backend': 'featomic'}, 'backend'),
        ({'sigma': -0.1}, 'sigma'),
        ({'n_max': 0}, 'n_max'),
        ({'r_cut': float('nan')}, 'r_cut'),
        ({'processes': 0}, 'processes'),
        ({'species': ['Xx']}, 'species'),
    ],
)
def test_bad_parameters(kwargs, field):
    cell = bulk('Si', 'diamond', a=5.43)
    with pytest.raises(ValueError, match=field):
        averaged_soap([cell], **kwargs)


def test_bad_structures():
    with pytest.raises(ValueError, match='atoms_list is empty'):
        averaged_soap([])
    bad = bulk('Si', 'diamond', a=5.43)
    bad.positions[0, 0] = np.nan
    with pytest.raises(ValueError, match=r'atoms_list\[1\]'):
        averaged_soap([bulk('Si', 'diamond', a=5.43), bad], processes=1)
