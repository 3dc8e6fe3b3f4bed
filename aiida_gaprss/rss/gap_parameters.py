"""GAP fit hyper-parameters of GAP-RSS (Table 1 of Bernstein, Csányi & Deringer 2019) and the ``gap_fit`` command.

A parameter set is a plain, JSON-serialisable ``dict`` (it is stored as an AiiDA ``Dict`` by the CalcJob)::

    {
        'species': ['Si'],
        'descriptors': [
            {'type': 'distance_2b', 'cutoff': 9.99, 'cutoff_transition_width': 0.5, 'covariance_type': 'ard_se',
             'theta_uniform': 0.5, 'delta': 1.0, 'n_sparse': 30, 'sparse_method': 'uniform'},
            {'type': 'angle_3b', 'cutoff': 3.247, 'covariance_type': 'ard_se', 'theta_uniform': 1.0,
             'delta': 0.3, 'n_sparse': 100, 'sparse_method': 'uniform'},
            {'type': 'soap', 'cutoff': 4.995, 'cutoff_transition_width': 0.5, 'atom_sigma': 0.75, 'n_max': 8,
             'l_max': 8, 'zeta': 4, 'covariance_type': 'dot_product', 'delta': 0.1, 'n_sparse': 2000,
             'sparse_method': 'cur_points'},
        ],
        'default_sigma': {'energy': 0.001, 'forces': 0.0316, 'virial': 0.0632, 'hessian': 0.0},
        'config_type_sigma': {},            # {config_type: {'energy': ..., 'forces': ..., 'virial': ...}}
        'sigma_parameter_name': 'sigma',    # per-structure keys energy_sigma, force_sigma, virial_sigma
        'e0': 'average',                    # or 'isolated', or {'Si': -0.1234} (eV per isolated atom)
        'sparse_jitter': 1e-08,
        'seed': 1,
        'do_copy_at_file': False,
        'sparse_separate_file': True,
    }

Units: lengths in Å, ``delta`` and energy sigmas in eV (energy and virial sigmas per atom), force sigmas in eV/Å.

Notes on the mapping to Table 1
-------------------------------
* The "σ_at" of the 2-body and 3-body descriptors is the length scale of their squared-exponential kernel
  (gap_fit ``covariance_type=ard_se theta_uniform=σ_at``); for SOAP it is the Gaussian smearing ``atom_sigma``.
* Cut-offs are multiples of the element's characteristic radius ``r`` (:mod:`aiida_gaprss.rss.elements`):
  2b 9.0 r / 8.2 r, 3b 2.925 r / 2.665 r, SOAP 4.5 r / 4.1 r (covalent / metallic).
* The δ values here are placeholders (:data:`DEFAULT_DELTAS`); the GAP-RSS fit sets them from the data (2b from
  the spread of the energies, 3b and SOAP from the errors of the smaller fits) through ``overrides``.
* Per-structure regularisation is read by gap_fit from ``energy_sigma``, ``force_sigma`` and ``virial_sigma`` in
  ``atoms.info`` (prefix ``sigma_parameter_name``). gap_fit treats those per-structure values as **absolute** (eV
  for the whole cell, not per atom), whereas ``default_sigma`` and ``config_type_sigma`` are per atom.
* Species are not written into the descriptor strings of :func:`table1_parameters`: gap_fit's ``add_species=T``
  (its default) expands every descriptor over the species (pairs, triplets) present in the training file, all with
  the same cut-off. Explicit per-species descriptors (``Z1``/``Z2`` for 2b, ``Z``/``Z1``/``Z2`` for 3b, ``Z``,
  ``n_species``, ``species_Z`` for SOAP, with ``add_species=False``) are accepted too; the multi-component
  parameters of :mod:`aiida_gaprss.rss.gap_multicomponent` use them to give each pair, triplet and centre its own
  cut-off.

Only validated numbers, known keywords and element symbols go into the command (:func:`build_gap_fit_command`), so
nothing from the parameters can inject shell syntax; the CalcJob quotes each token once more when it writes the
job script.
"""

from __future__ import annotations

import copy
import logging
import math
import re
import shlex
from collections.abc import Mapping, Sequence

from aiida_gaprss.common.merge import deep_merge

from ..common import checks

logger = logging.getLogger(__name__)

