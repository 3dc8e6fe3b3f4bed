"""Data node types: datasets of structures, fitted GAP potentials and fitted student potentials.

The node classes are imported lazily, so the job modules (which import :mod:`aiida_gaprss.data.extxyz`) do not
import AiiDA.
"""

from __future__ import annotations

import importlib

__all__ = ('GapPotential', 'StructureSet', 'StudentPotential')

_MODULES = {
    'GapPotential': 'aiida_gaprss.data.gap_potential',
    'StructureSet': 'aiida_gaprss.data.structure_set',
    'StudentPotential': 'aiida_gaprss.data.student_potential',
}


def __getattr__(name: str):
    if name in _MODULES:
        return getattr(importlib.import_module(_MODULES[name]), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
