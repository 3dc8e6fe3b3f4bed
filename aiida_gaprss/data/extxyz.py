"""Exact extended-XYZ input/output and validation of labelled structures (no AiiDA imports).

ASE's own extxyz writer rounds positions and per-atom arrays to 8 decimals; a dataset node must give back exactly
what was stored, so frames are written here with full double precision (``repr`` of every float) and read back
with ASE's reader. Labels are kept as plain ``info``/``arrays`` entries (``energy``, ``forces``, ``virial``), never
as an ASE ``SinglePointCalculator``, which is what ``gap_fit`` reads and what survives pickling and copying.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Iterator
from typing import IO

import numpy as np
from ase import Atoms
from ase.io import extxyz as ase_extxyz

__all__ = (
    'LABELS',
    'MIN_SEPARATION',
    'read_frames',
    'validate_frame',
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


def _restore_labels(atoms: Atoms) -> Atoms:
    """Move results ASE's reader put in a ``SinglePointCalculator`` back into ``info``/``arrays``."""
    calc = atoms.calc
    if calc is not None:
        results = dict(getattr(calc, 'results', {}))
        atoms.calc = None
        if 'energy' in results:
            atoms.info['energy'] = float(results['energy'])
        if 'free_energy' in results:
            atoms.info['free_energy'] = float(results['free_energy'])
        if 'forces' in results:
            atoms.arrays['forces'] = np.array(results['forces'], dtype=float)
        if 'stress' in results:
            atoms.info['stress'] = np.array(results['stress'], dtype=float)
    if 'virial' in atoms.info:
        atoms.info['virial'] = np.asarray(atoms.info['virial'], dtype=float).reshape(3, 3)
    return atoms


def read_frames(handle: IO[str], index=':') -> Iterator[Atoms]:
    """Iterate lazily over the frames of an open extended-XYZ text handle."""
    for atoms in ase_extxyz.read_xyz(handle, index=slice(None) if index == ':' else index):
        yield _restore_labels(atoms)


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
        non-finite or wrongly shaped energy, forces or virial, atoms closer than :data:`MIN_SEPARATION`.
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
