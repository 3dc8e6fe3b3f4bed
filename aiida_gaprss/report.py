"""A self-contained HTML report of a GAP-RSS run (``gaprss report PK``): every plot inline, no external files.

:func:`collect_report` reads a finished (or failed, or running) ``GapRssWorkChain`` node into plain data;
:func:`render_report` turns that data into one HTML page (inline CSS, PNGs as base64 ``data:`` URIs), so the page can
be mailed or archived and opened anywhere. Sections, each an ``<section id=...>``:

``settings``    the run's inputs (protocol settings, fit parameters, reference engine and its inputs, validation);
``budget``      reference evaluations used of the budget, iterations, state and exit status;
``iterations``  one row per iteration: evaluations, database size, training and prediction errors, phase errors;
``validation``  the last potential's error per known phase (each at its own method's minimum), V0 and B0;
``plots``       every PNG in the run's ``plots`` outputs (learning curve, E–V, energy scatter, structure map);
``exclusions``  the reference calculations that failed and were left out;
``lineage``     where the final potential came from (:func:`aiida_gaprss.provenance.lineage`).
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import logging

__all__ = ('SECTIONS', 'collect_report', 'render_report', 'write_report')

LOGGER = logging.getLogger(__name__)

#: Section ids of the page, in order, with their headings.
SECTIONS = {
    'settings': 'Settings',
    'budget': 'Budget',
    'iterations': 'Iterations',
    'validation': 'Known phases',
    'plots': 'Plots',
    'exclusions': 'Exclusions',
    'lineage': 'Lineage of the final potential',
}

#: Order of the plots on the page (others follow alphabetically).
PLOT_ORDER = ('learning_curve', 'energy_volume', 'energy_scatter', 'structure_map')
PLOT_CAPTIONS = {
    'learning_curve': 'Learning curve: training and prediction RMSE and the error of every known phase (each relaxed '
    'with its own method) against the number of reference evaluations; dotted line 1 meV/atom.',
    'energy_volume': 'Energy–volume curves of the known phases with the final potential (solid) and the reference '
    '(dashed), each relaxed at fixed volume around its own minimum.',
    'energy_scatter': 'Energy of the structures added in each iteration predicted by the previous potential against '
    'the reference energy (iteration 0 has no previous potential).',
    'structure_map': 'KPCA map of the database (averaged SOAP n = l = 16, σ 0.1 r0, r_cut 2.5 r0, cells rescaled to '
    'shortest bond r0 = 1 Å), coloured by mean coordination; known phases marked.',
}


# ------------------------------------------------------------------------------------------------ collect


def _plain(node):
    from aiida import orm

    if isinstance(node, orm.Dict):
        return node.get_dict()
    if isinstance(node, orm.List):
        return node.get_list()
    if isinstance(node, (orm.Str, orm.Int, orm.Float, orm.Bool)):
        return node.value
    if isinstance(node, orm.AbstractCode):
        return f'{node.full_label} (Code<{node.pk}>)'
    return f'{type(node).__name__}<{node.pk}>'


def _inputs_tree(node) -> dict:
    """All inputs of ``node`` as nested plain values (``a__b`` → ``{'a': {'b': ...}}``)."""
    from aiida.common.links import LinkType

    tree: dict = {}
    for link in node.base.links.get_incoming(link_type=(LinkType.INPUT_WORK, LinkType.INPUT_CALC)).all():
        *parents, label = link.link_label.split('__')
        target = tree
        for parent in parents:
            target = target.setdefault(parent, {})
        target[label] = _plain(link.node)
    return tree


def collect_report(node) -> dict:
    """Everything the report shows, as plain data (see :func:`render_report` for the keys)."""
    from aiida_gaprss.provenance import lineage, run_status

    outputs = node.outputs
    status = run_status(node)
    data = {
        'title': f'GAP-RSS run {node.pk}',
        'run': {
            'pk': node.pk,
            'uuid': node.uuid,
            'element': node.inputs.element.value,
            'process': node.process_label,
            'state': status['state'],
            'exit_status': status['exit_status'],
            'exit_message': status['exit_message'],
            'created': node.ctime.isoformat(timespec='seconds'),
        },
        'settings': _inputs_tree(node),
        'budget': {
            'budget': status['budget'],
            'reference_evaluations': status['reference_evaluations'],
            'iterations': len(status['iterations']),
        },
        'status_rows': status['iterations'],
        'iterations': outputs.learning_curve['iterations'] if 'learning_curve' in outputs else [],
        'phase_errors': outputs.phase_errors.get_dict() if 'phase_errors' in outputs else None,
        'plots': {},
        'exclusions': outputs.exclusions['excluded'] if 'exclusions' in outputs else [],
        'lineage': lineage(outputs.potential) if 'potential' in outputs else None,
        'generated': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
    }
    for link in node.base.links.get_outgoing(link_label_filter='plots__%').all():
        name = link.link_label.split('__', 1)[1]
        data['plots'][name] = base64.b64encode(link.node.get_content(mode='rb')).decode('ascii')
    return data


# ------------------------------------------------------------------------------------------------ render

_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 0; color: #1d2433;
       background: #f6f7f9; }
header { background: #1d3557; color: white; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 24px; }
header p { margin: 0; opacity: 0.85; font-size: 14px; }
nav { padding: 8px 32px; background: #e3e8ef; font-size: 14px; }
nav a { margin-right: 16px; color: #1d3557; text-decoration: none; }
main { padding: 8px 32px 32px 32px; max-width: 1150px; }
section { background: white; border-radius: 6px; padding: 12px 20px; margin: 16px 0;
          box-shadow: 0 1px 2px rgba(0,0,0,0.08); }
h2 { font-size: 19px; border-bottom: 1px solid #dde2e8; padding-bottom: 6px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border: 1px solid #dde2e8; padding: 4px 8px; text-align: right; vertical-align: top; }
th { background: #eef1f5; }
td.text, th.text { text-align: left; }
pre { background: #f3f5f8; padding: 8px; overflow-x: auto; font-size: 12px; max-height: 420px; }
figure { display: inline-block; margin: 8px 10px 8px 0; width: 515px; vertical-align: top; }
figure img { width: 100%; border: 1px solid #dde2e8; }
figcaption { font-size: 12px; color: #4a5568; }
details { margin: 4px 0; } summary { cursor: pointer; font-weight: 600; padding: 2px 0; }
.ok { color: #1a7f37; font-weight: 600; }
.bad { color: #b42318; font-weight: 600; }
.muted { color: #6b7280; }
.bar { background: #e3e8ef; border-radius: 4px; height: 14px; width: 420px; overflow: hidden; }
.bar div { background: #2a9d8f; height: 100%; }
"""


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _number(value, scale: float = 1.0, digits: int = 1) -> str:
    if value is None:
        return ''
    try:
        return f'{float(value) * scale:.{digits}f}'
    except (TypeError, ValueError):
        return _esc(value)


