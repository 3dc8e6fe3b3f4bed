"""The schema of a GAP parameter set (descriptor fields, sigmas, e0, flags) and its check,
:func:`validate_gap_parameters`: every value is checked before it can reach a gap_fit command line."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from ..common import checks

__all__ = (
    'DEFAULT_KEYWORDS',
    'DEFAULT_SIGMA',
    'DESCRIPTOR_FIELDS',
    'DESCRIPTOR_TYPES',
    'SIGMA_COMPONENTS',
    'validate_gap_parameters',
)

#: Descriptor types gap_fit understands that GAP-RSS uses.
DESCRIPTOR_TYPES = ('distance_2b', 'angle_3b', 'soap')

#: Default regularisation: the paper's lowest per-structure values (energy eV/atom, forces eV/Å, virial eV/atom).
DEFAULT_SIGMA: dict[str, float] = {'energy': 0.001, 'forces': 0.0316, 'virial': 0.0632, 'hessian': 0.0}

SIGMA_COMPONENTS = ('energy', 'forces', 'virial', 'hessian')
_E0_METHODS = ('average', 'isolated')
_COVARIANCE_TYPES = {'distance_2b': ('ard_se',), 'angle_3b': ('ard_se',), 'soap': ('dot_product',)}
_SPARSE_METHODS = ('uniform', 'cur_points', 'random', 'none', 'cur_covariance', 'fuzzy', 'kmeans', 'covariance')
_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]{0,63}$')
_FILENAME = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$')

# Per descriptor type: field -> kind ('pos' positive float, 'nonneg' float >= 0, 'int' positive integer,
# 'keyword' known string). ``required`` fields must be present; the others are optional.
DESCRIPTOR_FIELDS: dict[str, dict[str, str]] = {
    'distance_2b': {
        'cutoff': 'pos',
        'cutoff_transition_width': 'nonneg',
        'covariance_type': 'keyword',
        'theta_uniform': 'pos',
        'delta': 'pos',
        'n_sparse': 'int',
        'sparse_method': 'keyword',
        'Z1': 'atomic_number',
        'Z2': 'atomic_number',
        'add_species': 'bool',
    },
    'angle_3b': {
        'cutoff': 'pos',
        'covariance_type': 'keyword',
        'theta_uniform': 'pos',
        'delta': 'pos',
        'n_sparse': 'int',
        'sparse_method': 'keyword',
        'Z': 'atomic_number',
        'Z1': 'atomic_number',
        'Z2': 'atomic_number',
        'add_species': 'bool',
    },
    'soap': {
        'cutoff': 'pos',
        'cutoff_transition_width': 'nonneg',
        'atom_sigma': 'pos',
        'n_max': 'int',
        'l_max': 'int',
        'zeta': 'pos',
        'covariance_type': 'keyword',
        'delta': 'pos',
        'n_sparse': 'int',
        'sparse_method': 'keyword',
        'Z': 'atomic_number',
        'n_species': 'int',
        'species_Z': 'atomic_numbers',
        'add_species': 'bool',
    },
}
_REQUIRED = {
    'distance_2b': ('cutoff', 'theta_uniform', 'delta', 'n_sparse'),
    'angle_3b': ('cutoff', 'theta_uniform', 'delta', 'n_sparse'),
    'soap': ('cutoff', 'atom_sigma', 'n_max', 'l_max', 'zeta', 'delta', 'n_sparse'),
}
DEFAULT_KEYWORDS = {
    'distance_2b': {'covariance_type': 'ard_se', 'sparse_method': 'uniform'},
    'angle_3b': {'covariance_type': 'ard_se', 'sparse_method': 'uniform'},
    'soap': {'covariance_type': 'dot_product', 'sparse_method': 'cur_points'},
}
_TOP_LEVEL = (
    'species',
    'descriptors',
    'default_sigma',
    'config_type_sigma',
    'sigma_parameter_name',
    'e0',
    'sparse_jitter',
    'seed',
    'do_copy_at_file',
    'sparse_separate_file',
)


def _number(value, path: str, kind: str) -> float | int:
    """Check one number; ``kind`` is 'pos', 'nonneg' or 'int'. Returns it as float/int."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, '__float__'):
        raise ValueError(f'{path}: expected a number, got {value!r}')
    if kind == 'int':
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f'{path}: expected a positive integer, got {value!r}')
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError) as exception:
            raise ValueError(f'{path}: expected a positive integer, got {value!r}') from exception
        if number <= 0:
            raise ValueError(f'{path}: must be a positive integer, got {value!r}')
        return number
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f'{path}: must be finite, got {value!r}')
    if kind == 'pos' and number <= 0:
        raise ValueError(f'{path}: must be > 0, got {value!r}')
    if kind == 'nonneg' and number < 0:
        raise ValueError(f'{path}: must be >= 0, got {value!r}')
    return number