__all__ = (
    'DEFAULT_DELTAS',
    'DEFAULT_SIGMA',
    'DESCRIPTOR_TYPES',
    'PER_STRUCTURE_SIGMA_KEYS',
    'TABLE1',
    'build_gap_fit_command',
    'fit_parameters',
    'gap_fit_command_line',
    'descriptor_string',
    'per_structure_sigmas',
    'select_descriptors',
    'table1_parameters',
    'validate_gap_parameters',
)

#: Descriptor types gap_fit understands that GAP-RSS uses.
DESCRIPTOR_TYPES = ('distance_2b', 'angle_3b', 'soap')

#: Table 1: kernel width σ_at (Å), sparse points, cut-off in units of r (covalent, metallic), SOAP n_max, l_max, ζ.
TABLE1: dict[str, dict] = {
    'distance_2b': {'sigma_at': 0.5, 'n_sparse': 30, 'cutoff_factor': {'covalent': 9.0, 'metallic': 8.2}},
    'angle_3b': {'sigma_at': 1.0, 'n_sparse': 100, 'cutoff_factor': {'covalent': 2.925, 'metallic': 2.665}},
    'soap': {
        'sigma_at': 0.75,
        'n_sparse': 2000,
        'cutoff_factor': {'covalent': 4.5, 'metallic': 4.1},
        'n_max': 8,
        'l_max': 8,
        'zeta': 4,
    },
}

#: Placeholder δ (eV) per descriptor, replaced by the δ heuristics of the fitting workflow.
DEFAULT_DELTAS: dict[str, float] = {'distance_2b': 1.0, 'angle_3b': 0.3, 'soap': 0.1}

#: Default regularisation: the paper's lowest per-structure values (energy eV/atom, forces eV/Å, virial eV/atom).
DEFAULT_SIGMA: dict[str, float] = {'energy': 0.001, 'forces': 0.0316, 'virial': 0.0632, 'hessian': 0.0}

#: ``atoms.info`` keys gap_fit reads as per-structure (absolute) regularisation with the default prefix.
PER_STRUCTURE_SIGMA_KEYS = ('energy_sigma', 'force_sigma', 'virial_sigma')

_SIGMA_COMPONENTS = ('energy', 'forces', 'virial', 'hessian')
_E0_METHODS = ('average', 'isolated')
_COVARIANCE_TYPES = {'distance_2b': ('ard_se',), 'angle_3b': ('ard_se',), 'soap': ('dot_product',)}
_SPARSE_METHODS = ('uniform', 'cur_points', 'random', 'none', 'cur_covariance', 'fuzzy', 'kmeans', 'covariance')
_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]{0,63}$')
_FILENAME = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$')

