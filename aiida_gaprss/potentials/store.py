"""Finding, checking and loading the shipped potentials (no AiiDA imports).

A shipped potential is a folder ``<root>/<name>/`` holding a ``metadata.json`` (the format is described in
:mod:`aiida_gaprss.potentials` and docs/potentials.md). The root is, in this order: the ``root`` argument of every
function, the environment variable :data:`ROOT_VARIABLE`, or the package folder ``aiida_gaprss/potentials/``.

The GAP files are stored gzipped; quippy needs plain files next to each other, so :func:`gap_folder` decompresses
them once into a user cache folder (``$XDG_CACHE_HOME/aiida-gaprss/potentials``, default ``~/.cache/...``), checks
every file against the SHA-256 sums of ``metadata.json`` on the way in and on every later use, and replaces a
cached copy that does not match.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import pathlib
import re
import shutil
import tempfile
from collections.abc import Mapping

import numpy as np

__all__ = (
    'CACHE_VARIABLE',
    'CHECK_TOLERANCES',
    'FORMAT_VERSION',
    'METADATA_FILENAME',
    'PACKAGE_ROOT',
    'ROOT_VARIABLE',
    'available',
    'cache_root',
    'check_energy',
    'file_digests',
    'gap_folder',
    'load',
    'metadata',
    'path',
    'shipped_root',
    'spec',
    'validate_name',
    'verify',
)

LOGGER = logging.getLogger(__name__)

#: Folder of the potentials that ship with the package.
PACKAGE_ROOT = pathlib.Path(__file__).resolve().parent
#: Environment variable that replaces :data:`PACKAGE_ROOT` (tests, or a folder of one's own potentials).
ROOT_VARIABLE = 'GAPRSS_POTENTIALS_ROOT'
#: The XDG variable of the user cache folder.
CACHE_VARIABLE = 'XDG_CACHE_HOME'
#: The file that makes a folder a shipped potential.
METADATA_FILENAME = 'metadata.json'
#: Version of the folder format written by :func:`aiida_gaprss.potentials.build.write_potential`.
FORMAT_VERSION = 1
#: How closely :func:`check_energy` must reproduce the stored check values: eV/atom and eV/Å.
CHECK_TOLERANCES = {'energy_per_atom': 1e-6, 'forces': 1e-5}

_NAME = re.compile(r'^[a-z0-9][a-z0-9._-]{0,63}$')


def validate_name(name) -> str:
    """Return ``name`` if it can name a potential folder (lower case, digits, ``.``, ``_``, ``-``).

    Raises
    ------
    ValueError
        Naming the field ``name``.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f'field `name`: {name!r} is not a potential name (lower-case letters, digits, ".", "_" and "-", '
            'at most 64 characters, e.g. "si-pbe-gaprss")'
        )
    return name


def shipped_root(root: str | os.PathLike | None = None) -> pathlib.Path:
    """The folder holding the shipped potentials: ``root``, else ``$GAPRSS_POTENTIALS_ROOT``, else the package's."""
    if root is None:
        root = os.environ.get(ROOT_VARIABLE) or PACKAGE_ROOT
    return pathlib.Path(root).expanduser()


def available(root: str | os.PathLike | None = None) -> list[str]:
    """Names of the shipped potentials (sub-folders of the root that hold a ``metadata.json``), sorted."""
    folder = shipped_root(root)
    if not folder.is_dir():
        return []
    return sorted(
        child.name
        for child in folder.iterdir()
        if child.is_dir() and (child / METADATA_FILENAME).is_file() and _NAME.match(child.name)
    )


def path(name: str, root: str | os.PathLike | None = None) -> pathlib.Path:
    """The folder of the shipped potential ``name``.

    Raises
    ------
    ValueError
        If no potential of that name ships; the message lists those that do.
    """
    names = available(root)
    if not isinstance(name, str) or name not in names:
        shipped = ', '.join(names) if names else 'none'
        raise ValueError(f'field `name`: no shipped potential {name!r}; shipped: {shipped} (in {shipped_root(root)})')
    return shipped_root(root) / name


