"""Calcfunctions of the GAP-RSS workflows: cheap bookkeeping on StructureSets, with provenance.

Heavy work never runs here (it runs in CalcJobs on the computer): these functions read at most a training database
(a few thousand structures), attach per-structure information, merge and split datasets.
"""

from __future__ import annotations

import logging

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_gaprss.data.structure_set import StructureSet

__all__ = ('add_hull_sigmas', 'merge_structure_sets', 'split_structure_set')

LOGGER = logging.getLogger(__name__)


@calcfunction
def add_hull_sigmas(structures: StructureSet, settings: orm.Dict) -> dict:
    """Per-structure gap_fit sigmas from the (V, E) lower convex hull, and δ_2b from the spread of the energies.

    ``settings``: ``natoms_scaling`` ('linear' or 'sqrt', see :mod:`aiida_gaprss.rss.hull`), ``delta_2b_about``
    ('mean' or 'e0'), ``e0`` (isolated-atom energies, eV, needed for 'e0'), ``special_sigmas`` (per config_type
    left out of the hull, e.g. ``dimer``: σ_E eV/atom, σ_F eV/Å, σ_V eV/atom instead of the loosest sigmas).

    With ``elements`` (several chemical symbols) the hull is the (composition, V, E) lower hull
    (:func:`aiida_gaprss.rss.formation_hull.composition_volume_hull_distance`) and δ_2b is
    :func:`aiida_gaprss.rss.gap_multicomponent.delta_2b_multicomponent` (``delta_2b_about`` 'mean' only).

    Returns ``structures`` (the same structures with ``energy_sigma``, ``force_sigma``, ``virial_sigma`` and
    ``hull_distance``) and ``report`` (``delta_2b`` in eV, hull statistics).
    """
    from aiida_gaprss.rss.training_sigmas import set_training_sigmas

    options = settings.get_dict()
    frames = structures.get_atoms()
    delta = set_training_sigmas(
        frames,
        elements=options.get('elements'),
        natoms_scaling=options.get('natoms_scaling', 'linear'),
        special_sigmas=options.get('special_sigmas'),
        e0=options.get('e0') or None,
        delta_2b_about=options.get('delta_2b_about', 'mean'),
    )
    distances = np.array([atoms.info.get('hull_distance', np.nan) for atoms in frames], dtype=float)
    on_hull = int(np.sum(np.isfinite(distances) & (distances < 1e-6)))
    report = {
        'delta_2b': float(delta),
        'num_on_hull': on_hull,
        'num_outside_hull': int(np.sum(~np.isfinite(distances))),
        'max_hull_distance': float(np.nanmax(distances)) if np.isfinite(distances).any() else None,
    }
    return {'structures': StructureSet.from_atoms(frames), 'report': orm.Dict(report)}


@calcfunction
def merge_structure_sets(**sets: StructureSet) -> StructureSet:
    """Concatenate StructureSets in the order of their (sorted) keyword names."""
    frames = []
    for key in sorted(sets):
        frames.extend(sets[key].iter_atoms())
    return StructureSet.from_atoms(frames)


@calcfunction
def split_structure_set(structures: StructureSet, chunks: orm.Int) -> dict:
    """Split a StructureSet into ``chunks`` nearly equal consecutive parts ``part_000``, ``part_001``, ..."""
    frames = structures.get_atoms()
    count = max(1, min(int(chunks.value), len(frames)))
    bounds = np.linspace(0, len(frames), count + 1).round().astype(int)
    return {
        f'part_{index:03d}': StructureSet.from_atoms(frames[start:stop])
        for index, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
    }