def _table(headers, rows, text_columns=(0,)) -> str:
    head = ''.join(f'<th class="{"text" if i in text_columns else ""}">{_esc(h)}</th>' for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = ''.join(
            f'<td class="{"text" if i in text_columns else ""}">{cell}</td>' for i, cell in enumerate(row)
        )  # cells are already escaped HTML
        body.append(f'<tr>{cells}</tr>')
    return f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _json_block(value) -> str:
    return f'<pre>{_esc(json.dumps(value, indent=2, sort_keys=True, default=str))}</pre>'


def _settings(data) -> str:
    settings = data.get('settings') or {}
    if not settings:
        return '<p class="muted">No inputs recorded.</p>'
    scalars = [(key, value) for key, value in sorted(settings.items()) if not isinstance(value, dict)]
    nested = [(key, value) for key, value in sorted(settings.items()) if isinstance(value, dict)]
    parts = [_table(['input', 'value'], [[_esc(k), _esc(v)] for k, v in scalars], text_columns=(0, 1))]
    for key, value in nested:  # collapsed by default (no script needed)
        parts.append(f'<details><summary>{_esc(key)}</summary>{_json_block(value)}</details>')
    return ''.join(parts)


def _budget(data) -> str:
    budget = data.get('budget') or {}
    run = data.get('run') or {}
    used, total = budget.get('reference_evaluations', 0), budget.get('budget') or 0
    fraction = min(1.0, used / total) if total else 0.0
    state = _esc(run.get('state'))
    if run.get('exit_status') not in (None, 0):
        state += f' <span class="bad">[{_esc(run.get("exit_status"))}] {_esc(run.get("exit_message") or "")}</span>'
    elif run.get('exit_status') == 0:
        state += ' <span class="ok">[0]</span>'
    return (
        f'<p>Reference evaluations used: <b>{used}</b> of {total} ({100 * fraction:.0f} %), '
        f'in {budget.get("iterations", 0)} iteration(s). State: {state}.</p>'
        f'<div class="bar"><div style="width:{100 * fraction:.1f}%"></div></div>'
    )


def _iterations(data) -> str:
    rows = data.get('iterations') or []
    status = {row['label']: row for row in data.get('status_rows') or []}
    if not rows and not status:
        return '<p class="muted">No iteration finished.</p>'
    phases = sorted({name for row in rows for name in (row.get('phase_errors') or {})})
    headers = ['iteration', 'evaluations', 'database', 'train E (meV/at)', 'train F (eV/Å)', 'pred. E (meV/at)',
               'pred. count', 'state'] + [f'{name} (meV/at)' for name in phases]  # fmt: skip
    table = []
    seen = set()
    for row in rows:
        label = f'iteration_{int(row["iteration"]):02d}'
        seen.add(label)
        state = status.get(label, {})
        cells = [
            _esc(label),
            _esc(row.get('reference_evaluations', '')),
            _esc(row.get('database_size', '')),
            _number(row.get('training_energy_rmse'), 1000.0),
            _number(row.get('training_forces_rmse'), 1.0, 3),
            _number(row.get('prediction_energy_rmse'), 1000.0),
            _esc(row.get('prediction_count', '')),
            _esc(f'{state.get("state", "")} <{state.get("pk", "")}>' if state else ''),
        ]
        for name in phases:
            error = (row.get('phase_errors') or {}).get(name)
            if error is None:
                cells.append('')
            elif abs(error) < 1e-3:
                cells.append(f'<span class="ok">{_number(error, 1000.0, 2)}</span>')
            else:
                cells.append(_number(error, 1000.0, 1))
        table.append(cells)
    for label, state in sorted(status.items()):
        if label not in seen:
            evaluations, size = state.get('reference_evaluations', ''), state.get('database_size', '')
            final = _esc(f'{state.get("state")} [{state.get("exit_status")}]')
            table.append([_esc(label), _esc(evaluations), _esc(size), '', '', '', '', final] + [''] * len(phases))
    note = '<p class="muted">Errors below 1 meV/atom (green) count as converged.</p>' if phases else ''
    return _table(headers, table, text_columns=(0, 7)) + note


def _validation(data) -> str:
    errors = data.get('phase_errors')
    if not errors:
        return '<p class="muted">No validation on known phases in this run (enable the `validation` inputs).</p>'
    rows = []
    for name, row in errors['phases'].items():
        shown = '<span class="ok">&lt; 1 (converged)</span>' if row.get('converged') else _number(row['error'], 1e3)
        rows.append([
            _esc(name), _number(row['potential'], 1, 4), _number(row['reference'], 1, 4), shown,
            _number(row.get('relative_error'), 1e3), _number(row.get('potential_volume_per_atom'), 1, 2),
            _number(row.get('reference_volume_per_atom'), 1, 2), _number(row.get('potential_b0'), 1, 0),
            _number(row.get('reference_b0'), 1, 0),
        ])  # fmt: skip
    headers = ['phase', 'E pot (eV/at)', 'E ref (eV/at)', 'error (meV/at)', f'rel. to {errors["ground_state"]}',
               'V pot (Å³/at)', 'V ref (Å³/at)', 'B0 pot (GPa)', 'B0 ref (GPa)']  # fmt: skip
    summary = (
        f'<p>Largest |error| {1000 * errors["max_abs_error"]:.1f} meV/atom, mean {1000 * errors["mean_abs_error"]:.1f}'
        f' meV/atom; each phase relaxed with its own method (variable cell, 0 GPa).</p>'
    )
    return summary + _table(headers, rows)


def _plots(data) -> str:
    plots = data.get('plots') or {}
    if not plots:
        return '<p class="muted">No plots in this run.</p>'
    names = [name for name in PLOT_ORDER if name in plots] + sorted(set(plots) - set(PLOT_ORDER))
    figures = []
    for name in names:
        caption = PLOT_CAPTIONS.get(name, name.replace('_', ' '))
        figures.append(
            f'<figure id="plot-{_esc(name)}"><img alt="{_esc(name)}" src="data:image/png;base64,{plots[name]}">'
            f'<figcaption><b>{_esc(name.replace("_", " "))}</b>. {_esc(caption)}</figcaption></figure>'
        )
    return ''.join(figures)


def _exclusions(data) -> str:
    rows = data.get('exclusions') or []
    if not rows:
        return '<p class="ok">No reference calculation was excluded.</p>'
    table = [[_esc(row.get('iteration', '')), _esc(row.get('index', '')), _esc(row.get('pk', '')),
              _esc(row.get('exit_status', '')), _esc(row.get('message', ''))] for row in rows]  # fmt: skip
    return f'<p>{len(rows)} excluded.</p>' + _table(['iteration', 'index', 'pk', 'exit status', 'message'], table,
                                                     text_columns=(4,))  # fmt: skip


def _lineage(data) -> str:
    info = data.get('lineage')
    if not info:
        return '<p class="muted">The run has no final potential.</p>'
    potential = info.get('potential', {})
    training = info.get('training_set') or {}
    run = info.get('run') or {}
    rows = [
        ['potential', _esc(f'GapPotential<{potential.get("pk")}> sha256 {potential.get("sha256")}')],
        ['run / iteration', _esc(f'{run.get("pk", "")} / {(info.get("iteration") or {}).get("label", "")}')],
        [
            'training set',
            _esc(
                f'StructureSet<{training.get("pk", "")}> {training.get("num_structures", "")} '
                f'structures, sha256 {training.get("sha256", "")}'
            ),
        ],  # fmt: skip
        ['reference engine', _esc((info.get('reference') or {}).get('engine', ''))],
    ]
    full = f'<details><summary>full lineage (JSON)</summary>{_json_block(info)}</details>'
    return _table(['', ''], rows, text_columns=(0, 1)) + full


def render_report(data: dict) -> str:
    """The HTML page of :func:`collect_report`'s data (every section of :data:`SECTIONS`, even if empty)."""
    run = data.get('run') or {}
    builders = {
        'settings': _settings,
        'budget': _budget,
        'iterations': _iterations,
        'validation': _validation,
        'plots': _plots,
        'exclusions': _exclusions,
        'lineage': _lineage,
    }
    nav = ''.join(f'<a href="#{key}">{_esc(title)}</a>' for key, title in SECTIONS.items())
    sections = ''.join(
        f'<section id="{key}"><h2>{_esc(title)}</h2>{builders[key](data)}</section>' for key, title in SECTIONS.items()
    )
    subtitle = (
        f'{_esc(run.get("process", "GapRssWorkChain"))}&lt;{_esc(run.get("pk", ""))}&gt; · element '
        f'{_esc(run.get("element", ""))} · created {_esc(run.get("created", ""))} · report generated '
        f'{_esc(data.get("generated", ""))} · uuid {_esc(run.get("uuid", ""))}'
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<title>{_esc(data.get("title", "GAP-RSS run"))}</title><style>{_CSS}</style></head><body>'
        f'<header><h1>{_esc(data.get("title", "GAP-RSS run"))}</h1><p>{subtitle}</p></header>'
        f'<nav>{nav}</nav><main>{sections}</main></body></html>\n'
    )


def write_report(node, path) -> int:
    """Write the report of the run ``node`` to ``path``; returns the number of bytes written."""
    import pathlib

    text = render_report(collect_report(node))
    path = pathlib.Path(path)
    path.write_text(text, encoding='utf-8')
    return len(text.encode('utf-8'))
