"""PNG figures of a GAP-RSS run and of indirect learning (matplotlib, Agg; no aiida imports).

Every function takes plain data (numbers, lists, dicts), draws one figure with matplotlib's object-oriented API on an
Agg canvas (no ``pyplot``, no global backend switch, thread-safe) and either writes a PNG to ``path`` (returning the
:class:`pathlib.Path`) or, with ``path=None``, returns the PNG bytes. Bad input raises :class:`ValueError` naming the
field.

Figures (GAP-RSS = Bernstein et al. 2019, IL = Morrow & Deringer 2022):

* :func:`plot_learning_curve` — training and prediction RMSE and per-phase energy errors vs reference evaluations
  (GAP-RSS Figs. 2–3 a–c), log scale, 1 meV/atom "converged" line.
* :func:`plot_energy_volume` — E–V curves per phase, potential solid, reference dashed (GAP-RSS Fig. 3 d–f).
* :func:`plot_energy_scatter` — predicted vs reference energy of the structures added in each iteration.
* :func:`plot_structure_map` — the KPCA map coloured by mean coordination, known phases labelled (GAP-RSS Fig. 5).
* :func:`plot_error_vs_cost` — student errors vs cost relative to the teacher (IL Fig. 3).
* :func:`plot_similarity_curve` — SOAP similarity vs pressure, students vs teacher (IL Fig. 4).
* :func:`plot_error_vs_cost_panels` — energy and force MAE vs relative cost, one line per test set (IL Fig. 3 a–b).
* :func:`plot_similarity_comparison` — similarity vs pressure with differences to the teacher underneath and
  failed runs marked (IL Fig. 4 layout).
"""

from __future__ import annotations

import io
import logging
import math
import pathlib
from collections.abc import Mapping, Sequence

import numpy as np

logger = logging.getLogger(__name__)

__all__ = (
    'PNG_MAGIC',
    'plot_energy_scatter',
    'plot_energy_volume',
    'plot_formation_energies',
    'plot_energy_volume_over_seeds',
    'plot_error_vs_cost',
    'plot_error_vs_cost_panels',
    'plot_learning_curve',
    'plot_phase_errors_over_seeds',
    'plot_similarity_comparison',
    'plot_similarity_curve',
    'plot_structure_map',
)

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
#: Errors are plotted in meV/atom on log axes; values below this floor (meV/atom) are drawn at the floor.
ERROR_FLOOR_MEV = 0.01
CONVERGED_MEV = 1.0
_DPI = 120


def _figure(width: float = 6.4, height: float = 4.4):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path) -> pathlib.Path | bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png', dpi=_DPI)
    data = buffer.getvalue()
    if path is None:
        return data
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    logger.debug('wrote %s (%d bytes)', path, len(data))
    return path


def _finite_array(values, field: str, *, ndim: int = 1) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f'{field}: expected numbers ({exc})') from exc
    if array.ndim != ndim:
        raise ValueError(f'{field}: expected a {ndim}-D array, got shape {array.shape}')
    if array.size == 0:
        raise ValueError(f'{field}: empty')
    if not np.isfinite(array).all():
        raise ValueError(f'{field}: contains non-finite values')
    return array


def _finite_pair(pair, field: str, first: str, second: str) -> tuple[np.ndarray, np.ndarray]:
    """``pair`` = (x, y) as finite 1-D arrays of one length; the ValueError names ``field`` and the two quantities."""
    if not isinstance(pair, Sequence | np.ndarray) or len(pair) != 2:
        raise ValueError(f'{field}: expected ({first.replace(" ", "_")}, {second.replace(" ", "_")})')
    x = _finite_array(pair[0], f'{field} {first}')
    y = _finite_array(pair[1], f'{field} {second}')
    if x.shape != y.shape:
        raise ValueError(f'{field}: {first} and {second} differ in length')
    return x, y


