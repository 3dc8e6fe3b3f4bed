"""dscribe's configuration-averaged GTO SOAP, evaluated in numpy over each atom pair once.

The averaged descriptor only needs the *sum over all atoms of a cell* of the neighbour-density expansion,
``c̄_nlm = (1/N) Σ_i Σ_j c_nlm(r_j - r_i)``. Every pair of atoms ``(i, j)`` (periodic images included) appears in that
sum twice, once as ``r`` and once as ``-r``; since a solid harmonic obeys ``S_lm(-r) = (-1)^l S_lm(r)``, both terms
come from one evaluation: for one species the odd ``l`` cancel exactly and the even ``l`` are twice the sum over a
*half* pair list. dscribe (``SOAP(average='inner')``) computes the full expansion of every atom and averages
afterwards, so this module does about a quarter of its work for the same numbers (``benchmarks/soap_backends.py``).

Definition reproduced (dscribe 2.1 ``rbf='gto'``, ``weighting=None``, ``compression='off'``):

* radial basis ``g_nl(r) = Σ_k β^l_nk r^l exp(-α_lk r²)``, ``α_lk`` making the ``k``-th GTO decay to 1e-3 at
  ``a_k = linspace(1, r_cut, n_max)``, ``β^l = S_l^{-1/2}`` (Löwdin) — :func:`gto_basis`;
* Gaussian atoms of width ``σ``: the projection of one atom at ``r`` is
  ``Σ_k B^l_nk exp(A_lk r²) S_lm(r)`` with ``A_lk = -α_lk η/(η + α_lk)``, ``η = 1/(2σ²)``,
  ``B^l_nk = (2σ²)^{3/2} β^l_nk (η/(η + α_lk))^{l + 3/2}`` and ``S_lm`` the real solid harmonic
  ``r^l Y_lm(r̂)`` (orthonormal real ``Y_lm``);
* every atom within ``r_cut + σ √(-2 ln 1e-3)`` counts fully (dscribe's cut-off padding; no smooth cut-off),
  including the centre itself (``l = 0`` only);
* power spectrum ``p^{ZZ'}_{nn'l} = w_l Σ_m c̄^Z_nlm c̄^{Z'}_n'lm`` in dscribe's layout (``Z <= Z'``, then ``l``,
  then ``n <= n'`` for ``Z = Z'`` or all ``(n, n')`` otherwise) with dscribe's weights ``w_l = π⁴ √(8/(2l+1))``.

Agreement with dscribe: ~1e-11 relative on every component when both bases are built alike; stated tolerance 1e-8
(``tests/rss/test_soap_gto.py``), because the Löwdin basis is badly conditioned at n_max = 12 and the coefficients
differ by 2.5e-13 (relative) between dscribe calculators built with one or two BLAS threads, which the cancellations in
``Σ_k β_nk (...)`` amplify (9.5e-9 absolute on unit rows against a calculator built with two threads).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ('GtoSoap', 'gto_basis', 'solid_harmonics')

#: dscribe's Gaussian decay threshold: its radial GTOs and its cut-off padding are set where exp(...) = 1e-3.
_THRESHOLD = 1e-3


def gto_basis(r_cut: float, n_max: int, l_max: int) -> tuple[np.ndarray, np.ndarray]:
    """dscribe's GTO exponents ``α`` (``(l_max+1, n_max)``) and Löwdin coefficients ``β`` (``(l_max+1, n_max, n_max)``).

    The overlap matrix is badly conditioned at n_max = 12 (scipy warns); the basis is still orthonormal to 2e-7
    at r_cut 10.5 Å. Raises ``ValueError`` if ``S^{-1/2}`` is not real (too many functions for the cut-off).
    """
    import warnings

    from scipy.linalg import inv, sqrtm
    from scipy.special import gamma

    a = np.linspace(1.0, r_cut, n_max)
    alphas = np.zeros((l_max + 1, n_max))
    betas = np.zeros((l_max + 1, n_max, n_max))
    for ell in range(l_max + 1):
        alpha = -np.log(_THRESHOLD / np.power(a, ell)) / a**2
        m = alpha[:, None] + alpha[None, :]
        overlap = 0.5 * gamma(ell + 1.5) * m ** (-ell - 1.5)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            beta = sqrtm(inv(overlap))
        if np.iscomplexobj(beta):
            if np.abs(beta.imag).max() > 1e-10 * np.abs(beta.real).max():
                raise ValueError(f'n_max={n_max} GTOs are linearly dependent at r_cut={r_cut} (lower n_max)')
            beta = beta.real
        alphas[ell] = alpha
        betas[ell] = beta
    return alphas, betas


def solid_harmonics(vectors: np.ndarray, l_max: int, ls: Sequence[int] | None = None) -> dict[int, np.ndarray]:
    """Real solid harmonics ``r^l Y_lm(r̂)`` of ``vectors`` (``(P, 3)``): ``{l: (P, 2l+1) array}`` for ``l`` in
    ``ls`` (default ``0 .. l_max``).

    ``m`` runs from ``-l`` to ``l`` (sine terms first). Polynomial recursions only (no angles, no division), so
    ``r = 0`` and the poles need no special case. ``Y_lm`` are orthonormal on the unit sphere.
    """
    x, y, z = vectors[:, 0], vectors[:, 1], vectors[:, 2]
    r2 = x * x + y * y + z * z
    # Re/Im of (x + i y)^m
    cos_m = [np.ones_like(x)]
    sin_m = [np.zeros_like(x)]
    for _ in range(l_max):
        c, s = cos_m[-1], sin_m[-1]
        cos_m.append(c * x - s * y)
        sin_m.append(s * x + c * y)
    # Π_lm(z, r²) = r^l P̄_lm(cos θ) / sin^m θ, with P̄ the orthonormal associated Legendre functions
    pi_lm: dict[tuple[int, int], np.ndarray] = {}
    diagonal = math.sqrt(1.0 / (4.0 * math.pi))
    for m in range(l_max + 1):
        if m:
            diagonal *= -math.sqrt((2 * m + 1) / (2 * m))
        pi_lm[m, m] = diagonal
        if m + 1 <= l_max:
            pi_lm[m + 1, m] = math.sqrt(2 * m + 3) * diagonal * z
        for ell in range(m + 2, l_max + 1):
            a = math.sqrt((4 * ell * ell - 1) / (ell * ell - m * m))
            b = math.sqrt(((ell - 1) ** 2 - m * m) / (4 * (ell - 1) ** 2 - 1))
            pi_lm[ell, m] = a * (z * pi_lm[ell - 1, m] - b * r2 * pi_lm[ell - 2, m])
    out = {}
    root2 = math.sqrt(2.0)
    for ell in range(l_max + 1) if ls is None else ls:
        block = np.empty((x.size, 2 * ell + 1))
        block[:, ell] = pi_lm[ell, 0]
        for m in range(1, ell + 1):
            scaled = root2 * pi_lm[ell, m]
            np.multiply(scaled, sin_m[m], out=block[:, ell - m])
            np.multiply(scaled, cos_m[m], out=block[:, ell + m])
        out[ell] = block
    return out


def _half_pairs(atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pair of atoms within ``cutoff`` once: ``(i, j, r_j - r_i)`` with ``i < j``, or ``i == j`` for one of
    the two opposite images of an atom (periodic cells smaller than the cut-off)."""
    if np.any(atoms.pbc):
        from matscipy.neighbours import neighbour_list

        i, j, d = neighbour_list('ijD', atoms, cutoff)
        keep = i < j
        same = np.flatnonzero(i == j)
        if same.size:
            ds = d[same]
            # first non-zero component positive: one of (T, -T)
            lead = np.where(ds[:, 0] != 0, ds[:, 0], np.where(ds[:, 1] != 0, ds[:, 1], ds[:, 2]))
            keep[same[lead > 0]] = True
        return i[keep], j[keep], d[keep]
    positions = atoms.positions
    i, j = np.triu_indices(len(atoms), k=1)
    d = positions[j] - positions[i]
    close = np.einsum('ij,ij->i', d, d) < cutoff * cutoff
    return i[close], j[close], d[close]