def metadata(name: str, root: str | os.PathLike | None = None) -> dict:
    """The content of the potential's ``metadata.json``.

    Raises
    ------
    ValueError
        For an unknown name, an unreadable file or a format version this code does not read.
    """
    file = path(name, root) / METADATA_FILENAME
    try:
        content = json.loads(file.read_text(encoding='utf-8'))
    except (OSError, json.JSONDecodeError) as exception:
        raise ValueError(f'potential {name!r}: `{file}` is not readable JSON: {exception}') from exception
    if not isinstance(content, dict) or content.get('format') != FORMAT_VERSION:
        found = content.get('format') if isinstance(content, dict) else None
        raise ValueError(f'potential {name!r}: field `format` of {METADATA_FILENAME} is {found!r}, expected '
                         f'{FORMAT_VERSION}')  # fmt: skip
    return content


def file_digests(file: str | os.PathLike) -> dict:
    """``{'size', 'sha256', 'md5'}`` of a file (read in blocks)."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with open(file, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            sha.update(block)
            md5.update(block)
            size += len(block)
    return {'size': size, 'sha256': sha.hexdigest(), 'md5': md5.hexdigest()}


def _check_file(name: str, file: pathlib.Path, expected: Mapping, label: str) -> None:
    if not file.is_file():
        raise ValueError(f'potential {name!r}: file `{label}` is missing from `{file.parent}`')
    digests = file_digests(file)
    if digests['sha256'] != expected.get('sha256'):
        raise ValueError(
            f'potential {name!r}: file `{label}` does not match its sha256 in {METADATA_FILENAME} '
            f'(expected {expected.get("sha256")}, found {digests["sha256"]}): the folder is damaged or was edited'
        )


def verify(name: str, root: str | os.PathLike | None = None) -> dict:
    """Check every file of the potential against the sizes and SHA-256 sums of its ``metadata.json``.

    Returns
    -------
    dict
        ``{'files': number of files checked, 'size': their total size in bytes}``.

    Raises
    ------
    ValueError
        Naming the first file that is missing or does not match, or a file of the folder the metadata does not list.
    """
    folder = path(name, root)
    info = metadata(name, root)
    files = info.get('files') or {}
    if not files:
        raise ValueError(f'potential {name!r}: field `files` of {METADATA_FILENAME} is empty')
    for label, expected in sorted(files.items()):
        _check_file(name, folder / label, expected, label)
    unlisted = sorted(
        child.name for child in folder.iterdir() if child.name != METADATA_FILENAME and child.name not in files
    )
    if unlisted:
        raise ValueError(f'potential {name!r}: file `{unlisted[0]}` is in the folder but not in {METADATA_FILENAME}')
    return {'files': len(files), 'size': sum(int(entry['size']) for entry in files.values())}


def cache_root() -> pathlib.Path:
    """``$XDG_CACHE_HOME/aiida-gaprss/potentials`` (``~/.cache`` when the variable is unset or empty)."""
    base = os.environ.get(CACHE_VARIABLE) or pathlib.Path.home() / '.cache'
    return pathlib.Path(base).expanduser() / 'aiida-gaprss' / 'potentials'


def _gap_files(name: str, info: Mapping) -> dict:
    gap = info.get('gap') or {}
    files = gap.get('files') or {}
    if not files or gap.get('xml') not in files:
        raise ValueError(f'potential {name!r}: field `gap` of {METADATA_FILENAME} lists no GAP XML file')
    return files


def _matches(folder: pathlib.Path, files: Mapping) -> bool:
    for plain, entry in files.items():
        file = folder / plain
        if (
            not file.is_file()
            or file.stat().st_size != entry['size']
            or file_digests(file)['sha256'] != entry['sha256']
        ):
            return False
    return True


def gap_folder(name: str, root: str | os.PathLike | None = None) -> pathlib.Path:
    """A folder holding the potential's plain GAP files (``gap.xml`` and its sparseX files), checked.

    Plain files are used where they ship; gzipped ones are decompressed once into
    ``<cache_root()>/<name>-<digest>/`` (the digest covers every GAP file, so a new version of a potential gets a
    new folder) and checked against ``metadata.json`` on every call.

    Raises
    ------
    ValueError
        If a stored or decompressed file does not match its checksum (naming the file).
    """
    folder = path(name, root)
    info = metadata(name, root)
    files = _gap_files(name, info)
    stored = info.get('files') or {}
    if all(entry.get('stored', plain) == plain for plain, entry in files.items()):
        for plain, entry in files.items():
            _check_file(name, folder / plain, entry, plain)
        return folder
    key = hashlib.sha256(''.join(f'{p}:{files[p]["sha256"]};' for p in sorted(files)).encode()).hexdigest()[:16]
    target = cache_root() / f'{name}-{key}'
    if target.is_dir():
        if _matches(target, files):
            return target
        LOGGER.warning('cached GAP files of %s in %s do not match %s: extracting again', name, target,
                       METADATA_FILENAME)  # fmt: skip
        shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix=f'.{name}-', dir=target.parent))
    try:
        for plain, entry in files.items():
            source = folder / entry.get('stored', plain)
            if source.name not in stored:
                raise ValueError(f'potential {name!r}: file `{source.name}` is not listed in field `files` of '
                                 f'{METADATA_FILENAME}')  # fmt: skip
            _check_file(name, source, stored[source.name], source.name)
            if source.name == plain:
                shutil.copyfile(source, work / plain)
            else:
                with gzip.open(source, 'rb') as reader, open(work / plain, 'wb') as writer:
                    shutil.copyfileobj(reader, writer)
            _check_file(name, work / plain, entry, f'{plain} (decompressed from {source.name})')
        try:
            work.rename(target)
        except OSError:  # another process put it there first
            if not _matches(target, files):
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    LOGGER.info('GAP files of %s decompressed into %s', name, target)
    return target


def spec(name: str, root: str | os.PathLike | None = None, args_str: str | None = None) -> dict:
    """A picklable calculator spec of the potential (see :func:`aiida_gaprss.rss.potentials.calculator_from_spec`).

    Worker processes (e.g. :func:`aiida_gaprss.rss.relax.relax_structures`) build their own calculator from it.
    """
    info = metadata(name, root)
    result = {'type': 'gap', 'xml': str(gap_folder(name, root) / info['gap']['xml'])}
    if args_str is not None:
        result['args_str'] = args_str
    return result


def load(name: str, root: str | os.PathLike | None = None, **kwargs):
    """An ASE calculator (quippy ``Potential``) of the shipped potential ``name``.

    Parameters
    ----------
    name : str
        One of :func:`available`, e.g. ``'si-pbe-gaprss'``.
    root : path, optional
        Folder of the potentials (default: ``$GAPRSS_POTENTIALS_ROOT`` or the package's).
    **kwargs
        ``args_str`` goes into the calculator spec; anything else is passed to ``quippy.potential.Potential``.

    Raises
    ------
    ValueError
        For an unknown name (listing what ships) or a file that does not match its checksum.
    """
    from aiida_gaprss.rss.potentials import calculator_from_spec

    calculator_spec = spec(name, root, kwargs.pop('args_str', None))
    if not kwargs:
        return calculator_from_spec(calculator_spec)
    from quippy.potential import Potential

    return Potential(calculator_spec.get('args_str', ''), param_filename=calculator_spec['xml'], **kwargs)


def check_atoms(entry: Mapping):
    """The :class:`ase.Atoms` of a ``check`` entry of ``metadata.json``."""
    from ase import Atoms

    return Atoms(entry['symbols'], positions=entry['positions'], cell=entry['cell'], pbc=entry['pbc'])


def check_energy(name: str, root: str | os.PathLike | None = None, calculator=None) -> dict:
    """Energy and forces of the stored check structure with the potential, against the values in ``metadata.json``.

    Returns
    -------
    dict
        ``energy_per_atom`` and ``expected_energy_per_atom`` (eV/atom), ``energy_difference`` (eV/atom),
        ``forces_max_difference`` (eV/Å), ``tolerances`` and ``passed``.
    """
    entry = metadata(name, root).get('check')
    if not entry:
        raise ValueError(f'potential {name!r}: field `check` of {METADATA_FILENAME} is missing')
    atoms = check_atoms(entry)
    atoms.calc = calculator if calculator is not None else load(name, root)
    energy = float(atoms.get_potential_energy()) / len(atoms)
    forces = np.asarray(atoms.get_forces())
    difference = energy - float(entry['energy_per_atom'])
    force_difference = float(np.max(np.abs(forces - np.asarray(entry['forces'])))) if len(atoms) else 0.0
    return {
        'energy_per_atom': energy,
        'expected_energy_per_atom': float(entry['energy_per_atom']),
        'energy_difference': difference,
        'forces_max_difference': force_difference,
        'tolerances': dict(CHECK_TOLERANCES),
        'passed': bool(
            abs(difference) <= CHECK_TOLERANCES['energy_per_atom'] and force_difference <= CHECK_TOLERANCES['forces']
        ),
    }