def _plain_log_ticks(axis) -> None:
    """Tick labels '0.5', '2', '100' instead of '5×10⁻¹' on a log axis; minor ticks labelled on short ranges."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    formatter = FuncFormatter(lambda value, _: f'{value:g}')
    axis.set_major_formatter(formatter)
    lo, hi = axis.get_view_interval()
    if lo > 0 and hi / lo < 30:
        axis.set_minor_formatter(formatter)
    else:
        axis.set_minor_formatter(NullFormatter())


def _to_mev(errors_ev: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(errors_ev) * 1000.0, ERROR_FLOOR_MEV)


# ------------------------------------------------------------------------------------------------ learning curve


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
        array = _finite_array(points, f'phase_errors[{name!r}]', ndim=2)
        if array.shape[1] != 2:
            raise ValueError(f'phase_errors[{name!r}]: expected (reference_evaluations, error) pairs')
        phase_series[name] = array[np.argsort(array[:, 0])]
    if not any(xs for xs, _ in series.values()) and not phase_series:
        raise ValueError('curve_rows: no training_energy_rmse or prediction_energy_rmse values, and no phase_errors')

    figure = _figure()
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
            ax.plot(xs, _to_mev(np.array(ys)), **styles[key])
    for name, array in phase_series.items():
        ax.plot(array[:, 0], _to_mev(array[:, 1]), marker='^', linestyle='-', label=f'{name} (phase error)')
    ax.axhline(CONVERGED_MEV, color='tab:green', linestyle=':', linewidth=1.0, label='1 meV/atom')
    if goal is not None:
        ax.axhline(goal * 1000, color='tab:red', linestyle='--', linewidth=1.0, label=f'goal {goal * 1000:g} meV/atom')
    ax.set_yscale('log')
    _plain_log_ticks(ax.yaxis)
    ax.set_xlabel('reference evaluations')
    ax.set_ylabel('energy error (meV/atom)')
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize='small', loc='best')
    if title:
        ax.set_title(title)
    return _save(figure, path)


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
    figure = _figure(7.2, 4.6)
    ax = figure.add_subplot()
    colours = _colours(len(points))
    offsets = np.linspace(-0.3, 0.3, len(points)) if len(points) > 1 else np.zeros(1)
    for colour, offset, (name, rows) in zip(colours, offsets, points.items(), strict=True):
        xs, means, lows, highs = [], [], [], []
        for index, row in enumerate(rows):
            if len(row) != 2:
                raise ValueError(f'points[{name!r}][{index}]: expected (reference_evaluations, [errors])')
            mean, low, high = seed_mean_and_range(_finite_array(row[1], f'points[{name!r}][{index}]'))
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
    return _save(figure, path)


# ------------------------------------------------------------------------------------------------ E(V)


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
            v, e = _finite_pair(entry[method], f'curves[{name!r}][{method!r}]', 'volumes', 'energies')
            order = np.argsort(v)
            data[name][method] = (v[order], e[order])
    shifts = {}
    for method in ('potential', 'reference'):
        minima = [d[method][1].min() for d in data.values() if method in d]
        shifts[method] = min(minima) if (minima and relative) else 0.0

    figure = _figure()
    ax = figure.add_subplot()
    colours = _colours(len(data))
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
    ax.legend(fontsize='small', loc='best')
    if title:
        ax.set_title(title)
    return _save(figure, path)


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
        pairs = [_finite_pair(pair, f'curves[{name!r}][seeds][{i}]', 'volumes', 'energies')
                 for i, pair in enumerate(entry['seeds'])]  # fmt: skip
        if seeds is not None and len(pairs) != seeds:
            raise ValueError(f'curves[{name!r}]: {len(pairs)} seeds, the other phases have {seeds}')
        seeds = len(pairs)
        reference = entry.get('reference')
        reference = None if reference is None else _finite_pair(reference, f'curves[{name!r}][reference]',
                                                                 'volumes', 'energies')  # fmt: skip
        data[name] = (pairs, reference)
    seed_shift = [min(pairs[i][1].min() for pairs, _ in data.values()) for i in range(seeds)]
    references = [reference[1].min() for _, reference in data.values() if reference is not None]
    reference_shift = min(references) if references else 0.0

    figure = _figure(6.8, 4.6)
    ax = figure.add_subplot()
    for colour, (name, (pairs, reference)) in zip(_colours(len(data)), data.items(), strict=True):
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
    return _save(figure, path)


def _colours(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps['tab10' if n <= 10 else 'tab20']
    return [cmap(i % cmap.N) for i in range(n)]


# ------------------------------------------------------------------------------------------------ scatter


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
    figure = _figure()
    ax = figure.add_subplot()
    styles = {'potential': ('tab:blue', 'o', '-'), 'reference': ('tab:orange', 's', '--')}
    for side in ('potential', 'reference'):
        if side not in sides:
            continue
        colour, marker, line = styles[side]
        rows = sides[side]['phases']
        x = _finite_array([row['composition'][element] for row in rows.values()], f'{side}: composition')
        e = _finite_array([row['formation_energy'] for row in rows.values()], f'{side}: formation_energy')
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
    ax.legend(fontsize='small', loc='best')
    if title:
        ax.set_title(title)
    return _save(figure, path)


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
        key: _finite_pair(pair, f'per_iteration[{key!r}]', 'reference energies', 'predicted energies')
        for key, pair in per_iteration.items()
    }

    figure = _figure(5.2, 5.0)
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
    return _save(figure, path)


# ------------------------------------------------------------------------------------------------ KPCA map


def plot_structure_map(
    coordinates, colour_values, path=None, marked: Mapping | None = None, *, title=None, colour_label=None
):
    """KPCA structure map, points coloured by mean coordination (or ``colour_label``), known phases marked.

    Parameters
    ----------
    coordinates : (N, 2) array
        2-D embedding (:func:`aiida_gaprss.rss.analysis.kpca_map`).
    colour_values : (N,) array
        Colour of each point (mean coordination number, or e.g. the fraction of one element of a chemical system).
    colour_label : str, optional
        Label of the colour bar (default 'mean coordination'; e.g. 'fraction of C' for a map by composition).
    marked : mapping label -> int or (x, y), optional
        Points to label: an index into ``coordinates`` or explicit coordinates (e.g. known phases projected on the
        map).
    """
    xy = _finite_array(coordinates, 'coordinates', ndim=2)
    if xy.shape[1] < 2:
        raise ValueError(f'coordinates: expected N x 2, got shape {xy.shape}')
    colours = _finite_array(colour_values, 'colour_values')
    if colours.shape[0] != xy.shape[0]:
        raise ValueError(f'colour_values: expected {xy.shape[0]} values, got {colours.shape[0]}')
    labels = {}
    for label, where in (marked or {}).items():
        if isinstance(where, int | np.integer) and not isinstance(where, bool):
            if not 0 <= where < xy.shape[0]:
                raise ValueError(f'marked[{label!r}]: index {where} out of range')
            labels[label] = xy[int(where), :2]
        else:
            point = _finite_array(where, f'marked[{label!r}]')
            if point.shape != (2,):
                raise ValueError(f'marked[{label!r}]: expected an index or (x, y)')
            labels[label] = point

    figure = _figure(6.0, 5.0)
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
    return _save(figure, path)


# ------------------------------------------------------------------------------------------------ indirect learning


def _checked_students(students, required: tuple[str, ...]):
    """Yield ``(index, student, cost)`` of the students of an error-vs-cost plot, refusing bad entries by index."""
    if not isinstance(students, Sequence) or isinstance(students, str) or not students:
        raise ValueError('students: empty (no student to plot)')
    for index, student in enumerate(students):
        if not isinstance(student, Mapping):
            raise ValueError(f'students[{index}]: expected a dict')
        for key in ('label', 'cost', *required):
            if key not in student:
                raise ValueError(f'students[{index}]: missing {key!r}')
        cost = float(student['cost'])
        if not (math.isfinite(cost) and cost > 0):
            raise ValueError(f'students[{index}]: cost must be a positive number, got {student["cost"]!r}')
        yield index, student, cost


def plot_error_vs_cost(students: Sequence[Mapping], path=None, *, teacher_label: str = 'teacher', title=None):
    """Error of each student vs its cost relative to the teacher (Morrow & Deringer Fig. 3).

    Parameters
    ----------
    students : sequence of dict
        Each ``{'label': 'M16', 'cost': 0.02, 'errors': {'RSS': 0.012, 'compression': 0.004}}`` — cost per MD step
        per atom relative to the teacher (dimensionless), errors in eV/atom per test set (the energy RMSE vs the
        teacher). ``'energy_error'`` (one number) may replace ``'errors'``.
    teacher_label : str
        Label of the vertical line at cost 1.
    """
    rows = []
    for index, student, cost in _checked_students(students, ()):
        errors = student.get('errors')
        if errors is None and 'energy_error' in student:
            errors = {'energy': student['energy_error']}
        if not isinstance(errors, Mapping) or not errors:
            raise ValueError(f"students[{index}]: needs 'errors' (test set -> eV/atom) or 'energy_error'")
        for name, value in errors.items():
            if value is None or not math.isfinite(float(value)):
                raise ValueError(f'students[{index}]: error for {name!r} is not a finite number')
        rows.append((str(student['label']), cost, {str(k): float(v) for k, v in errors.items()}))
    rows.sort(key=lambda row: row[1])
    test_sets = list(dict.fromkeys(name for _, _, errors in rows for name in errors))

    figure = _figure()
    ax = figure.add_subplot()
    markers = 'osD^v<>p'
    for index, name in enumerate(test_sets):
        xs = [cost for _, cost, errors in rows if name in errors]
        ys = [errors[name] for _, _, errors in rows if name in errors]
        ax.plot(xs, _to_mev(np.array(ys)), marker=markers[index % len(markers)], linestyle='-', label=name)
    first = test_sets[0]
    for label, cost, errors in rows:
        if first in errors:
            ax.annotate(label, (cost, max(abs(errors[first]) * 1000.0, ERROR_FLOOR_MEV)), xytext=(3, 5),
                        textcoords='offset points', fontsize='x-small')  # fmt: skip
    ax.axvline(1.0, color='0.4', linestyle=':', linewidth=1.0, label=teacher_label)
    ax.set_xscale('log')
    ax.set_yscale('log')
    _plain_log_ticks(ax.xaxis)
    _plain_log_ticks(ax.yaxis)
    ax.set_xlabel('cost per MD step relative to the teacher')
    ax.set_ylabel('energy RMSE vs teacher (meV/atom)')
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize='small', loc='best')
    if title:
        ax.set_title(title)
    return _save(figure, path)


def plot_similarity_curve(curves: Mapping, path=None, *, reference_label: str = 'teacher', title=None):
    """SOAP similarity (to sh Si) vs pressure along compression, one line per model (Morrow & Deringer Fig. 4).

    Parameters
    ----------
    curves : mapping label -> (pressures, similarities)
        Pressures in GPa, similarities 0–1. The curve named ``reference_label`` is drawn dashed and black.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError('curves: empty (no curve to plot)')
    data = {
        label: _finite_pair(pair, f'curves[{label!r}]', 'pressures', 'similarities') for label, pair in curves.items()
    }
    figure = _figure()
    ax = figure.add_subplot()
    for label, (p, s) in data.items():
        if label == reference_label:
            ax.plot(p, s, color='black', linestyle='--', label=label)
        else:
            ax.plot(p, s, linestyle='-', label=label)
    ax.set_xlabel('pressure (GPa)')
    ax.set_ylabel('SOAP similarity')
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize='small', loc='best')
    if title:
        ax.set_title(title)
    return _save(figure, path)