# Per descriptor type: field -> kind ('pos' positive float, 'nonneg' float >= 0, 'int' positive integer,
# 'keyword' known string). ``required`` fields must be present; the others are optional.
_DESCRIPTOR_FIELDS: dict[str, dict[str, str]] = {
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
_DEFAULT_KEYWORDS = {
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


def table1_parameters(
    element: str | Sequence[str],
    *,
    radius: float | None = None,
    bonding: str | None = None,
    overrides: Mapping | None = None,
) -> dict:
    """The GAP-RSS fit parameters of Table 1 for ``element``, with ``overrides`` deep-merged, validated.

    Parameters
    ----------
    element
        Chemical symbol whose characteristic radius sets the cut-offs (a list of symbols is accepted: the first
        sets the length scale, all go into ``species``).
    radius, bonding
        Override the characteristic radius (Å) and bonding type ('covalent' or 'metallic').
    overrides
        Deep-merged into the result (see :func:`~aiida_gaprss.common.merge.deep_merge`), e.g.
        ``{'descriptors': {'soap': {'delta': 0.2}}, 'e0': {'Si': -0.1}}``.

    Returns
    -------
    dict
        A validated parameter set (see the module docstring).
    """
    from .elements import bonding_type, characteristic_radius, validate_element

    symbols = [element] if isinstance(element, str) else list(element)
    if not symbols:
        raise ValueError('element: at least one chemical symbol is needed')
    symbols = [validate_element(symbol) for symbol in symbols]
    r = characteristic_radius(symbols[0], radius, bonding)
    kind = bonding_type(symbols[0], bonding)

    descriptors = []
    for kind_name in DESCRIPTOR_TYPES:
        row = TABLE1[kind_name]
        descriptor = {'type': kind_name, 'cutoff': round(row['cutoff_factor'][kind] * r, 6)}
        if kind_name == 'soap':
            descriptor.update(
                {
                    'cutoff_transition_width': 0.5,
                    'atom_sigma': row['sigma_at'],
                    'n_max': row['n_max'],
                    'l_max': row['l_max'],
                    'zeta': row['zeta'],
                }
            )
        else:
            if kind_name == 'distance_2b':
                descriptor['cutoff_transition_width'] = 0.5
            descriptor['theta_uniform'] = row['sigma_at']
        descriptor.update(_DEFAULT_KEYWORDS[kind_name])
        descriptor['delta'] = DEFAULT_DELTAS[kind_name]
        descriptor['n_sparse'] = row['n_sparse']
        descriptors.append(descriptor)

    return fit_parameters(symbols, descriptors, 'average', overrides)


def fit_parameters(symbols: list[str], descriptors: list[dict], e0, overrides=None) -> dict:
    """The validated parameter set of a fit: ``descriptors`` with the default sigmas and gap_fit options, ``e0``
    (``'average'`` or per element, eV), ``overrides`` deep-merged on top."""
    params = {
        'species': symbols,
        'descriptors': descriptors,
        'default_sigma': dict(DEFAULT_SIGMA),
        'config_type_sigma': {},
        'sigma_parameter_name': 'sigma',
        'e0': dict(e0) if isinstance(e0, Mapping) else e0,
        'sparse_jitter': 1e-8,
        'seed': 1,
        'do_copy_at_file': False,
        'sparse_separate_file': True,
    }
    return validate_gap_parameters(deep_merge(params, overrides))


def per_structure_sigmas(n_atoms: int, energy: float, forces: float, virial: float) -> dict[str, float]:
    """``atoms.info`` sigma entries for one structure from per-atom ``energy``/``virial`` (eV/atom), ``forces`` (eV/Å).

    gap_fit reads per-structure ``energy_sigma`` and ``virial_sigma`` as absolute values for the whole cell, while the
    per-atom defaults are scaled as σ·√N (``sigma_per_atom=T``); this applies the same scaling so that a per-atom
    value means the same in both places (checked: a fit with these per-structure values equals the fit with the same
    per-atom ``default_sigma``). ``force_sigma`` is per component and is not scaled.

    Raises
    ------
    ValueError
        For a non-positive atom count or sigma (the message names the field).
    """
    checks.positive_integer(n_atoms, 'n_atoms')
    energy = _number(energy, 'energy', 'pos')
    forces = _number(forces, 'forces', 'pos')
    virial = _number(virial, 'virial', 'pos')
    scale = math.sqrt(n_atoms)
    return {'energy_sigma': energy * scale, 'force_sigma': forces, 'virial_sigma': virial * scale}


def select_descriptors(params: Mapping, types: Sequence[str]) -> dict:
    """Return a copy of ``params`` keeping only the descriptors whose type is in ``types`` (e.g. a 2b-only fit)."""
    unknown = set(types) - set(DESCRIPTOR_TYPES)
    if unknown:
        raise ValueError(f'types: unknown descriptor types {sorted(unknown)}; known: {DESCRIPTOR_TYPES}')
    result = copy.deepcopy(dict(params))
    result['descriptors'] = [d for d in result.get('descriptors', []) if d.get('type') in types]
    return validate_gap_parameters(result)


# -- validation ---------------------------------------------------------------------------------------------------
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
        unknown = set(value) - set(_SIGMA_COMPONENTS)
        if unknown:
            raise ValueError(f'{path}: unknown components {sorted(unknown)}; known: {_SIGMA_COMPONENTS}')
        missing = [name for name in _SIGMA_COMPONENTS[:3] if name not in value]
        if missing:
            raise ValueError(f'{path}: missing components {missing}')
        items = {name: value.get(name, 0.0) for name in _SIGMA_COMPONENTS}
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) in (3, 4):
        items = dict(zip(_SIGMA_COMPONENTS, [*value, 0.0][:4], strict=True))
    else:
        raise ValueError(f'{path}: expected a mapping energy/forces/virial/hessian or 3-4 numbers, got {value!r}')
    result = {}
    for name in _SIGMA_COMPONENTS:
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
    fields = _DESCRIPTOR_FIELDS[kind]
    unknown = set(descriptor) - set(fields) - {'type'}
    if unknown:
        raise ValueError(f'{path}: unknown fields {sorted(unknown)} for {kind}; known: {sorted(fields)}')
    missing = [name for name in _REQUIRED[kind] if name not in descriptor]
    if missing:
        raise ValueError(f'{path}: missing fields {missing} for {kind}')
    result = {'type': kind}
    for name, field_kind in fields.items():
        if name not in descriptor:
            if name in _DEFAULT_KEYWORDS[kind]:
                result[name] = _DEFAULT_KEYWORDS[kind][name]
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


# -- command line -------------------------------------------------------------------------------------------------
def _format(value) -> str:
    """Format a validated number for gap_fit (shortest exact repr; integers without a decimal point)."""
    if isinstance(value, bool):
        return 'T' if value else 'F'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):  # only inside gap={...}, whose parser strips one level of braces
        return '{{' + ' '.join(_format(v) for v in value) + '}}'
    return repr(float(value))


