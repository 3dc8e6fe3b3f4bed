"""Writing the folder of a shipped potential from plain ingredients (no AiiDA imports).

:func:`write_potential` takes the GAP files, the training file gap_fit read, its exact command line, the reference
settings and what is known about the run, evaluates the potential (training errors, the known phases at their 0 GPa
minima, a check structure), renders the model card and writes everything, checked against :data:`MAX_SIZE`, into
``<root>/<name>/`` (the format is in :mod:`aiida_gaprss.potentials` and docs/potentials.md). The AiiDA side
(:mod:`aiida_gaprss.workflows.shipping`) only collects the ingredients from a finished run's provenance.
"""

from __future__ import annotations

import datetime
import gzip
import json
import logging
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence

import numpy as np

from aiida_gaprss.common import checks

from .store import FORMAT_VERSION, METADATA_FILENAME, PACKAGE_ROOT, file_digests, shipped_root, validate_name

__all__ = (
    'CARD_FILENAME',
    'COMMAND_FILENAME',
    'EVALUATION_KEYS',
    'MAX_SIZE',
    'PHASE_RELAX',
    'PLOT_NAMES',
    'REFERENCE_FILENAME',
    'REFIT_TOLERANCES',
    'TRAINING_FILENAME',
    'check_structure',
    'normalise_evaluation',
    'parse_command',
    'phase_energies',
    'source_version',
    'training_summary',
    'write_potential',
)

LOGGER = logging.getLogger(__name__)

#: Largest folder allowed (bytes, all files with metadata.json): 20 MB.
MAX_SIZE = 20_000_000
TRAINING_FILENAME = 'training.xyz'
COMMAND_FILENAME = 'gap_fit_command.txt'
REFERENCE_FILENAME = 'reference.json'
CARD_FILENAME = 'README.md'
#: Plots the model card shows, in this order (``<key>.png`` in the folder); other keys are shown after them.
PLOT_NAMES = ('learning_curve', 'energy_volume')
#: How the known phases are relaxed for ``metadata.json`` (and by a refit): variable cell, GPa, eV/Å, steps.
PHASE_RELAX = {'pressure': 0.0, 'fmax': 0.01, 'smax': 0.01, 'steps': 500}
#: What a refit with the shipped seed must reproduce: energy per atom of every training structure (eV/atom, largest
#: difference), force components (eV/Å, RMS difference) and the known-phase energies (eV/atom, each).
REFIT_TOLERANCES = {'energy_per_atom': 1e-3, 'forces_rms': 1e-2, 'phase_energy_per_atom': 1e-3}
#: Keys of an evaluation JSON (see :func:`normalise_evaluation`).
EVALUATION_KEYS = (
    'seeds',
    'phases',
    'eos',
    'plots',
    'reference',
    'reference_source',
    'reference_evaluations',
    'learning_curve',
    'goal',
    'intended_use',
    'not_for',
    'notes',
)
_GOAL_KEYS = ('phase_error', 'max_seed_error', 'relative_error', 'v0_relative', 'b0_relative')
_PLOT_KEY = re.compile(r'^[a-z0-9_]{1,40}$')
_PLAIN_FILE = re.compile(r'^[A-Za-z0-9_.-]+$')
_PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


