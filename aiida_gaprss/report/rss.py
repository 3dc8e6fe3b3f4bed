"""The HTML report of a GAP-RSS run (``gaprss report PK``): every plot inline, no external files.

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

import datetime

from .html import esc, json_block, lineage_section, number, page, plot_b64, state_text, table, write_page

__all__ = ('PLOT_CAPTIONS', 'PLOT_ORDER', 'SECTIONS', 'collect_report', 'render_report', 'write_report')

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
PLOT_ORDER = ('learning_curve', 'energy_volume', 'formation_energies', 'energy_scatter', 'structure_map')
PLOT_CAPTIONS = {
    'learning_curve': 'Learning curve: training and prediction RMSE and the error of every known phase (each relaxed '
    'with its own method) against the number of reference evaluations; dotted line 1 meV/atom.',
    'energy_volume': 'Energy–volume curves of the known phases with the final potential (solid) and the reference '
    '(dashed), each relaxed at fixed volume around its own minimum.',
    'energy_scatter': 'Energy of the structures added in each iteration predicted by the previous potential against '
    'the reference energy (iteration 0 has no previous potential).',
    'structure_map': 'KPCA map of the database (averaged SOAP n = l = 16, σ 0.1 r0, r_cut 2.5 r0, cells rescaled to '
    'shortest bond r0 = 1 Å), coloured by mean coordination (by composition for several elements); known phases of '
    'an element marked.',
    'formation_energies': 'Formation energies per atom of the known phases of the chemical system against '
    'composition, with the final potential (filled) and the reference (open), each side against its own elemental '
    'ground states, and their hulls.',
}


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
    from aiida_gaprss.provenance import lineage, run_status, run_system

    outputs = node.outputs
    status = run_status(node)
    data = {
        'title': f'GAP-RSS run {node.pk}',
        'run': {
            'pk': node.pk,
            'uuid': node.uuid,
            'element': run_system(node),
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
        data['plots'][name] = plot_b64(link.node)
    return data


def _settings(data) -> str:
    settings = data.get('settings') or {}
    if not settings:
        return '<p class="muted">No inputs recorded.</p>'
    scalars = [(key, value) for key, value in sorted(settings.items()) if not isinstance(value, dict)]
    nested = [(key, value) for key, value in sorted(settings.items()) if isinstance(value, dict)]
    parts = [table(['input', 'value'], [[esc(k), esc(v)] for k, v in scalars], text_columns=(0, 1))]
    for key, value in nested:  # collapsed by default (no script needed)
        parts.append(f'<details><summary>{esc(key)}</summary>{json_block(value)}</details>')
    return ''.join(parts)


def _budget(data) -> str:
    budget = data.get('budget') or {}
    run = data.get('run') or {}
    used, total = budget.get('reference_evaluations', 0), budget.get('budget') or 0
    fraction = min(1.0, used / total) if total else 0.0
    state = state_text({'state': None, **run})  # a run without a state shows None
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
    body = []
    seen = set()
    for row in rows:
        label = f'iteration_{int(row["iteration"]):02d}'
        seen.add(label)
        state = status.get(label, {})
        cells = [
            esc(label),
            esc(row.get('reference_evaluations', '')),
            esc(row.get('database_size', '')),
            number(row.get('training_energy_rmse'), 1000.0),
            number(row.get('training_forces_rmse'), 1.0, 3),
            number(row.get('prediction_energy_rmse'), 1000.0),
            esc(row.get('prediction_count', '')),
            esc(f'{state.get("state", "")} <{state.get("pk", "")}>' if state else ''),
        ]
        for name in phases:
            error = (row.get('phase_errors') or {}).get(name)
            if error is None:
                cells.append('')
            elif abs(error) < 1e-3:
                cells.append(f'<span class="ok">{number(error, 1000.0, 2)}</span>')
            else:
                cells.append(number(error, 1000.0, 1))
        body.append(cells)
    for label, state in sorted(status.items()):
        if label not in seen:
            evaluations, size = state.get('reference_evaluations', ''), state.get('database_size', '')
            final = esc(f'{state.get("state")} [{state.get("exit_status")}]')
            body.append([esc(label), esc(evaluations), esc(size), '', '', '', '', final] + [''] * len(phases))
    note = '<p class="muted">Errors below 1 meV/atom (green) count as converged.</p>' if phases else ''
    return table(headers, body, text_columns=(0, 7)) + note


def _validation(data) -> str:
    errors = data.get('phase_errors')
    if not errors:
        return '<p class="muted">No validation on known phases in this run (enable the `validation` inputs).</p>'
    rows = []
    for name, row in errors['phases'].items():
        shown = '<span class="ok">&lt; 1 (converged)</span>' if row.get('converged') else number(row['error'], 1e3)
        rows.append([
            esc(name), number(row['potential'], 1, 4), number(row['reference'], 1, 4), shown,
            number(row.get('relative_error'), 1e3), number(row.get('potential_volume_per_atom'), 1, 2),
            number(row.get('reference_volume_per_atom'), 1, 2), number(row.get('potential_b0'), 1, 0),
            number(row.get('reference_b0'), 1, 0),
        ])  # fmt: skip
    headers = ['phase', 'E pot (eV/at)', 'E ref (eV/at)', 'error (meV/at)', f'rel. to {errors["ground_state"]}',
               'V pot (Å³/at)', 'V ref (Å³/at)', 'B0 pot (GPa)', 'B0 ref (GPa)']  # fmt: skip
    summary = (
        f'<p>Largest |error| {1000 * errors["max_abs_error"]:.1f} meV/atom, mean {1000 * errors["mean_abs_error"]:.1f}'
        f' meV/atom; each phase relaxed with its own method (variable cell, 0 GPa).</p>'
    )
    return summary + table(headers, rows)


def _plots(data) -> str:
    plots = data.get('plots') or {}
    if not plots:
        return '<p class="muted">No plots in this run.</p>'
    names = [name for name in PLOT_ORDER if name in plots] + sorted(set(plots) - set(PLOT_ORDER))
    figures = []
    for name in names:
        caption = PLOT_CAPTIONS.get(name, name.replace('_', ' '))
        figures.append(
            f'<figure id="plot-{esc(name)}"><img alt="{esc(name)}" src="data:image/png;base64,{plots[name]}">'
            f'<figcaption><b>{esc(name.replace("_", " "))}</b>. {esc(caption)}</figcaption></figure>'
        )
    return ''.join(figures)


def _exclusions(data) -> str:
    rows = data.get('exclusions') or []
    if not rows:
        return '<p class="ok">No reference calculation was excluded.</p>'
    body = [[esc(row.get('iteration', '')), esc(row.get('index', '')), esc(row.get('pk', '')),
             esc(row.get('exit_status', '')), esc(row.get('message', ''))] for row in rows]  # fmt: skip
    headers = ['iteration', 'index', 'pk', 'exit status', 'message']
    return f'<p>{len(rows)} excluded.</p>' + table(headers, body, text_columns=(4,))


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
        'lineage': lineage_section,
    }
    subtitle = (
        f'{esc(run.get("process", "GapRssWorkChain"))}&lt;{esc(run.get("pk", ""))}&gt; · element '
        f'{esc(run.get("element", ""))} · created {esc(run.get("created", ""))} · report generated '
        f'{esc(data.get("generated", ""))} · uuid {esc(run.get("uuid", ""))}'
    )
    return page(data.get('title', 'GAP-RSS run'), subtitle, SECTIONS, builders, data)


def write_report(node, path) -> int:
    """Write the report of the run ``node`` to ``path``; returns the number of bytes written."""
    return write_page(render_report(collect_report(node)), path)
