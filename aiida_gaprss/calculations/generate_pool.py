"""``GeneratePool`` (``gaprss.generate_pool``): buildcell-style random cells (and dimers) as a StructureSet."""

from __future__ import annotations

from aiida_gaprss.calculations.structure_job import StructureJob
from aiida_gaprss.rss.elements import validate_element
from aiida_gaprss.rss.generation import parse_range

__all__ = ('GeneratePool', 'validate_pool_parameters')

MODES = ('initial', 'narrow', 'wide')
PARITIES = ('any', 'even', 'odd')
KEYS = {'element', 'n', 'seed', 'mode', 'parity', 'natoms', 'symmops', 'radius', 'bonding', 'dimers', 'iteration',
        'processes', 'dimer_box'}  # fmt: skip


def _positive_int(parameters: dict, key: str, *, minimum: int = 1) -> None:
    value = parameters.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f'field `parameters.{key}`: expected an integer >= {minimum}, got {value!r}')


def validate_pool_parameters(parameters: dict) -> None:
    """Raise ``ValueError`` naming the field for bad pool parameters."""
    unknown = sorted(set(parameters) - KEYS)
    if unknown:
        raise ValueError(f'field `parameters.{unknown[0]}`: unknown key; known: {sorted(KEYS)}')
    try:
        validate_element(parameters.get('element'))
    except ValueError as exception:
        raise ValueError(f'field `parameters.element`: {exception}') from exception
    _positive_int(parameters, 'n')
    _positive_int(parameters, 'seed', minimum=0)
    for key in ('dimers', 'iteration'):
        if key in parameters:
            _positive_int(parameters, key, minimum=0)
    if 'processes' in parameters:
        _positive_int(parameters, 'processes')
    if parameters.get('mode', 'narrow') not in MODES:
        raise ValueError(f'field `parameters.mode`: expected one of {MODES}, got {parameters.get("mode")!r}')
    if parameters.get('parity', 'any') not in PARITIES:
        raise ValueError(f'field `parameters.parity`: expected one of {PARITIES}, got {parameters.get("parity")!r}')
    if 'natoms' in parameters:
        parse_range(parameters['natoms'], 'parameters.natoms')
    if 'symmops' in parameters:
        parse_range(parameters['symmops'], 'parameters.symmops', maximum=48)
    box = parameters.get('dimer_box')
    if box is not None:
        from aiida_gaprss.rss.elements import characteristic_radius
        from aiida_gaprss.rss.generation import DIMER_RANGE

        longest = 2 * DIMER_RANGE[1] * characteristic_radius(parameters['element'], parameters.get('radius'))
        if isinstance(box, bool) or not isinstance(box, (int, float)) or box <= 2 * longest:
            raise ValueError(
                f'field `parameters.dimer_box`: expected a box edge above {2 * longest:.2f} Å (twice the longest '
                f'dimer), got {box!r}'
            )
    radius = parameters.get('radius')
    if radius is not None and (isinstance(radius, bool) or not isinstance(radius, (int, float)) or radius <= 0):
        raise ValueError(f'field `parameters.radius`: expected a positive number (Å), got {radius!r}')
    if parameters.get('bonding') not in (None, 'covalent', 'metallic'):
        raise ValueError(
            f"field `parameters.bonding`: expected 'covalent' or 'metallic', got {parameters['bonding']!r}"
        )


class GeneratePool(StructureJob):
    """Generate the random cells of one GAP-RSS iteration (``aiida_gaprss.jobs.generate_pool``)."""

    TASK = 'generate_pool'
    NEEDS_STRUCTURES = False
    PARAMETER_VALIDATOR = staticmethod(validate_pool_parameters)