# -- the command line ------------------------------------------------------------------------------------------------
def parse_command(command_line: str) -> dict:
    """Split and check a ``gap_fit`` command line as :class:`~aiida_gaprss.calculations.gap_fit.GapFitCalculation`
    records it.

    Returns
    -------
    dict
        ``argv`` (the tokens, program first), ``at_file``, ``gp_file`` (plain file names), ``seed`` (``rnd_seed``,
        None if absent) and ``descriptors`` (the strings between ``gap={`` and ``}``, split at `` : ``).

    Raises
    ------
    ValueError
        Naming the field ``command_line``: not gap_fit, no training or potential file, or a file name with a path.
    """
    if not isinstance(command_line, str) or not command_line.strip():
        raise ValueError('field `command_line`: expected the gap_fit command line, got nothing')
    try:
        argv = shlex.split(command_line)
    except ValueError as exception:
        raise ValueError(f'field `command_line`: not a shell command line: {exception}') from exception
    if pathlib.PurePath(argv[0]).name != 'gap_fit':
        raise ValueError(f'field `command_line`: expected a gap_fit command, got program {argv[0]!r}')
    options = {}
    for word in argv[1:]:
        key, sep, value = word.partition('=')
        if sep:
            options[key] = value
    result = {'argv': argv}
    for key in ('at_file', 'gp_file'):
        value = options.get(key)
        if not value or not _PLAIN_FILE.match(value):
            raise ValueError(f'field `command_line`: `{key}` must be a plain file name, got {value!r}')
        result[key] = value
    seed = options.get('rnd_seed')
    try:
        result['seed'] = int(seed) if seed is not None else None
    except ValueError as exception:
        raise ValueError(f'field `command_line`: rnd_seed={seed!r} is not an integer') from exception
    gap = options.get('gap', '')
    result['descriptors'] = [part.strip() for part in gap.strip('{}').split(' : ') if part.strip()]
    return result


# -- the evaluation JSON ---------------------------------------------------------------------------------------------
def _numbers(values, field: str, length: int | None = None) -> list[float]:
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise ValueError(f'field `{field}`: expected a non-empty list of numbers, got {values!r}')
    if length is not None and len(values) != length:
        raise ValueError(f'field `{field}`: {len(values)} values, expected one per seed ({length})')
    return [checks.number(value, checks.field(f'{field}[{index}]')) for index, value in enumerate(values)]


def _statistics(values: list[float]) -> dict:
    return {'mean': float(np.mean(values)), 'max_abs': float(np.max(np.abs(values)))}


def _strings(value, field: str) -> list[str]:
    if not isinstance(value, Sequence) or isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ValueError(f'field `{field}`: expected a list of strings')
    return list(value)


def _eos_point(value, field: str) -> dict:
    if not isinstance(value, Mapping) or set(value) - {'v0', 'b0', 'b0_prime', 'e0'} or not {'v0', 'b0'} <= set(value):
        raise ValueError(f'field `{field}`: expected {{"v0": Å^3/atom, "b0": GPa}} (optional b0_prime, e0)')
    return {key: checks.number(value[key], checks.field(f'{field}.{key}')) for key in value}


def _phase_energy(value, field: str) -> float:
    if isinstance(value, Mapping):
        if 'energy_per_atom' not in value:
            raise ValueError(f'field `{field}`: expected a number or {{"energy_per_atom": eV/atom}}')
        value = value['energy_per_atom']
    return checks.number(value, checks.field(field))


