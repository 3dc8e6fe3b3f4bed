"""Figures of a GAP-RSS run (Bernstein et al. 2019): learning curve, E–V curves, formation energies, energy scatter,
KPCA structure map."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from aiida_gaprss.plots.canvas import (
    CONVERGED_MEV,
    finish_png,
    finite_array,
    finite_pair,
    new_figure,
    palette,
    plain_log_ticks,
    save_png,
    to_mev,
)

__all__ = (
    'plot_energy_scatter',
    'plot_energy_volume',
    'plot_formation_energies',
    'plot_learning_curve',
    'plot_structure_map',
)


def plot_learning_curve(
    curve_rows, path=None, phase_errors: Mapping | None = None, *, title: str | None = None, goal: float | None = None
):
    """Learning curve: errors (meV/atom, log) vs number of reference evaluations.

    Parameters
    ----------
    curve_rows : list of dict, or dict with key ``'iterations'``
        The rows of the run's ``learning_curve`` output: each with ``reference_evaluations`` and optionally
        ``training_energy_rmse``, ``training_energy_rmse_cells`` (periodic cells only, no dimers) and
        ``prediction_energy_rmse`` (eV/atom).
    path : str or Path, optional
        Where to write the PNG; None returns the PNG bytes.
    phase_errors : mapping phase -> sequence of (reference_evaluations, error in eV/atom), optional
        Per-phase energy errors (each phase at its own minimum, :mod:`aiida_gaprss.rss.validation`); their absolute
        values are drawn, and points below :data:`ERROR_FLOOR_MEV` at the floor.
    goal : float, optional
        An error goal (eV/atom) drawn as a dashed line.
    """
    if goal is not None and not (isinstance(goal, int | float) and math.isfinite(goal) and goal > 0):
        raise ValueError(f'goal: expected a positive energy per atom (eV), got {goal!r}')
    if isinstance(curve_rows, Mapping):
        if 'iterations' not in curve_rows:
            raise ValueError("curve_rows: a dict must have the key 'iterations'")
        curve_rows = curve_rows['iterations']
    if not isinstance(curve_rows, Sequence) or isinstance(curve_rows, str) or not curve_rows:
        raise ValueError('curve_rows: empty (no iteration to plot)')
    series = {
        'training_energy_rmse': ([], []),
        'training_energy_rmse_cells': ([], []),
        'prediction_energy_rmse': ([], []),
    }
    for index, row in enumerate(curve_rows):
        if not isinstance(row, Mapping) or 'reference_evaluations' not in row:
            raise ValueError(f"curve_rows[{index}]: expected a dict with 'reference_evaluations'")
        x = row['reference_evaluations']
        for key, (xs, ys) in series.items():
            value = row.get(key)
            if value is not None and math.isfinite(float(value)):
                xs.append(float(x))
                ys.append(float(value))
    phase_series = {}
    for name, points in (phase_errors or {}).items():
        array = finite_array(points, f'phase_errors[{name!r}]', ndim=2)
        if array.shape[1] != 2:
            raise ValueError(f'phase_errors[{name!r}]: expected (reference_evaluations, error) pairs')
        phase_series[name] = array[np.argsort(array[:, 0])]
    if not any(xs for xs, _ in series.values()) and not phase_series:
        raise ValueError('curve_rows: no training_energy_rmse or prediction_energy_rmse values, and no phase_errors')

    figure = new_figure()
    ax = figure.add_subplot()
    styles = {
        'training_energy_rmse': dict(color='0.3', marker='o', linestyle='-', label='training RMSE'),
        'training_energy_rmse_cells': dict(
            color='0.3', marker='o', markerfacecolor='white', linestyle=':', label='training RMSE, periodic cells'
        ),
        'prediction_energy_rmse': dict(color='0.55', marker='s', linestyle='--', label='prediction RMSE (new data)'),
    }
    for key, (xs, ys) in series.items():
        if xs:
            ax.plot(xs, to_mev(np.array(ys)), **styles[key])
    for name, array in phase_series.items():
        ax.plot(array[:, 0], to_mev(array[:, 1]), marker='^', linestyle='-', label=f'{name} (phase error)')
    ax.axhline(CONVERGED_MEV, color='tab:green', linestyle=':', linewidth=1.0, label='1 meV/atom')
    if goal is not None:
        ax.axhline(goal * 1000, color='tab:red', linestyle='--', linewidth=1.0, label=f'goal {goal * 1000:g} meV/atom')
    ax.set_yscale('log')
    plain_log_ticks(ax.yaxis)
    ax.set_xlabel('reference evaluations')
    ax.set_ylabel('energy error (meV/atom)')
    ax.grid(True, which='both', alpha=0.3)
    return finish_png(figure, ax, path, title)


def plot_energy_volume(curves: Mapping, path=None, *, relative: bool = True, title: str | None = None):
    """Energy–volume curves per phase: potential solid, reference dashed (same colour).

    Parameters
    ----------
    curves : mapping phase -> dict
        ``{'potential': (volumes, energies), 'reference': (volumes, energies)}`` with volumes in Å³/atom and energies
        in eV/atom; at least one of the two per phase.
    relative : bool
        Plot energies relative to the lowest reference energy of all phases (or the lowest potential energy when there
        is no reference); potential and reference curves are shifted separately, each to its own lowest point.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError('curves: empty (no phase to plot)')
    data = {}
    for name, entry in curves.items():
        if not isinstance(entry, Mapping) or not ({'potential', 'reference'} & set(entry)):
            raise ValueError(f"curves[{name!r}]: expected a dict with 'potential' and/or 'reference'")
        data[name] = {}
        for method in ('potential', 'reference'):
            if method not in entry or entry[method] is None:
                continue
            v, e = finite_pair(entry[method], f'curves[{name!r}][{method!r}]', 'volumes', 'energies')
            order = np.argsort(v)
            data[name][method] = (v[order], e[order])
    shifts = {}
    for method in ('potential', 'reference'):
        minima = [d[method][1].min() for d in data.values() if method in d]
        shifts[method] = min(minima) if (minima and relative) else 0.0

    figure = new_figure()
    ax = figure.add_subplot()
    colours = palette(len(data))
    for colour, (name, entry) in zip(colours, data.items(), strict=True):
        if 'potential' in entry:
            v, e = entry['potential']
            ax.plot(v, e - shifts['potential'], color=colour, linestyle='-', marker='o', markersize=3, label=name)
        if 'reference' in entry:
            v, e = entry['reference']
            label = None if 'potential' in entry else f'{name} (reference)'
            ax.plot(v, e - shifts['reference'], color=colour, linestyle='--', marker='x', markersize=3, label=label)
    ax.plot([], [], color='0.3', linestyle='-', label='potential')
    ax.plot([], [], color='0.3', linestyle='--', label='reference')
    ax.set_xlabel('volume (Å$^3$/atom)')
    ax.set_ylabel('energy (eV/atom)' + (', relative' if relative else ''))
    ax.grid(True, alpha=0.3)
    return finish_png(figure, ax, path, title)


