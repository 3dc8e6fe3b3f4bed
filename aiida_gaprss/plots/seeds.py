"""Figures over several fit seeds (the learning-curve benchmark): phase errors and E–V curves, mean and range."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from aiida_gaprss.plots.canvas import (
    finite_array,
    finite_pair,
    new_figure,
    palette,
    save_png,
)

__all__ = (
    'plot_energy_volume_over_seeds',
    'plot_phase_errors_over_seeds',
    'seed_mean_and_range',
)


def seed_mean_and_range(errors_ev) -> tuple[float, float, float]:
    """Signed mean (meV/atom) of the errors of several seeds, and how far the lowest and highest lie below / above."""
    errors = np.asarray(errors_ev, dtype=float) * 1000.0
    mean = float(errors.mean())
    return mean, mean - float(errors.min()), float(errors.max()) - mean


def plot_phase_errors_over_seeds(
    points: Mapping, path=None, *, goal: float | None = None, limit: float | None = None, title: str | None = None
):
    """Signed phase errors (meV/atom, linear) vs reference evaluations: mean over fit seeds with the seeds' range.

    Parameters
    ----------
    points : mapping phase -> sequence of (reference_evaluations, [error of each seed in eV/atom])
        The errors of the refits of one learning-curve point with several ``gap_fit`` seeds.
    goal, limit : float, optional
        eV/atom: the bound on the mean (shaded band ±goal) and on any single seed (dotted lines ±limit).
    """
    if not isinstance(points, Mapping) or not points:
        raise ValueError('points: empty (no phase to plot)')
    for bound, field in ((goal, 'goal'), (limit, 'limit')):
        if bound is not None and not (isinstance(bound, int | float) and math.isfinite(bound) and bound > 0):
            raise ValueError(f'{field}: expected a positive energy per atom (eV), got {bound!r}')
    figure = new_figure(7.2, 4.6)
    ax = figure.add_subplot()
    colours = palette(len(points))
    offsets = np.linspace(-0.3, 0.3, len(points)) if len(points) > 1 else np.zeros(1)
    for colour, offset, (name, rows) in zip(colours, offsets, points.items(), strict=True):
        xs, means, lows, highs = [], [], [], []
        for index, row in enumerate(rows):
            if len(row) != 2:
                raise ValueError(f'points[{name!r}][{index}]: expected (reference_evaluations, [errors])')
            mean, low, high = seed_mean_and_range(finite_array(row[1], f'points[{name!r}][{index}]'))
            xs.append(float(row[0]))
            means.append(mean)
            lows.append(low)
            highs.append(high)
        span = (max(xs) - min(xs)) or 1.0
        shifted = np.array(xs) + offset * 0.02 * span
        ax.errorbar(shifted, means, yerr=[lows, highs], color=colour, marker='o', capsize=3, linestyle='-',
                    label=name)  # fmt: skip
    if goal is not None:
        ax.axhspan(-goal * 1000, goal * 1000, color='tab:green', alpha=0.12, label=f'±{goal * 1000:g} meV/atom (mean)')
    if limit is not None:
        for sign in (-1, 1):
            ax.axhline(sign * limit * 1000, color='tab:red', linestyle=':', linewidth=1.0,
                       label=f'±{limit * 1000:g} meV/atom (any seed)' if sign > 0 else None)  # fmt: skip
    ax.axhline(0.0, color='0.4', linewidth=0.8)
    ax.set_xlabel('reference evaluations')
    ax.set_ylabel('E$_{GAP}$ − E$_{ref}$ (meV/atom), mean and range over fit seeds')
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize='x-small', loc='best', ncol=2)
    if title:
        ax.set_title(title)
    return save_png(figure, path)


def plot_energy_volume_over_seeds(curves: Mapping, path=None, *, title: str | None = None):
    """E(V) of potentials fitted with several seeds (thin solid lines) against the reference (dashed), per phase.

    Energies are relative to each method's own lowest point over all phases (each seed's curves shifted by that
    seed's minimum, the reference by its own), so both the shape of each curve and the energy differences between
    phases show (the paper's Fig. 3 style).

    Parameters
    ----------
    curves : mapping phase -> {'seeds': [(volumes, energies), ...], 'reference': (volumes, energies) or None}
        Å³/atom and eV/atom.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError('curves: empty (no phase to plot)')
    seeds = None
    data = {}
    for name, entry in curves.items():
        if not isinstance(entry, Mapping) or not entry.get('seeds'):
            raise ValueError(f"curves[{name!r}]: expected a dict with a non-empty 'seeds' list")
        pairs = [finite_pair(pair, f'curves[{name!r}][seeds][{i}]', 'volumes', 'energies')
                 for i, pair in enumerate(entry['seeds'])]  # fmt: skip
        if seeds is not None and len(pairs) != seeds:
            raise ValueError(f'curves[{name!r}]: {len(pairs)} seeds, the other phases have {seeds}')
        seeds = len(pairs)
        reference = entry.get('reference')
        reference = None if reference is None else finite_pair(reference, f'curves[{name!r}][reference]',
                                                                 'volumes', 'energies')  # fmt: skip
        data[name] = (pairs, reference)
    seed_shift = [min(pairs[i][1].min() for pairs, _ in data.values()) for i in range(seeds)]
    references = [reference[1].min() for _, reference in data.values() if reference is not None]
    reference_shift = min(references) if references else 0.0

    figure = new_figure(6.8, 4.6)
    ax = figure.add_subplot()
    for colour, (name, (pairs, reference)) in zip(palette(len(data)), data.items(), strict=True):
        for index, (v, e) in enumerate(pairs):
            order = np.argsort(v)
            ax.plot(v[order], (e[order] - seed_shift[index]) * 1000, color=colour, linewidth=1.0, alpha=0.8,
                    label=name if index == 0 else None)  # fmt: skip
        if reference is not None:
            v, e = reference
            order = np.argsort(v)
            ax.plot(v[order], (e[order] - reference_shift) * 1000, color=colour, linestyle='--', marker='x',
                    markersize=4, linewidth=1.6)  # fmt: skip
    ax.plot([], [], color='0.3', linestyle='-', label=f'potential ({seeds} seeds)')
    ax.plot([], [], color='0.3', linestyle='--', marker='x', label='reference')
    ax.set_xlabel('volume (Å$^3$/atom)')
    ax.set_ylabel("energy (meV/atom), relative to each method's lowest point")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize='small', loc='best')
    if title:
        ax.set_title(title, fontsize='small')
    return save_png(figure, path)