class GtoSoap:
    """Averaged GTO SOAP of cells, numerically dscribe's ``SOAP(rbf='gto', average='inner')`` (raw, unweighted).

    Parameters
    ----------
    species : sequence of str
        Elements in the order of the output channels (sorted by atomic number, as dscribe does).
    r_cut, n_max, l_max, sigma
        As dscribe's ``SOAP``.
    """

    def __init__(self, *, species: Sequence[str], r_cut: float, n_max: int, l_max: int, sigma: float):
        from ase.data import atomic_numbers

        self.species = list(species)
        self.n_max, self.l_max = int(n_max), int(l_max)
        self.cutoff = float(r_cut) + float(sigma) * math.sqrt(-2.0 * math.log(_THRESHOLD))
        alphas, betas = gto_basis(float(r_cut), self.n_max, self.l_max)
        eta = 1.0 / (2.0 * sigma**2)
        ls = np.arange(self.l_max + 1)[:, None]
        self._exponents = -alphas * eta / (eta + alphas)  # (l, k)
        self._coefficients = (1.0 / eta) ** 1.5 * betas * ((eta / (eta + alphas)) ** (ls + 1.5))[:, None, :]
        self._z_index = {atomic_numbers[s]: k for k, s in enumerate(self.species)}
        n_species = len(self.species)
        # one species: the odd l cancel in the pair sum (S(-r) = -S(r)), and dscribe's output for them is 0
        self._ls = list(range(0, self.l_max + 1, 2)) if n_species == 1 else list(range(self.l_max + 1))
        self._l_weights = math.pi**4 * np.sqrt(8.0 / (2.0 * np.arange(self.l_max + 1) + 1.0))
        self._triu = np.triu_indices(self.n_max)
        self.n_features = (self.l_max + 1) * (
            n_species * self.n_max * (self.n_max + 1) // 2 + n_species * (n_species - 1) // 2 * self.n_max**2
        )

    def coefficients(self, atoms_list: Sequence) -> np.ndarray:
        """Averaged expansions ``c̄[cell, Z, l, n, m]`` (``m`` padded to ``2 l_max + 1``) of a few cells.

        The pairs of all the cells are evaluated together (numpy's per-call overhead would dominate ~3,000 pairs of
        one cell), then summed cell by cell.
        """
        n_species = len(self.species)
        numbers = [np.array([self._z_index[z] for z in atoms.numbers]) for atoms in atoms_list]
        pairs = [_half_pairs(atoms, self.cutoff) for atoms in atoms_list]
        bounds = np.concatenate([[0], np.cumsum([p[0].size for p in pairs])])
        d = np.concatenate([p[2] for p in pairs]) if bounds[-1] else np.zeros((0, 3))
        r2 = np.einsum('ij,ij->i', d, d)
        harmonics = solid_harmonics(d, self.l_max, self._ls)
        out = np.zeros((len(atoms_list), n_species, self.l_max + 1, self.n_max, 2 * self.l_max + 1))
        if n_species > 1:
            zi = np.concatenate([z[p[0]] for z, p in zip(numbers, pairs, strict=True)])
            zj = np.concatenate([z[p[1]] for z, p in zip(numbers, pairs, strict=True)])
        for ell in self._ls:
            radial = np.exp(np.multiply.outer(r2, self._exponents[ell]))  # (P, k)
            if n_species == 1:
                # both directions of a pair: S(r) + S(-r) = 2 S(r) for even l (odd l cancel and are not computed)
                channels = [(0, 2.0 * radial)]
            else:
                # pair (i, j) puts S(r) in the channel of j's species and S(-r) = (-1)^l S(r) in i's
                sign = -1.0 if ell % 2 else 1.0
                channels = []
                for species in range(n_species):
                    weight = (zj == species).astype(float) + sign * (zi == species)
                    if weight.any():
                        channels.append((species, radial * weight[:, None]))
            block = harmonics[ell]
            for species, weighted in channels:
                for cell in range(len(atoms_list)):
                    lo, hi = bounds[cell], bounds[cell + 1]
                    out[cell, species, ell, :, : 2 * ell + 1] = weighted[lo:hi].T @ block[lo:hi]  # (k, 2l+1)
            out[:, :, ell, :, : 2 * ell + 1] = np.matmul(self._coefficients[ell], out[:, :, ell, :, : 2 * ell + 1])
        # the centre atoms themselves (r = 0: l = 0 only, S_00 = 1/√(4π))
        centre = self._coefficients[0].sum(axis=1) / math.sqrt(4.0 * math.pi)
        for cell, z in enumerate(numbers):
            out[cell, :, 0, :, 0] += np.bincount(z, minlength=n_species)[:, None] * centre[None, :]
            out[cell] /= z.size
        return out

    def power_spectrum(self, coefficients: np.ndarray) -> np.ndarray:
        """dscribe-layout power spectrum (no √2 pair weights) of averaged coefficients ``c̄[Z, l, n, m]``."""
        n_species = len(self.species)
        parts = []
        for a in range(n_species):
            for b in range(a, n_species):
                block = np.einsum('lnm,lkm->lnk', coefficients[a], coefficients[b]) * self._l_weights[:, None, None]
                if a == b:
                    parts.append(block[:, self._triu[0], self._triu[1]])
                else:
                    parts.append(block.reshape(self.l_max + 1, -1))
        return np.concatenate([p.reshape(-1) for p in parts])

    def create(self, atoms_list: Sequence, *, batch: int = 2) -> np.ndarray:
        """Raw rows (``(N, n_features)``), one per cell, as dscribe's ``create`` with ``average='inner'``.

        ``batch`` cells are evaluated together: 2 measured fastest (1: +10 %, 8: +40 % CPU; larger arrays leave
        the cache).
        """
        rows = np.empty((len(atoms_list), self.n_features))
        for start in range(0, len(atoms_list), batch):
            group = atoms_list[start : start + batch]
            for offset, coefficients in enumerate(self.coefficients(group)):
                rows[start + offset] = self.power_spectrum(coefficients)
        return rows
