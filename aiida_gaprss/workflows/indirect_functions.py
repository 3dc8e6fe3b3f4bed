"""Calcfunctions of indirect learning: the cheap bookkeeping steps, each a node with provenance.

Subsets of structure sets (evenly spaced, random, the final frames of relaxations), the training-set filter of the
students (:func:`filter_training_set`, what is left out recorded in a Dict), the collected fit reports with their
summary over fit seeds, and the HTML report.
"""

from __future__ import annotations

import math

from aiida import orm
from aiida.engine import calcfunction

from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.students.mtp import level_key

__all__ = (
    'collect_fit_reports',
    'filter_training_set',
    'final_relaxed_frames',
    'indirect_html_report',
    'random_subset',
    'stride_subset',
    'summarise_fits',
)


def _evenly_spaced(count: int, n: int) -> list[int]:
    import numpy as np

    if n >= count:
        return list(range(count))
    return sorted({int(i) for i in np.linspace(0, count - 1, n).round()})


@calcfunction
def stride_subset(structures: StructureSet, settings: orm.Dict) -> StructureSet:
    """Evenly spaced structures: ``n`` of them, among those with ``info['pressure_target']`` >= ``min_pressure``."""
    frames = structures.get_atoms()
    options = settings.get_dict()
    if options.get('min_pressure') is not None:
        frames = [a for a in frames if a.info.get('pressure_target', -math.inf) >= float(options['min_pressure'])]
    if not frames:
        raise ValueError(f'no structure at or above {options.get("min_pressure")} GPa')
    return StructureSet.from_atoms([frames[i] for i in _evenly_spaced(len(frames), int(options['n']))])


@calcfunction
def random_subset(structures: StructureSet, settings: orm.Dict) -> StructureSet:
    """``n`` structures drawn without replacement with ``seed`` (kept in their original order)."""
    import numpy as np

    frames = structures.get_atoms()
    options = settings.get_dict()
    n = min(int(options['n']), len(frames))
    picked = np.sort(np.random.default_rng(int(options['seed'])).choice(len(frames), size=n, replace=False))
    return StructureSet.from_atoms([frames[int(i)] for i in picked])


@calcfunction
def final_relaxed_frames(trajectories: StructureSet) -> StructureSet:
    """Final frame of every relaxation that did not explode, collapse or fail (``config_type`` 'rss_test')."""
    frames = []
    for atoms in trajectories.iter_atoms():
        if not atoms.info.get('final') or atoms.info.get('status') in ('exploded', 'collapsed', 'failed'):
            continue
        if 'energy' not in atoms.info or 'forces' not in atoms.arrays:
            continue
        atoms.info['config_type'] = 'rss_test'
        frames.append(atoms)
    if not frames:
        raise ValueError('no relaxation of the RSS test set finished')
    return StructureSet.from_atoms(frames)


@calcfunction
def collect_fit_reports(**reports: orm.Dict) -> orm.Dict:
    """One Dict of every fit's report: ``students`` by student key, and their ``summary`` over fit seeds.

    ``reports`` are keyed by student key (``level_16``, ``level_16_seed_2``, ``direct_level_16``, ...; see
    :func:`aiida_gaprss.workflows.indirect.student_key`); each entry gets its ``family`` ('indirect' or 'direct')
    and ``seed``. Without the student-key form (older callers: ``level_XX`` keys of one family), the level's key is
    used as is.
    """
    students = {}
    for key in sorted(reports):
        entries = reports[key].get_dict().get('students', {})
        for level, entry in entries.items():
            name = key if len(entries) == 1 else level_key(int(level))
            family = 'direct' if name.startswith('direct_') else 'indirect'
            students[name] = {**entry, 'family': family}
    return orm.Dict(
        {
            'students': students,
            'summary': summarise_fits(students),
            'units': {'energy': 'eV/atom', 'forces': 'eV/Angstrom', 'time': 's'},
        }
    )


