"""``GeneratePool`` (``gaprss.generate_pool``): buildcell-style random cells (and dimers) as a StructureSet.

One element (``element``, ``radius``, ``bonding``) or a chemical system (``composition``, per-element ``radii`` and
``bonding``, per-pair ``min_separations``; :func:`validate_compound_pool_parameters`).
"""

from __future__ import annotations

from aiida_gaprss.calculations.structure_job import StructureJob
from aiida_gaprss.common import checks
from aiida_gaprss.rss.elements import validate_element
from aiida_gaprss.rss.generation import parse_range

__all__ = ('GeneratePool', 'validate_pool_parameters')

MODES = ('initial', 'narrow', 'wide')
PARITIES = ('any', 'even', 'odd')
KEYS = {'element', 'n', 'seed', 'mode', 'parity', 'natoms', 'symmops', 'radius', 'bonding', 'dimers', 'iteration',
        'processes', 'dimer_box'}  # fmt: skip
#: Keys of a chemical system (instead of ``element`` and ``radius``; ``bonding`` per element).
COMPOUND_KEYS = (KEYS - {'element', 'radius'}) | {'composition', 'radii', 'min_separations'}


def validate_pool_parameters(parameters: dict) -> None:
    """Raise ``ValueError`` naming the field for bad pool parameters."""
    if 'composition' in parameters:
        validate_compound_pool_parameters(parameters)
        return
    unknown = sorted(set(parameters) - KEYS)
    if unknown:
        raise ValueError(f'field `parameters.{unknown[0]}`: unknown key; known: {sorted(KEYS)}')
    try:
        validate_element(parameters.get('element'))
    except ValueError as exception:
        raise ValueError(f'field `parameters.element`: {exception}') from exception
    _validate_common(parameters)
    box = parameters.get('dimer_box')
    if box is not None:
        from aiida_gaprss.rss.elements import characteristic_radius
        from aiida_gaprss.rss.generation import DIMER_RANGE

        longest = 2 * DIMER_RANGE[1] * characteristic_radius(parameters['element'], parameters.get('radius'))
        if not checks.is_number(box) or box <= 2 * longest:
            raise ValueError(
                f'field `parameters.dimer_box`: expected a box edge above {2 * longest:.2f} Å (twice the longest '
                f'dimer), got {box!r}'
            )
    radius = parameters.get('radius')
    if radius is not None and (not checks.is_number(radius) or radius <= 0):
        raise checks.refuse(checks.field('parameters.radius'), 'a positive number (Å)', radius)
    if parameters.get('bonding') not in (None, 'covalent', 'metallic'):
        raise ValueError(
            f"field `parameters.bonding`: expected 'covalent' or 'metallic', got {parameters['bonding']!r}"
        )


def _validate_common(parameters: dict) -> None:
    """Counts, seed, mode, parity and ranges: the same for one element and for a chemical system."""
    checks.integer(parameters.get('n'), checks.field('parameters.n'), minimum=1)
    checks.integer(parameters.get('seed'), checks.field('parameters.seed'), minimum=0)
    for key, minimum in (('dimers', 0), ('iteration', 0), ('processes', 1)):
        if key in parameters:
            checks.integer(parameters[key], checks.field(f'parameters.{key}'), minimum=minimum)
    if parameters.get('mode', 'narrow') not in MODES:
        raise ValueError(f'field `parameters.mode`: expected one of {MODES}, got {parameters.get("mode")!r}')
    if parameters.get('parity', 'any') not in PARITIES:
        raise ValueError(f'field `parameters.parity`: expected one of {PARITIES}, got {parameters.get("parity")!r}')
    if 'natoms' in parameters:
        parse_range(parameters['natoms'], 'parameters.natoms')
    if 'symmops' in parameters:
        parse_range(parameters['symmops'], 'parameters.symmops', maximum=48)


def validate_compound_pool_parameters(parameters: dict) -> None:
    """Raise ``ValueError`` naming the field for bad pool parameters of a chemical system (``composition``).

    Beyond the elemental checks: the composition must parse, some allowed cell size must hold it, the per-element
    ``radii`` and ``bonding`` and the per-pair ``min_separations`` must be usable and fit the smallest volume the
    generator draws (narrow cells of any parity and wide even cells, as the initial pool), and ``dimer_box`` must
    exceed twice the longest dimer of every pair.
    """
    from aiida_gaprss.rss.compound_generation import check_compound_settings
    from aiida_gaprss.rss.dimers import DIMER_RANGE

    unknown = sorted(set(parameters) - COMPOUND_KEYS)
    if unknown:
        raise ValueError(f'field `parameters.{unknown[0]}`: unknown key; known: {sorted(COMPOUND_KEYS)}')
    _validate_common(parameters)
    for key in ('radii', 'bonding', 'min_separations'):
        if parameters.get(key) is not None and not isinstance(parameters[key], dict):
            raise ValueError(
                f'field `parameters.{key}`: expected a mapping (per element or pair), got {parameters[key]!r}'
            )
    common = {key: parameters.get(key) for key in ('radii', 'bonding', 'min_separations')}
    common['natoms'] = parameters.get('natoms', (6, 24))
    common['symmops'] = parameters.get('symmops', (1, 8))
    cell_kinds = [('narrow', 'any'), ('wide', 'even')] if parameters.get('mode') == 'initial' else [
        (parameters.get('mode', 'narrow'), parameters.get('parity', 'any'))]  # fmt: skip
    for volume_mode, parity in cell_kinds:
        try:
            scales = check_compound_settings(
                parameters['composition'], volume_mode=volume_mode, parity=parity, **common
            )
        except ValueError as exception:
            field, _, message = str(exception).partition(': ')
            raise ValueError(f'field `parameters.{field}`: {message}') from exception
    box = parameters.get('dimer_box')
    if box is not None:
        radii = scales.radii
        longest = 2 * DIMER_RANGE[1] * max(0.5 * (a + b) for a in radii for b in radii)
        if not checks.is_number(box) or box <= 2 * longest:
            raise ValueError(
                f'field `parameters.dimer_box`: expected a box edge above {2 * longest:.2f} Å (twice the longest '
                f'dimer of any pair), got {box!r}'
            )


class GeneratePool(StructureJob):
    """Generate the random cells of one GAP-RSS iteration (``aiida_gaprss.jobs.generate_pool``)."""

    TASK = 'generate_pool'
    NEEDS_STRUCTURES = False
    PARAMETER_VALIDATOR = staticmethod(validate_pool_parameters)
