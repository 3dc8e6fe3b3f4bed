"""Tests of the random-pressure distribution, Eq. 5 (aiida_gaprss.rss.pressure)."""

import numpy as np
import pytest
from scipy import integrate, stats

from aiida_gaprss.rss.pressure import pressure_density, sample_pressures


def test_samples_follow_the_exponential_of_mean_beta_p0():
    p = sample_pressures(200_000, seed=0)
    assert p.min() >= 0
    # mean 0.2 GPa; standard error 0.2/sqrt(2e5) = 4.5e-4 -> 5 sigma band
    assert abs(p.mean() - 0.2) < 5 * 0.2 / np.sqrt(p.size)
    assert stats.kstest(p[:20000], 'expon', args=(0, 0.2)).pvalue > 1e-3
    q = sample_pressures(50_000, p0=2.0, beta=0.5, seed=1)
    assert abs(q.mean() - 1.0) < 5 * 1.0 / np.sqrt(q.size)


def test_density_and_determinism():
    total, _ = integrate.quad(lambda x: pressure_density(x), 0, np.inf)
    assert np.isclose(total, 1.0)
    assert np.isclose(pressure_density(0.0), 5.0) and pressure_density(-1.0) == 0.0
    assert np.array_equal(sample_pressures(10, seed=3), sample_pressures(10, seed=3))
    assert not np.array_equal(sample_pressures(10, seed=3), sample_pressures(10, seed=4))


@pytest.mark.parametrize(
    'kwargs, field',
    [
        ({'n': -1}, 'n'),
        ({'n': 3, 'beta': 0.0}, 'beta'),
        ({'n': 3, 'p0': np.inf}, 'p0'),
        ({'n': 3, 'seed': None}, 'seed'),
    ],
)
def test_validation(kwargs, field):
    kwargs.setdefault('seed', 0)
    n = kwargs.pop('n')
    with pytest.raises(ValueError, match=field):
        sample_pressures(n, **kwargs)


def test_uniform_mixture_fraction_range_and_density():
    uniform = {'fraction': 0.4, 'min': 0.0, 'max': 20.0}
    p = sample_pressures(100_000, seed=2, uniform=uniform)
    high = p > 3.0  # Eq. 5 of mean 0.2 GPa puts exp(-15) ~ 3e-7 of its mass above 3 GPa
    expected = 0.4 * (20.0 - 3.0) / 20.0
    assert abs(high.mean() - expected) < 5 * np.sqrt(expected * (1 - expected) / p.size)
    assert p.min() >= 0.0 and p.max() <= 20.0
    assert stats.kstest(p[high], 'uniform', args=(3.0, 17.0)).pvalue > 1e-3
    total, _ = integrate.quad(lambda x: pressure_density(x, uniform=uniform), 0, 20, points=[1.0], limit=200)
    assert np.isclose(total, 1.0, atol=1e-6)
    assert np.isclose(pressure_density(10.0, uniform=uniform), 0.4 / 20.0)
    # without a mixture the draws are exactly those of Eq. 5 alone (runs of earlier versions reproduce)
    assert np.array_equal(sample_pressures(50, seed=9), sample_pressures(50, seed=9, uniform=None))
    assert np.array_equal(sample_pressures(50, seed=9, uniform=uniform), sample_pressures(50, seed=9, uniform=uniform))


@pytest.mark.parametrize(
    'uniform, message',
    [
        ({'fraction': 0.5, 'min': 0.0}, "keys 'fraction', 'min' and 'max'"),
        ({'fraction': 0.0, 'min': 0.0, 'max': 1.0}, r'uniform.fraction: must be in \(0, 1\]'),
        ({'fraction': 0.5, 'min': 5.0, 'max': 1.0}, 'uniform.min: must be below uniform.max'),
        ({'fraction': 0.5, 'min': 0.0, 'max': 2e4}, 'beyond ±1000 GPa'),
        ({'fraction': 0.5, 'min': 0.0, 'max': np.nan}, 'uniform.max: must be a finite number'),
    ],
)
def test_uniform_mixture_refused(uniform, message):
    with pytest.raises(ValueError, match=message):
        sample_pressures(3, seed=0, uniform=uniform)
