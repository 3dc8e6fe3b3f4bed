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
