"""Which labelled structures a student is fitted to: close contacts and configurations far above the hull.

A Moment Tensor Potential's radial basis starts at ``min_dist`` (1.5 Å for Si, paper Table S2): a pair closer than
that lies outside the basis, so the student can only fit such a structure by distorting everything else (motep
warns about it). The GAP-RSS database that the teacher relabels holds such pairs (its short dimers), and random
cells far above the convex hull that a 5 Å MTP cannot represent. :func:`training_filter` decides, structure by
structure, what is kept and records why anything is left out; the workflow stores that record with the filtered set,
so a left-out structure is never lost silently.

Criteria (either may be off):

``min_dist``
    Leave out every structure with an interatomic distance (periodic images included) below ``min_dist`` Å.
``max_above_hull``
    Leave out fully periodic structures whose energy lies more than ``max_above_hull`` eV/atom above the lower
    convex hull of (volume, energy) per atom of the periodic structures of the set
    (:func:`aiida_gaprss.rss.hull.lower_hull_distance`). Structures without a meaningful volume (not fully periodic,
    or ``config_type`` in :data:`aiida_gaprss.rss.hull.SPECIAL_CONFIG_TYPES`: isolated atoms, dimers in a box) are
    kept out of the hull, as in the GAP fit's sigmas, and never left out by this criterion.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
from ase import Atoms

from aiida_gaprss.common import checks
from aiida_gaprss.rss.hull import SPECIAL_CONFIG_TYPES, lower_hull_distance
from aiida_gaprss.rss.neighbours import neighbour_list

__all__ = ('FILTER_KEYS', 'minimum_distance', 'training_filter', 'validate_filter_settings')

logger = logging.getLogger(__name__)

#: Keys of the filter settings.
FILTER_KEYS = ('min_dist', 'max_above_hull')


def validate_filter_settings(settings: dict, field: str = 'filter') -> dict:
    """Return the settings with defaults (both criteria off) or raise ``ValueError`` naming the field.

    Parameters
    ----------
    settings : dict
        ``{'min_dist': Å or None, 'max_above_hull': eV/atom or None}``.
    field : str
        Name of the settings in error messages.
    """
    if not isinstance(settings, dict):
        raise ValueError(f'field `{field}`: expected a dict, got {settings!r}')
    unknown = sorted(set(settings) - set(FILTER_KEYS))
    if unknown:
        raise ValueError(f'field `{field}.{unknown[0]}`: unknown key; known: {list(FILTER_KEYS)}')
    result = {}
    for key in FILTER_KEYS:
        value = settings.get(key)
        if value is not None:
            value = checks.positive_number(value, checks.field(f'{field}.{key}'), expected='a positive number or null')
        result[key] = value
    return result


def minimum_distance(atoms: Atoms, cutoff: float) -> float:
    """The shortest interatomic distance (Å) of ``atoms`` if it is below ``cutoff``, else ``math.inf``."""
    if len(atoms) < 2 and not any(atoms.pbc):
        return math.inf
    distances = neighbour_list('d', atoms, float(cutoff))
    return float(np.min(distances)) if len(distances) else math.inf


def training_filter(structures: Sequence[Atoms], settings: dict) -> tuple[list[int], list[dict]]:
    """Decide which structures to keep.

    Parameters
    ----------
    structures : sequence of ase.Atoms
        Labelled structures (``info['energy']`` is needed when ``max_above_hull`` is set).
    settings : dict
        See :func:`validate_filter_settings`.

    Returns
    -------
    (list of int, list of dict)
        The indices kept, in order, and one record per structure left out: ``index``, ``reason``
        (``'min_dist'`` or ``'above_hull'``), ``value`` (the shortest distance in Å or the energy above the hull in
        eV/atom), ``limit``, and the structure's ``config_type`` and ``origin`` when it has them.

    Raises
    ------
    ValueError
        If the settings are bad, or ``max_above_hull`` is set and a periodic structure has no energy.
    """
    settings = validate_filter_settings(settings)
    excluded: dict[int, dict] = {}
    min_dist = settings['min_dist']
    if min_dist is not None:
        for index, atoms in enumerate(structures):
            shortest = minimum_distance(atoms, min_dist)
            if shortest < min_dist:
                excluded[index] = {'reason': 'min_dist', 'value': shortest, 'limit': min_dist}
    max_above = settings['max_above_hull']
    if max_above is not None:
        periodic = [
            i
            for i, atoms in enumerate(structures)
            if all(atoms.pbc) and atoms.cell.rank == 3 and atoms.info.get('config_type') not in SPECIAL_CONFIG_TYPES
        ]
        if periodic:
            for i in periodic:
                if 'energy' not in structures[i].info:
                    raise ValueError(f"structures[{i}].info['energy']: missing (needed by max_above_hull)")
            volumes = [structures[i].get_volume() / len(structures[i]) for i in periodic]
            energies = [float(structures[i].info['energy']) / len(structures[i]) for i in periodic]
            for i, distance in zip(periodic, lower_hull_distance(volumes, energies), strict=True):
                if distance > max_above and i not in excluded:
                    excluded[i] = {'reason': 'above_hull', 'value': float(distance), 'limit': max_above}
    records = []
    for index in sorted(excluded):
        record = {'index': index, **excluded[index]}
        for key in ('config_type', 'origin'):
            if key in structures[index].info:
                record[key] = str(structures[index].info[key])
        records.append(record)
    kept = [index for index in range(len(structures)) if index not in excluded]
    if records:
        reasons = {reason: sum(r['reason'] == reason for r in records) for reason in ('min_dist', 'above_hull')}
        logger.info('training filter: %d of %d structures left out %s', len(records), len(structures), reasons)
    return kept, records
