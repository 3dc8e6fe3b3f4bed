"""Protocol presets (YAML) of the GAP-RSS loop and of indirect learning, and their loaders."""

from __future__ import annotations

import copy
import functools
import pathlib

import yaml

__all__ = (
    'PROTOCOL_FOLDER',
    'load_gaprss_protocol',
    'load_indirect_protocol',
    'md_protocols',
    'protocol_names',
    'student_validation_defaults',
    'student_validation_presets',
    'validation_defaults',
    'validation_presets',
    'validation_system_eos_phases',
)

PROTOCOL_FOLDER = pathlib.Path(__file__).resolve().parent


@functools.cache
def _read(name: str) -> dict:
    return yaml.safe_load((PROTOCOL_FOLDER / f'{name}.yaml').read_text(encoding='utf-8'))


def _names(kind: str) -> list[str]:
    return list(_read(kind)['protocols'])


def _load(kind: str, name: str | None) -> dict:
    """A copy of protocol ``name`` of ``<kind>.yaml`` (default: its ``default_protocol``); ValueError names it.

    A protocol with ``base: <other>`` is the other protocol with its own keys deep-merged on top (``base`` dropped).
    """
    content = _read(kind)
    name = name or content['default_protocol']
    if name not in content['protocols']:
        raise ValueError(f'field `protocol`: unknown protocol {name!r}; known: {sorted(content["protocols"])}')
    protocol = copy.deepcopy(content['protocols'][name])
    base = protocol.pop('base', None)
    if base is None:
        return protocol
    from aiida_gaprss.common.merge import deep_merge

    return deep_merge(_load(kind, base), protocol)


def protocol_names() -> list[str]:
    """Names of the GAP-RSS protocols."""
    return _names('gaprss')


def load_gaprss_protocol(name: str | None = None) -> dict:
    """Return a copy of GAP-RSS protocol ``name`` (default: the file's ``default_protocol``).

    Raises
    ------
    ValueError
        For an unknown name; the message names the field ``protocol`` and lists the known ones.
    """
    return _load('gaprss', name)


def load_indirect_protocol(name: str | None = None) -> dict:
    """Return a copy of indirect-learning protocol ``name`` (default: the file's ``default_protocol``).

    Raises
    ------
    ValueError
        For an unknown name; the message names the field ``protocol`` and lists the known ones.
    """
    return _load('indirect', name)


def _presets(kind: str) -> dict:
    """Every protocol of ``<kind>.yaml`` by name (``base`` resolved, ``description`` dropped), as copies."""
    presets = {name: _load(kind, name) for name in _names(kind)}
    for preset in presets.values():
        preset.pop('description', None)
    return presets


def md_protocols() -> dict:
    """The MD presets (``md.yaml``): name -> settings of :mod:`aiida_gaprss.rss.md` (ps, fs, K, GPa, K/ps)."""
    return _presets('md')


def student_validation_presets() -> dict:
    """The presets of the students' validation job (``student_validation.yaml``): name -> parameters without seed."""
    return _presets('student_validation')


def student_validation_defaults() -> dict:
    """What the students' validation job takes for the keys its parameters leave out (``student_validation.yaml``)."""
    return copy.deepcopy(_read('student_validation')['defaults'])


def validation_presets() -> dict:
    """Validation settings per protocol of the loop (``validation.yaml``): phases, ``eos_phases``, parameters."""
    return _presets('validation')


def validation_defaults() -> dict:
    """The validation jobs' default settings (``validation.yaml``, ``defaults``): relax, eos, processes."""
    return copy.deepcopy(_read('validation')['defaults'])


def validation_system_eos_phases() -> dict:
    """Compound phases with an E(V) curve when a chemical system is validated, per compound (``validation.yaml``)."""
    return {key: tuple(value) for key, value in _read('validation')['system_eos_phases'].items()}