def _sigma(value, path: str) -> dict:
    """Validate a sigma set: a mapping with energy/forces/virial(/hessian) or a sequence of 3 or 4 numbers."""
    if isinstance(value, Mapping):
        unknown = set(value) - set(SIGMA_COMPONENTS)
        if unknown:
            raise ValueError(f'{path}: unknown components {sorted(unknown)}; known: {SIGMA_COMPONENTS}')
        missing = [name for name in SIGMA_COMPONENTS[:3] if name not in value]
        if missing:
            raise ValueError(f'{path}: missing components {missing}')
        items = {name: value.get(name, 0.0) for name in SIGMA_COMPONENTS}
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) in (3, 4):
        items = dict(zip(SIGMA_COMPONENTS, [*value, 0.0][:4], strict=True))
    else:
        raise ValueError(f'{path}: expected a mapping energy/forces/virial/hessian or 3-4 numbers, got {value!r}')
    result = {}
    for name in SIGMA_COMPONENTS:
        kind = 'nonneg' if name == 'hessian' else 'pos'
        result[name] = _number(items[name], f'{path}.{name}', kind)
    return result


def _validate_descriptor(descriptor, index: int) -> dict:
    path = f'descriptors[{index}]'
    if not isinstance(descriptor, Mapping):
        raise ValueError(f'{path}: expected a mapping, got {type(descriptor).__name__}')
    kind = descriptor.get('type')
    if kind not in DESCRIPTOR_TYPES:
        raise ValueError(f'{path}.type: unknown descriptor type {kind!r}; known: {DESCRIPTOR_TYPES}')
    fields = DESCRIPTOR_FIELDS[kind]
    unknown = set(descriptor) - set(fields) - {'type'}
    if unknown:
        raise ValueError(f'{path}: unknown fields {sorted(unknown)} for {kind}; known: {sorted(fields)}')
    missing = [name for name in _REQUIRED[kind] if name not in descriptor]
    if missing:
        raise ValueError(f'{path}: missing fields {missing} for {kind}')
    result = {'type': kind}
    for name, field_kind in fields.items():
        if name not in descriptor:
            if name in DEFAULT_KEYWORDS[kind]:
                result[name] = DEFAULT_KEYWORDS[kind][name]
            continue
        value = descriptor[name]
        if field_kind in _SPECIES_KINDS:
            result[name] = _SPECIES_KINDS[field_kind](value, f'{path}.{name}')
        elif field_kind == 'keyword':
            allowed = _COVARIANCE_TYPES[kind] if name == 'covariance_type' else _SPARSE_METHODS
            if value not in allowed:
                raise ValueError(f'{path}.{name}: {value!r} is not one of {allowed}')
            result[name] = value
        else:
            result[name] = _number(value, f'{path}.{name}', field_kind)
    if kind == 'soap' and result.get('cutoff_transition_width', 0.0) >= result['cutoff']:
        raise ValueError(f'{path}.cutoff_transition_width: must be smaller than the cutoff {result["cutoff"]}')
    if result['sparse_method'] == 'none':
        raise ValueError(f"{path}.sparse_method: 'none' would keep every environment as a sparse point")
    return result


def _atomic_number(value, path: str) -> int:
    return checks.integer(value, path, minimum=1, maximum=118, expected='an atomic number (1-118)')


def _atomic_numbers(value, path: str) -> list[int]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ValueError(f'{path}: expected a non-empty list of atomic numbers, got {value!r}')
    return [_atomic_number(z, f'{path}[{i}]') for i, z in enumerate(value)]


#: Validators of the optional species fields of a descriptor (explicit multi-species descriptors).
_SPECIES_KINDS = {'atomic_number': _atomic_number, 'atomic_numbers': _atomic_numbers, 'bool': checks.boolean}


def _check_descriptor_species(descriptors: list, symbols: list[str]) -> None:
    """Every atomic number a descriptor names must be one of ``species`` (ValueError naming the field)."""
    from ase.data import atomic_numbers

    allowed = {atomic_numbers[s] for s in symbols}
    for index, descriptor in enumerate(descriptors):
        for name in ('Z', 'Z1', 'Z2', 'species_Z'):
            values = descriptor.get(name)
            for z in values if isinstance(values, list) else [] if values is None else [values]:
                if z not in allowed:
                    raise ValueError(
                        f'descriptors[{index}].{name}: atomic number {z} is not one of the species {symbols}'
                    )
        if 'species_Z' in descriptor and descriptor.get('n_species', len(descriptor['species_Z'])) != len(
            descriptor['species_Z']
        ):
            raise ValueError(f'descriptors[{index}].n_species: must be the length of species_Z')


