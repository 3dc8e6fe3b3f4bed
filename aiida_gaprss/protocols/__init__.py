"""Protocol presets (YAML) of the GAP-RSS loop and of indirect learning, and their loaders."""

from __future__ import annotations

import copy
import functools
import pathlib

import yaml

__all__ = (
    'PROTOCOL_FOLDER',
    'indirect_protocol_names',
    'load_gaprss_protocol',
    'load_indirect_protocol',
    'protocol_names',
)

PROTOCOL_FOLDER = pathlib.Path(__file__).resolve().parent


@functools.cache
def _read(name: str) -> dict:
    return yaml.safe_load((PROTOCOL_FOLDER / f'{name}.yaml').read_text(encoding='utf-8'))


def protocol_names() -> list[str]:
    """Names of the GAP-RSS protocols."""
    return list(_read('gaprss')['protocols'])


def load_gaprss_protocol(name: str | None = None) -> dict:
    """Return a copy of GAP-RSS protocol ``name`` (default: the file's ``default_protocol``).

    Raises
    ------
    ValueError
        For an unknown name; the message names the field ``protocol`` and lists the known ones.
    """
    content = _read('gaprss')
    name = name or content['default_protocol']
    if name not in content['protocols']:
        raise ValueError(f'field `protocol`: unknown protocol {name!r}; known: {sorted(content["protocols"])}')
    return copy.deepcopy(content['protocols'][name])


def indirect_protocol_names() -> list[str]:
    """Names of the indirect-learning protocols (``indirect.yaml``)."""
    return list(_read('indirect')['protocols'])


def load_indirect_protocol(name: str | None = None) -> dict:
    """Return a copy of indirect-learning protocol ``name`` (default: the file's ``default_protocol``).

    Raises
    ------
    ValueError
        For an unknown name; the message names the field ``protocol`` and lists the known ones.
    """
    content = _read('indirect')
    name = name or content['default_protocol']
    if name not in content['protocols']:
        raise ValueError(f'field `protocol`: unknown protocol {name!r}; known: {sorted(content["protocols"])}')
    return copy.deepcopy(content['protocols'][name])
