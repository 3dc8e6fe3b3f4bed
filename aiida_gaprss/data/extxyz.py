"""Exact extended-XYZ input/output and validation of labelled structures (no AiiDA imports).

ASE's own extxyz writer rounds positions and per-atom arrays to 8 decimals; a dataset node must give back exactly
what was stored, so frames are written here with full double precision (``repr`` of every float) and read back
with ASE's reader. Labels are kept as plain ``info``/``arrays`` entries (``energy``, ``forces``, ``virial``), never
as an ASE ``SinglePointCalculator``, which is what ``gap_fit`` reads and what survives pickling and copying.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import IO

import numpy as np
from ase import Atoms
from ase.io import extxyz as ase_extxyz
from ase.stress import voigt_6_to_full_3x3_stress

__all__ = (
    'LABELS',
    'MIN_SEPARATION',
    'check_frames',
    'check_text_fields',
    'read_frames',
    'read_structure_file',
    'take_calculator_results',
    'validate_frame',
    'with_calculator_results',
    'write_frames',
)

LOGGER = logging.getLogger(__name__)

#: Labels a dataset can carry, in the names ``gap_fit`` reads by default.
LABELS = ('energy', 'forces', 'virial')

#: Atoms closer than this (Å) are treated as overlapping: the frame is refused.
MIN_SEPARATION = 0.1

_SKIP_ARRAYS = ('numbers', 'positions')


def _format_value(value) -> str:
    """Format one per-atom value so that it reads back exactly."""
    if isinstance(value, (bool, np.bool_)):
        return 'T' if value else 'F'
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def _write_frame(handle: IO[str], atoms: Atoms) -> None:
    """Write one frame with full precision, keys in sorted order (so equal content gives an equal file and hash).

    The header comes from ASE so the format stays standard.
    """
    names = sorted(name for name in atoms.arrays if name not in _SKIP_ARRAYS)
    columns = ['species', 'pos', *names]
    arrays = {'species': np.array(atoms.get_chemical_symbols()), 'pos': atoms.positions}
    arrays.update({name: np.asarray(atoms.arrays[name]) for name in names})
    info = {key: atoms.info[key] for key in sorted(atoms.info) if atoms.info[key] is not None}
    carrier = Atoms(cell=atoms.cell, pbc=atoms.pbc)
    carrier.info = info
    comment, _, _, _ = ase_extxyz.output_column_format(carrier, columns, arrays, write_info=True)
    handle.write(f'{len(atoms)}\n{comment}\n')
    per_atom = [arrays[column].reshape(len(atoms), -1) for column in columns]
    for index in range(len(atoms)):
        fields = [_format_value(value) for block in per_atom for value in block[index]]
        handle.write(' '.join(fields) + '\n')


def write_frames(handle: IO[str], frames: Iterable[Atoms]) -> int:
    """Write frames as extended XYZ to an open text handle; return how many were written."""
    count = 0
    for atoms in frames:
        _write_frame(handle, atoms)
        count += 1
    return count


#: Results of an ASE calculator kept per atom (in ``arrays``) and per structure (in ``info``), as ASE's extxyz does.
PER_ATOM_RESULTS = tuple(ase_extxyz.per_atom_properties)
PER_STRUCTURE_RESULTS = tuple(ase_extxyz.per_config_properties)


def _same(first, second) -> bool:
    try:
        return bool(np.array_equal(np.asarray(first, dtype=float), np.asarray(second, dtype=float)))
    except (TypeError, ValueError):
        return False


def take_calculator_results(atoms: Atoms, index: int | None = None) -> Atoms:
    """Move the results of ``atoms.calc`` (e.g. a ``SinglePointCalculator``) into ``info``/``arrays``; detach it.

    ``atoms`` is changed in place and returned. Per-atom results (forces, ...) become ``arrays``, per-structure ones
    (energy, stress, ...) ``info`` entries of the same name, so no label is lost when the frame is written.

    Raises
    ------
    ValueError
        Naming the structure ``index`` and the field: results computed for other positions or cell, a result that
        disagrees with the ``info``/``arrays`` entry of the same name, or a result extxyz has no place for.
    """
    calc = atoms.calc
    if calc is None:
        return atoms
    where = f'structure {index}: ' if index is not None else ''
    results = dict(getattr(calc, 'results', None) or {})
    finite = np.all(np.isfinite(atoms.positions)) and np.all(np.isfinite(atoms.cell.array))  # else NaN != NaN
    if results and finite and getattr(calc, 'atoms', None) is not None:
        changes = calc.check_state(atoms)
        if changes:
            raise ValueError(
                f'{where}field `calc`: the calculator results {sorted(results)} belong to other {", ".join(changes)}; '
                'recompute them or detach the calculator (atoms.calc = None)'
            )
    for key, value in results.items():
        if key not in PER_ATOM_RESULTS + PER_STRUCTURE_RESULTS:
            raise ValueError(
                f'{where}field `calc.results.{key}`: extended XYZ has no place for this result; move it to '
                'atoms.info or atoms.arrays, or detach the calculator'
            )
        store, name = (atoms.arrays, 'arrays') if key in PER_ATOM_RESULTS else (atoms.info, 'info')
        try:
            value = float(value) if np.ndim(value) == 0 else np.array(value, dtype=float)
        except (TypeError, ValueError) as exception:
            raise ValueError(f'{where}field `calc.results.{key}`: not numbers ({exception})') from exception
        if key == 'stress' and np.shape(value) == (6,):  # extxyz reads `stress` back only as a 3x3 matrix
            value = voigt_6_to_full_3x3_stress(value)
        if key in store and not _same(store[key], value):
            raise ValueError(f'{where}field `{key}`: the calculator result differs from atoms.{name}[{key!r}]')
        store[key] = value
    atoms.calc = None
    return atoms


def _restore_labels(atoms: Atoms) -> Atoms:
    """Move results ASE's reader put in a ``SinglePointCalculator`` back into ``info``/``arrays``."""
    take_calculator_results(atoms)
    if 'virial' in atoms.info:
        atoms.info['virial'] = np.asarray(atoms.info['virial'], dtype=float).reshape(3, 3)
    return atoms


