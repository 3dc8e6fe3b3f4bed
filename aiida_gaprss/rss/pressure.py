"""Random external pressures for the RSS relaxations (GAP-RSS, Methods, Eq. 5).

``P(p) = exp(-p / (β p0)) / (β p0)`` for ``p >= 0``: an exponential distribution of mean ``β p0``
(p0 = 1 GPa, β = 0.2 → mean 0.2 GPa), so there is a small but finite pressure and some denser cells enter the fit.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ('pressure_density', 'sample_pressures')


def _check_scale(p0: float, beta: float) -> float:
    for field, value in (('p0', p0), ('beta', beta)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating) or not math.isfinite(value):
            raise ValueError(f'{field} must be a finite number, got {value!r}')
        if value <= 0:
            raise ValueError(f'{field} must be > 0, got {value}')
    return float(beta) * float(p0)


def pressure_density(p, *, p0: float = 1.0, beta: float = 0.2):
    """Probability density (1/GPa) of pressure ``p`` (GPa); zero for negative ``p``."""
    scale = _check_scale(p0, beta)
    p = np.asarray(p, dtype=float)
    return np.where(p >= 0, np.exp(-np.clip(p, 0, None) / scale) / scale, 0.0)


def sample_pressures(n: int, *, p0: float = 1.0, beta: float = 0.2, seed) -> np.ndarray:
    """Draw ``n`` pressures (GPa) from Eq. 5, reproducibly from ``seed`` (int or numpy Generator)."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f'n must be an integer >= 0, got {n!r}')
    if seed is None:
        raise ValueError('seed is required (pressures must be reproducible)')
    scale = _check_scale(p0, beta)
    return np.random.default_rng(seed).exponential(scale, size=int(n))
