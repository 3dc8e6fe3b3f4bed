"""The model card (``README.md``) of a shipped potential: a pure function of its metadata and reference settings."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

__all__ = ('reference_summary', 'render_card')

#: What the card says a GAP-RSS potential is for and not for when the evaluation does not say.
DEFAULT_INTENDED_USE = (
    'Structure searches, relaxations and energy rankings of {elements} crystal structures like those the run explored '
    "(random cells of the run's sizes relaxed at low pressures, and their minima).",
    'Energies, volumes and bulk moduli of the known phases listed below, at the accuracy the errors table states.',
    'A teacher for indirect learning of cheaper potentials (gaprss indirect), and a starting point for an extended '
    'fit (the training database ships with it).',
)
DEFAULT_NOT_FOR = (
    'Other elements or compositions than {elements}.',
    'Surfaces, point defects, liquids, amorphous structures or molecular dynamics at high temperature, unless '
    'validated for them: a GAP-RSS database samples bulk minima and relaxation paths, not these.',
    "Pressures far outside those of the run's relaxations, or volumes outside its E–V range.",
    'Anything more accurate than its reference ({functional}): e.g. dispersion, band gaps, or quantitative '
    'phase diagrams beyond the errors stated below.',
)


def _mev(value) -> str:
    return '–' if value is None else f'{value * 1000:+.1f}'


def _num(value, digits: int = 3) -> str:
    return '–' if value is None else f'{value:.{digits}f}'


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ['| ' + ' | '.join(headers) + ' |', '|' + '|'.join('---' for _ in headers) + '|']
    lines += ['| ' + ' | '.join(str(cell) for cell in row) + ' |' for row in rows]
    return lines


def reference_summary(reference: Mapping) -> str:
    """One line saying how the reference labels were computed (engine, code, functional, main settings)."""
    engine = reference.get('engine', '?')
    if engine != 'qe':
        settings = {key: value for key, value in reference.items() if key != 'engine'}
        return f'engine `{engine}`: `{json.dumps(settings, sort_keys=True, default=str)[:300]}`'
    code = reference.get('code') or {}
    settings = reference.get('settings') or {}
    parts = [f'Quantum ESPRESSO pw.x {code.get("version") or "(version not recorded)"}']
    if reference.get('functional'):
        parts.append(str(reference['functional']))
    if 'ecutwfc' in settings:
        parts.append(f'ecutwfc {settings["ecutwfc"]} Ry, ecutrho {settings.get("ecutrho")} Ry')
    interval = (reference.get('kpoints') or {}).get('interval') or [None, None]
    if settings.get('kpoints_spacing') is not None:
        parts.append(f'k-point spacing {settings["kpoints_spacing"]} Å⁻¹ (2π included)')
    elif interval[0] is not None:
        upper = f'{interval[1]:.3f}' if interval[1] is not None else '∞'
        parts.append(f'k-point spacing between {interval[0]:.3f} and {upper} Å⁻¹ (2π included; from the meshes)')
    if 'smearing' in settings:
        parts.append(f'{settings["smearing"]} smearing, degauss {settings.get("degauss")} Ry')
    pseudos = reference.get('pseudopotentials') or {}
    if pseudos:
        parts.append('pseudopotentials ' + ', '.join(f'{entry["filename"]} (md5 {entry["md5"]})'
                                                      for _, entry in sorted(pseudos.items())))  # fmt: skip
    return '; '.join(parts)


def _header(info: Mapping, reference: Mapping) -> list[str]:
    name, elements = info['name'], ', '.join(info.get('elements') or [])
    provenance = info.get('provenance') or {}
    run = provenance.get('run') or {}
    training = info.get('training') or {}
    gap = info.get('gap') or {}
    kinds = ' + '.join(_descriptor(text) for text in gap.get('descriptors') or []) or 'GAP'
    version = info.get('aiida_gaprss') or {}
    commit = version.get('commit')
    made = f'aiida-gaprss {version.get("version")}'
    if commit:
        made += f' (commit {commit[:12]}{", modified" if version.get("dirty") else ""})'
    title = f'# {name}: a Gaussian approximation potential for {elements}'
    lines = [title, '']
    if info.get('description'):
        lines += [info['description'], '']
    rows = [
        ['Elements', elements],
        ['Model', f'GAP, {kinds}; gap_fit rnd_seed {gap.get("seed")}; files `{gap.get("xml")}` + sparseX (gzipped)'],
        ['Reference', reference_summary(reference)],
        [
            'Training data',
            f'`training.xyz`: {training.get("num_structures")} structures, {training.get("num_atoms")} '
            f'atoms; config types {_counts(training.get("config_types"))}',
        ],  # fmt: skip
    ]
    if run:
        rows.append(['Run', f'GAP-RSS run (GapRssWorkChain) uuid `{run.get("uuid")}`; '
                            f'{run.get("reference_evaluations", "?")} reference evaluations, '
                            f'{run.get("iterations", "?")} iterations'])  # fmt: skip
        protocol = provenance.get('protocol') or {}
        if protocol.get('closest'):
            differences = ', '.join(sorted(protocol.get('differences') or {})) or 'none'
            rows.append(['Protocol', f'closest to `{protocol["closest"]}` (differences: {differences})'])
    rows.append(['Made with', f'{made}; written {info.get("created")}'])
    rows.append(['Size', _sizes(info)])
    lines += _table(['', ''], rows)
    lines += ['', '## Use it', '', '```python', 'from aiida_gaprss import potentials', '',
              f"calculator = potentials.load('{name}')   # an ASE calculator (quippy Potential)",
              'atoms.calc = calculator', '```', '',
              f'`gaprss potentials show {name}` prints a summary; no AiiDA profile is needed.', '']  # fmt: skip
    return lines


def _descriptor(text: str) -> str:
    match = re.search(r'n_sparse=(\d+)', text)
    return f'{text.split()[0]} ({match.group(1)} sparse points)' if match else text.split()[0]


def _sizes(info: Mapping) -> str:
    files = info.get('files') or {}
    gap = (info.get('gap') or {}).get('files') or {}
    stored = sum(files.get(entry.get('stored'), {}).get('size', 0) for entry in gap.values())
    plain = sum(entry.get('size', 0) for entry in gap.values())
    training = files.get((info.get('training') or {}).get('file'), {}).get('size', 0)
    return (
        f'GAP files {stored / 1e6:.2f} MB gzipped ({plain / 1e6:.2f} MB plain), training data {training / 1e6:.2f} MB'
    )


def _goal(goal: Mapping) -> str:
    texts = {
        'phase_error': 'mean error over seeds within ±{mev} meV/atom',
        'max_seed_error': 'every seed within ±{mev} meV/atom',
        'relative_error': 'mean error relative to the ground state within ±{mev} meV/atom',
        'v0_relative': 'V0 within {percent} %',
        'b0_relative': 'B0 within {percent} %',
    }
    return '; '.join(
        texts[key].format(mev=f'{value * 1000:g}', percent=f'{value * 100:g}') for key, value in goal.items()
    )


def _counts(counts) -> str:
    return ', '.join(f'{key} {value}' for key, value in sorted((counts or {}).items())) or '–'


def _uses(info: Mapping, reference: Mapping) -> list[str]:
    evaluation = info.get('evaluation') or {}
    fields = {'elements': ', '.join(info.get('elements') or []), 'functional': reference.get('functional') or
              f'the {reference.get("engine")} reference'}  # fmt: skip
    lines = ['## What it is for', '']
    lines += [f'- {text.format(**fields)}' for text in evaluation.get('intended_use') or DEFAULT_INTENDED_USE]
    lines += ['', '## What it is not for', '']
    lines += [f'- {text.format(**fields)}' for text in evaluation.get('not_for') or DEFAULT_NOT_FOR]
    return [*lines, '']


def _seed_errors(evaluation: Mapping) -> list[str]:
    lines = ['## Errors over fit seeds', '']
    if not evaluation:
        return [*lines, 'No validation over fit seeds was given when this folder was written.', '']
    seeds = evaluation['seeds']
    goal = evaluation.get('goal') or {}
    points = evaluation.get('reference_evaluations')
    lines.append(
        f'Energy of each known phase at its own 0 GPa minimum, potential minus reference, in meV/atom, for the '
        f'training database{f" of {points} reference evaluations" if points else ""} refitted with '
        f'{len(seeds)} `gap_fit` seeds.'
    )
    if goal:
        lines.append(f'Goal: {_goal(goal)}.')
    lines.append('')
    phases = evaluation.get('phases') or {}
    if phases:
        rows = []
        for name, row in phases.items():
            cells = [name, *(_mev(value) for value in row['errors']), _mev(row['mean']), f'{row["max_abs"] * 1000:.1f}']
            if 'relative_mean' in row:
                cells.append(_mev(row['relative_mean']))
            else:
                cells.append('–')
            cells.append(_verdict(row, goal))
            rows.append(cells)
        headers = ['phase', *(f'seed {seed}' for seed in seeds), 'mean', 'max abs', 'mean rel. to ground', 'goal']
        lines += [*_table(headers, rows), '']
    eos = evaluation.get('eos') or {}
    if eos:
        lines += ['### Equation of state (Birch–Murnaghan)', '']
        rows = [[name, _num(row['reference']['v0']), f'{_num(row["v0_mean"])} ({row["v0_deviation"] * 100:+.1f} %)',
                 _num(row['reference']['b0'], 1), f'{_num(row["b0_mean"], 1)} ({row["b0_deviation"] * 100:+.1f} %)',
                 f'{row["v0_max_deviation"] * 100:.1f} % / {row["b0_max_deviation"] * 100:.1f} %',
                 _eos_verdict(row, goal)]
                for name, row in eos.items()]  # fmt: skip
        headers = ['phase', 'V0 ref (Å³/atom)', 'V0 GAP, mean', 'B0 ref (GPa)', 'B0 GAP, mean', 'worst seed V0 / B0',
                   'goal']  # fmt: skip
        lines += [*_table(headers, rows), '']
    curve = evaluation.get('learning_curve') or []
    if curve:
        names = list(dict.fromkeys(name for row in curve for name in row['phases']))
        rows = [[row['reference_evaluations'], *(_mev(row['phases'].get(name)) for name in names)] for row in curve]
        lines += ['### Along the learning curve (meV/atom)', '', *_table(['evaluations', *names], rows), '']
    if evaluation.get('reference_source'):
        lines += [f'Reference side: {evaluation["reference_source"]}.', '']
    if evaluation.get('notes'):
        lines += [evaluation['notes'], '']
    return lines


def _verdict(row: Mapping, goal: Mapping) -> str:
    checks = []
    if 'phase_error' in goal:
        checks.append(abs(row['mean']) <= goal['phase_error'])
    if 'max_seed_error' in goal:
        checks.append(row['max_abs'] <= goal['max_seed_error'])
    if 'relative_error' in goal and 'relative_mean' in row:
        checks.append(abs(row['relative_mean']) <= goal['relative_error'])
    if not checks:
        return '–'
    return 'met' if all(checks) else 'not met'


def _eos_verdict(row: Mapping, goal: Mapping) -> str:
    checks = [
        abs(row[f'{key}_deviation']) <= goal[f'{key}_relative'] for key in ('v0', 'b0') if f'{key}_relative' in goal
    ]
    if not checks:
        return '–'
    return 'met' if all(checks) else 'not met'


def _plots(info: Mapping) -> list[str]:
    plots = info.get('plots') or {}
    if not plots:
        return []
    titles = {'learning_curve': 'Learning curve', 'energy_volume': 'Energy–volume curves (potential and reference)'}
    order = [key for key in titles if key in plots] + sorted(key for key in plots if key not in titles)
    lines = ['## Plots', '']
    for key in order:
        title = titles.get(key, key.replace('_', ' ').capitalize())
        lines += [f'### {title}', '', f'![{title}]({plots[key]})', '']
    return lines


def _phases(info: Mapping) -> list[str]:
    block = info.get('phases') or {}
    energies = block.get('energies') or {}
    lines = ['## This potential on the known phases', '']
    if not energies:
        return [*lines, 'No known phases were evaluated.', '']
    relax = block.get('relax') or {}
    ground = block.get('ground_state')
    lines.append(
        f'Each phase relaxed with this potential (variable cell, {relax.get("pressure", 0.0)} GPa, fmax '
        f'{relax.get("fmax")} eV/Å, at most {relax.get("steps")} steps); `metadata.json` holds these numbers and a '
        'refit with the shipped seed must reproduce them.'
    )
    if block.get('reference_source'):
        lines.append(f'Reference energies: {block["reference_source"]}.')
    lines.append('')
    rows = [[name, f'{row["energy_per_atom"]:.5f}', f'{row["volume_per_atom"]:.3f}', _mev(row.get('relative_energy')),
             _mev(row.get('error')), _mev(row.get('relative_error')), 'yes' if row['converged'] else 'no']
            for name, row in energies.items()]  # fmt: skip
    headers = ['phase', 'E (eV/atom)', 'V (Å³/atom)', f'E − E({ground}) (meV/atom)', 'error (meV/atom)',
               'relative error (meV/atom)', 'converged']  # fmt: skip
    lines += [*_table(headers, rows), '']
    errors = info.get('training_errors') or {}
    if errors:
        lines += ['Training errors of the shipped potential (RMSE over `training.xyz`): energy '
                  f'{_num((errors.get("energy_rmse") or 0) * 1000, 1)} meV/atom (periodic cells only: '
                  f'{_num((errors.get("energy_rmse_cells") or 0) * 1000, 1)}), forces '
                  f'{_num(errors.get("forces_rmse"), 3)} eV/Å, virials '
                  f'{_num((errors.get("virial_rmse") or 0) * 1000, 1)} meV/atom.', '']  # fmt: skip
    return lines


def _made(info: Mapping, reference: Mapping) -> list[str]:
    name = info['name']
    provenance = info.get('provenance') or {}
    run = provenance.get('run') or {}
    lines = ['## How it was made', '']
    if run:
        lines.append(f'A GAP-RSS run of aiida-gaprss (GapRssWorkChain, uuid `{run.get("uuid")}`): random cells, '
                     'GAP relaxations at random pressures, Boltzmann-biased flat-histogram and CUR selection, '
                     'reference single points and refits, iterated until the budget was used. '
                     f'{run.get("reference_evaluations", "?")} reference evaluations; stopped: '
                     f'{run.get("exit_message") or "finished"}.')  # fmt: skip
    lines.append(f'Reference: {reference_summary(reference)} (all settings in `reference.json`).')
    lines.append('The final fit is the `gap_fit` command line in `gap_fit_command.txt`, run on `training.xyz` (the '
                 'file `gap_fit` read, with the per-structure sigmas of the convex-hull rule).')  # fmt: skip
    lines += ['', '## Reproduce it', '', '```console',
              f'gaprss potentials refit {name}            # the shipped command and seed: reproduces the numbers',
              f'gaprss potentials refit {name} --seed 2   # another seed: the fit\'s own noise', '```', '']  # fmt: skip
    tolerances = (info.get('reproduce') or {}).get('tolerances') or {}
    if tolerances:
        lines.append('With the shipped seed the refit must agree with the shipped potential within: '
                     + ', '.join(f'{key} {value}' for key, value in sorted(tolerances.items()))
                     + ' (eV/atom, eV/Å).')  # fmt: skip
        lines.append('')
    files = info.get('files') or {}
    if files:
        rows = [[f'`{file}`', f'{entry["size"] / 1e3:.1f} kB', f'`{entry["sha256"][:16]}…`']
                for file, entry in sorted(files.items())]  # fmt: skip
        lines += ['## Files', '', *_table(['file', 'size', 'sha256'], rows), '']
        lines += ['Full checksums: `metadata.json`; `aiida_gaprss.potentials.verify(name)` checks them.', '']
    return lines


def render_card(metadata: Mapping, reference: Mapping) -> str:
    """The model card of a potential as Markdown.

    Parameters
    ----------
    metadata : mapping
        The content of ``metadata.json`` (``files`` without the card itself).
    reference : mapping
        The content of ``reference.json``.

    Returns
    -------
    str
        What it is, how to use it, what it is for and not for, the errors over fit seeds (with the E–V and learning
        curve tables when the evaluation has them), the plots, the shipped potential's own numbers, how it was made
        and how to reproduce it, and the files.
    """
    lines = _header(metadata, reference)
    lines += _uses(metadata, reference)
    lines += _seed_errors(metadata.get('evaluation') or {})
    lines += _plots(metadata)
    lines += _phases(metadata)
    lines += _made(metadata, reference)
    return '\n'.join(lines).rstrip() + '\n'