def descriptor_string(descriptor: Mapping) -> str:
    """The gap_fit string of one validated descriptor, e.g. ``distance_2b cutoff=9.99 ... sparse_method=uniform``."""
    kind = descriptor['type']
    words = [kind]
    for name in _DESCRIPTOR_FIELDS[kind]:
        if name in descriptor:
            value = descriptor[name]
            words.append(f'{name}={value if isinstance(value, str) else _format(value)}')
    return ' '.join(words)


def _sigma_words(sigma: Mapping) -> list[str]:
    return [_format(sigma[name]) for name in _SIGMA_COMPONENTS]


def build_gap_fit_command(params: Mapping, *, at_file: str, gp_file: str = 'gap.xml') -> list[str]:
    """The gap_fit argument list (argv without the executable); every argument is one token.

    Parameters
    ----------
    params
        A parameter set; it is validated first.
    at_file, gp_file
        Names of the training file and of the potential file to write (plain file names).

    Returns
    -------
    list[str]
        e.g. ``['at_file=train.xyz', 'gp_file=gap.xml', 'gap={distance_2b ... : angle_3b ... : soap ...}',
        'default_sigma={0.001 0.0316 0.0632 0.0}', 'e0_method=average', ...]``.
    """
    for name, value in (('at_file', at_file), ('gp_file', gp_file)):
        if not isinstance(value, str) or not _FILENAME.match(value):
            raise ValueError(f'{name}: must be a plain file name ([A-Za-z0-9_.-]), got {value!r}')
    params = validate_gap_parameters(params)
    gap = ' : '.join(descriptor_string(d) for d in params['descriptors'])
    argv = [
        f'at_file={at_file}',
        f'gp_file={gp_file}',
        f'gap={{{gap}}}',
        f'default_sigma={{{" ".join(_sigma_words(params["default_sigma"]))}}}',
    ]
    if params['config_type_sigma']:
        entries = [
            ':'.join([name, *_sigma_words(sigma)]) for name, sigma in sorted(params['config_type_sigma'].items())
        ]
        argv.append(f'config_type_sigma={{{":".join(entries)}}}')
    e0 = params['e0']
    if isinstance(e0, Mapping):
        argv.append(f'e0={{{":".join(f"{symbol}:{_format(value)}" for symbol, value in e0.items())}}}')
    else:
        argv.append(f'e0_method={e0}')
    argv += [
        'energy_parameter_name=energy',
        'force_parameter_name=forces',
        'virial_parameter_name=virial',
        'config_type_parameter_name=config_type',
        f'sigma_parameter_name={params["sigma_parameter_name"]}',
        f'sparse_jitter={_format(params["sparse_jitter"])}',
        f'rnd_seed={params["seed"]}',
        f'do_copy_at_file={_format(params["do_copy_at_file"])}',
        f'sparse_separate_file={_format(params["sparse_separate_file"])}',
    ]
    return argv


def gap_fit_command_line(argv: list[str]) -> str:
    """The shell command line (program name ``gap_fit``) for the argument list ``argv``."""
    return shlex.join(['gap_fit', *argv])