def normalise_evaluation(evaluation: Mapping, base: str | os.PathLike | None = None) -> dict:
    """Check an evaluation (validation over fit seeds) and return it with derived statistics.

    Schema (energies in eV/atom, volumes in Å^3/atom, bulk moduli in GPa; every key but ``seeds`` optional)::

        {"seeds": [1, 2, 3, 4, 5],
         "phases": {"diamond": [error per seed, ...],              # potential minus reference, each at its own
                    "beta_sn": {"errors": [...], "relative_errors": [...]}},   # minimum; relative: to diamond
         "eos": {"diamond": {"reference": {"v0": 20.4, "b0": 89.0},
                             "potential": [{"v0": ..., "b0": ...}, ...]}},     # one per seed
         "plots": {"learning_curve": "lc.png", "energy_volume": "ev.png"},     # PNG files, relative to `base`
         "reference": {"diamond": {"energy_per_atom": -139.035}, ...},         # the reference side, as computed
         "reference_source": "benchmarks/si_learning_curve.py, QE vc-relax",
         "reference_evaluations": 600,
         "learning_curve": [{"reference_evaluations": 342, "phases": {"diamond": -0.0019, ...}}, ...],
         "goal": {"phase_error": 0.01, "max_seed_error": 0.02, "relative_error": 0.01,
                  "v0_relative": 0.01, "b0_relative": 0.10},
         "intended_use": ["..."], "not_for": ["..."], "notes": "..."}

    Returns
    -------
    dict
        The same content with ``phases[name]`` as ``{'errors', 'mean', 'max_abs'}`` (and ``relative_errors``,
        ``relative_mean``, ``relative_max_abs``), ``eos[name]`` with ``v0_mean``, ``b0_mean``, ``v0_deviation`` and
        ``b0_deviation`` (relative to the reference), ``reference`` as numbers per phase and ``plots`` as resolved
        absolute paths.

    Raises
    ------
    ValueError
        Naming the field (``evaluation.<key>...``) of the first problem.
    """
    if not isinstance(evaluation, Mapping):
        raise ValueError(f'field `evaluation`: expected a JSON object, got {type(evaluation).__name__}')
    unknown = sorted(set(evaluation) - set(EVALUATION_KEYS))
    if unknown:
        raise ValueError(f'field `evaluation.{unknown[0]}`: unknown key; known: {list(EVALUATION_KEYS)}')
    seeds = evaluation.get('seeds')
    integers = isinstance(seeds, Sequence) and not isinstance(seeds, str) and bool(seeds)
    integers = integers and all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
    if not integers or len(set(seeds)) != len(seeds):
        raise ValueError(f'field `evaluation.seeds`: expected a non-empty list of distinct integers, got {seeds!r}')
    result: dict = {'seeds': list(seeds)}
    phases = evaluation.get('phases', {})
    if not isinstance(phases, Mapping):
        raise ValueError('field `evaluation.phases`: expected {phase: [error per seed]}')
    result['phases'] = {}
    for name, entry in phases.items():
        field = f'evaluation.phases.{name}'
        if not isinstance(entry, Mapping):
            entry = {'errors': entry}
        extra = sorted(set(entry) - {'errors', 'relative_errors'})
        if extra:
            raise ValueError(f'field `{field}.{extra[0]}`: unknown key; known: errors, relative_errors')
        errors = _numbers(entry.get('errors'), f'{field}.errors', len(seeds))
        row = {'errors': errors, **_statistics(errors)}
        if 'relative_errors' in entry:
            relative = _numbers(entry['relative_errors'], f'{field}.relative_errors', len(seeds))
            stats = _statistics(relative)
            row.update(relative_errors=relative, relative_mean=stats['mean'], relative_max_abs=stats['max_abs'])
        result['phases'][name] = row
    if 'eos' in evaluation:
        if not isinstance(evaluation['eos'], Mapping):
            raise ValueError('field `evaluation.eos`: expected {phase: {"reference": ..., "potential": [...]}}')
        result['eos'] = {}
        for name, entry in evaluation['eos'].items():
            field = f'evaluation.eos.{name}'
            if not isinstance(entry, Mapping) or set(entry) != {'reference', 'potential'}:
                raise ValueError(f'field `{field}`: expected {{"reference": {{v0, b0}}, "potential": [one per seed]}}')
            reference = _eos_point(entry['reference'], f'{field}.reference')
            points = entry['potential']
            if not isinstance(points, Sequence) or len(points) != len(seeds):
                raise ValueError(f'field `{field}.potential`: expected a list with one {{v0, b0}} per seed')
            points = [_eos_point(point, f'{field}.potential[{i}]') for i, point in enumerate(points)]
            row = {'reference': reference, 'potential': points}
            for key in ('v0', 'b0'):
                mean = float(np.mean([point[key] for point in points]))
                row[f'{key}_mean'] = mean
                row[f'{key}_deviation'] = mean / reference[key] - 1.0
                row[f'{key}_max_deviation'] = max(abs(point[key] / reference[key] - 1.0) for point in points)
            result['eos'][name] = row
    if 'plots' in evaluation:
        result['plots'] = _plot_paths(evaluation['plots'], base)
    if 'reference' in evaluation:
        if not isinstance(evaluation['reference'], Mapping):
            raise ValueError('field `evaluation.reference`: expected {phase: {"energy_per_atom": eV/atom}}')
        result['reference'] = {
            name: _phase_energy(value, f'evaluation.reference.{name}')
            for name, value in evaluation['reference'].items()
        }
    for key in ('reference_source', 'notes'):
        if key in evaluation:
            if not isinstance(evaluation[key], str):
                raise ValueError(f'field `evaluation.{key}`: expected a string')
            result[key] = evaluation[key]
    if 'reference_evaluations' in evaluation:
        value = evaluation['reference_evaluations']
        checks.positive_integer(value, checks.field('evaluation.reference_evaluations'))
        result['reference_evaluations'] = value
    if 'learning_curve' in evaluation:
        result['learning_curve'] = _learning_curve(evaluation['learning_curve'])
    if 'goal' in evaluation:
        goal = evaluation['goal']
        if not isinstance(goal, Mapping):
            raise ValueError(f'field `evaluation.goal`: expected {{key: number}} with keys {list(_GOAL_KEYS)}')
        extra = sorted(set(goal) - set(_GOAL_KEYS))
        if extra:
            raise ValueError(f'field `evaluation.goal.{extra[0]}`: unknown key; known: {list(_GOAL_KEYS)}')
        result['goal'] = {
            key: checks.number(value, checks.field(f'evaluation.goal.{key}')) for key, value in goal.items()
        }
    for key in ('intended_use', 'not_for'):
        if key in evaluation:
            result[key] = _strings(evaluation[key], f'evaluation.{key}')
    return result


