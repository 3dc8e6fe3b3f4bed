"""Figures of indirect learning (Morrow & Deringer 2022): student error vs cost, SOAP similarity vs pressure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from aiida_gaprss.plots.canvas import (
    ERROR_FLOOR_MEV,
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
    'plot_error_vs_cost',
    'plot_error_vs_cost_panels',
    'plot_similarity_comparison',
    'plot_similarity_curve',
)


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

    figure = new_figure()
    ax = figure.add_subplot()
    markers = 'osD^v<>p'
    for index, name in enumerate(test_sets):
        xs = [cost for _, cost, errors in rows if name in errors]
        ys = [errors[name] for _, _, errors in rows if name in errors]
        ax.plot(xs, to_mev(np.array(ys)), marker=markers[index % len(markers)], linestyle='-', label=name)
    first = test_sets[0]
    for label, cost, errors in rows:
        if first in errors:
            ax.annotate(label, (cost, max(abs(errors[first]) * 1000.0, ERROR_FLOOR_MEV)), xytext=(3, 5),
                        textcoords='offset points', fontsize='x-small')  # fmt: skip
    ax.axvline(1.0, color='0.4', linestyle=':', linewidth=1.0, label=teacher_label)
    ax.set_xscale('log')
    ax.set_yscale('log')
    plain_log_ticks(ax.xaxis)
    plain_log_ticks(ax.yaxis)
    ax.set_xlabel('cost per MD step relative to the teacher')
    ax.set_ylabel('energy RMSE vs teacher (meV/atom)')
    ax.grid(True, which='both', alpha=0.3)
    return finish_png(figure, ax, path, title)


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
        label: finite_pair(pair, f'curves[{label!r}]', 'pressures', 'similarities') for label, pair in curves.items()
    }
    figure = new_figure()
    ax = figure.add_subplot()
    for label, (p, s) in data.items():
        if label == reference_label:
            ax.plot(p, s, color='black', linestyle='--', label=label)
        else:
            ax.plot(p, s, linestyle='-', label=label)
    ax.set_xlabel('pressure (GPa)')
    ax.set_ylabel('SOAP similarity')
    ax.grid(True, alpha=0.3)
    return finish_png(figure, ax, path, title)


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
    figure = new_figure(6.4 * len(kinds) / 1.4 if len(kinds) > 1 else 6.4, 4.4)
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
        plain_log_ticks(ax.xaxis)
        plain_log_ticks(ax.yaxis)
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
    return save_png(figure, path)


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
        p = finite_array(curve['pressure'], f'curves[{key!r}].pressure')
        s = finite_array(curve['similarity'], f'curves[{key!r}].similarity')
        if p.shape != s.shape:
            raise ValueError(f'curves[{key!r}]: pressure and similarity differ in length')
        data[key] = (p, s, curve.get('failed_at') is not None)
    figure = new_figure(6.4, 6.0)
    grid = figure.add_gridspec(2, 1, height_ratios=(2, 1))
    top = figure.add_subplot(grid[0])
    bottom = figure.add_subplot(grid[1], sharex=top)
    colours = palette(max(1, len(data) - (reference in data)))
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
    return save_png(figure, path)
