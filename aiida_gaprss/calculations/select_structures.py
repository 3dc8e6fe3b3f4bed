"""``SelectStructures`` (``gaprss.select_structures``): pick structures for the reference code from candidates."""

from __future__ import annotations

from aiida_gaprss.calculations.structure_job import StructureJob
from aiida_gaprss.common import checks

__all__ = ('DIVERSITY_METHODS', 'METHODS', 'SelectStructures', 'validate_selection_parameters')

METHODS = ('kernel_cur', 'descriptor_cur', 'random', 'flat_histogram_cur')
#: Second step of ``flat_histogram_cur`` (key ``diversity``): the paper's kernel CUR or an ablation baseline (Fig. 2).
DIVERSITY_METHODS = ('kernel_cur', 'descriptor_cur', 'random')
KEYS = {'method', 'n', 'n_flat', 'kT', 'seed', 'zeta', 'soap', 'processes', 'always_include', 'diversity', 'enthalpy',
        'strained'}  # fmt: skip
#: What the flat histogram bins (key ``enthalpy``): each frame's own enthalpy per atom (the paper's) or the enthalpy
#: above the lowest at the frame's pressure (comparable across pressures), or, for several elements, the enthalpy
#: above the formation-enthalpy hull over composition at the frame's pressure (comparable across compositions).
ENTHALPY_MODES = ('own', 'above_hull', 'above_formation_hull')
STRAINED_KEYS = {'n', 'volume_range', 'pool'}
SOAP_KEYS = {'n_max', 'l_max', 'sigma', 'r_cut', 'species', 'backend'}


def validate_selection_parameters(parameters: dict) -> None:
    """Raise ``ValueError`` naming the field for bad selection parameters."""
    unknown = sorted(set(parameters) - KEYS)
    if unknown:
        raise ValueError(f'field `parameters.{unknown[0]}`: unknown key; known: {sorted(KEYS)}')
    method = parameters.get('method')
    if method not in METHODS:
        raise ValueError(f'field `parameters.method`: expected one of {METHODS}, got {method!r}')
    diversity = parameters.get('diversity', 'kernel_cur')
    if diversity not in DIVERSITY_METHODS:
        raise ValueError(f'field `parameters.diversity`: expected one of {DIVERSITY_METHODS}, got {diversity!r}')
    for key, minimum in (('n', 1), ('n_flat', 1), ('seed', 0), ('zeta', 1), ('processes', 1)):
        if key not in parameters and key in ('n',):
            raise ValueError(f'field `parameters.{key}`: required')
        checks.integer(parameters.get(key, minimum), checks.field(f'parameters.{key}'), minimum=minimum)
    if method == 'flat_histogram_cur' or 'kT' in parameters:
        checks.positive_number(parameters.get('kT'), checks.field('parameters.kT'), expected='a positive energy (eV)')
    enthalpy = parameters.get('enthalpy', 'own')
    if enthalpy not in ENTHALPY_MODES:
        raise ValueError(f'field `parameters.enthalpy`: expected one of {ENTHALPY_MODES}, got {enthalpy!r}')
    _validate_strained(parameters.get('strained'))
    always = parameters.get('always_include', [])
    if not isinstance(always, list) or not all(isinstance(item, str) for item in always):
        raise ValueError('field `parameters.always_include`: expected a list of config_type names')
    soap = parameters.get('soap', {})
    if not isinstance(soap, dict):
        raise ValueError('field `parameters.soap`: expected a dict')
    unknown = sorted(set(soap) - SOAP_KEYS)
    if unknown:
        raise ValueError(f'field `parameters.soap.{unknown[0]}`: unknown key; known: {sorted(SOAP_KEYS)}')


def _validate_strained(strained) -> None:
    """``strained``: None or {n (int >= 0), volume_range ([lo, hi] volume factors), pool (int >= 1)}."""
    from aiida_gaprss.rss.strain import check_volume_range

    if strained is None:
        return
    if not isinstance(strained, dict):
        raise ValueError(f'field `parameters.strained`: expected a dict {sorted(STRAINED_KEYS)}, got {strained!r}')
    unknown = sorted(set(strained) - STRAINED_KEYS)
    if unknown:
        raise ValueError(f'field `parameters.strained.{unknown[0]}`: unknown key; known: {sorted(STRAINED_KEYS)}')
    for key, minimum in (('n', 0), ('pool', 1)):
        checks.integer(strained.get(key, minimum), checks.field(f'parameters.strained.{key}'), minimum=minimum)
    if 'volume_range' in strained:
        try:
            check_volume_range(strained['volume_range'])
        except ValueError as exception:
            field, message = str(exception).split(': ', 1)
            raise ValueError(f'field `parameters.strained.{field}`: {message}') from None


class SelectStructures(StructureJob):
    """Select structures by kernel CUR, descriptor CUR, at random, or flat histogram + kernel CUR."""

    TASK = 'select_structures'
    PARAMETER_VALIDATOR = staticmethod(validate_selection_parameters)