def _learning_curve(rows) -> list[dict]:
    if not isinstance(rows, Sequence) or isinstance(rows, str):
        raise ValueError('field `evaluation.learning_curve`: expected a list of {"reference_evaluations", "phases"}')
    result = []
    for index, row in enumerate(rows):
        field = f'evaluation.learning_curve[{index}]'
        if not isinstance(row, Mapping) or set(row) != {'reference_evaluations', 'phases'}:
            raise ValueError(
                f'field `{field}`: expected {{"reference_evaluations": int, "phases": {{phase: eV/atom}}}}'
            )
        evaluations = row['reference_evaluations']
        if not checks.is_integer(evaluations):
            raise ValueError(f'field `{field}.reference_evaluations`: expected an integer')
        if not isinstance(row['phases'], Mapping):
            raise ValueError(f'field `{field}.phases`: expected {{phase: eV/atom}}')
        phases = {
            name: checks.number(value, checks.field(f'{field}.phases.{name}')) for name, value in row['phases'].items()
        }
        result.append({'reference_evaluations': evaluations, 'phases': phases})
    return result


def _plot_paths(plots, base) -> dict:
    if not isinstance(plots, Mapping):
        raise ValueError('field `evaluation.plots`: expected {"learning_curve": "file.png", ...}')
    result = {}
    for key, value in plots.items():
        if not isinstance(key, str) or not _PLOT_KEY.match(key):
            raise ValueError(f'field `evaluation.plots.{key}`: plot names are lower-case words (e.g. learning_curve)')
        if not isinstance(value, str | os.PathLike):
            raise ValueError(f'field `evaluation.plots.{key}`: expected the path of a PNG file')
        file = pathlib.Path(value)
        if not file.is_absolute() and base is not None:
            file = pathlib.Path(base) / file
        result[key] = str(_check_png(file, f'evaluation.plots.{key}'))
    return result


def _check_png(file: pathlib.Path, field: str) -> pathlib.Path:
    if not file.is_file():
        raise ValueError(f'field `{field}`: file `{file}` does not exist')
    with open(file, 'rb') as handle:
        if handle.read(8) != _PNG_MAGIC:
            raise ValueError(f'field `{field}`: `{file}` is not a PNG file')
    return file.resolve()


