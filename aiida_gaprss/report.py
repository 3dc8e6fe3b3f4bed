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

Indirect learning (seed 003) has its own page (:data:`INDIRECT_SECTIONS`): :func:`indirect_report_data` builds its
data from the ``gaprss.student_validation`` report Dict and plot nodes alone (no database access, so a workchain can
render it from its outputs), :func:`collect_indirect_report` reads an ``IndirectLearningWorkChain`` or a
``StudentValidation`` node, :func:`render_indirect_report` draws the page (overview, students' levels and cost, errors
vs the teacher, the melt–quench table, the similarity summary, plots, failures, the teacher's lineage).
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import logging

__all__ = (
    'INDIRECT_SECTIONS',
    'SECTIONS',
    'collect_indirect_report',
    'collect_report',
    'indirect_report_data',
    'render_indirect_report',
    'render_report',
    'write_indirect_report',
    'write_report',
)

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


# ------------------------------------------------------------------------------------------------ indirect learning

#: Section ids and headings of the indirect-learning page (:func:`render_indirect_report`), in order.
INDIRECT_SECTIONS = {
    'overview': 'Overview',
    'students': 'Students: level and cost',
    'errors': 'Numerical validation: errors vs the teacher',
    'levels': 'Levels over fit seeds: indirect and direct',
    'melt_quench': 'Melt–quench (Table I)',
    'similarity': 'Compression: similarity to sh Si (Fig. 4)',
    'plots': 'Plots',
    'failures': 'Failures',
    'lineage': 'Lineage of the teacher',
}
INDIRECT_PLOT_ORDER = ('error_vs_cost', 'similarity')
INDIRECT_PLOT_CAPTIONS = {
    'error_vs_cost': 'Energy and force MAE of each student against the teacher labels of each test set, against the '
    'cost per MD step per atom relative to the teacher measured in the same job (Morrow & Deringer Fig. 3).',
    'similarity': 'Average SOAP similarity to simple-hexagonal Si relaxed with the teacher at the snapshot pressure, '
    'during compression from the same start; differences to the teacher underneath; * marks a failed run (Fig. 4).',
}
#: GAP-18 row of the paper's Table I (100,000 atoms, 10^11 K/s), shown for orientation.
PAPER_TABLE_ONE = {'N3': 0.0070, 'N5': 0.0095, 'H_inv': 0.564, 'bond_angle_mean': 109.17, 'bond_angle_width': 9.99,
                   'delta_e': 0.145}  # fmt: skip


def _plot_b64(value) -> str:
    """Base64 of PNG bytes, of a SinglefileData, or a string already in base64."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode('ascii')
    return base64.b64encode(value.get_content(mode='rb')).decode('ascii')


def indirect_report_data(
    validation: dict,
    plots=None,
    *,
    students: dict | None = None,
    fit_report: dict | None = None,
    lineage: dict | None = None,
    run: dict | None = None,
    title: str | None = None,
) -> dict:
    """Plain data of the indirect-learning page, from the validation job's outputs (no database access).

    Parameters
    ----------
    validation : dict
        The ``report`` Dict of ``gaprss.student_validation`` (the workchain's ``validation_report``).
    plots : mapping name -> PNG bytes, SinglefileData or base64 str, optional
        The ``plots`` outputs (``error_vs_cost``, ``similarity``).
    students : mapping key -> dict, optional
        Per student: ``level``, ``num_parameters``, ``training_errors``, ``pk``, ``sha256`` (node attributes).
    fit_report : dict, optional
        The workchain's ``fit_report`` (per level: training and test errors, fit time).
    lineage : dict, optional
        :func:`aiida_gaprss.provenance.lineage` of the teacher.
    run : dict, optional
        ``pk``, ``uuid``, ``process``, ``state``, ``exit_status``, ``exit_message``, ``created``.
    """
    return {
        'title': title or (f'Indirect learning run {run["pk"]}' if run and run.get('pk') else 'Indirect learning'),
        'run': run or {},
        'validation': dict(validation or {}),
        'students': dict(students or {}),
        'fit_report': dict(fit_report or {}),
        'plots': {name: _plot_b64(value) for name, value in (plots or {}).items()},
        'lineage': lineage,
        'generated': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
    }


def _student_keys(data) -> list[str]:
    validation = data.get('validation') or {}
    keys = list((validation.get('students') or {}).keys()) or list(data.get('students') or {})

    def level(key):
        value = ((validation.get('students') or {}).get(key) or {}).get('level')
        return (value if value is not None else 1e9, key)

    return sorted(keys, key=level)


def _label(data, key) -> str:
    return ((data.get('validation') or {}).get('labels') or {}).get(key, key)


def _indirect_overview(data) -> str:
    validation = data.get('validation') or {}
    run = data.get('run') or {}
    protocol = validation.get('protocol') or {}
    state = _esc(run.get('state', ''))
    if run.get('exit_status') not in (None, 0):
        state += f' <span class="bad">[{_esc(run.get("exit_status"))}] {_esc(run.get("exit_message") or "")}</span>'
    elif run.get('exit_status') == 0:
        state += ' <span class="ok">[0]</span>'
    rows = [
        ['run', _esc(f'{run.get("process", "")}<{run.get("pk", "")}>') + (f' {state}' if state else '')],
        ['checks', _esc(', '.join(validation.get('checks') or []))],
        ['students', _esc(', '.join(_label(data, key) for key in _student_keys(data)))],
        ['test sets', _esc(', '.join(f'{k} ({v})' for k, v in (validation.get('test_sets') or {}).items()))],
        ['MD protocol', _esc(f'{protocol.get("natoms", "")} atoms, time step {protocol.get("timestep_fs", "")} fs, '
                             f'barostat {protocol.get("barostat", "")}') if protocol else ''],
        ['seed', _esc(validation.get('seed', ''))],
        ['failures', _esc(len(validation.get('failures') or []))],
    ]  # fmt: skip
    return _table(['', ''], rows, text_columns=(0, 1))


def _indirect_students(data) -> str:
    validation = data.get('validation') or {}
    costs = (validation.get('cost') or {}).get('calculators') or {}
    cell = (validation.get('cost') or {}).get('cell') or {}
    nodes = data.get('students') or {}
    rows = []
    for key in ['teacher', *_student_keys(data)]:
        node = nodes.get(key) or {}
        cost = costs.get(key) or {}
        relative = cost.get('relative')
        training = node.get('training_errors') or {}
        rows.append([
            _esc(_label(data, key)), _esc(((validation.get('students') or {}).get(key) or {}).get('level', '')),
            _esc(node.get('num_parameters', '')), _number(training.get('energy_rmse'), 1e3, 2),
            _number(cost.get('seconds_per_atom_step'), 1e6, 1), _number(relative, 1, 4),
            _number(1.0 / relative, 1, 1) if relative else '',
        ])  # fmt: skip
    headers = ['model', 'level', 'parameters', 'train E RMSE (meV/at)', 'cost (µs/atom/step)', 'cost / teacher',
               'speed-up']  # fmt: skip
    note = (
        f'<p class="muted">Cost: velocity-Verlet steps on one {_esc(cell.get("kind", ""))} cell of '
        f'{_esc(cell.get("natoms", ""))} atoms, best of {_esc(cell.get("repeats", ""))} rounds alternating the models, '
        'same job (one core).</p>'
        if cell
        else '<p class="muted">No cost measured.</p>'
    )
    return _table(headers, rows) + note


def _indirect_errors(data) -> str:
    errors = (data.get('validation') or {}).get('errors') or {}
    if not errors:
        return '<p class="muted">No numerical validation in this run.</p>'
    rows = []
    for key in _student_keys(data):
        for name, row in sorted((errors.get(key) or {}).items()):
            rows.append([
                _esc(_label(data, key)), _esc(name), _esc(row.get('num_structures', '')),
                _number(row.get('energy_mae'), 1e3, 2), _number(row.get('energy_rmse'), 1e3, 2),
                _number(row.get('force_mae'), 1, 3), _number(row.get('force_rmse'), 1, 3),
            ])  # fmt: skip
    headers = ['student', 'test set', 'structures', 'E MAE (meV/at)', 'E RMSE (meV/at)', 'F MAE (eV/Å)',
               'F RMSE (eV/Å)']  # fmt: skip
    return _table(headers, rows, text_columns=(0, 1))


def _range(entry: dict | None, scale: float, digits: int) -> str:
    if not entry:
        return ''
    return (f'{_number(entry.get("mean"), scale, digits)} '
            f'<span class="muted">[{_number(entry.get("min"), scale, digits)}–'
            f'{_number(entry.get("max"), scale, digits)}]</span>')  # fmt: skip


def _indirect_levels(data) -> str:
    from aiida_gaprss.jobs.student_validation import group_label

    summary = (data.get('fit_report') or {}).get('summary') or {}
    if not summary:
        return '<p class="muted">No summary of the fits in this run.</p>'
    stability = (data.get('validation') or {}).get('stability') or {}
    test_sets = sorted({name for entry in summary.values() for name in entry.get('test_errors', {})})
    rows = []
    for entry in sorted(summary.values(), key=lambda entry: (entry['level'], entry['family'])):
        label = group_label(entry['family'], entry['level'])
        stable = stability.get(label) or {}
        done = []
        for check in ('melt_quench', 'compression'):
            if stable.get(f'{check}_completed') is not None:
                done.append(f'{stable[f"{check}_completed"]}/{stable["students"]}')
            else:
                done.append('')
        errors = entry.get('test_errors') or {}
        rows.append([
            _esc(label), _esc(entry['family']), _esc(', '.join(str(seed) for seed in entry.get('seeds', []))),
            _esc(f'{entry.get("converged", 0)}/{len(entry.get("seeds", []))}'), _number(entry.get('fit_time'), 1, 0),
            *[_range((errors.get(test_set) or {}).get('energy_mae'), 1e3, 1) for test_set in test_sets],
            *[_range((errors.get(test_set) or {}).get('force_mae'), 1, 3) for test_set in test_sets],
            *done,
        ])  # fmt: skip
    headers = ['level', 'family', 'fit seeds', 'converged', 'fit time (s)',
               *[f'E MAE {name} (meV/at)' for name in test_sets], *[f'F MAE {name} (eV/Å)' for name in test_sets],
               'melt–quench completed', 'compression completed']  # fmt: skip
    note = (
        '<p class="muted">Mean over the fit seeds, [smallest–largest]. <b>indirect</b>: fitted to teacher labels; '
        "<b>direct</b>: the same level fitted to the reference labels of the teacher's training set (the paper's "
        'baseline). Test sets are labelled by the teacher, except <code>rss_reference</code>, labelled by the '
        'reference method: there the errors are against DFT. Converged: the fit stopped because its loss no longer '
        'fell, not at the iteration cap.</p>'
    )
    return _table(headers, rows, text_columns=(0, 1, 2)) + note


def _indirect_melt_quench(data) -> str:
    metrics = (data.get('validation') or {}).get('melt_quench') or {}
    if not metrics:
        return '<p class="muted">No melt–quench in this run.</p>'
    headers = ['model', 'N3 (%)', 'N5 (%)', 'H⁻¹', 'θ̄ (deg)', 'Δθ (deg)', 'ΔE (meV/at)', 'V (Å³/at)', 'atoms',
               'relaxed']  # fmt: skip
    rows = []
    for key in ['teacher', *_student_keys(data)]:
        row = metrics.get(key)
        if row is None:
            continue
        if 'error' in row and 'N3' not in row:
            rows.append([_esc(_label(data, key)), f'<span class="bad">failed: {_esc(row["error"])}</span>'] + [''] * 8)
            continue
        relaxed = 'yes' if row.get('relaxed') and row.get('relax_converged') else ('not converged' if row.get(
            'relaxed') else 'no')  # fmt: skip
        rows.append([
            _esc(_label(data, key)), _number(row.get('N3'), 100, 2), _number(row.get('N5'), 100, 2),
            _number(row.get('H_inv'), 1, 3), _number(row.get('bond_angle_mean'), 1, 2),
            _number(row.get('bond_angle_width'), 1, 2), _number(row.get('delta_e'), 1e3, 1),
            _number(row.get('volume_per_atom'), 1, 2), _esc(row.get('natoms', '')), _esc(relaxed),
        ])  # fmt: skip
    paper = PAPER_TABLE_ONE
    rows.append([
        '<span class="muted">GAP-18 (paper, 100,000 atoms)</span>', _number(paper['N3'], 100, 2),
        _number(paper['N5'], 100, 2), _number(paper['H_inv'], 1, 3), _number(paper['bond_angle_mean'], 1, 2),
        _number(paper['bond_angle_width'], 1, 2), _number(paper['delta_e'], 1e3, 0), '', '100000', '',
    ])  # fmt: skip
    note = (
        '<p class="muted">N3, N5: fractions of 3- and 5-fold coordinated atoms (cut-off 2.85 Å); H⁻¹: inverse height '
        'of the first sharp diffraction peak of S(Q); θ̄, Δθ: mean and width of the bond-angle distribution; ΔE: '
        'energy per atom of the relaxed quenched cell above diamond relaxed with the same model. Small cells and '
        'fast quenches give more defects than the paper’s 100,000-atom models.</p>'
    )
    return _table(headers, rows) + note


def _indirect_similarity(data) -> str:
    compression = (data.get('validation') or {}).get('compression') or {}
    curves = compression.get('curves') or {}
    if not curves:
        return '<p class="muted">No compression in this run.</p>'
    reference = compression.get('reference') or {}
    rows = []
    for key in ['teacher', *_student_keys(data)]:
        curve = curves.get(key)
        if curve is None:
            continue
        pressures, similarity = curve.get('pressure') or [], curve.get('similarity') or []
        failed = curve.get('failed_at')
        if failed is None:
            state = '<span class="ok">completed</span>'
        else:
            where = failed if not isinstance(failed, dict) else (
                f'step {failed.get("step")}, target {_number(failed.get("pressure_target"), 1, 1)} GPa')  # fmt: skip
            state = f'<span class="bad">failed at {_esc(where)} {_esc(curve.get("error") or "")}</span>'
        rows.append([
            _esc(_label(data, key)), _esc(len(similarity)),
            _esc(f'{min(pressures):.1f} – {max(pressures):.1f}') if pressures else '',
            _number(similarity[0], 1, 3) if similarity else '', _number(similarity[-1], 1, 3) if similarity else '',
            _number(curve.get('transition_pressure'), 1, 1), _number(curve.get('mean_abs_difference'), 1, 3), state,
        ])  # fmt: skip
    headers = ['model', 'snapshots', 'pressure (GPa)', 'first similarity', 'last similarity', 'transition (GPa)',
               'mean |Δ| to teacher', 'run']  # fmt: skip
    note = (
        f'<p class="muted">Reference: {_esc(reference.get("phase", "sh"))} Si relaxed with the '
        f'{_esc(reference.get("relaxed_with", "teacher"))} (symmetry kept) at {_esc(reference.get("pressures", ""))} '
        f'GPa, interpolated to each snapshot’s pressure; start: {_esc(compression.get("start", ""))}.</p>'
    )
    return _table(headers, rows, text_columns=(0, 7)) + note


def _indirect_plots(data) -> str:
    plots = data.get('plots') or {}
    if not plots:
        return '<p class="muted">No plots in this run.</p>'
    names = [name for name in INDIRECT_PLOT_ORDER if name in plots] + sorted(set(plots) - set(INDIRECT_PLOT_ORDER))
    wide = {'error_vs_cost': ' style="width:1040px"'}  # two panels side by side
    return ''.join(
        f'<figure id="plot-{_esc(name)}"{wide.get(name, "")}><img alt="{_esc(name)}" '
        f'src="data:image/png;base64,{plots[name]}">'
        f'<figcaption><b>{_esc(name.replace("_", " "))}</b>. {_esc(INDIRECT_PLOT_CAPTIONS.get(name, ""))}'
        '</figcaption></figure>'
        for name in names
    )


def _indirect_failures(data) -> str:
    failures = (data.get('validation') or {}).get('failures') or []
    if not failures:
        return '<p class="ok">No check failed.</p>'
    rows = [[_esc(row.get('who', '')), _esc(row.get('check', '')), _esc(row.get('test_set', '')),
             _esc(row.get('error', ''))] for row in failures]  # fmt: skip
    return _table(['who', 'check', 'test set', 'error'], rows, text_columns=(0, 1, 2, 3))


def render_indirect_report(data: dict) -> str:
    """The HTML page of :func:`indirect_report_data` (every section of :data:`INDIRECT_SECTIONS`, even if empty)."""
    builders = {
        'overview': _indirect_overview,
        'students': _indirect_students,
        'errors': _indirect_errors,
        'levels': _indirect_levels,
        'melt_quench': _indirect_melt_quench,
        'similarity': _indirect_similarity,
        'plots': _indirect_plots,
        'failures': _indirect_failures,
        'lineage': lambda data: _lineage(data) if data.get('lineage') else '<p class="muted">No teacher recorded.</p>',
    }
    run = data.get('run') or {}
    nav = ''.join(f'<a href="#{key}">{_esc(title)}</a>' for key, title in INDIRECT_SECTIONS.items())
    sections = ''.join(
        f'<section id="{key}"><h2>{_esc(title)}</h2>{builders[key](data)}</section>'
        for key, title in INDIRECT_SECTIONS.items()
    )
    subtitle = (
        f'{_esc(run.get("process", "IndirectLearningWorkChain"))}&lt;{_esc(run.get("pk", ""))}&gt; · created '
        f'{_esc(run.get("created", ""))} · report generated {_esc(data.get("generated", ""))} · uuid '
        f'{_esc(run.get("uuid", ""))}'
    )
    title = data.get('title', 'Indirect learning')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<title>{_esc(title)}</title><style>{_CSS}</style></head><body>'
        f'<header><h1>{_esc(title)}</h1><p>{subtitle}</p></header>'
        f'<nav>{nav}</nav><main>{sections}</main></body></html>\n'
    )


def _student_summary(node) -> dict:
    attributes = node.base.attributes
    return {
        'pk': node.pk,
        'level': attributes.get('level', None),
        'num_parameters': attributes.get('num_parameters', None),
        'training_errors': attributes.get('training_errors', {}),
        'sha256': attributes.get('sha256', None),
    }


def collect_indirect_report(node) -> dict:
    """:func:`indirect_report_data` of an ``IndirectLearningWorkChain`` or a ``StudentValidation`` calculation node.

    A workchain gives its ``validation_report``, ``plots``, ``students`` and ``fit_report`` outputs (falling back to
    its last ``gaprss.student_validation`` calculation if the report output is absent); a calculation gives its own
    ``report`` and ``plots`` and its input students.
    """
    from aiida_gaprss.provenance import lineage

    outputs = node.outputs
    validation_node = None
    if node.process_label == 'StudentValidation':
        validation_node = node
    elif 'validation_report' not in outputs:
        calcs = [n for n in node.called_descendants if n.process_label == 'StudentValidation']
        validation_node = max(calcs, key=lambda n: n.ctime) if calcs else None
    if validation_node is not None:
        validation = validation_node.outputs.report.get_dict() if 'report' in validation_node.outputs else {}
        plot_source = validation_node
    else:
        validation = outputs.validation_report.get_dict()
        plot_source = node
    plots = {}
    for link in plot_source.base.links.get_outgoing(link_label_filter='plots__%').all():
        plots[link.link_label.split('__', 1)[1]] = link.node
    if 'students' in outputs:
        students = {key: _student_summary(student) for key, student in outputs.students.items()}
        students.update({
            f'direct_{key}': _student_summary(student) for key, student in outputs.get('direct_students', {}).items()
        })  # fmt: skip
    elif validation_node is not None and 'students' in validation_node.inputs:
        students = {key: _student_summary(student) for key, student in validation_node.inputs.students.items()}
    else:
        students = {}
    teacher = node.inputs.teacher if 'teacher' in node.inputs else None
    run = {
        'pk': node.pk,
        'uuid': node.uuid,
        'process': node.process_label,
        'state': node.process_state.value if node.process_state else '',
        'exit_status': node.exit_status,
        'exit_message': node.exit_message,
        'created': node.ctime.isoformat(timespec='seconds'),
    }
    return indirect_report_data(
        validation,
        plots,
        students=students,
        fit_report=outputs.fit_report.get_dict() if 'fit_report' in outputs else None,
        lineage=lineage(teacher) if teacher is not None else None,
        run=run,
    )


def write_indirect_report(node, path) -> int:
    """Write the indirect-learning report of ``node`` to ``path``; returns the number of bytes written."""
    import pathlib

    text = render_indirect_report(collect_indirect_report(node))
    path = pathlib.Path(path)
    path.write_text(text, encoding='utf-8')
    return len(text.encode('utf-8'))
