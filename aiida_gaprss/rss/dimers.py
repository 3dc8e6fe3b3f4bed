"""Dimers and isolated atoms in vacuum: the short-range and zero-density ends of a GAP-RSS database.

Elemental (:func:`generate_dimers`, as the paper authors' ``wfl.generate.atoms_and_dimers``) and for every pair of
species of a chemical system (:func:`generate_pair_dimers`), plus one isolated atom per element
(:func:`isolated_atoms`). Lengths scale with the characteristic radii of :mod:`aiida_gaprss.rss.elements`; a pair
A–B uses the mean radius ``(r_A + r_B) / 2`` wherever an element uses ``r`` (so its bond length ``2r`` becomes
``r_A + r_B``, the sum of the covalent/metallic radii), which is the elemental rule for A = B.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
from ase import Atoms

from .batches import check_count
from .elements import bonding_type, characteristic_radius, validate_element

__all__ = ('DIMER_RANGE', 'ISOLATED_ATOM_BOX', 'generate_dimers', 'generate_pair_dimers', 'isolated_atoms')

#: Default dimer bond-length range in units of 2r (the element's "bond length"), as in the paper authors'
#: ``wfl.generate.atoms_and_dimers.prepare(dimer_factor_range=(0.65, 2.5))``: 1.3 r (deep in the repulsive wall)
#: to 5 r (beyond the SOAP cut-off of 4.5 r / 4.1 r, where the many-body terms have died off).
DIMER_RANGE = (0.65, 2.5)

#: The 2-body cut-off of the paper's GAP, in units of r (covalent 9.0 r, metallic 8.2 r).
_TWO_BODY_CUTOFF = {'covalent': 9.0, 'metallic': 8.2}

#: Default edge (Å) of the periodic cubic box of an isolated atom.
ISOLATED_ATOM_BOX = 20.0


def _dimer_cells(pair: tuple[str, str], n: int, lo, hi, box, default_box: float) -> list[Atoms]:
    """``n`` dimers of ``pair`` with evenly spaced bond lengths ``lo``–``hi`` (Å), checked; ValueError names fields."""
    for field, value in (('r_min', lo), ('r_max', hi)):
        if not isinstance(value, int | float | np.floating) or not math.isfinite(value) or value <= 0:
            raise ValueError(f'{field}: must be a positive bond length in Å, got {value!r}')
    if lo > hi:
        raise ValueError(f'r_min: must not exceed r_max ({lo} > {hi})')
    if box is None:
        box = default_box
    if not isinstance(box, int | float | np.floating) or not math.isfinite(box) or box <= 2 * hi:
        raise ValueError(f'box: must be a length in Å larger than 2 * r_max = {2 * hi:.3f}, got {box!r}')
    lengths = np.linspace(lo, hi, n) if n > 1 else np.array([lo] * n)
    dimers = []
    centre = np.full(3, box / 2.0)
    for i, d in enumerate(lengths):
        positions = [centre - [d / 2.0, 0.0, 0.0], centre + [d / 2.0, 0.0, 0.0]]
        atoms = Atoms(list(pair), positions=positions, cell=[box, box, box], pbc=True)
        atoms.info.update(config_type='dimer', bond_length=float(d), index=i)
        dimers.append(atoms)
    return dimers


def generate_dimers(
    element: str,
    n: int,
    *,
    r_min: float | None = None,
    r_max: float | None = None,
    box: float | None = None,
    radius: float | None = None,
    bonding: str | None = None,
) -> list[Atoms]:
    """``n`` dimers of ``element`` in vacuum, bond lengths evenly spaced from ``r_min`` to ``r_max`` (Å).

    Defaults: ``r_min = 1.3 r`` and ``r_max = 5 r`` (0.65–2.5 × 2r, see :data:`DIMER_RANGE`). Each dimer sits,
    along x, in the centre of a periodic cubic box of edge ``box`` (default: the larger of 20 Å and
    ``r_max`` + the paper's 2-body cut-off + 1 Å, so no periodic image is within any GAP cut-off).
    ``atoms.info``: config_type='dimer', bond_length, index.
    """
    element = validate_element(element)
    n = check_count(n)
    r = characteristic_radius(element, radius, bonding)
    kind = bonding_type(element, bonding)
    lo = DIMER_RANGE[0] * 2 * r if r_min is None else r_min
    hi = DIMER_RANGE[1] * 2 * r if r_max is None else r_max
    default_box = max(20.0, hi + _TWO_BODY_CUTOFF[kind] * r + 1.0) if isinstance(hi, int | float) else 20.0
    return _dimer_cells((element, element), n, lo, hi, box, default_box)


def generate_pair_dimers(
    elements: Sequence[str],
    n: int,
    *,
    radii: Mapping[str, float] | None = None,
    bonding: Mapping[str, str] | None = None,
    box: float | None = None,
) -> list[Atoms]:
    """``n`` dimers for every pair of species of ``elements`` (A–A, A–B, B–B, …), in vacuum.

    A pair A–B takes the elemental defaults with the mean radius ``r_AB = (r_A + r_B) / 2``: bond lengths evenly
    spaced over 0.65–2.5 × 2 r_AB (1.3–5 r_AB), box edge the larger of 20 Å and 5 r_AB + the 2-body cut-off
    (:mod:`aiida_gaprss.rss.gap_multicomponent`: the mean of the two elements' Table 1 factors × r_AB) + 1 Å.
    ``box`` fixes one edge for all pairs. For one element this is exactly :func:`generate_dimers`.

    Returns
    -------
    list of ase.Atoms
        Pairs in the order of ``itertools.combinations_with_replacement(elements)``; ``atoms.info``:
        config_type='dimer', bond_length, index (within its pair), pair (e.g. 'Si-C').
    """
    symbols = _unique_elements(elements)
    n = check_count(n)
    radii, kinds = dict(radii or {}), dict(bonding or {})
    r = {s: characteristic_radius(s, radii.get(s), kinds.get(s)) for s in symbols}
    factor = {s: _TWO_BODY_CUTOFF[bonding_type(s, kinds.get(s))] for s in symbols}
    out = []
    for a, b in itertools.combinations_with_replacement(symbols, 2):
        r_ab = 0.5 * (r[a] + r[b])
        lo, hi = DIMER_RANGE[0] * 2 * r_ab, DIMER_RANGE[1] * 2 * r_ab
        default_box = max(20.0, hi + 0.5 * (factor[a] + factor[b]) * r_ab + 1.0)
        for atoms in _dimer_cells((a, b), n, lo, hi, box, default_box):
            atoms.info['pair'] = f'{a}-{b}'
            out.append(atoms)
    return out


def isolated_atoms(elements: Sequence[str], *, box: float = ISOLATED_ATOM_BOX) -> list[Atoms]:
    """One atom of each element at the centre of a periodic cubic box of edge ``box`` Å.

    ``atoms.info``: config_type='isolated_atom' (kept out of every hull, see :mod:`aiida_gaprss.rss.hull`). Their
    reference energies are gap_fit's ``e0`` per element.
    """
    symbols = _unique_elements(elements)
    if not isinstance(box, int | float | np.floating) or not math.isfinite(box) or box <= 0:
        raise ValueError(f'box: must be a positive length in Å, got {box!r}')
    out = []
    for symbol in symbols:
        atoms = Atoms(symbol, positions=[[box / 2.0] * 3], cell=[box] * 3, pbc=True)
        atoms.info['config_type'] = 'isolated_atom'
        out.append(atoms)
    return out


def _unique_elements(elements) -> list[str]:
    if isinstance(elements, str) or not isinstance(elements, Sequence) or not elements:
        raise ValueError(f'elements: expected a non-empty list of chemical symbols, got {elements!r}')
    symbols = [validate_element(s) for s in elements]
    if len(set(symbols)) != len(symbols):
        raise ValueError(f'elements: duplicate symbols in {symbols}')
    return symbols