# -- evaluating the potential ----------------------------------------------------------------------------------------
def phase_energies(calculator, element: str, phases: Sequence[str] | None = None, relax: Mapping | None = None) -> dict:
    """Energy and volume per atom of known phases of ``element`` at their minima, relaxed with ``calculator``.

    Parameters
    ----------
    calculator
        An ASE calculator or a calculator spec.
    element : str
        Its chemical symbol (the phases come from :func:`aiida_gaprss.rss.phases.build_phase`).
    phases : sequence of str, optional
        Phase names (default: every known phase of the element).
    relax : mapping, optional
        :data:`PHASE_RELAX` keys ``pressure`` (GPa), ``fmax``, ``smax``, ``steps`` (default: :data:`PHASE_RELAX`).

    Returns
    -------
    dict
        ``{name: {'energy_per_atom', 'volume_per_atom', 'natoms', 'converged'}}``.
    """
    from aiida_gaprss.rss.phases import build_phase, phase_names
    from aiida_gaprss.rss.potentials import calculator_from_spec
    from aiida_gaprss.rss.validation import relax_phase

    if isinstance(calculator, dict):
        calculator = calculator_from_spec(calculator)
    settings = {**PHASE_RELAX, **(relax or {})}
    names = phase_names(element) if phases is None else list(phases)
    result = {}
    for name in names:
        final = relax_phase(build_phase(element, name), calculator, **settings)
        result[name] = {
            'energy_per_atom': float(final.info['energy_per_atom']),
            'volume_per_atom': float(final.info['volume_per_atom']),
            'natoms': len(final),
            'converged': bool(final.info.get('converged', False)),
        }
    return result


def check_structure(elements: Sequence[str], frames: Sequence):
    """The structure whose energy and forces ``metadata.json`` stores: for a one-element potential with known phases
    its first phase (diamond for Si) in the conventional cell, rattled by 0.05 Å (seed 1); else the first periodic
    training structure."""
    from aiida_gaprss.rss.phases import PHASES, build_phase, phase_names

    if len(elements) == 1 and elements[0] in PHASES:
        atoms = build_phase(elements[0], phase_names(elements[0])[0], primitive=False)
        atoms.rattle(0.05, seed=1)
        atoms.info = {'description': f'{atoms.info["phase"]} (conventional cell, rattled 0.05 Å, seed 1)'}
        return atoms
    for atoms in frames:
        if all(atoms.pbc):
            result = atoms.copy()
            result.info = {'description': 'the first periodic training structure'}
            return result
    result = frames[0].copy()
    result.info = {'description': 'the first training structure'}
    return result


def training_summary(frames: Sequence) -> dict:
    """Counts of a training set: structures, atoms, species, config types, labels and per-structure sigmas."""
    from collections import Counter

    config_types: Counter = Counter()
    labels: Counter = Counter()
    sigmas: Counter = Counter()
    species: set = set()
    for atoms in frames:
        config_types[str(atoms.info.get('config_type', 'none'))] += 1
        species.update(atoms.get_chemical_symbols())
        labels.update(key for key in ('energy', 'virial') if key in atoms.info)
        labels.update(['forces'] if 'forces' in atoms.arrays else [])
        sigmas.update(key for key in ('energy_sigma', 'force_sigma', 'virial_sigma') if key in atoms.info)
    return {
        'num_structures': len(frames),
        'num_atoms': int(sum(len(atoms) for atoms in frames)),
        'species': sorted(species),
        'config_types': dict(sorted(config_types.items())),
        'labels': {key: labels[key] for key in ('energy', 'forces', 'virial')},
        'sigmas': {key: sigmas[key] for key in ('energy_sigma', 'force_sigma', 'virial_sigma')},
    }


def source_version() -> dict:
    """``{'version', 'commit', 'dirty'}`` of the aiida-gaprss code running now (commit None outside a git checkout)."""
    from aiida_gaprss import __version__

    result = {'version': __version__, 'commit': None, 'dirty': None}
    folder = str(PACKAGE_ROOT.parent)
    try:
        commit = subprocess.run(['git', '-C', folder, 'rev-parse', 'HEAD'], capture_output=True, text=True, timeout=30)
        if commit.returncode == 0:
            result['commit'] = commit.stdout.strip()
            status = subprocess.run(['git', '-C', folder, 'status', '--porcelain', '--untracked-files=no'],
                                    capture_output=True, text=True, timeout=30)  # fmt: skip
            result['dirty'] = bool(status.stdout.strip()) if status.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        LOGGER.info('no git: the commit of aiida-gaprss is not recorded')
    return result


