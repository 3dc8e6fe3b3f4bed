"""GAP fit parameters for several elements: Table 1 generalised per species pair, triplet and centre.

:func:`multicomponent_parameters` builds a parameter set of :mod:`aiida_gaprss.rss.gap_parameters` (validated, so
:func:`~aiida_gaprss.rss.gap_parameters.build_gap_fit_command` turns it into the ``gap_fit`` command) with explicit
species on every descriptor (``add_species=F``), so that each term gets a cut-off from its own species:

* **2-body, one per species pair** A–B (``distance_2b Z1 Z2``): cut-off ``f_2b r_AB`` with the mean radius
  ``r_AB = (r_A + r_B) / 2`` and the mean of the two elements' Table 1 factors (9.0 covalent, 8.2 metallic);
* **3-body, one per centre and unordered neighbour pair** (``angle_3b Z Z1 Z2``; S² (S + 1) / 2 of them, 6 for a
  binary): cut-off ``f_3b (r_Z + max(r_Z1, r_Z2)) / 2`` — the longest bond the triplet has to see, with the factors
  (2.925 / 2.665) averaged over the centre and that neighbour;
* **SOAP, one per centre species** with every species as neighbour (``soap Z n_species species_Z``): cut-off
  ``f_SOAP (r_Z + r_max) / 2`` (4.5 / 4.1), the centre's bond to the largest neighbour;
* kernel widths, sparse points per descriptor, n_max, l_max and ζ as Table 1 (gap_fit's own ``add_species``
  expansion also keeps them per expanded descriptor);
* ``e0`` per element: the isolated-atom energies (eV), computed once per element and passed in, or 'average'.

For one element every rule reduces to Table 1 (the descriptors then only gain ``Z`` keys).

δ heuristics (:func:`delta_2b_multicomponent`)
---------------------------------------------
The paper sets δ_2b from the variance of the database energies. Across compositions the per-atom energy varies by
eV with the composition alone (Si vs C), which the e0 and a linear mixing term absorb; δ_2b is therefore the
standard deviation of the per-atom energies **after removing the best linear function of the composition**
(least squares ``E/N ≈ Σ_s x_s μ_s``), i.e. the spread at fixed composition plus the formation energies — for one
element exactly the paper's ``std(E/N)`` (:func:`aiida_gaprss.rss.gap_hyper.delta_2b`, which is called then).
δ_3b and δ_SOAP stay the energy RMSE per atom of the 2b-only and 2b+3b fits
(:func:`aiida_gaprss.rss.gap_hyper.delta_from_error`), one δ per body order shared by all its species
combinations, as gap_fit's own expansion does.

Per-structure sigmas: by default (:data:`COMPOUND_HULL_SIGMAS`) the paper's ramp on the distance above the lower hull
in (composition, V, E) (:func:`aiida_gaprss.rss.formation_hull.composition_volume_hull_distance`), as for one element
on the (V, E) hull; the fit setting ``hull_sigmas = False`` gives every structure ``default_sigma``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence

import numpy as np
from ase.data import atomic_numbers

from .gap_hyper import delta_2b
from .gap_parameters import DEFAULT_DELTAS, TABLE1, fit_parameters
from .species import species_scales

logger = logging.getLogger(__name__)

__all__ = ('COMPOUND_HULL_SIGMAS', 'delta_2b_multicomponent', 'multicomponent_parameters')

#: Whether the fit of several elements takes per-structure sigmas from the (composition, V, E) hull ramp by default.
#: On: over three Si–C databases (random cells, dimers, strained crystals; Tersoff labels) the ramp puts 3C SiC's
#: formation energy within 7–16 meV/atom of the reference, one ``default_sigma`` for all 161–327 meV/atom off, although
#: the ramp's training RMSE over all structures is the larger (dimers and cells far above the hull are left loose, by
#: design): benchmarks/multicomponent_fit.py, docs/multicomponent.md. ``hull_sigmas = False`` turns it off.
COMPOUND_HULL_SIGMAS = True


def _cutoff(kind: str, radius: float, bondings: Sequence[str]) -> float:
    factor = float(np.mean([TABLE1[kind]['cutoff_factor'][b] for b in bondings]))
    return round(factor * radius, 6)


def multicomponent_parameters(
    elements: Sequence[str],
    *,
    radii: Mapping[str, float] | None = None,
    bonding: Mapping[str, str] | None = None,
    e0: Mapping[str, float] | str = 'average',
    overrides: Mapping | None = None,
) -> dict:
    """GAP-RSS fit parameters for the chemical system ``elements`` (see the module docstring), validated.

    Parameters
    ----------
    elements
        Chemical symbols, e.g. ['Si', 'C'].
    radii, bonding
        Per-element overrides of the characteristic radius (Å) and bonding type.
    e0
        Isolated-atom energy per element (eV), or 'average' / 'isolated' (gap_fit's ``e0_method``).
    overrides
        Deep-merged into the result, e.g. ``{'descriptors': {'soap': {'n_sparse': 50}}}`` (a mapping by descriptor
        type changes every descriptor of that type).

    Returns
    -------
    dict
        Parameters for :func:`aiida_gaprss.rss.gap_parameters.build_gap_fit_command`; descriptors in the order:
        2b per pair, 3b per (centre, pair), SOAP per centre.
    """
    scales = species_scales(elements, radii=radii, bonding=bonding)
    symbols = list(scales.elements)
    r = dict(zip(symbols, scales.radii, strict=True))
    kind = dict(zip(symbols, scales.bonding, strict=True))
    z = {s: atomic_numbers[s] for s in symbols}
    descriptors = []
    for a, b in itertools.combinations_with_replacement(symbols, 2):
        descriptors.append(
            {
                'type': 'distance_2b',
                'cutoff': _cutoff('distance_2b', 0.5 * (r[a] + r[b]), [kind[a], kind[b]]),
                'cutoff_transition_width': 0.5,
                'theta_uniform': TABLE1['distance_2b']['sigma_at'],
                'delta': DEFAULT_DELTAS['distance_2b'],
                'n_sparse': TABLE1['distance_2b']['n_sparse'],
                'Z1': z[a],
                'Z2': z[b],
                'add_species': False,
            }
        )
    for centre in symbols:
        for a, b in itertools.combinations_with_replacement(symbols, 2):
            far = a if r[a] >= r[b] else b
            descriptors.append(
                {
                    'type': 'angle_3b',
                    'cutoff': _cutoff('angle_3b', 0.5 * (r[centre] + r[far]), [kind[centre], kind[far]]),
                    'theta_uniform': TABLE1['angle_3b']['sigma_at'],
                    'delta': DEFAULT_DELTAS['angle_3b'],
                    'n_sparse': TABLE1['angle_3b']['n_sparse'],
                    'Z': z[centre],
                    'Z1': z[a],
                    'Z2': z[b],
                    'add_species': False,
                }
            )
    largest = max(symbols, key=lambda s: r[s])
    soap = TABLE1['soap']
    for centre in symbols:
        descriptors.append(
            {
                'type': 'soap',
                'cutoff': _cutoff('soap', 0.5 * (r[centre] + r[largest]), [kind[centre], kind[largest]]),
                'cutoff_transition_width': 0.5,
                'atom_sigma': soap['sigma_at'],
                'n_max': soap['n_max'],
                'l_max': soap['l_max'],
                'zeta': soap['zeta'],
                'delta': DEFAULT_DELTAS['soap'],
                'n_sparse': soap['n_sparse'],
                'Z': z[centre],
                'n_species': len(symbols),
                'species_Z': [z[s] for s in symbols],
                'add_species': False,
            }
        )
    return fit_parameters(symbols, descriptors, e0, overrides)


def delta_2b_multicomponent(energies, compositions, n_atoms, *, floor: float | None = None) -> float:
    """δ_2b (eV): standard deviation of the per-atom energies after removing the best linear fit in composition.

    Parameters
    ----------
    energies
        Total energies (eV).
    compositions
        (N, S) atomic fractions (rows add up to 1).
    n_atoms
        Atoms per configuration.
    floor
        Lower bound (default that of :func:`aiida_gaprss.rss.gap_hyper.delta_2b`).

    For one element (a single column, or every row the same composition) this is
    :func:`aiida_gaprss.rss.gap_hyper.delta_2b` (the paper's standard deviation of the per-atom energies).
    """
    X = np.asarray(compositions, dtype=float)
    E = np.asarray(energies, dtype=float)
    N = np.asarray(n_atoms, dtype=float)
    if X.ndim != 2 or X.shape[0] != E.size or E.size != N.size:
        raise ValueError(f'compositions, energies and n_atoms differ in length ({X.shape}, {E.size}, {N.size})')
    if not np.isfinite(X).all() or np.any(X < 0) or not np.allclose(X.sum(axis=1), 1.0):
        raise ValueError('compositions: expected atomic fractions (non-negative, rows adding up to 1)')
    kwargs = {} if floor is None else {'floor': floor}
    if np.all(X == X[0]):
        return delta_2b(E, N, **kwargs)
    per_atom = E / N
    mu, *_ = np.linalg.lstsq(X, per_atom, rcond=None)
    residual = per_atom - X @ mu
    return delta_2b(residual, np.ones_like(residual), **kwargs)