def plot_formation_energies(sides: Mapping, element: str, path=None, *, title: str | None = None):
    """Formation energy per atom against the fraction of ``element``, with the hull of each side.

    Parameters
    ----------
    sides : mapping side -> table
        ``'potential'`` and/or ``'reference'``: a :func:`aiida_gaprss.rss.validation.formation_energy_table` result
        (potential solid circles and hull, reference open squares and dashed hull).
    element : str
        The element whose atomic fraction is the x axis.
    """
    if not isinstance(sides, Mapping) or not ({'potential', 'reference'} & set(sides)):
        raise ValueError("sides: expected 'potential' and/or 'reference'")
    figure = new_figure()
    ax = figure.add_subplot()
    styles = {'potential': ('tab:blue', 'o', '-'), 'reference': ('tab:orange', 's', '--')}
    for side in ('potential', 'reference'):
        if side not in sides:
            continue
        colour, marker, line = styles[side]
        rows = sides[side]['phases']
        x = finite_array([row['composition'][element] for row in rows.values()], f'{side}: composition')
        e = finite_array([row['formation_energy'] for row in rows.values()], f'{side}: formation_energy')
        face = colour if side == 'potential' else 'none'
        ax.scatter(x, e, marker=marker, facecolors=face, edgecolors=colour, s=30, label=side, zorder=3)
        hull = sorted((xi, ei) for xi, ei, row in zip(x, e, rows.values(), strict=True) if row['on_hull'])
        if hull:
            ax.plot([p[0] for p in hull], [p[1] for p in hull], color=colour, linestyle=line, linewidth=1.0)
        if side == 'potential' or 'potential' not in sides:
            for xi, ei, name in zip(x, e, rows, strict=True):
                ax.annotate(name, (xi, ei), xytext=(4, 4), textcoords='offset points', fontsize='x-small')
    ax.axhline(0.0, color='0.6', linewidth=0.8)
    ax.set_xlabel(f'fraction of {element}')
    ax.set_ylabel('formation energy (eV/atom)')
    ax.grid(True, alpha=0.3)
    return finish_png(figure, ax, path, title)