def with_calculator_results(atoms, index: int):
    """``atoms`` itself, or a copy holding its calculator's results as labels (the caller's object is not changed).

    Anything that is not an ``ase.Atoms`` is returned as it is (:func:`check_frames` names it).
    """
    if not isinstance(atoms, Atoms) or atoms.calc is None:
        return atoms
    copy = atoms.copy()
    copy.calc = atoms.calc
    return take_calculator_results(copy, index)


def read_frames(handle: IO[str], index=':') -> Iterator[Atoms]:
    """Iterate lazily over the frames of an open extended-XYZ text handle."""
    for atoms in ase_extxyz.read_xyz(handle, index=slice(None) if index == ':' else index):
        yield _restore_labels(atoms)


def read_structure_file(path: str | os.PathLike) -> list[Atoms]:
    """Every frame of an extended-XYZ file, read with the messages of :class:`StructureSet` (not yet validated).

    Raises
    ------
    ValueError
        Naming the structure index and the file: unreadable extended XYZ (truncated, garbage, bad number), unknown
        element, a file that cannot be opened or is not text.
    """
    frames: list[Atoms] = []
    try:
        with open(path, encoding='utf-8') as handle:
            for atoms in read_frames(handle):
                frames.append(atoms)
    except KeyError as exception:
        raise ValueError(
            f'structure {len(frames)}: field `species`: unknown element {exception} in file `{path}`'
        ) from exception
    except (ValueError, IndexError, OSError) as exception:  # UnicodeDecodeError is a ValueError
        raise ValueError(
            f'structure {len(frames)}: file `{path}`: not readable as extended XYZ: {exception}'
        ) from exception
    return frames


def check_frames(frames: Sequence, owner: str = 'StructureSet') -> None:
    """Refuse an empty sequence, an item that is not ``ase.Atoms`` and every frame :func:`validate_frame` refuses.

    ``owner`` names the container in the message of an empty sequence.
    """
    if len(frames) == 0:
        raise ValueError(f'{owner}: field `structures`: the set is empty')
    for index, atoms in enumerate(frames):
        if not isinstance(atoms, Atoms):
            raise ValueError(f'structure {index}: field `structures`: expected ase.Atoms, got {type(atoms)}')
        validate_frame(atoms, index)