def validate_gap_parameters(params: Mapping) -> dict:
    """Validate a GAP fit parameter set and return a normalised copy (plain dict, numbers as float/int).

    Raises
    ------
    ValueError
        Naming the offending field path, e.g. ``descriptors[2].cutoff: must be > 0, got -1``.
    """
    from .elements import validate_element

    if not isinstance(params, Mapping):
        raise ValueError(f'parameters: expected a mapping, got {type(params).__name__}')
    unknown = set(params) - set(_TOP_LEVEL)
    if unknown:
        raise ValueError(f'parameters: unknown fields {sorted(unknown)}; known: {list(_TOP_LEVEL)}')
    result: dict = {}

    species = params.get('species')
    if isinstance(species, str) or not isinstance(species, Sequence) or not species:
        raise ValueError(f'species: expected a non-empty list of chemical symbols, got {species!r}')
    symbols = []
    for index, symbol in enumerate(species):
        try:
            canonical = validate_element(symbol)
        except ValueError as exception:
            raise ValueError(f'species[{index}]: {exception}') from exception
        if canonical != symbol:
            raise ValueError(f'species[{index}]: write the symbol as {canonical!r}, got {symbol!r}')
        symbols.append(canonical)
    if len(set(symbols)) != len(symbols):
        raise ValueError(f'species: duplicate symbols in {symbols}')
    result['species'] = symbols

    descriptors = params.get('descriptors')
    if isinstance(descriptors, (str, Mapping)) or not isinstance(descriptors, Sequence) or not descriptors:
        raise ValueError(f'descriptors: expected a non-empty list of descriptors, got {descriptors!r}')
    result['descriptors'] = [_validate_descriptor(d, i) for i, d in enumerate(descriptors)]
    _check_descriptor_species(result['descriptors'], symbols)

    result['default_sigma'] = _sigma(params.get('default_sigma', DEFAULT_SIGMA), 'default_sigma')

    config_type_sigma = params.get('config_type_sigma') or {}
    if not isinstance(config_type_sigma, Mapping):
        raise ValueError(f'config_type_sigma: expected a mapping config_type -> sigmas, got {config_type_sigma!r}')
    result['config_type_sigma'] = {}
    for name, sigma in config_type_sigma.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f'config_type_sigma.{name}: config_type must be a plain identifier ([A-Za-z0-9_])')
        result['config_type_sigma'][name] = _sigma(sigma, f'config_type_sigma.{name}')

    sigma_name = params.get('sigma_parameter_name', 'sigma')
    if not isinstance(sigma_name, str) or not _NAME.match(sigma_name):
        raise ValueError(f'sigma_parameter_name: must be a plain identifier, got {sigma_name!r}')
    result['sigma_parameter_name'] = sigma_name

    e0 = params.get('e0', 'average')
    if isinstance(e0, str):
        if e0 not in _E0_METHODS:
            raise ValueError(f'e0: expected one of {_E0_METHODS} or a mapping element -> energy (eV), got {e0!r}')
        result['e0'] = e0
    elif isinstance(e0, Mapping):
        if not e0:
            raise ValueError('e0: the mapping element -> energy is empty')
        values = {}
        for symbol, energy in e0.items():
            if symbol not in symbols:
                raise ValueError(f'e0.{symbol}: not one of the species {symbols}')
            values[symbol] = _number(energy, f'e0.{symbol}', 'finite')
        missing = [symbol for symbol in symbols if symbol not in values]
        if missing:
            raise ValueError(f'e0: no isolated-atom energy for species {missing}')
        result['e0'] = values
    else:
        raise ValueError(f'e0: expected a string or a mapping element -> energy (eV), got {e0!r}')

    result['sparse_jitter'] = _number(params.get('sparse_jitter', 1e-8), 'sparse_jitter', 'pos')
    seed = params.get('seed', 1)
    result['seed'] = checks.integer(seed, 'seed', minimum=0, maximum=2**31 - 1, expected='an integer in [0, 2**31)')
    for flag, default in (('do_copy_at_file', False), ('sparse_separate_file', True)):
        value = params.get(flag, default)
        checks.boolean(value, flag)
        result[flag] = value
    return result
