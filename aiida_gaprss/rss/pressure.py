"""Random external pressures for the RSS relaxations (GAP-RSS, Methods, Eq. 5), optionally mixed with a uniform range.

``P(p) = exp(-p / (β p0)) / (β p0)`` for ``p >= 0``: an exponential distribution of mean ``β p0``
(p0 = 1 GPa, β = 0.2 → mean 0.2 GPa), so there is a small but finite pressure and some denser cells enter the fit.

The paper's distribution puts 99 % of the relaxations below 1 GPa: the database then holds few compressed cells, and
a GAP learns the curvature of E(V) and the dense phases of the element (for Si: β-Sn, Imma, simple hexagonal,
stable above ~11 GPa) only from the frames on the way to a minimum. ``uniform = {'fraction': f, 'min': a, 'max': b}``
draws a fraction ``f`` of the pressures uniformly from ``[a, b]`` GPa instead (the rest from Eq. 5), so that
relaxations end in dense minima too: ``P(p) = (1 - f) Eq.5(p) + f U(a, b)(p)``.
"""

from __future__ import annotations

import math

import numpy as np

from aiida_gaprss.common import checks

__all__ = ('check_uniform', 'pressure_density', 'sample_pressures')


def _check_scale(p0: float, beta: float) -> float:
    for field, value in (('p0', p0), ('beta', beta)):
        checks.positive_number(value, field)
    return float(beta) * float(p0)


def check_uniform(uniform) -> tuple[float, float, float] | None:
    """``(fraction, min, max)`` of a ``uniform`` mixture component (None for none); ValueError naming the field.

    ``fraction`` in (0, 1], ``min < max`` in GPa, both within ±1000 GPa (a larger value is in the wrong unit).
    """
    if uniform is None:
        return None
    if not isinstance(uniform, dict) or set(uniform) != {'fraction', 'min', 'max'}:
        raise ValueError(f"uniform: expected a dict with keys 'fraction', 'min' and 'max' (GPa), got {uniform!r}")
    values = {}
    for key in ('fraction', 'min', 'max'):
        value = uniform[key]
        if not checks.is_number(value) or not math.isfinite(value):
            raise ValueError(f'uniform.{key}: must be a finite number, got {value!r}')
        values[key] = float(value)
    if not 0 < values['fraction'] <= 1:
        raise ValueError(f'uniform.fraction: must be in (0, 1], got {values["fraction"]}')
    if not values['min'] < values['max']:
        raise ValueError(f'uniform.min: must be below uniform.max, got {values["min"]} >= {values["max"]}')
    if max(abs(values['min']), abs(values['max'])) > 1000:
        raise ValueError('uniform.max: min or max beyond ±1000 GPa (pressures are in GPa)')
    return values['fraction'], values['min'], values['max']


def pressure_density(p, *, p0: float = 1.0, beta: float = 0.2, uniform: dict | None = None):
    """Probability density (1/GPa) of pressure ``p`` (GPa): Eq. 5, mixed with ``uniform`` if given."""
    scale = _check_scale(p0, beta)
    mixture = check_uniform(uniform)
    p = np.asarray(p, dtype=float)
    density = np.where(p >= 0, np.exp(-np.clip(p, 0, None) / scale) / scale, 0.0)
    if mixture is None:
        return density
    fraction, low, high = mixture
    box = np.where((p >= low) & (p <= high), 1.0 / (high - low), 0.0)
    return (1.0 - fraction) * density + fraction * box


def sample_pressures(n: int, *, p0: float = 1.0, beta: float = 0.2, seed, uniform: dict | None = None) -> np.ndarray:
    """Draw ``n`` pressures (GPa) from Eq. 5 (mixed with ``uniform`` if given), reproducibly from ``seed``.

    ``seed`` is an int or a numpy Generator. Without ``uniform`` the draws are those of earlier versions (same seed,
    same pressures).
    """
    checks.integer(n, 'n', minimum=0)
    if seed is None:
        raise ValueError('seed is required (pressures must be reproducible)')
    scale = _check_scale(p0, beta)
    mixture = check_uniform(uniform)
    rng = np.random.default_rng(seed)
    pressures = rng.exponential(scale, size=int(n))
    if mixture is not None:
        fraction, low, high = mixture
        chosen = rng.random(int(n)) < fraction
        pressures[chosen] = rng.uniform(low, high, size=int(chosen.sum()))
    return pressures
