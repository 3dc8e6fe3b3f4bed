"""Isotropically strained copies of low-enthalpy minima: E(V) information for the fit.

A GAP learns the curvature of E(V) around a minimum — the bulk modulus, and the volume the minimum sits at — from
reference structures of that kind at other densities. Relaxations at the paper's low pressures end near the zero-
pressure volume of each minimum, and the Boltzmann-biased selection prefers those ends, so a database of a few hundred
structures holds few compressed or expanded copies of its best minima, and the E–V curves of the GAP come out too
stiff or too soft. Strained copies of the lowest minima *the search itself found* (never known phases) fill that
gap cheaply: one reference single point each, at a volume drawn uniformly from ``volume_range``, positions scaled
with the cell (their forces tell the fit how the internal coordinates would relax).

Pure functions (numpy, ASE); used by the selection job (:mod:`aiida_gaprss.jobs.select_structures`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ('LABEL_KEYS', 'check_volume_range', 'scaled_copy', 'strained_copies')

#: Labels of the source frame that a copy must not carry (its energy, forces, stress are the source's, not its own).
LABEL_KEYS = ('energy', 'free_energy', 'enthalpy', 'virial', 'stress', 'volume', 'converged', 'status', 'final',
              'step', 'n_steps')  # fmt: skip


def check_volume_range(volume_range) -> tuple[float, float]:
    """``(low, high)`` volume factors with ``0.5 <= low < high <= 2``; ValueError otherwise."""
    try:
        low, high = (float(value) for value in volume_range)
    except (TypeError, ValueError):
        raise ValueError(f'volume_range: expected two numbers (low, high), got {volume_range!r}') from None
    if not (math.isfinite(low) and math.isfinite(high) and 0.5 <= low < high <= 2.0):
        raise ValueError(f'volume_range: expected 0.5 <= low < high <= 2 (factors of the volume), got {volume_range!r}')
    return low, high


def scaled_copy(atoms, volume_factor: float):
    """A copy of ``atoms`` with its cell (and the positions with it) scaled isotropically to ``volume_factor`` × V.

    Labels of the source (energy, forces, virial, enthalpy, relaxation status) are removed; ``info['volume_factor']``
    records the factor.
    """
    factor = float(volume_factor)
    if not math.isfinite(factor) or factor <= 0:
        raise ValueError(f'volume_factor: expected a positive number, got {volume_factor!r}')
    if not all(atoms.pbc):
        raise ValueError('atoms: only periodic cells can be strained')
    copy = atoms.copy()
    copy.calc = None
    for key in LABEL_KEYS:
        copy.info.pop(key, None)
    copy.arrays.pop('forces', None)
    copy.set_cell(np.asarray(atoms.cell) * factor ** (1.0 / 3.0), scale_atoms=True)
    copy.info['volume_factor'] = factor
    return copy


def strained_copies(structures: Sequence, *, volume_range=(0.88, 1.12), seed, config_type: str = 'rss_strained'):
    """One isotropically scaled copy of each structure at a volume factor drawn uniformly from ``volume_range``.

    Parameters
    ----------
    structures
        Periodic ASE structures (e.g. the lowest distinct minima of the relaxations).
    volume_range
        (low, high) factors of each structure's own volume.
    seed
        int or numpy Generator: the factors are reproducible.
    config_type
        Written into every copy's ``info['config_type']``; ``origin`` becomes ``<source origin>:strained<factor>``.
    """
    low, high = check_volume_range(volume_range)
    if seed is None:
        raise ValueError('seed is required (strained copies must be reproducible)')
    rng = np.random.default_rng(seed)
    factors = rng.uniform(low, high, size=len(structures))
    copies = []
    for index, (atoms, factor) in enumerate(zip(structures, factors, strict=True)):
        copy = scaled_copy(atoms, factor)
        source = atoms.info.get('origin', f'structure:{index}')
        copy.info['origin'] = f'{source}:strained{factor:.4f}'
        copy.info['config_type'] = config_type
        copies.append(copy)
    logger.info('%d strained copies, volume factors %.3f-%.3f', len(copies), low, high)
    return copies
