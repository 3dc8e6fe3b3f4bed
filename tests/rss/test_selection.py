"""Tests of CUR, flat-histogram and combined selection (aiida_gaprss.rss.selection)."""

import numpy as np
import pytest

from aiida_gaprss.rss import selection as sel


def clustered(n=200, d=30, seed=0):
    """Unit rows scattered around one direction, plus an outlier (last row) orthogonal to it."""
    rng = np.random.default_rng(seed)
    base = np.zeros(d)
    base[0] = 1.0
    P = base + 0.01 * rng.standard_normal((n, d))
    P[:, -1] = 0.0
    outlier = np.zeros(d)
    outlier[-1] = 1.0
    P = np.vstack([P, outlier])
    return P / np.linalg.norm(P, axis=1)[:, None]


def spectrum_data(n=400, d=60, rank=12, seed=1):
    """Unit rows with a well separated leading spectrum (for comparing eigen-solvers)."""
    rng = np.random.default_rng(seed)
    scales = np.concatenate([np.geomspace(3.0, 1.0, rank), np.full(d - rank, 0.05)])
    P = 2.0 * np.eye(d)[0] + rng.standard_normal((n, d)) * scales
    return P / np.linalg.norm(P, axis=1)[:, None]


@pytest.mark.parametrize('function', [sel.kernel_cur, sel.descriptor_cur])
def test_cur_picks_the_obvious_outlier(function):
    P = clustered()
    picks = function(P, 3, seed=0, stochastic=False)
    assert P.shape[0] - 1 in picks
    # stochastic version: the outlier carries the largest leverage score and is drawn
    picks, scores = function(P, 3, seed=0, return_scores=True)
    assert np.argmax(scores) == P.shape[0] - 1
    assert np.isclose(scores.sum(), 1.0)
    assert P.shape[0] - 1 in picks


def test_kernel_matrix_and_centring():
    P = spectrum_data(50)
    K = sel.kernel_matrix(P, zeta=4)
    assert np.allclose(K, (P @ P.T) ** 4)
    Kc = sel.kernel_matrix(P, zeta=4, center=True)
    assert np.allclose(Kc.sum(axis=0), 0, atol=1e-9) and np.allclose(Kc, Kc.T)
    assert np.linalg.eigvalsh(Kc).min() > -1e-9  # Schur power of a Gram matrix, centred: PSD


@pytest.mark.parametrize('stochastic', [False, True])
def test_iterative_solvers_match_dense(stochastic):
    P = spectrum_data()
    dense, s_dense = sel.kernel_cur(P, 24, seed=5, solver='eigh', stochastic=stochastic, return_scores=True)
    arpack, s_arpack = sel.kernel_cur(P, 24, seed=5, solver='eigsh', stochastic=stochastic, return_scores=True)
    rand, s_rand = sel.kernel_cur(P, 24, seed=5, solver='randomized', stochastic=stochastic, return_scores=True)
    assert np.allclose(s_dense, s_arpack, atol=1e-8)
    assert np.array_equal(dense, arpack)
    assert np.allclose(s_dense, s_rand, atol=1e-4)
    assert len(set(dense) & set(rand)) >= 22


def test_determinism_and_seed_dependence():
    P = spectrum_data(300)
    a = sel.kernel_cur(P, 20, seed=11)
    b = sel.kernel_cur(P, 20, seed=11)
    c = sel.kernel_cur(P, 20, seed=12)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert len(set(a)) == 20 and np.all(np.diff(a) > 0)
    r1 = sel.random_selection(300, 20, seed=3)
    assert np.array_equal(r1, sel.random_selection(300, 20, seed=3))
    assert len(set(r1)) == 20 and r1.max() < 300
    assert np.array_equal(sel.descriptor_cur(P, 20, seed=4), sel.descriptor_cur(P, 20, seed=4))


def test_kernel_and_descriptor_cur_differ():
    """The two CUR variants are different methods (paper Fig. 2): deterministic picks differ."""
    P = spectrum_data(300)
    k = set(sel.kernel_cur(P, 30, stochastic=False))
    d = set(sel.descriptor_cur(P, 30, stochastic=False))
    assert k != d


def test_flat_histogram_probabilities_uniform_in_bins_when_kt_is_huge():
    # bin counts 100, 10, 1 in three bins of numpy's 10 default bins
    H = np.concatenate([np.full(100, 0.0), np.full(10, 0.5), [1.0]])
    p = sel.boltzmann_flat_histogram_probabilities(H, kT=1e9)
    assert np.isclose(p.sum(), 1.0)
    assert np.allclose([p[:100].sum(), p[100:110].sum(), p[110:].sum()], 1 / 3)
    # small kT: the lowest bin dominates, exp(-0.5/0.05) relative bias
    p = sel.boltzmann_flat_histogram_probabilities(H, kT=0.05)
    ratio = p[100:110].sum() / p[:100].sum()
    assert np.isclose(ratio, np.exp(-0.5 / 0.05))


