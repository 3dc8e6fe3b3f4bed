"""Structure selection for GAP-RSS: leverage-score CUR, Boltzmann-biased flat histogram, random baseline.

Everything here is deterministic given ``seed`` (a :class:`numpy.random.Generator` is built from it).

Leverage-score CUR (Mahoney & Drineas, PNAS 106, 697 (2009)), as used by GAP-RSS (Bernstein, Csányi & Deringer,
npj Comput. Mater. 5, 99 (2019)) and its successor ``wfl.select.by_descriptor.CUR_conf_global``:

1. build the matrix ``M``: the square kernel ``K = (P Pᵀ)^ζ`` between the normalised configuration-averaged SOAP
   vectors ``P`` (:func:`kernel_cur`, the paper's method) or ``P`` itself (:func:`descriptor_cur`, ablation);
2. optionally centre it (kernel-PCA style double centring for ``K``, column means for ``P``) like ``wfl`` does by
   default;
3. take the top ``k`` singular vectors (``k = max(1, n // 2)`` by default, ``wfl``'s choice; QUIP's Fortran
   ``cur_decomposition`` uses half the numerical rank) and the leverage score of row ``i``,
   ``π_i = (1/k) Σ_{j<k} v_ij²`` (the scores sum to one);
4. pick ``n`` rows, either by sampling without replacement with probabilities ``π`` (``stochastic=True``, the
   default of both ``wfl`` and QUIP) or the ``n`` largest scores (``stochastic=False``).

For a symmetric positive semi-definite ``K`` (a Schur power of a Gram matrix, also after double centring) the singular
vectors are its eigenvectors of largest eigenvalue, so the dense path uses ``scipy.linalg.eigh`` restricted to the top
``k`` and the large path uses ARPACK ``eigsh`` (with a deterministic start vector) or sklearn's ``randomized_svd``;
all give the same scores to round-off on well-separated spectra (tested).
"""

from __future__ import annotations

import logging

import numpy as np

from aiida_gaprss.common import checks

logger = logging.getLogger(__name__)

__all__ = (
    'boltzmann_flat_histogram_probabilities',
    'descriptor_cur',
    'flat_histogram',
    'flat_histogram_kt',
    'kernel_cur',
    'kernel_matrix',
    'leverage_scores',
    'random_selection',
    'select_from_trajectories',
    'TRAJECTORY_METHODS',
)

#: Second steps of :func:`select_from_trajectories` (after the flat histogram): the paper's and its ablation's.
TRAJECTORY_METHODS = ('kernel_cur', 'descriptor_cur', 'random')

#: Pool size above which ``solver='auto'`` switches from dense ``eigh`` to ARPACK ``eigsh``.
DENSE_SOLVER_MAX = 3000


def _check_count(n, pool_size: int, field: str = 'n') -> int:
    if not checks.is_integer(n):
        raise ValueError(f'{field} must be an integer, got {n!r}')
    n = int(n)
    if n < 1:
        raise ValueError(f'{field} must be >= 1, got {n}')
    if n > pool_size:
        raise ValueError(f'{field} = {n} is larger than the pool size {pool_size}')
    return n


def _check_matrix(descriptors, field: str = 'descriptors') -> np.ndarray:
    array = np.asarray(descriptors, dtype=float)
    if array.ndim != 2:
        raise ValueError(f'{field} must be a 2-d array (structures x features), got shape {array.shape}')
    if array.shape[0] == 0:
        raise ValueError(f'{field} is empty')
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise ValueError(f'{field} has non-finite values in row(s) {np.flatnonzero(bad)[:10].tolist()}')
    return array


def _check_vector(values, field: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f'{field} must be 1-d, got shape {array.shape}')
    if array.size == 0:
        raise ValueError(f'{field} is empty')
    bad = ~np.isfinite(array)
    if bad.any():
        raise ValueError(f'{field} has non-finite values at index(es) {np.flatnonzero(bad)[:10].tolist()}')
    return array


def _check_seed(seed):
    if seed is None:
        raise ValueError('seed is required (selection must be reproducible)')
    return seed


