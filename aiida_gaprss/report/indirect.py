"""The HTML report of indirect learning (seed 003): students, errors against the teacher, Table I, Fig. 4.

:func:`indirect_report_data` builds its data from the ``gaprss.student_validation`` report Dict and plot nodes alone (no
database access, so a workchain can render it from its outputs), :func:`collect_indirect_report` reads an
``IndirectLearningWorkChain`` or a ``StudentValidation`` node, :func:`render_indirect_report` draws the page
(:data:`INDIRECT_SECTIONS`: overview, students' levels and cost, errors vs the teacher, the melt–quench table, the
similarity summary, plots, failures, the teacher's lineage).
"""

from __future__ import annotations

import datetime

from aiida_gaprss.jobs.student_validation import group_label

from .html import esc, lineage_section, number, page, plot_b64, state_text, table, value_range, write_page

__all__ = (
    'INDIRECT_PLOT_CAPTIONS',
    'INDIRECT_PLOT_ORDER',
    'INDIRECT_SECTIONS',
    'PAPER_TABLE_ONE',
    'collect_indirect_report',
    'indirect_report_data',
    'render_indirect_report',
    'write_indirect_report',
)

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
        'plots': {name: plot_b64(value) for name, value in (plots or {}).items()},
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
    state = state_text(run)
    rows = [
        ['run', esc(f'{run.get("process", "")}<{run.get("pk", "")}>') + (f' {state}' if state else '')],
        ['checks', esc(', '.join(validation.get('checks') or []))],
        ['students', esc(', '.join(_label(data, key) for key in _student_keys(data)))],
        ['test sets', esc(', '.join(f'{k} ({v})' for k, v in (validation.get('test_sets') or {}).items()))],
        ['MD protocol', esc(f'{protocol.get("natoms", "")} atoms, time step {protocol.get("timestep_fs", "")} fs, '
                             f'barostat {protocol.get("barostat", "")}') if protocol else ''],
        ['seed', esc(validation.get('seed', ''))],
        ['failures', esc(len(validation.get('failures') or []))],
    ]  # fmt: skip
    return table(['', ''], rows, text_columns=(0, 1))


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
            esc(_label(data, key)), esc(((validation.get('students') or {}).get(key) or {}).get('level', '')),
            esc(node.get('num_parameters', '')), number(training.get('energy_rmse'), 1e3, 2),
            number(cost.get('seconds_per_atom_step'), 1e6, 1), number(relative, 1, 4),
            number(1.0 / relative, 1, 1) if relative else '',
        ])  # fmt: skip
    headers = ['model', 'level', 'parameters', 'train E RMSE (meV/at)', 'cost (µs/atom/step)', 'cost / teacher',
               'speed-up']  # fmt: skip
    note = (
        f'<p class="muted">Cost: velocity-Verlet steps on one {esc(cell.get("kind", ""))} cell of '
        f'{esc(cell.get("natoms", ""))} atoms, best of {esc(cell.get("repeats", ""))} rounds alternating the models, '
        'same job (one core).</p>'
        if cell
        else '<p class="muted">No cost measured.</p>'
    )
    return table(headers, rows) + note


def _indirect_errors(data) -> str:
    errors = (data.get('validation') or {}).get('errors') or {}
    if not errors:
        return '<p class="muted">No numerical validation in this run.</p>'
    rows = []
    for key in _student_keys(data):
        for name, row in sorted((errors.get(key) or {}).items()):
            rows.append([
                esc(_label(data, key)), esc(name), esc(row.get('num_structures', '')),
                number(row.get('energy_mae'), 1e3, 2), number(row.get('energy_rmse'), 1e3, 2),
                number(row.get('force_mae'), 1, 3), number(row.get('force_rmse'), 1, 3),
            ])  # fmt: skip
    headers = ['student', 'test set', 'structures', 'E MAE (meV/at)', 'E RMSE (meV/at)', 'F MAE (eV/Å)',
               'F RMSE (eV/Å)']  # fmt: skip
    return table(headers, rows, text_columns=(0, 1))


