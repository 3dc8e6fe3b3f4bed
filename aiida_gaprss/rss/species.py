"""Length and volume scales of several species: radii, per-pair minimum separations, volumes of mixed cells.

The paper's recipe for one element of radius ``r`` (:mod:`aiida_gaprss.rss.elements`): minimum separation
``d_min = 1.8 r`` and volume per atom ``V0 = f r³`` (f = 14.5 covalent, 5.5 metallic). Generalised here to species
``A, B, …`` with radii ``r_A, r_B`` and volume factors ``f_A, f_B``:

* **pair separation** ``d_AB = 1.8 (r_A + r_B) / 2`` unless given (``min_separations``): the elemental rule with the
  mean radius, i.e. 0.9 × the sum of the radii, since ``r_A + r_B`` is the A–B bond length of the covalent/metallic
  radii (Si–C: 1.87 Å tabulated, 1.89 Å in 3C-SiC);
* **volume per atom** of a cell with atomic fractions ``x_s``: ``V0 = (Σ x_s f_s) (Σ x_s r_s)³``, the elemental
  volume of an "average atom" with the mean radius and the mean volume factor. It keeps the packing fraction of the
  random cells (sphere volume of ``d_min`` over ``V0``) at the elemental value the paper tuned, which additive
  volumes (``Σ x_s f_s r_s³``) would not for species of different size, and it is close to the measured volumes of
  covalent compounds (3C-SiC: 11.85 Å³/atom against 10.36 Å³ measured, as Si's V0 19.8 against 20.0 and C's 6.4
  against diamond's 5.7; additive volumes give 13.1). Both rules reduce to the elemental ones for one species.

Impossible separations are refused: the atoms of a cell are non-overlapping spheres of radius ``ρ_s = min_t d_st / 2``,
and the atoms of each species alone are non-overlapping spheres of radius ``d_ss / 2``; if either set would fill more
than the densest packing (π / √18 ≈ 0.7405) of the smallest volume the generator may draw, no such cell exists
(``ValueError`` naming 'radii', or 'min_separations' when separations were given). For one element at the paper's
settings the bound is 0.22 (covalent, narrow) and 0.58 (metallic, narrow; 0.740 wide).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .elements import MIN_SEPARATION_FACTOR, VOLUME_FACTORS, bonding_type, characteristic_radius, validate_element

__all__ = ('DENSEST_PACKING', 'SpeciesScales', 'pair_key', 'species_scales')

#: Packing fraction of the densest sphere packing (fcc/hcp), π / √18.
DENSEST_PACKING = math.pi / math.sqrt(18.0)


def _sphere(radius: float) -> float:
    return 4.0 / 3.0 * math.pi * radius**3


def pair_key(a: str, b: str) -> str:
    """Name of the pair of species a, b: 'Si-C' (in the order given)."""
    return f'{a}-{b}'


@dataclass(frozen=True)
class SpeciesScales:
    """Radii, bonding types and pair separations of the species of a chemical system.

    Attributes
    ----------
    elements
        Chemical symbols (the index of each species everywhere else).
    radii
        Characteristic radius r (Å) of each species.
    bonding
        'covalent' or 'metallic' per species (chooses the volume factor and the Table 1 cut-off factors).
    min_separations
        (S, S) symmetric minimum separations (Å).
    separations_given
        Whether any separation came from the caller (names the field of errors).
    """

    elements: tuple[str, ...]
    radii: tuple[float, ...]
    bonding: tuple[str, ...]
    min_separations: np.ndarray
    separations_given: bool = False

    def volume_per_atom(self, counts: Sequence[int]) -> float:
        """V0 (Å³/atom) of a cell with ``counts[s]`` atoms of species ``s``: ``(Σ x_s f_s)(Σ x_s r_s)³``."""
        x = np.asarray(counts, dtype=float) / float(sum(counts))
        factor = float(np.dot(x, [VOLUME_FACTORS[k] for k in self.bonding]))
        return factor * float(np.dot(x, self.radii)) ** 3

    def packing_fraction(self, counts: Sequence[int], volume_per_atom: float) -> float:
        """Largest fraction of the volume that non-overlapping spheres must fill (a necessary bound, see module).

        Two bounds, the larger returned: all atoms as spheres of radius ``min_t d_st / 2`` (present species ``t``),
        and the atoms of each species alone as spheres of radius ``d_ss / 2``.
        """
        present = [s for s, n in enumerate(counts) if n > 0]
        table = self.min_separations[np.ix_(present, present)]
        volume = sum(counts) * volume_per_atom
        mixed = sum(counts[s] * _sphere(d / 2.0) for s, d in zip(present, table.min(axis=1), strict=True))
        alone = max(counts[s] * _sphere(table[n, n] / 2.0) for n, s in enumerate(present))
        return max(mixed, alone) / volume

    def check_packing(self, counts: Sequence[int], volume_per_atom: float) -> None:
        """ValueError (naming 'min_separations' or 'radii') if the separations cannot fit ``volume_per_atom``."""
        fraction = self.packing_fraction(counts, volume_per_atom)
        if fraction > DENSEST_PACKING:
            field = 'min_separations' if self.separations_given else 'radii'
            composition = ' '.join(f'{e}{n}' for e, n in zip(self.elements, counts, strict=True) if n)
            raise ValueError(
                f'{field}: the minimum separations cannot be met in {composition} at {volume_per_atom:.2f} Å3/atom '
                f'(non-overlapping spheres would fill {fraction:.2f} of the volume, more than the densest packing '
                f'{DENSEST_PACKING:.4f})'
            )


def _parse_pair(key, elements: Sequence[str]) -> tuple[int, int]:
    parts = key.split('-') if isinstance(key, str) else list(key) if isinstance(key, tuple | list) else None
    if not parts or len(parts) != 2:
        raise ValueError(f"min_separations: expected pairs like 'Si-C' or ('Si', 'C'), got {key!r}")
    indices = []
    for part in parts:
        try:
            symbol = validate_element(part)
        except ValueError:
            raise ValueError(f'min_separations: unknown element {part!r} in {key!r}') from None
        if symbol not in elements:
            raise ValueError(f'min_separations: {symbol} in {key!r} is not one of the species {list(elements)}')
        indices.append(elements.index(symbol))
    return indices[0], indices[1]


def species_scales(
    elements: Sequence[str],
    *,
    radii: Mapping[str, float] | None = None,
    bonding: Mapping[str, str] | None = None,
    min_separations: Mapping | None = None,
) -> SpeciesScales:
    """Radii, bonding types and the per-pair minimum separations of ``elements``.

    Parameters
    ----------
    elements
        Chemical symbols.
    radii, bonding
        Per-element overrides of the characteristic radius (Å) and bonding type (default: the tables of
        :mod:`aiida_gaprss.rss.elements`).
    min_separations
        Per-pair overrides (Å), keys 'A-B' or ('A', 'B') (symmetric); default ``1.8 (r_A + r_B) / 2``.

    Raises
    ------
    ValueError
        Naming 'elements', 'radius'/'bonding' (with the element), 'radii'/'bonding' for keys outside ``elements``,
        or 'min_separations'.
    """
    if isinstance(elements, str) or not isinstance(elements, Sequence) or not elements:
        raise ValueError(f'elements: expected a non-empty list of chemical symbols, got {elements!r}')
    symbols = tuple(validate_element(s) for s in elements)
    if len(set(symbols)) != len(symbols):
        raise ValueError(f'elements: duplicate symbols in {list(symbols)}')
    radii, kinds = dict(radii or {}), dict(bonding or {})
    for field, mapping in (('radii', radii), ('bonding', kinds)):
        extra = [k for k in mapping if k not in symbols]
        if extra:
            raise ValueError(f'{field}: {extra} not among the species {list(symbols)}')
    r = tuple(characteristic_radius(s, radii.get(s), kinds.get(s)) for s in symbols)
    kind = tuple(bonding_type(s, kinds.get(s)) for s in symbols)
    radius = np.asarray(r)
    table = MIN_SEPARATION_FACTOR * 0.5 * (radius[:, None] + radius[None, :])
    for key, value in (min_separations or {}).items():
        i, j = _parse_pair(key, symbols)
        try:
            length = float(value)
        except (TypeError, ValueError):
            raise ValueError(f'min_separations.{key}: expected a length in Å, got {value!r}') from None
        if not math.isfinite(length) or length <= 0:
            raise ValueError(f'min_separations.{key}: must be a positive length in Å, got {value!r}')
        table[i, j] = table[j, i] = length
    return SpeciesScales(symbols, r, kind, table, bool(min_separations))
