"""The chemical system of a GAP-RSS run: one ``element`` (as always) or a ``composition`` of several elements.

How the composition flows through the inputs
-------------------------------------------
``GapRssWorkChain`` and ``GapRssIterationWorkChain`` take exactly one of

* ``element`` (``orm.Str``, a chemical symbol): the elemental loop, unchanged — same inputs, same nodes, same numbers;
* ``composition`` (``orm.Str`` such as ``'SiC'``, ``'SiO2'`` or the chemical system ``'Si-C'``; ``orm.Dict`` of
  counts ``{'Si': 1, 'C': 1}`` or fraction ranges ``{'Si': [0.25, 0.75], 'C': [0.25, 0.75]}``; ``orm.List`` of
  formulas), read by :func:`aiida_gaprss.rss.composition.parse_composition`.

With a composition the iteration puts it into the pool parameters instead of ``element`` (random cells of
:mod:`aiida_gaprss.rss.compound_generation`, dimers of every species pair), gives the selection SOAP every species,
bins the flat histogram on the enthalpy above the formation hull (``selection.enthalpy = 'above_formation_hull'``,
required), asks the reference for the isolated-atom energy of every element (``reference.isolated_atoms``, computed
once per element and settings and then reused) and fits with ``e0`` per element and ``settings.elements`` (the
composition–volume hull sigmas and the composition-aware δ_2b of :mod:`aiida_gaprss.workflows.functions`). The fit
parameters come from :func:`aiida_gaprss.rss.gap_multicomponent.multicomponent_parameters`
(:func:`aiida_gaprss.workflows.compound_builder.fill_compound_builder`).

This module holds the small pieces both work chains and the builder share; it imports nothing of them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence

from aiida import orm

__all__ = (
    'COMPOSITION_TYPES',
    'composition_value',
    'dimer_pairs',
    'is_compound',
    'normalise_system',
    'probe_atoms',
    'species_pairs',
    'system_elements',
    'system_label',
    'validate_system',
)

#: Node types of the ``composition`` input.
COMPOSITION_TYPES = (orm.Str, orm.Dict, orm.List)

#: What the flat histogram of a chemical system must bin (energies per atom of different compositions differ by eV).
COMPOUND_ENTHALPY = 'above_formation_hull'


def composition_value(node):
    """The plain value of a ``composition`` node (str, dict or list)."""
    if isinstance(node, orm.Str):
        return node.value
    if isinstance(node, orm.Dict):
        return node.get_dict()
    if isinstance(node, orm.List):
        return node.get_list()
    return node


def is_compound(inputs) -> bool:
    """Whether ``inputs`` (a work chain's inputs, a validator's value or a node's ``inputs``) hold a composition."""
    return 'composition' in inputs


def system_elements(inputs) -> list[str]:
    """The chemical symbols of the run: ``[element]`` or the composition's elements (in the order given)."""
    from aiida_gaprss.rss.composition import parse_composition

    if is_compound(inputs):
        return list(parse_composition(composition_value(inputs['composition'])).elements)
    return [inputs['element'].value]


def system_label(inputs) -> str:
    """A short name of the system: the element ('Si') or the composition as given ('SiC', 'Si-C', ...)."""
    if not is_compound(inputs):
        return inputs['element'].value
    value = composition_value(inputs['composition'])
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ','.join(str(item) for item in value)
    return '-'.join(value)


def dimer_pairs(inputs) -> int:
    """Number of species pairs that get dimers (1 for one element)."""
    count = len(system_elements(inputs))
    return count * (count + 1) // 2


def probe_atoms(inputs):
    """One periodic cell holding one atom of every element: what the reference engines' ``validate`` checks."""
    from ase import Atoms

    elements = system_elements(inputs)
    return Atoms(elements, positions=[[2.5 * i, 0.0, 0.0] for i in range(len(elements))], cell=[10.0] * 3, pbc=True)


def normalise_system(system) -> tuple[str | None, object]:
    """``(element, None)`` for one element, ``(None, composition)`` for a chemical system.

    Accepts a chemical symbol ('Si'), a list of symbols (['Si', 'C']: the chemical system 'Si-C', every
    composition), a formula ('SiC', 'SiO2'), a chemical system ('Si-C'), a list of formulas or a mapping (counts or
    fraction ranges), see :mod:`aiida_gaprss.rss.composition`. A list of one symbol is that element.

    Raises
    ------
    ValueError
        ``field `element``` for an unknown symbol, ``field `composition``` for an unreadable composition.
    """
    from aiida_gaprss.rss.composition import parse_composition
    from aiida_gaprss.rss.elements import validate_element

    if isinstance(system, str):
        try:
            return validate_element(system), None
        except ValueError as exception:
            text = system.strip()
            # a symbol's length, or characters no formula or system holds (';', '$', '`', spaces): not a composition
            if text and ((text.isalpha() and len(text) <= 2) or not re.fullmatch(r'[A-Za-z0-9.\-]+', text)):
                raise ValueError(f'field `element`: {exception}') from exception
    if isinstance(system, Sequence) and not isinstance(system, str):
        items = list(system)
        if items and all(isinstance(item, str) and _is_symbol(item) for item in items):
            if len(items) == 1:
                return validate_element(items[0]), None
            system = '-'.join(validate_element(item) for item in items)
    if isinstance(system, Mapping):
        system = dict(system)
    try:
        space = parse_composition(system)
    except ValueError as exception:
        raise _composition_error(exception) from exception
    if len(space.elements) == 1 and isinstance(system, str) and not space.is_range:
        # 'Si2' and the like: one element after all
        return space.elements[0], None
    return None, system


def _is_symbol(text: str) -> bool:
    from aiida_gaprss.rss.elements import validate_element

    try:
        validate_element(text)
    except ValueError:
        return False
    return True


def _composition_error(exception: ValueError) -> ValueError:
    """``'composition.Si: ...'`` -> ``'field `composition.Si`: ...'``."""
    field, _, message = str(exception).partition(': ')
    return ValueError(f'field `{field}`: {message}')


def validate_system(value) -> str | None:
    """Spec check: exactly one of ``element`` and ``composition``, and a composition that parses (several elements)."""
    from aiida_gaprss.rss.composition import parse_composition

    has_element, has_composition = 'element' in value, 'composition' in value
    if has_element == has_composition:
        return 'field `element`: give exactly one of `element` (one element) and `composition` (several elements)'
    if has_element:
        return None
    try:
        space = parse_composition(composition_value(value['composition']))
    except ValueError as exception:
        return str(_composition_error(exception))
    if len(space.elements) < 2:
        return f'field `composition`: {space.elements[0]} alone is one element; give it as `element`'
    return None


def species_pairs(elements: Sequence[str]) -> list[str]:
    """'A-B' names of every pair of species (with repetition), in the order of the dimers and 2b descriptors."""
    return [f'{a}-{b}' for a, b in itertools.combinations_with_replacement(elements, 2)]