def plot_error_vs_cost_panels(students: Sequence[Mapping], path=None, *, teacher_label: str = 'teacher', title=None):
    """Energy and force MAE of each student vs its cost relative to the teacher, two panels (IL Fig. 3 a–b).

    Parameters
    ----------
    students : sequence of dict
        Each ``{'label': 'L16', 'cost': 0.02, 'energy_mae': {test set: eV/atom}, 'force_mae': {test set: eV/Å}}``;
        cost per MD step per atom relative to the teacher. ``force_mae`` is optional (no right panel without it).
        Optional: ``family`` ('indirect', the default, drawn with solid lines; 'direct', the directly-learned
        baseline, dashed — the paper's red and blue) and ``energy_mae_range`` / ``force_mae_range``
        (``{test set: [min, max]}`` over fit seeds, drawn as error bars).
    teacher_label : str
        Label of the vertical line at cost 1.
    """
    rows = []
    for index, student, cost in _checked_students(students, ('energy_mae',)):
        panels, ranges = {}, {}
        for key in ('energy_mae', 'force_mae'):
            values = student.get(key)
            if values is None:
                continue
            if not isinstance(values, Mapping) or not values:
                raise ValueError(f'students[{index}].{key}: expected a dict test set -> error')
            for name, value in values.items():
                if value is None or not math.isfinite(float(value)):
                    raise ValueError(f'students[{index}].{key}[{name!r}]: not a finite number')
            panels[key] = {str(k): float(v) for k, v in values.items()}
            ranges[key] = {str(k): [float(x) for x in v] for k, v in (student.get(f'{key}_range') or {}).items()}
        family = str(student.get('family', 'indirect'))
        if family not in ('indirect', 'direct'):
            raise ValueError(f"students[{index}].family: expected 'indirect' or 'direct', got {family!r}")
        rows.append((str(student['label']), cost, panels, family, ranges))
    rows.sort(key=lambda row: row[1])
    kinds = [key for key in ('energy_mae', 'force_mae') if any(key in row[2] for row in rows)]
    families = list(dict.fromkeys(row[3] for row in rows))
    figure = _figure(6.4 * len(kinds) / 1.4 if len(kinds) > 1 else 6.4, 4.4)
    markers = 'osD^v<>p'
    for column, kind in enumerate(kinds):
        ax = figure.add_subplot(1, len(kinds), column + 1)
        test_sets = list(dict.fromkeys(name for row in rows for name in row[2].get(kind, {})))
        scale = 1000.0 if kind == 'energy_mae' else 1.0
        floor = ERROR_FLOOR_MEV if kind == 'energy_mae' else ERROR_FLOOR_MEV / 1000.0
        for index, name in enumerate(test_sets):
            for family in families:
                points = [row for row in rows if row[3] == family and name in row[2].get(kind, {})]
                if not points:
                    continue
                xs = [row[1] for row in points]
                ys = np.maximum(np.abs([row[2][kind][name] for row in points]) * scale, floor)
                label = name if len(families) == 1 else f'{name}, {family}'
                line = ax.plot(xs, ys, marker=markers[index % len(markers)], color=f'C{index}',
                               linestyle='-' if family == 'indirect' else '--',
                               markerfacecolor='white' if family == 'direct' else None, label=label)[0]  # fmt: skip
                spans = [row[4].get(kind, {}).get(name) for row in points]
                if any(spans):
                    low = [y - max(s[0] * scale, floor) if s else 0.0 for y, s in zip(ys, spans, strict=True)]
                    high = [max(s[1] * scale, floor) - y if s else 0.0 for y, s in zip(ys, spans, strict=True)]
                    ax.errorbar(xs, ys, yerr=[np.clip(low, 0, None), np.clip(high, 0, None)], fmt='none',
                                ecolor=line.get_color(), capsize=2, linewidth=0.8)  # fmt: skip
        if test_sets:
            first = test_sets[0]
            for label, cost, panels, _, _ in rows:
                if first in panels.get(kind, {}):
                    value = max(abs(panels[kind][first]) * scale, ERROR_FLOOR_MEV if scale > 1 else 1e-5)
                    ax.annotate(label, (cost, value), xytext=(3, 5), textcoords='offset points', fontsize='x-small')
        ax.axvline(1.0, color='0.4', linestyle=':', linewidth=1.0, label=teacher_label)
        ax.set_xscale('log')
        ax.set_yscale('log')
        _plain_log_ticks(ax.xaxis)
        _plain_log_ticks(ax.yaxis)
        ax.set_xlabel('cost per MD step per atom relative to the teacher')
        ax.set_ylabel('energy MAE (meV/atom)' if kind == 'energy_mae' else 'force MAE (eV/Å)')
        ax.grid(True, which='both', alpha=0.3)
        ax.legend(fontsize='x-small', loc='best')
    if title:
        figure.suptitle(title)
    else:
        figure.suptitle(
            "errors against each test set's labels (the teacher's; rss_reference: the reference method)",
            fontsize='small',
        )
    return _save(figure, path)


