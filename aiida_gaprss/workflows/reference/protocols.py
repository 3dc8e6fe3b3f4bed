"""Reading the reference protocols (``aiida_gaprss/protocols/reference_<engine>.yaml``).

A QE protocol is aiida-quantumespresso's ``PwBaseWorkChain`` protocol ``plugin_protocol`` plus the differences the
file holds (:func:`qe_plugin_inputs`); cut-offs an element does not list come from the pseudopotential family
(:func:`qe_cutoffs`), k-point spacings it does not list from the plugin protocol's ``kpoints_distance``.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import pathlib

import yaml

from aiida_gaprss.common.merge import deep_merge

__all__ = ('load_protocol', 'qe_cutoffs', 'qe_plugin_inputs', 'qe_unset_keys', 'settings_for_species')

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


def qe_unset_keys() -> tuple[str, ...]:
    """Dotted paths of aiida-quantumespresso's protocol inputs the QE builders leave unset unless given."""
    return tuple(_read('qe').get('unset', ()))


def qe_plugin_inputs(protocol: dict) -> dict:
    """aiida-quantumespresso's ``PwBaseWorkChain`` protocol inputs of a QE ``protocol`` with its ``overrides``.

    The plugin's own ``get_protocol_inputs``: ``kpoints_distance``, ``meta_parameters`` and ``pw.parameters`` before
    the structure enters (no cut-offs, no ``conv_thr``: those depend on the structure).
    """
    from aiida.plugins import WorkflowFactory

    overrides = deep_merge(protocol.get('overrides', {}), {'pseudo_family': protocol['pseudo_family']})
    return WorkflowFactory('quantumespresso.pw.base').get_protocol_inputs(protocol['plugin_protocol'], overrides)


def settings_for_species(protocol: dict, species, engine: str) -> dict:
    """Per-element settings combined over ``species``: largest cut-offs, smallest k-point spacing.

    For QE, ``kpoints_spacing`` is always there (an element that lists none takes the plugin protocol's
    ``kpoints_distance``); a cut-off is there when an element of ``species`` lists it (else the family's applies,
    :func:`qe_cutoffs`).

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
        entry = dict(elements[symbol] or {})
        if engine == 'qe':
            entry.setdefault('kpoints_spacing', qe_plugin_inputs(protocol)['kpoints_distance'])
        for key, value in entry.items():
            if key.startswith('kpoints_spacing') or key == 'kspacing':
                combined[key] = min(value, combined.get(key, math.inf))
            else:
                combined[key] = max(value, combined.get(key, -math.inf))
    return combined


def _family_cutoffs(label: str, symbol: str) -> tuple[float, float]:
    """(ecutwfc, ecutrho) in Ry the family recommends for ``symbol``; the default family's table without a profile."""
    from aiida.common.exceptions import ConfigurationError
    from aiida.manage import get_manager

    from aiida_gaprss.pseudos import DEFAULT_FAMILY_LABEL, DEFAULT_PBE

    if get_manager().get_profile() is None:
        if label != DEFAULT_FAMILY_LABEL:
            raise ConfigurationError(f'field `qe.pseudo_family`: family `{label}` needs an AiiDA profile')
        return DEFAULT_PBE[symbol][1], DEFAULT_PBE[symbol][2]
    from aiida import orm

    family = orm.load_group(label)
    if not hasattr(family, 'get_recommended_cutoffs'):
        raise ValueError(
            f'field `qe.pseudo_family`: family `{label}` recommends no cut-offs and the protocol lists none for '
            f'{symbol}: give qe.parameters.SYSTEM.ecutwfc and ecutrho'
        )
    return family.get_recommended_cutoffs(elements=(symbol,), unit='Ry')


def qe_cutoffs(protocol: dict, species, family_label: str, *, always: bool = False) -> dict:
    """``{'ecutwfc', 'ecutrho'}`` (Ry) over ``species``: each element's listed cut-off, else its family's; the largest.

    Empty when no element of ``species`` lists a cut-off: then they are the family's alone, which
    ``PwBaseWorkChain.get_builder_from_protocol`` asks the family for itself (``always``: the family's values then).
    """
    elements = protocol['elements']
    if not always and not any(
        key in (elements.get(symbol) or {}) for symbol in species for key in ('ecutwfc', 'ecutrho')
    ):
        return {}
    combined = {'ecutwfc': -math.inf, 'ecutrho': -math.inf}
    for symbol in species:
        listed = elements.get(symbol) or {}
        family = None if all(key in listed for key in combined) else _family_cutoffs(family_label, symbol)
        for position, key in enumerate(combined):
            combined[key] = max(combined[key], listed[key] if key in listed else family[position])
    return combined
