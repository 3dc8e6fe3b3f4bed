"""Reading the reference protocols (``aiida_gaprss/protocols/reference_<engine>.yaml``) and k-point meshes."""

from __future__ import annotations

import copy
import functools
import logging
import math
import pathlib

import yaml

__all__ = ('load_protocol', 'settings_for_species')

LOGGER = logging.getLogger(__name__)

_FOLDER = pathlib.Path(__file__).resolve().parents[2] / 'protocols'


@functools.cache
def _read(engine: str) -> dict:
    path = _FOLDER / f'reference_{engine}.yaml'
    if not path.is_file():
        raise ValueError(f'field `engine`: no protocol file for engine {engine!r} ({path})')
    return yaml.safe_load(path.read_text(encoding='utf-8'))


def load_protocol(engine: str, name: str | None = None) -> dict:
    """Return a copy of protocol ``name`` (default: the file's ``default_protocol``) for ``engine`` (qe or vasp)."""
    content = _read(engine)
    name = name or content['default_protocol']
    if name not in content['protocols']:
        raise ValueError(f'field `{engine}.protocol`: unknown protocol {name!r}; known: {sorted(content["protocols"])}')
    return copy.deepcopy(content['protocols'][name])


def settings_for_species(protocol: dict, species, engine: str) -> dict:
    """Per-element settings combined over ``species``: largest cut-offs, smallest k-point spacing.

    Raises
    ------
    ValueError
        If an element has no entry in the protocol (the message names the element).
    """
    elements = protocol['elements']
    missing = sorted(set(species) - set(elements))
    if missing:
        raise ValueError(
            f'element {missing[0]}: no {engine} defaults in the protocol (known: {sorted(elements)}); '
            f'extend aiida_gaprss/protocols/reference_{engine}.yaml'
        )
    combined: dict = {}
    for symbol in species:
        for key, value in elements[symbol].items():
            if key.startswith('kpoints_spacing') or key == 'kspacing':
                combined[key] = min(value, combined.get(key, math.inf))
            else:
                combined[key] = max(value, combined.get(key, -math.inf))
    return combined