def test_flat_histogram_sampling_flattens_and_biases():
    rng = np.random.default_rng(0)
    H = np.concatenate([rng.normal(-5.0, 0.05, 2000), rng.uniform(-5.0, -3.0, 200)])
    counts, edges = np.histogram(H)
    picks = sel.flat_histogram(H, 100, kT=100.0, seed=1)
    assert len(set(picks)) == 100
    picked_counts, _ = np.histogram(H[picks], bins=edges)
    # flat: the two crowded bins hold > 90 % of the data but get only about 2/10 of the picks
    top2 = np.argsort(counts)[-2:]
    assert counts[top2].sum() / counts.sum() > 0.9
    assert picked_counts[top2].sum() < 35
    assert np.count_nonzero(picked_counts) == 10
    # biased: at kT = 0.1 eV the picks concentrate at low enthalpy
    low = sel.flat_histogram(H, 100, kT=0.1, seed=1)
    assert np.mean(H[low]) < np.mean(H[picks]) - 0.3
    assert np.array_equal(low, sel.flat_histogram(H, 100, kT=0.1, seed=1))


def test_kt_schedule():
    assert [sel.flat_histogram_kt(i) for i in (1, 2, 3, 10)] == [0.3, 0.2, 0.1, 0.1]
    with pytest.raises(ValueError, match='iteration'):
        sel.flat_histogram_kt(0)


def test_select_from_trajectories():
    rng = np.random.default_rng(2)
    P = spectrum_data(500, seed=3)
    H = rng.normal(-5, 0.3, 500)
    calls = []

    def descriptors(indices):
        calls.append(np.asarray(indices))
        return P[indices]

    picks = sel.select_from_trajectories(H, descriptors, 20, n_flat=100, kT=0.2, seed=7)
    assert len(calls) == 1 and calls[0].size == 100
    assert len(set(picks)) == 20 and set(picks) <= set(calls[0].tolist())
    assert np.array_equal(picks, sel.select_from_trajectories(H, P, 20, n_flat=100, kT=0.2, seed=7))


def test_select_from_trajectories_ablation_methods():
    """The second step can be swapped (Fig. 2 ablation); the flat-histogram step stays the same."""
    rng = np.random.default_rng(2)
    P = spectrum_data(500, seed=3)
    H = rng.normal(-5, 0.3, 500)
    kept = sel.flat_histogram(H, 100, kT=0.2, seed=int(np.random.default_rng(7).integers(0, 2**31 - 1, size=2)[0]))
    calls = []

    def descriptors(indices):
        calls.append(indices)
        return P[indices]

    picks = {}
    for method in sel.TRAJECTORY_METHODS:
        picks[method] = sel.select_from_trajectories(H, descriptors, 20, n_flat=100, kT=0.2, seed=7, method=method)
        assert len(set(picks[method])) == 20 and set(picks[method]) <= set(kept.tolist())
    assert len(calls) == 2  # random never computes descriptors
    assert np.array_equal(picks['kernel_cur'], sel.select_from_trajectories(H, P, 20, n_flat=100, kT=0.2, seed=7))
    assert len({tuple(value) for value in picks.values()}) == 3
    with pytest.raises(ValueError, match='method must be one of'):
        sel.select_from_trajectories(H, P, 20, n_flat=100, kT=0.2, seed=7, method='kmeans')


@pytest.mark.parametrize(
    'call, field',
    [
        (lambda P, H: sel.kernel_cur(P, 1000), 'n = 1000 is larger than the pool size'),
        (lambda P, H: sel.kernel_cur(P, 0), 'n must be >= 1'),
        (lambda P, H: sel.kernel_cur(np.where(np.eye(50, 60) > 0, np.nan, P), 2), 'descriptors has non-finite'),
        (lambda P, H: sel.kernel_cur(P[0], 2), 'descriptors must be a 2-d'),
        (lambda P, H: sel.kernel_cur(P, 2, solver='lapack'), 'solver'),
        (lambda P, H: sel.kernel_cur(P, 2, seed=None), 'seed'),
        (lambda P, H: sel.kernel_cur(P, 2, zeta=0), 'zeta'),
        (lambda P, H: sel.flat_histogram(H, 5, kT=0.0), 'kT'),
        (lambda P, H: sel.flat_histogram(np.r_[H, np.nan], 5, kT=0.1), 'enthalpies_per_atom'),
        (lambda P, H: sel.flat_histogram(H, 51, kT=0.1), 'n = 51'),
        (lambda P, H: sel.select_from_trajectories(H, P, 20, n_flat=10, kT=0.1), 'n = 20'),
        (lambda P, H: sel.select_from_trajectories(H, P[:10], 2, n_flat=10, kT=0.1), 'rows'),
        (lambda P, H: sel.random_selection(50, 51), 'n = 51'),
    ],
)
def test_validation(call, field):
    P = spectrum_data(50)
    H = np.linspace(-5, -4, 50)
    with pytest.raises(ValueError, match=field):
        call(P, H)


@pytest.mark.slow
@pytest.mark.ci_slow
def test_auto_solver_on_a_large_pool_matches_dense():
    """Above DENSE_SOLVER_MAX the ARPACK path is used; its picks equal the dense solver's."""
    P = spectrum_data(sel.DENSE_SOLVER_MAX + 500, d=80, rank=40, seed=9)
    auto, s_auto = sel.kernel_cur(P, 60, seed=2, return_scores=True)
    dense, s_dense = sel.kernel_cur(P, 60, seed=2, solver='eigh', return_scores=True)
    assert np.allclose(s_auto, s_dense, atol=1e-8)
    assert np.array_equal(auto, dense)