def _gzip(source: pathlib.Path, target: pathlib.Path) -> None:
    """Deterministic gzip (no name, no time stamp): the same file always gives the same bytes."""
    with open(source, 'rb') as reader, open(target, 'wb') as raw:
        with gzip.GzipFile(filename='', mode='wb', fileobj=raw, mtime=0, compresslevel=9) as writer:
            shutil.copyfileobj(reader, writer)


def _gap_version(xml: pathlib.Path) -> str | None:
    with open(xml, encoding='utf-8', errors='replace') as handle:
        match = re.search(r'gap_version="(\d+)"', handle.read(4096))
    return match.group(1) if match else None


# -- the writer ------------------------------------------------------------------------------------------------------
def write_potential(
    root: str | os.PathLike | None,
    name: str,
    *,
    gap_folder: str | os.PathLike,
    command_line: str,
    training: str | os.PathLike,
    reference: Mapping,
    gap_files: Sequence[str] | None = None,
    provenance: Mapping | None = None,
    evaluation: Mapping | str | os.PathLike | None = None,
    plots: Mapping[str, str | os.PathLike] | None = None,
    reference_phases: Mapping | None = None,
    reference_phases_source: str = '',
    phases: Sequence[str] | None = None,
    description: str = '',
    force: bool = False,
    max_size: int = MAX_SIZE,
) -> pathlib.Path:
    """Write the folder ``<root>/<name>/`` of a shipped potential and return it.

    Parameters
    ----------
    root : path or None
        Folder of the potentials (None: ``$GAPRSS_POTENTIALS_ROOT`` or the package's ``aiida_gaprss/potentials``).
    name : str
        Name of the potential (lower case, e.g. ``'si-pbe-gaprss'``).
    gap_folder : path
        Folder holding the plain GAP files: the ``gp_file`` of the command line and its sparseX files.
    command_line : str
        The exact gap_fit command line of the fit (as recorded by GapFitCalculation).
    training : path
        The extended-XYZ file gap_fit read (with the per-structure sigmas); copied byte for byte.
    reference : mapping
        The reference settings (``engine`` and the engine's settings), written as ``reference.json``.
    gap_files : sequence of str, optional
        Names of the GAP files in ``gap_folder`` (default: ``gp_file`` and every ``<gp_file>.sparseX.*``).
    provenance : mapping, optional
        What is known about the run (uuid, inputs, protocol, learning curve, ...), stored as ``provenance``.
    evaluation : mapping or path, optional
        Validation over fit seeds (see :func:`normalise_evaluation`); a path is read as JSON and its plots are found
        relative to it.
    plots : mapping, optional
        ``{key: PNG path}`` shown in the card when the evaluation does not give a plot of that key.
    reference_phases : mapping, optional
        Reference energies per atom (eV/atom) of known phases at their minima; the shipped potential's errors are
        computed against them. Default: the evaluation's ``reference``.
    reference_phases_source : str
        Where ``reference_phases`` come from (stored beside them).
    phases : sequence of str, optional
        Known phases whose energies are stored (default: all of the element's; ``[]`` for none).
    description : str
        One paragraph for the card.
    force : bool
        Replace an existing folder of that name.
    max_size : int
        Largest total size in bytes (default :data:`MAX_SIZE`, 20 MB).

    Raises
    ------
    ValueError
        Naming the field: a bad name, an existing folder without ``force``, a bad command line, missing files, a bad
        evaluation, or a folder larger than ``max_size`` (nothing is left behind then).
    """
    from aiida_gaprss.data.extxyz import read_frames
    from aiida_gaprss.jobs.gap_errors import energy_rmse_of_cells, training_errors
    from aiida_gaprss.rss.phases import PHASES, phase_names
    from aiida_gaprss.rss.potentials import calculator_from_spec

    from .card import render_card

    name = validate_name(name)
    command = parse_command(command_line)
    root = shipped_root(root)
    destination = root / name
    if destination.exists() and not force:
        raise ValueError(f'field `name`: `{destination}` exists; use force (--force) to replace it')
    gap_folder = pathlib.Path(gap_folder)
    gap_files = list(gap_files) if gap_files is not None else _default_gap_files(gap_folder, command['gp_file'])
    if command['gp_file'] not in gap_files:
        raise ValueError(f'field `gap_files`: the potential file `{command["gp_file"]}` of the command line is missing')
    for file in gap_files:
        if not _PLAIN_FILE.match(file) or not (gap_folder / file).is_file():
            raise ValueError(f'field `gap_folder`: GAP file `{file}` is not in `{gap_folder}`')
    training = pathlib.Path(training)
    if not training.is_file():
        raise ValueError(f'field `training`: file `{training}` does not exist')
    if not isinstance(reference, Mapping) or 'engine' not in reference:
        raise ValueError('field `reference`: expected a mapping with the reference `engine` and its settings')
    if isinstance(evaluation, str | os.PathLike):
        evaluation_file = pathlib.Path(evaluation)
        try:
            evaluation = json.loads(evaluation_file.read_text(encoding='utf-8'))
        except (OSError, json.JSONDecodeError) as exception:
            raise ValueError(
                f'field `evaluation`: `{evaluation_file}` is not readable JSON: {exception}'
            ) from exception
        evaluation = normalise_evaluation(evaluation, evaluation_file.parent)
    elif evaluation is not None:
        evaluation = normalise_evaluation(evaluation)
    all_plots = {key: str(_check_png(pathlib.Path(value), f'plots.{key}')) for key, value in (plots or {}).items()}
    all_plots.update((evaluation or {}).get('plots', {}))
    if reference_phases is None and evaluation and 'reference' in evaluation:
        reference_phases = evaluation['reference']
        reference_phases_source = evaluation.get('reference_source', 'the evaluation JSON')
    reference_phases = {
        phase: _phase_energy(value, f'reference_phases.{phase}') for phase, value in (reference_phases or {}).items()
    }
    with open(training, encoding='utf-8') as handle:
        frames = list(read_frames(handle))
    summary = training_summary(frames)
    elements = summary['species']
    if phases:
        known = phase_names(elements[0]) if len(elements) == 1 and elements[0] in PHASES else []
        unknown = [phase for phase in phases if phase not in known]
        if unknown:
            raise ValueError(f'field `phases`: {unknown[0]!r} is not a known phase of {elements}; known: {known}')

    root.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix=f'.{name}.partial-', dir=root))
    try:
        gap_entries = {}
        for file in sorted(gap_files):
            _gzip(gap_folder / file, work / f'{file}.gz')
            gap_entries[file] = {'stored': f'{file}.gz', **file_digests(gap_folder / file)}
        shutil.copyfile(training, work / TRAINING_FILENAME)
        (work / COMMAND_FILENAME).write_text(command_line.strip() + '\n', encoding='utf-8')
        (work / REFERENCE_FILENAME).write_text(
            json.dumps(reference, indent=1, sort_keys=True, default=str) + '\n', encoding='utf-8'
        )
        plot_files = {}
        for key, file in all_plots.items():
            shutil.copyfile(file, work / f'{key}.png')
            plot_files[key] = f'{key}.png'

        calculator = calculator_from_spec({'type': 'gap', 'xml': str(gap_folder / command['gp_file'])})
        errors = training_errors(frames, calculator)
        errors['energy_rmse_cells'] = energy_rmse_of_cells(errors)
        phase_block: dict = {'relax': dict(PHASE_RELAX), 'energies': {}}
        if len(elements) == 1 and elements[0] in PHASES and (phases is None or phases):
            energies = phase_energies(calculator, elements[0], phases)
            ground = next(iter(energies))
            for phase, row in energies.items():
                row['relative_energy'] = row['energy_per_atom'] - energies[ground]['energy_per_atom']
                if phase in reference_phases:
                    row['reference_energy_per_atom'] = reference_phases[phase]
                    row['error'] = row['energy_per_atom'] - reference_phases[phase]
                    if ground in reference_phases:
                        relative_reference = reference_phases[phase] - reference_phases[ground]
                        row['relative_error'] = row['relative_energy'] - relative_reference
            phase_block.update(energies=energies, ground_state=ground)
            if reference_phases:
                phase_block['reference_source'] = reference_phases_source
        check = check_structure(elements, frames)
        check.calc = calculator
        check_entry = {
            'description': check.info['description'],
            'symbols': check.get_chemical_symbols(),
            'cell': check.cell.array.tolist(),
            'positions': check.positions.tolist(),
            'pbc': [bool(value) for value in check.pbc],
            'energy_per_atom': float(check.get_potential_energy()) / len(check),
            'forces': np.asarray(check.get_forces()).tolist(),
        }
        info = {
            'format': FORMAT_VERSION,
            'name': name,
            'description': description,
            'elements': elements,
            'created': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
            'aiida_gaprss': source_version(),
            'provenance': dict(provenance or {}),
            'gap': {
                'xml': command['gp_file'],
                'files': gap_entries,
                'seed': command['seed'],
                'descriptors': command['descriptors'],
                'gap_version': _gap_version(gap_folder / command['gp_file']),
            },
            'training': {'file': TRAINING_FILENAME, 'at_file': command['at_file'], **summary},
            'training_errors': errors,
            'phases': phase_block,
            'check': check_entry,
            'evaluation': _stored_evaluation(evaluation),
            'plots': plot_files,
            'reproduce': {
                'command': f'gaprss potentials refit {name}',
                'python': f"aiida_gaprss.potentials.compare({name!r}, aiida_gaprss.potentials.refit({name!r}, 'DIR'))",
                'tolerances': dict(REFIT_TOLERANCES),
            },
        }
        info['files'] = _digests(work)
        (work / CARD_FILENAME).write_text(render_card(info, reference), encoding='utf-8')
        info['files'] = _digests(work)
        info['total_size'] = sum(entry['size'] for entry in info['files'].values())
        (work / METADATA_FILENAME).write_text(json.dumps(info, indent=1, default=str) + '\n', encoding='utf-8')
        sizes = {child.name: child.stat().st_size for child in work.iterdir()}
        total = sum(sizes.values())
        if total > max_size:
            largest = ', '.join(
                f'{file} {size / 1e6:.2f} MB' for file, size in sorted(sizes.items(), key=lambda x: -x[1])[:4]
            )
            raise ValueError(
                f'field `max_size`: the folder of {name!r} would be {total / 1e6:.2f} MB, above the limit of '
                f'{max_size / 1e6:.2f} MB (largest files: {largest}); nothing was written'
            )
        _replace(work, destination)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    LOGGER.info('wrote potential %s into %s (%.2f MB)', name, destination, total / 1e6)
    return destination


def _default_gap_files(folder: pathlib.Path, gp_file: str) -> list[str]:
    return [gp_file, *sorted(child.name for child in folder.glob(f'{gp_file}.sparseX.*') if child.is_file())]


def _stored_evaluation(evaluation: Mapping | None) -> dict | None:
    if evaluation is None:
        return None
    return {key: value for key, value in evaluation.items() if key != 'plots'}


def _digests(folder: pathlib.Path) -> dict:
    return {child.name: file_digests(child) for child in sorted(folder.iterdir()) if child.name != METADATA_FILENAME}


def _replace(work: pathlib.Path, destination: pathlib.Path) -> None:
    """Move the finished folder into place; an old one is removed only once the new one is there."""
    old = None
    if destination.exists():
        old = destination.with_name(f'.{destination.name}.old-{os.getpid()}')
        destination.rename(old)
    work.rename(destination)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