#: Characters gap_fit's extended-XYZ reader (libAtoms) cannot read in a string value, with how messages name them.
UNREADABLE_CHARACTERS = {
    '"': 'a double quote (")',
    "'": "a single quote (')",
    '\n': 'a line break',
    '\r': 'a carriage return',
}


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.dtype.kind in 'UO'):
        for item in value:
            yield from _strings(item)


def check_text_fields(atoms: Atoms, where: str) -> None:
    """Refuse ``info`` keys and string values gap_fit cannot read back (quotes, line breaks), naming the field.

    libAtoms' reader has no escapes: a quote inside a value ends it early or shifts every key after it (gap_fit then
    stops with "read_xyz: first line () must be number of atoms"), a line break splits the frame.
    """
    for key, value in atoms.info.items():
        for text in (str(key), *_strings(value)):
            bad = next((character for character in UNREADABLE_CHARACTERS if character in text), None)
            if bad is not None:
                raise ValueError(
                    f'{where}: field `{key}`: {text!r} contains {UNREADABLE_CHARACTERS[bad]}, which gap_fit cannot '
                    'read in extended XYZ; use another character'
                )


def validate_frame(atoms: Atoms, index: int) -> None:
    """Refuse a frame that cannot be a training structure.

    Parameters
    ----------
    atoms
        The structure.
    index
        Its position in the dataset, named in every error message.

    Raises
    ------
    ValueError
        Naming the structure index and the field: empty structure, unknown element, non-finite positions or cell,
        a quote or line break in an ``info`` string (:func:`check_text_fields`), non-finite or wrongly shaped
        energy, forces or virial, atoms closer than :data:`MIN_SEPARATION`.
    """
    from ase.data import chemical_symbols

    from aiida_gaprss.rss.neighbours import neighbour_list

    where = f'structure {index}'
    if len(atoms) == 0:
        raise ValueError(f'{where}: field `numbers`: the structure has no atoms')
    numbers = atoms.numbers
    if np.any(numbers < 1) or np.any(numbers >= len(chemical_symbols)):
        raise ValueError(f'{where}: field `numbers`: unknown element (atomic number {numbers.min()}..{numbers.max()})')
    if not np.all(np.isfinite(atoms.positions)):
        raise ValueError(f'{where}: field `positions`: non-finite values')
    if not np.all(np.isfinite(atoms.cell.array)):
        raise ValueError(f'{where}: field `cell`: non-finite values')
    check_text_fields(atoms, where)
    if any(atoms.pbc) and abs(atoms.cell.volume) < 1e-6 and all(atoms.pbc):
        raise ValueError(f'{where}: field `cell`: periodic structure with a zero-volume cell')

    if 'energy' in atoms.info:
        energy = atoms.info['energy']
        if not isinstance(energy, (int, float, np.integer, np.floating)) or not np.isfinite(energy):
            raise ValueError(f'{where}: field `energy`: must be a finite number, got {energy!r}')
    if 'forces' in atoms.arrays:
        forces = np.asarray(atoms.arrays['forces'])
        if forces.shape != (len(atoms), 3):
            raise ValueError(f'{where}: field `forces`: shape {forces.shape}, expected ({len(atoms)}, 3)')
        if not np.all(np.isfinite(forces)):
            raise ValueError(f'{where}: field `forces`: non-finite values')
    if 'virial' in atoms.info:
        virial = np.asarray(atoms.info['virial'], dtype=float)
        if virial.size != 9:
            raise ValueError(f'{where}: field `virial`: {virial.size} numbers, expected 9 (3x3)')
        if not np.all(np.isfinite(virial)):
            raise ValueError(f'{where}: field `virial`: non-finite values')

    if len(atoms) > 1 or any(atoms.pbc):
        distances = neighbour_list('d', atoms, MIN_SEPARATION) if any(atoms.pbc) else None
        if distances is None:
            from scipy.spatial.distance import pdist

            distances = pdist(atoms.positions)
        if np.any(np.asarray(distances) < MIN_SEPARATION):
            closest = float(np.min(distances))
            raise ValueError(
                f'{where}: field `positions`: atoms overlap ({closest:.4f} Å apart, minimum {MIN_SEPARATION} Å)'
            )


def frames_to_string(frames: Iterable[Atoms]) -> str:
    """Return the extended-XYZ text of ``frames`` (convenience for small sets and tests)."""
    handle = io.StringIO()
    write_frames(handle, frames)
    return handle.getvalue()