def kernel_matrix(descriptors, *, zeta: int = 4, center: bool = False, dtype=np.float64) -> np.ndarray:
    """Return the polynomial kernel ``K_AB = (p_A · p_B)^ζ`` between rows (in place ops, one N×N array).

    Parameters
    ----------
    descriptors : (N, D) array
        Normalised configuration-averaged descriptors.
    zeta : int
        Kernel exponent (the paper: 4).
    center : bool
        Double-centre ``K`` (kernel-PCA centring, ``K - row means - column means + grand mean``).
    dtype : numpy dtype
        Working precision; ``float32`` halves the memory (10,000 structures: 0.4 GB instead of 0.8 GB).
    """
    P = _check_matrix(descriptors).astype(dtype, copy=False)
    checks.positive_integer(zeta, 'zeta')
    K = P @ P.T
    if zeta != 1:
        np.power(K, int(zeta), out=K)
    if center:
        means = K.mean(axis=0)
        grand = means.mean()
        K -= means[None, :]
        K -= means[:, None]
        K += grand
    return K


def _top_eigenvectors(K: np.ndarray, k: int, solver: str, seed) -> np.ndarray:
    """Top-``k`` eigenvectors (by eigenvalue) of the symmetric matrix ``K``, shape (N, k)."""
    N = K.shape[0]
    if solver == 'auto':
        solver = 'eigh' if N <= DENSE_SOLVER_MAX else 'eigsh'
    if solver == 'eigh':
        import scipy.linalg

        _, vectors = scipy.linalg.eigh(K, subset_by_index=[N - k, N - 1])
        return vectors
    if solver == 'eigsh':
        import scipy.sparse.linalg

        v0 = np.random.default_rng(seed).uniform(0.5, 1.5, N)  # deterministic ARPACK start vector
        _, vectors = scipy.sparse.linalg.eigsh(K, k=k, which='LA', v0=v0)
        return vectors
    if solver == 'randomized':
        from sklearn.utils.extmath import randomized_svd

        U, _, _ = randomized_svd(K, n_components=k, n_oversamples=max(10, k), n_iter=7, random_state=seed)
        return U
    raise ValueError(f"solver must be 'auto', 'eigh', 'eigsh' or 'randomized', got {solver!r}")


def leverage_scores(vectors: np.ndarray) -> np.ndarray:
    """Row leverage scores ``π_i = Σ_j v_ij² / k`` of an (N, k) matrix of orthonormal singular vectors."""
    vectors = np.asarray(vectors, dtype=float)
    return np.sum(vectors**2, axis=1) / vectors.shape[1]


def _pick(scores: np.ndarray, n: int, stochastic: bool, seed) -> np.ndarray:
    scores = np.clip(scores, 0.0, None)
    positive = int(np.count_nonzero(scores > 0))
    if stochastic:
        if positive < n:
            raise ValueError(f'n = {n} but only {positive} structures have a non-zero leverage score')
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(scores.size, size=n, replace=False, p=scores / scores.sum()))
    # deterministic: largest scores, ties broken by index (stable sort of -score)
    return np.sort(np.argsort(-scores, kind='stable')[:n])