def plot_energy_scatter(per_iteration: Mapping, path=None, *, title: str | None = None):
    """Predicted vs reference energy per atom of the structures added in each iteration (one colour each).

    Parameters
    ----------
    per_iteration : mapping iteration -> (reference_energies, predicted_energies)
        Energies in eV/atom; the prediction is by the potential of the previous iteration.
    """
    if not isinstance(per_iteration, Mapping) or not per_iteration:
        raise ValueError('per_iteration: empty (no iteration to plot)')
    data = {
        key: finite_pair(pair, f'per_iteration[{key!r}]', 'reference energies', 'predicted energies')
        for key, pair in per_iteration.items()
    }

    figure = new_figure(5.2, 5.0)
    ax = figure.add_subplot()
    from matplotlib import colormaps

    cmap = colormaps['viridis']
    keys = list(data)
    for index, key in enumerate(keys):
        ref, pred = data[key]
        rmse = 1000.0 * float(np.sqrt(np.mean((pred - ref) ** 2)))
        colour = cmap(index / max(1, len(keys) - 1))
        ax.scatter(ref, pred, s=10, color=colour, alpha=0.8, label=f'iteration {key} (RMSE {rmse:.0f} meV/atom)')
    lo = min(min(r.min(), p.min()) for r, p in data.values())
    hi = max(max(r.max(), p.max()) for r, p in data.values())
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color='0.4', linewidth=0.8)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect('equal')
    # at most 5 ticks: on a narrow range of large energies (-163.75, -163.50, ...) the default ten labels run together
    from matplotlib.ticker import MaxNLocator

    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(nbins=5))
    ax.set_xlabel('reference energy (eV/atom)')
    ax.set_ylabel('predicted energy (eV/atom)')
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize='x-small', loc='upper left')
    if title:
        ax.set_title(title)
    return save_png(figure, path)


def plot_structure_map(
    coordinates, colour_values, path=None, marked: Mapping | None = None, *, title=None, colour_label=None
):
    """KPCA structure map, points coloured by mean coordination (or ``colour_label``), known phases marked.

    Parameters
    ----------
    coordinates : (N, 2) array
        2-D embedding (:func:`aiida_gaprss.rss.structure_map.kpca_map`).
    colour_values : (N,) array
        Colour of each point (mean coordination number, or e.g. the fraction of one element of a chemical system).
    colour_label : str, optional
        Label of the colour bar (default 'mean coordination'; e.g. 'fraction of C' for a map by composition).
    marked : mapping label -> int or (x, y), optional
        Points to label: an index into ``coordinates`` or explicit coordinates (e.g. known phases projected on the
        map).
    """
    xy = finite_array(coordinates, 'coordinates', ndim=2)
    if xy.shape[1] < 2:
        raise ValueError(f'coordinates: expected N x 2, got shape {xy.shape}')
    colours = finite_array(colour_values, 'colour_values')
    if colours.shape[0] != xy.shape[0]:
        raise ValueError(f'colour_values: expected {xy.shape[0]} values, got {colours.shape[0]}')
    labels = {}
    for label, where in (marked or {}).items():
        if isinstance(where, int | np.integer) and not isinstance(where, bool):
            if not 0 <= where < xy.shape[0]:
                raise ValueError(f'marked[{label!r}]: index {where} out of range')
            labels[label] = xy[int(where), :2]
        else:
            point = finite_array(where, f'marked[{label!r}]')
            if point.shape != (2,):
                raise ValueError(f'marked[{label!r}]: expected an index or (x, y)')
            labels[label] = point

    figure = new_figure(6.0, 5.0)
    ax = figure.add_subplot()
    scatter = ax.scatter(xy[:, 0], xy[:, 1], c=colours, cmap='viridis', s=14, alpha=0.85, edgecolors='none')
    colourbar = figure.colorbar(scatter, ax=ax)
    colourbar.set_label(colour_label or 'mean coordination')
    # points closer than 1 % of the map's extent share one label (e.g. Si and C diamond after rescaling)
    extent = float(np.ptp(np.vstack([xy[:, :2], *labels.values()]) if labels else xy[:, :2], axis=0).max()) or 1.0
    groups: list[tuple[np.ndarray, list[str]]] = []
    for label, point in labels.items():
        for centre, names in groups:
            if np.linalg.norm(point - centre) < 0.01 * extent:
                names.append(str(label))
                break
        else:
            groups.append((point, [str(label)]))
    for (x, y), _ in groups:
        ax.scatter([x], [y], marker='*', s=120, facecolors='none', edgecolors='tab:red', linewidths=1.2, zorder=3)
    centres = np.array([centre for centre, _ in groups]) if groups else np.zeros((0, 2))
    for index, ((x, y), names) in enumerate(groups):
        # put the label on the side away from the nearest other labelled point
        direction = np.array([1.0, 1.0])
        if len(groups) > 1:
            others = np.delete(centres, index, axis=0)
            nearest = others[np.argmin(np.linalg.norm(others - (x, y), axis=1))]
            delta = np.array([x, y]) - nearest
            if np.linalg.norm(delta) < 0.15 * extent:
                direction = np.where(delta >= 0, 1.0, -1.0)
        ax.annotate(
            ', '.join(names),
            (x, y),
            xytext=(5 * direction[0], 5 * direction[1]),
            textcoords='offset points',
            ha='left' if direction[0] > 0 else 'right',
            va='bottom' if direction[1] > 0 else 'top',
            fontsize='x-small',
            color='tab:red',
            zorder=4,
            bbox={'boxstyle': 'round,pad=0.15', 'facecolor': 'white', 'edgecolor': 'none', 'alpha': 0.7},
        )
    ax.margins(0.12)
    ax.set_xlabel('KPCA 1')
    ax.set_ylabel('KPCA 2')
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(title)
    return save_png(figure, path)