def plot_similarity_comparison(curves: Mapping, path=None, *, reference: str = 'teacher', labels=None, title=None):
    """SOAP similarity to pressure-adjusted sh Si vs pressure, and each model's difference to the reference
    (IL Fig. 4: absolute values on top, differences underneath; failed runs end with an asterisk).

    Parameters
    ----------
    curves : mapping key -> dict
        Each with lists ``pressure`` (GPa) and ``similarity`` (0–1), optionally ``failed_at`` (not None: the run
        failed after its last point). The curve ``reference`` is drawn dashed and black; differences are taken at
        the same snapshot index.
    labels : mapping key -> str, optional
        Legend labels.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError('curves: empty (no curve to plot)')
    labels = dict(labels or {})
    data = {}
    for key, curve in curves.items():
        if not isinstance(curve, Mapping) or 'pressure' not in curve or 'similarity' not in curve:
            raise ValueError(f'curves[{key!r}]: expected a dict with pressure and similarity')
        p = _finite_array(curve['pressure'], f'curves[{key!r}].pressure')
        s = _finite_array(curve['similarity'], f'curves[{key!r}].similarity')
        if p.shape != s.shape:
            raise ValueError(f'curves[{key!r}]: pressure and similarity differ in length')
        data[key] = (p, s, curve.get('failed_at') is not None)
    figure = _figure(6.4, 6.0)
    grid = figure.add_gridspec(2, 1, height_ratios=(2, 1))
    top = figure.add_subplot(grid[0])
    bottom = figure.add_subplot(grid[1], sharex=top)
    colours = _colours(max(1, len(data) - (reference in data)))
    index = 0
    for key, (p, s, failed) in data.items():
        label = labels.get(key, key)
        if key == reference:
            top.plot(p, s, color='black', linestyle='--', label=label)
            continue
        colour = colours[index % len(colours)]
        index += 1
        top.plot(p, s, color=colour, linestyle='-', label=label)
        if failed:
            top.plot(p[-1:], s[-1:], marker='*', markersize=12, color=colour, linestyle='none')
        if reference in data:
            n = min(len(s), len(data[reference][1]))
            bottom.plot(p[:n], s[:n] - data[reference][1][:n], color=colour, linestyle='-', label=label)
    bottom.axhline(0.0, color='black', linestyle='--', linewidth=1.0)
    top.set_ylabel('SOAP similarity to sh')
    bottom.set_ylabel(f'difference to {labels.get(reference, reference)}')
    bottom.set_xlabel('pressure (GPa)')
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    top.legend(fontsize='small', loc='best')
    if title:
        top.set_title(title)
    return _save(figure, path)
