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

from .evaluation import EVALUATION_KEYS, check_png, normalise_evaluation, phase_energy
from .measure import PHASE_RELAX, check_structure, phase_energies, training_summary
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
#: What a refit with the shipped seed must reproduce: energy per atom of every training structure (eV/atom, largest
#: difference), force components (eV/Å, RMS difference) and the known-phase energies (eV/atom, each).
REFIT_TOLERANCES = {'energy_per_atom': 1e-3, 'forces_rms': 1e-2, 'phase_energy_per_atom': 1e-3}
_PLAIN_FILE = re.compile(r'^[A-Za-z0-9_.-]+$')


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
    all_plots = {key: str(check_png(pathlib.Path(value), f'plots.{key}')) for key, value in (plots or {}).items()}
    all_plots.update((evaluation or {}).get('plots', {}))
    if reference_phases is None and evaluation and 'reference' in evaluation:
        reference_phases = evaluation['reference']
        reference_phases_source = evaluation.get('reference_source', 'the evaluation JSON')
    reference_phases = {
        phase: phase_energy(value, f'reference_phases.{phase}') for phase, value in (reference_phases or {}).items()
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