def _indirect_levels(data) -> str:
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
            esc(label), esc(entry['family']), esc(', '.join(str(seed) for seed in entry.get('seeds', []))),
            esc(f'{entry.get("converged", 0)}/{len(entry.get("seeds", []))}'), number(entry.get('fit_time'), 1, 0),
            *[value_range((errors.get(test_set) or {}).get('energy_mae'), 1e3, 1) for test_set in test_sets],
            *[value_range((errors.get(test_set) or {}).get('force_mae'), 1, 3) for test_set in test_sets],
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
    return table(headers, rows, text_columns=(0, 1, 2)) + note


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
            rows.append([esc(_label(data, key)), f'<span class="bad">failed: {esc(row["error"])}</span>'] + [''] * 8)
            continue
        relaxed = 'yes' if row.get('relaxed') and row.get('relax_converged') else ('not converged' if row.get(
            'relaxed') else 'no')  # fmt: skip
        rows.append([
            esc(_label(data, key)), number(row.get('N3'), 100, 2), number(row.get('N5'), 100, 2),
            number(row.get('H_inv'), 1, 3), number(row.get('bond_angle_mean'), 1, 2),
            number(row.get('bond_angle_width'), 1, 2), number(row.get('delta_e'), 1e3, 1),
            number(row.get('volume_per_atom'), 1, 2), esc(row.get('natoms', '')), esc(relaxed),
        ])  # fmt: skip
    paper = PAPER_TABLE_ONE
    rows.append([
        '<span class="muted">GAP-18 (paper, 100,000 atoms)</span>', number(paper['N3'], 100, 2),
        number(paper['N5'], 100, 2), number(paper['H_inv'], 1, 3), number(paper['bond_angle_mean'], 1, 2),
        number(paper['bond_angle_width'], 1, 2), number(paper['delta_e'], 1e3, 0), '', '100000', '',
    ])  # fmt: skip
    note = (
        '<p class="muted">N3, N5: fractions of 3- and 5-fold coordinated atoms (cut-off 2.85 Å); H⁻¹: inverse height '
        'of the first sharp diffraction peak of S(Q); θ̄, Δθ: mean and width of the bond-angle distribution; ΔE: '
        'energy per atom of the relaxed quenched cell above diamond relaxed with the same model. Small cells and '
        'fast quenches give more defects than the paper’s 100,000-atom models.</p>'
    )
    return table(headers, rows) + note


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
                f'step {failed.get("step")}, target {number(failed.get("pressure_target"), 1, 1)} GPa')  # fmt: skip
            state = f'<span class="bad">failed at {esc(where)} {esc(curve.get("error") or "")}</span>'
        rows.append([
            esc(_label(data, key)), esc(len(similarity)),
            esc(f'{min(pressures):.1f} – {max(pressures):.1f}') if pressures else '',
            number(similarity[0], 1, 3) if similarity else '', number(similarity[-1], 1, 3) if similarity else '',
            number(curve.get('transition_pressure'), 1, 1), number(curve.get('mean_abs_difference'), 1, 3), state,
        ])  # fmt: skip
    headers = ['model', 'snapshots', 'pressure (GPa)', 'first similarity', 'last similarity', 'transition (GPa)',
               'mean |Δ| to teacher', 'run']  # fmt: skip
    note = (
        f'<p class="muted">Reference: {esc(reference.get("phase", "sh"))} Si relaxed with the '
        f'{esc(reference.get("relaxed_with", "teacher"))} (symmetry kept) at {esc(reference.get("pressures", ""))} '
        f'GPa, interpolated to each snapshot’s pressure; start: {esc(compression.get("start", ""))}.</p>'
    )
    return table(headers, rows, text_columns=(0, 7)) + note


def _indirect_plots(data) -> str:
    plots = data.get('plots') or {}
    if not plots:
        return '<p class="muted">No plots in this run.</p>'
    names = [name for name in INDIRECT_PLOT_ORDER if name in plots] + sorted(set(plots) - set(INDIRECT_PLOT_ORDER))
    wide = {'error_vs_cost': ' style="width:1040px"'}  # two panels side by side
    return ''.join(
        f'<figure id="plot-{esc(name)}"{wide.get(name, "")}><img alt="{esc(name)}" '
        f'src="data:image/png;base64,{plots[name]}">'
        f'<figcaption><b>{esc(name.replace("_", " "))}</b>. {esc(INDIRECT_PLOT_CAPTIONS.get(name, ""))}'
        '</figcaption></figure>'
        for name in names
    )


def _indirect_failures(data) -> str:
    failures = (data.get('validation') or {}).get('failures') or []
    if not failures:
        return '<p class="ok">No check failed.</p>'
    rows = [[esc(row.get('who', '')), esc(row.get('check', '')), esc(row.get('test_set', '')),
             esc(row.get('error', ''))] for row in failures]  # fmt: skip
    return table(['who', 'check', 'test set', 'error'], rows, text_columns=(0, 1, 2, 3))


def _teacher_lineage(data) -> str:
    return lineage_section(data) if data.get('lineage') else '<p class="muted">No teacher recorded.</p>'


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
        'lineage': lambda data: (
            lineage_section(data) if data.get('lineage') else '<p class="muted">No teacher recorded.</p>'
        ),
    }
    run = data.get('run') or {}
    subtitle = (
        f'{esc(run.get("process", "IndirectLearningWorkChain"))}&lt;{esc(run.get("pk", ""))}&gt; · created '
        f'{esc(run.get("created", ""))} · report generated {esc(data.get("generated", ""))} · uuid '
        f'{esc(run.get("uuid", ""))}'
    )
    return page(data.get('title', 'Indirect learning'), subtitle, INDIRECT_SECTIONS, builders, data)


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
    return write_page(render_indirect_report(collect_indirect_report(node)), path)