def _default_rank(n: int, size: int, rank: int | None) -> int:
    if rank is None:
        rank = max(1, n // 2)
    checks.positive_integer(rank, 'rank')
    return int(min(rank, size - 1)) if size > 1 else 1


def kernel_cur(
    descriptors,
    n: int,
    *,
    zeta: int = 4,
    seed=0,
    stochastic: bool = True,
    rank: int | None = None,
    center: bool = True,
    solver: str = 'auto',
    return_scores: bool = False,
    dtype=np.float64,
):
    """Select ``n`` rows by leverage-score CUR on the kernel ``K = (P Pᵀ)^ζ`` (the GAP-RSS selection).

    Parameters
    ----------
    descriptors : (N, D) array
        Normalised configuration-averaged SOAP vectors (rows), e.g. from :func:`aiida_gaprss.rss.soap.averaged_soap`.
    n : int
        Number to select, 1 <= n <= N.
    zeta : int
        Kernel exponent, 4 in the paper.
    seed : int or numpy Generator
        Seeds the sampling (``stochastic=True``) and the iterative eigen-solvers' start vectors.
    stochastic : bool
        Sample without replacement with probability = leverage score (``wfl`` and QUIP default) if True, otherwise
        take the ``n`` largest scores.
    rank : int, optional
        Number of singular vectors for the scores; default ``max(1, n // 2)`` (as ``wfl``), capped at ``N - 1``.
    center : bool
        Double-centre the kernel first (``wfl``'s default, removes the trivial "mean structure" direction).
    solver : {'auto', 'eigh', 'eigsh', 'randomized'}
        ``auto``: dense ``eigh`` (top-``k`` subset) up to :data:`DENSE_SOLVER_MAX` structures, ARPACK beyond
        (10,000 structures: ~10 s, ~1 GB, the same picks as the dense solver).
    return_scores : bool
        Also return the (N,) leverage scores.
    dtype : numpy dtype
        Precision of ``K``.

    Returns
    -------
    ndarray of int
        Sorted indices of the selected rows (and the scores if ``return_scores``).
    """
    _check_seed(seed)
    P = _check_matrix(descriptors)
    n = _check_count(n, P.shape[0])
    k = _default_rank(n, P.shape[0], rank)
    K = kernel_matrix(P, zeta=zeta, center=center, dtype=dtype)
    vectors = _top_eigenvectors(K, k, solver, seed)
    del K
    scores = leverage_scores(vectors)
    picks = _pick(scores, n, stochastic, seed)
    logger.debug('kernel CUR: %d of %d selected (rank %d, solver %s)', n, P.shape[0], k, solver)
    return (picks, scores) if return_scores else picks


def descriptor_cur(
    descriptors,
    n: int,
    *,
    seed=0,
    stochastic: bool = True,
    rank: int | None = None,
    center: bool = True,
    return_scores: bool = False,
):
    """Leverage-score CUR on the rectangular descriptor matrix ``P`` (the paper's ablation baseline, Fig. 2).

    Scores come from the left singular vectors of ``P`` (one row per structure), optionally after subtracting the
    mean descriptor; the other parameters are as in :func:`kernel_cur`.
    """
    _check_seed(seed)
    P = _check_matrix(descriptors)
    n = _check_count(n, P.shape[0])
    k = _default_rank(n, min(P.shape), rank)
    M = P - P.mean(axis=0) if center else P
    U, _, _ = np.linalg.svd(M, full_matrices=False)
    scores = leverage_scores(U[:, :k])
    picks = _pick(scores, n, stochastic, seed)
    return (picks, scores) if return_scores else picks


def random_selection(pool_size: int, n: int, *, seed=0) -> np.ndarray:
    """Uniform random selection without replacement of ``n`` of ``pool_size`` indices (sorted); ablation baseline."""
    _check_seed(seed)
    checks.positive_integer(pool_size, 'pool_size')
    n = _check_count(n, int(pool_size))
    return np.sort(np.random.default_rng(seed).choice(int(pool_size), size=n, replace=False))


def flat_histogram_kt(iteration: int) -> float:
    """The paper's Boltzmann temperature (eV) for RSS iteration ``iteration`` (1-based): 0.3, 0.2, then 0.1."""
    checks.integer(iteration, 'iteration', minimum=1)
    return {1: 0.3, 2: 0.2}.get(int(iteration), 0.1)


def boltzmann_flat_histogram_probabilities(enthalpies_per_atom, *, kT: float, bins=10) -> np.ndarray:
    """Selection probabilities ``∝ exp(-(H - H_min)/kT) / (count of H's histogram bin)``, normalised.

    Parameters
    ----------
    enthalpies_per_atom : (N,) array
        Enthalpy per atom of each candidate (eV/atom), each at the pressure of its own relaxation.
    kT : float
        Bias temperature (eV), > 0; ``numpy.inf`` gives the unbiased flat histogram.
    bins :
        Passed to :func:`numpy.histogram`; the default 10 is numpy's own default (10 equal-width bins over the data
        range), the paper's "numpy histogram function with default parameters".
    """
    H = _check_vector(enthalpies_per_atom, 'enthalpies_per_atom')
    kT = float(kT)
    if not kT > 0 or np.isnan(kT):
        raise ValueError(f'kT must be > 0 (eV), got {kT}')
    counts, edges = np.histogram(H, bins=bins)
    # bin of each value, numpy's convention: half-open bins, the last one closed
    index = np.clip(np.searchsorted(edges, H, side='right') - 1, 0, counts.size - 1)
    weights = np.exp(-(H - H.min()) / kT) / counts[index]
    return weights / weights.sum()


def flat_histogram(enthalpies_per_atom, n: int, *, kT: float, seed=0, bins=10) -> np.ndarray:
    """Boltzmann-biased flat-histogram selection of ``n`` structures (sorted indices), without replacement.

    Each structure is drawn with probability from :func:`boltzmann_flat_histogram_probabilities` (numpy's
    weighted sampling without replacement: successive draws renormalised over what is left). Structures whose
    probability underflows to zero (very high enthalpy at small kT) are only taken if nothing else is left: a
    ValueError is raised if fewer than ``n`` have a non-zero probability.
    """
    _check_seed(seed)
    H = _check_vector(enthalpies_per_atom, 'enthalpies_per_atom')
    n = _check_count(n, H.size)
    p = boltzmann_flat_histogram_probabilities(H, kT=kT, bins=bins)
    available = int(np.count_nonzero(p > 0))
    if available < n:
        raise ValueError(f'n = {n} but only {available} structures have a non-zero probability at kT = {kT} eV')
    return np.sort(np.random.default_rng(seed).choice(H.size, size=n, replace=False, p=p))


def select_from_trajectories(
    enthalpies_per_atom,
    descriptors,
    n: int,
    *,
    n_flat: int,
    kT: float,
    seed=0,
    zeta: int = 4,
    stochastic: bool = True,
    center: bool = True,
    solver: str = 'auto',
    method: str = 'kernel_cur',
) -> np.ndarray:
    """The two-step selection among all frames of all relaxation trajectories (paper, Methods and Fig. 1b).

    First a Boltzmann-biased flat histogram on enthalpy per atom down to ``n_flat`` frames, then kernel CUR among
    those down to ``n``. ``descriptors`` may be a (N, D) array or a callable ``f(indices) -> (len(indices), D)`` so
    that SOAP is only computed for the ``n_flat`` frames kept by the first step.

    ``method`` replaces the second step for the paper's ablation (Fig. 2): ``'kernel_cur'`` (the paper's method,
    default), ``'descriptor_cur'`` (CUR on the rectangular descriptor matrix) or ``'random'`` (uniform among the
    ``n_flat`` frames; the descriptors are then not computed).

    Returns
    -------
    ndarray of int
        Sorted indices into the full frame list.
    """
    _check_seed(seed)
    if method not in TRAJECTORY_METHODS:
        raise ValueError(f'method must be one of {TRAJECTORY_METHODS}, got {method!r}')
    H = _check_vector(enthalpies_per_atom, 'enthalpies_per_atom')
    n_flat = _check_count(n_flat, H.size, 'n_flat')
    n = _check_count(n, n_flat, 'n')
    rng = np.random.default_rng(seed)
    seed_flat, seed_cur = (int(s) for s in rng.integers(0, 2**31 - 1, size=2))
    kept = flat_histogram(H, n_flat, kT=kT, seed=seed_flat)
    if method == 'random':
        return np.sort(kept[random_selection(kept.size, n, seed=seed_cur)])
    if callable(descriptors):
        P = _check_matrix(descriptors(kept))
        if P.shape[0] != kept.size:
            raise ValueError(f'descriptors callable returned {P.shape[0]} rows for {kept.size} indices')
    else:
        P = _check_matrix(descriptors)
        if P.shape[0] != H.size:
            raise ValueError(f'descriptors has {P.shape[0]} rows but enthalpies_per_atom has {H.size}')
        P = P[kept]
    if method == 'descriptor_cur':
        picks = descriptor_cur(P, n, seed=seed_cur, stochastic=stochastic, center=center)
    else:
        picks = kernel_cur(P, n, zeta=zeta, seed=seed_cur, stochastic=stochastic, center=center, solver=solver)
    return np.sort(kept[picks])