def summarise_fits(students: dict) -> dict:
    """Per family and level (``indirect/level_16``): the fits over seeds — mean, min and max of every test error.

    Parameters
    ----------
    students : dict
        Fit-report entries by student key (``level``, ``seed``, ``family``, ``test_errors``, ``optimisation``,
        ``fit_time``).

    Returns
    -------
    dict
        ``{'<family>/level_XX': {'family', 'level', 'seeds', 'converged' (count), 'fit_time' (mean s),
        'test_errors': {test set: {metric: {'mean', 'min', 'max'}}}}}``.
    """
    groups: dict[str, list[dict]] = {}
    for entry in students.values():
        if entry.get('level') is None:
            continue
        groups.setdefault(f'{entry.get("family", "indirect")}/{level_key(int(entry["level"]))}', []).append(entry)
    summary = {}
    for name, entries in sorted(groups.items()):
        errors: dict[str, dict[str, list[float]]] = {}
        for entry in entries:
            for test_set, metrics in (entry.get('test_errors') or {}).items():
                for metric, value in metrics.items():
                    if metric != 'num_structures' and isinstance(value, (int, float)) and math.isfinite(value):
                        errors.setdefault(test_set, {}).setdefault(metric, []).append(float(value))
        summary[name] = {
            'family': entries[0].get('family', 'indirect'),
            'level': int(entries[0]['level']),
            'seeds': sorted(entry.get('seed') for entry in entries if entry.get('seed') is not None),
            'converged': sum(bool((entry.get('optimisation') or {}).get('converged')) for entry in entries),
            'fit_time': sum(float(entry.get('fit_time', 0.0)) for entry in entries) / len(entries),
            'test_errors': {
                test_set: {
                    metric: {'mean': sum(values) / len(values), 'min': min(values), 'max': max(values)}
                    for metric, values in metrics.items()
                }
                for test_set, metrics in errors.items()
            },
        }
    return summary


@calcfunction
def filter_training_set(structures: StructureSet, settings: orm.Dict) -> dict:
    """The structures the students are fitted to, and a record of every structure left out.

    ``settings``: ``min_dist`` (Å) and ``max_above_hull`` (eV/atom), see
    :func:`aiida_gaprss.students.filters.training_filter`. Outputs ``structures`` (a StructureSet; the input itself
    is not returned even when nothing is left out, so that the link says the filter ran) and ``excluded`` (a Dict:
    ``settings``, ``num_structures``, ``num_kept``, ``excluded``: one record per structure left out).
    """
    from aiida_gaprss.students.filters import training_filter

    frames = structures.get_atoms()
    kept, excluded = training_filter(frames, settings.get_dict())
    if not kept:
        raise ValueError('every structure of the training set was left out by the filter')
    return {
        'structures': StructureSet.from_atoms([frames[i] for i in kept]),
        'excluded': orm.Dict(
            {
                'settings': settings.get_dict(),
                'num_structures': len(frames),
                'num_kept': len(kept),
                'excluded': excluded,
            }
        ),
    }


@calcfunction
def indirect_html_report(
    teacher: GapPotential, validation_report: orm.Dict, fit_report: orm.Dict, run_info: orm.Dict | None = None, **nodes
) -> orm.SinglefileData:
    """The HTML page of :func:`aiida_gaprss.report.render_indirect_report` from the run's outputs.

    ``run_info``: the calling run's pk, uuid, process label and creation time (the page's header); ``nodes``:
    ``plot_<name>`` (PNG SinglefileData) and ``student_<key>`` (StudentPotential).
    """
    import io

    from aiida_gaprss.provenance import lineage
    from aiida_gaprss.report import indirect_report_data, render_indirect_report

    plots = {key[len('plot_') :]: node for key, node in nodes.items() if key.startswith('plot_')}
    students = {}
    for key, node in nodes.items():
        if key.startswith('student_'):
            attributes = node.base.attributes
            students[key[len('student_') :]] = {
                'pk': node.pk,
                'level': attributes.get('level', None),
                'num_parameters': attributes.get('num_parameters', None),
                'training_errors': attributes.get('training_errors', {}),
                'sha256': attributes.get('sha256', None),
            }
    data = indirect_report_data(
        validation_report.get_dict(),
        plots,
        students=students,
        fit_report=fit_report.get_dict(),
        lineage=lineage(teacher),
        run=run_info.get_dict() if run_info is not None else None,
    )
    content = render_indirect_report(data).encode('utf-8')
    return orm.SinglefileData(io.BytesIO(content), filename='report.html')
