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
job script. The schema and its check are in :mod:`~aiida_gaprss.rss.gap_schema`, the command in
:mod:`~aiida_gaprss.rss.gap_command`; this module holds the Table 1 defaults and re-exports both.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Mapping, Sequence

from aiida_gaprss.common.merge import deep_merge

from ..common import checks
from .gap_command import build_gap_fit_command, descriptor_string, gap_fit_command_line
from .gap_schema import DEFAULT_KEYWORDS, DEFAULT_SIGMA, DESCRIPTOR_TYPES, validate_gap_parameters

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
    'structure_sigma_info',
    'select_descriptors',
    'table1_parameters',
    'validate_gap_parameters',
)

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

#: ``atoms.info`` keys gap_fit reads as per-structure (absolute) regularisation with the default prefix.
PER_STRUCTURE_SIGMA_KEYS = ('energy_sigma', 'force_sigma', 'virial_sigma')


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
        descriptor.update(DEFAULT_KEYWORDS[kind_name])
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


def structure_sigma_info(n_atoms: int, energy: float, forces: float, virial: float) -> dict[str, float]:
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
    energy = checks.positive_number(energy, 'energy')
    forces = checks.positive_number(forces, 'forces')
    virial = checks.positive_number(virial, 'virial')
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
