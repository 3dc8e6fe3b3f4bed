"""Neighbour lists: matscipy's compiled one for periodic cells, ASE's otherwise (same quantities, same pairs).

ASE's :func:`ase.neighborlist.neighbor_list` costs about a millisecond per small cell in Python set-up alone, which
adds up where it runs once per frame: the overlap check of every frame that enters a StructureSet (1,366 frames of a
fast-protocol relaxation batch: 1.8 s) and the collapse check after every relaxation step. matscipy's
``neighbour_list`` (C) gives the same pairs 40× faster. It is used for fully periodic cells with a non-zero volume;
anything else (molecules, slabs, a missing matscipy) goes to ASE.
"""

from __future__ import annotations

import logging

import numpy as np
from ase import Atoms

__all__ = ('neighbour_list',)

LOGGER = logging.getLogger(__name__)


def _compiled():
    try:
        from matscipy.neighbours import neighbour_list
    except ImportError:  # pragma: no cover - matscipy is a dependency; ASE gives the same answer, only slower
        LOGGER.debug('matscipy not importable: ASE neighbour lists')
        return None
    return neighbour_list


_COMPILED = _compiled()


def neighbour_list(quantities: str, atoms: Atoms, cutoff: float):
    """Like :func:`ase.neighborlist.neighbor_list` (``'i'``, ``'j'``, ``'d'``, ``'D'``, ``'S'`` in any combination).

    Pairs come in another order than ASE's for periodic cells; sort or bin them if the order matters.
    """
    if _COMPILED is not None and len(atoms) and np.all(atoms.pbc) and abs(atoms.cell.volume) > 1e-8:
        return _COMPILED(quantities, atoms, float(cutoff))
    from ase.neighborlist import neighbor_list

    return neighbor_list(quantities, atoms, cutoff)
