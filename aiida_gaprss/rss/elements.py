"""Per-element length scales for GAP-RSS: the characteristic radius ``r`` and the bonding type.

Every length in GAP-RSS (Bernstein, Csányi & Deringer, npj Comput. Mater. 5, 99 (2019)) is a multiple of one
characteristic radius ``r`` per element: the minimum separation of random cells (1.8 r), their volume per atom
(14.5 r³ for covalent, 5.5 r³ for metallic elements) and the GAP descriptor cut-offs. The paper's values are
B 0.84, C 0.76, Si 1.11 Å (covalent radii) and Ti 1.47 Å (metallic radius). For any other element:

* the bonding type is *metallic* for the metals of :data:`METALLIC_RADII` (alkali, alkaline-earth, transition,
  post-transition metals, lanthanides and light actinides) and *covalent* for everything else (non-metals and the
  metalloids B, Si, Ge, As, Sb, Te, and also C, Se, ...);
* ``r`` is the 12-coordinate metallic radius for metallic elements (:data:`METALLIC_RADII`, Greenwood & Earnshaw,
  *Chemistry of the Elements*; it gives Ti 1.47 Å as in the paper) and the covalent radius
  ``ase.data.covalent_radii`` (Cordero et al. 2008) for covalent ones.

Both can be overridden by the caller (``radius=``, ``bonding=``).
"""

from __future__ import annotations

import logging
import math

from ase.data import atomic_numbers, chemical_symbols, covalent_radii

logger = logging.getLogger(__name__)

__all__ = (
    'BONDING_TYPES',
    'CHARACTERISTIC_RADII',
    'METALLIC_RADII',
    'MIN_SEPARATION_FACTOR',
    'VOLUME_FACTORS',
    'bonding_type',
    'characteristic_radius',
    'minimum_separation',
    'validate_element',
    'volume_per_atom',
)

#: The paper's characteristic radii (Å).
CHARACTERISTIC_RADII: dict[str, float] = {'B': 0.84, 'C': 0.76, 'Si': 1.11, 'Ti': 1.47}

#: The paper's bonding types for its four elements.
_PAPER_BONDING: dict[str, str] = {'B': 'covalent', 'C': 'covalent', 'Si': 'covalent', 'Ti': 'metallic'}

BONDING_TYPES = ('covalent', 'metallic')

#: Volume per atom of random cells in units of r³ (paper, Methods).
VOLUME_FACTORS: dict[str, float] = {'covalent': 14.5, 'metallic': 5.5}

#: Minimum interatomic separation of random cells in units of r (paper, Methods).
MIN_SEPARATION_FACTOR = 1.8

#: 12-coordinate metallic radii (Å) of the metals (Greenwood & Earnshaw). Elements listed here are 'metallic'.
METALLIC_RADII: dict[str, float] = {
    'Li': 1.52, 'Be': 1.12, 'Na': 1.86, 'Mg': 1.60, 'Al': 1.43, 'K': 2.27, 'Ca': 1.97, 'Sc': 1.62, 'Ti': 1.47,
    'V': 1.34, 'Cr': 1.28, 'Mn': 1.27, 'Fe': 1.26, 'Co': 1.25, 'Ni': 1.24, 'Cu': 1.28, 'Zn': 1.34, 'Ga': 1.35,
    'Rb': 2.48, 'Sr': 2.15, 'Y': 1.80, 'Zr': 1.60, 'Nb': 1.46, 'Mo': 1.39, 'Tc': 1.36, 'Ru': 1.34, 'Rh': 1.34,
    'Pd': 1.37, 'Ag': 1.44, 'Cd': 1.51, 'In': 1.67, 'Sn': 1.58, 'Cs': 2.65, 'Ba': 2.22, 'La': 1.87, 'Ce': 1.82,
    'Pr': 1.82, 'Nd': 1.81, 'Pm': 1.83, 'Sm': 1.80, 'Eu': 1.98, 'Gd': 1.80, 'Tb': 1.77, 'Dy': 1.78, 'Ho': 1.76,
    'Er': 1.76, 'Tm': 1.76, 'Yb': 1.93, 'Lu': 1.74, 'Hf': 1.59, 'Ta': 1.46, 'W': 1.39, 'Re': 1.37, 'Os': 1.35,
    'Ir': 1.36, 'Pt': 1.39, 'Au': 1.44, 'Hg': 1.51, 'Tl': 1.70, 'Pb': 1.75, 'Bi': 1.82, 'Th': 1.79, 'Pa': 1.63,
    'U': 1.56, 'Np': 1.55, 'Pu': 1.59,
}  # fmt: skip


def validate_element(symbol) -> str:
    """Return the chemical symbol ``symbol`` in canonical capitalisation ('si' -> 'Si').

    Raises
    ------
    ValueError
        If ``symbol`` is not a chemical element (the message names the field 'element').
    """
    if not isinstance(symbol, str) or not symbol.strip():
        raise ValueError(f'element: expected a chemical symbol, got {symbol!r}')
    canonical = symbol.strip().capitalize()
    if canonical not in atomic_numbers or canonical == 'X':
        raise ValueError(f'element: unknown chemical symbol {symbol!r}')
    return canonical


def bonding_type(element: str, bonding: str | None = None) -> str:
    """Bonding type, 'covalent' or 'metallic', of ``element`` (``bonding`` overrides it).

    Raises
    ------
    ValueError
        Unknown element (field 'element') or a ``bonding`` other than 'covalent'/'metallic' (field 'bonding').
    """
    element = validate_element(element)
    if bonding is not None:
        if bonding not in BONDING_TYPES:
            raise ValueError(f"bonding: expected one of {BONDING_TYPES}, got {bonding!r} (element '{element}')")
        return bonding
    if element in _PAPER_BONDING:
        return _PAPER_BONDING[element]
    return 'metallic' if element in METALLIC_RADII else 'covalent'


def characteristic_radius(element: str, radius: float | None = None, bonding: str | None = None) -> float:
    """Characteristic radius ``r`` (Å) of ``element``.

    Parameters
    ----------
    element
        Chemical symbol.
    radius
        User override; returned as is after validation (finite and > 0).
    bonding
        'covalent' or 'metallic' to choose the tabulated radius of elements outside the paper's four.

    Raises
    ------
    ValueError
        Unknown element ('element'), a non-positive or non-finite ``radius`` ('radius'), a bad ``bonding``.
    """
    element = validate_element(element)
    if radius is not None:
        try:
            value = float(radius)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"radius: expected a number in Å, got {radius!r} (element '{element}')") from exc
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"radius: must be finite and > 0 Å, got {radius!r} (element '{element}')")
        return value
    kind = bonding_type(element, bonding)
    if bonding is None and element in CHARACTERISTIC_RADII:
        return CHARACTERISTIC_RADII[element]
    if kind == 'metallic':
        if element in METALLIC_RADII:
            return METALLIC_RADII[element]
        logger.warning('no metallic radius tabulated for %s: using its covalent radius', element)
    if element in CHARACTERISTIC_RADII and kind == _PAPER_BONDING[element]:
        return CHARACTERISTIC_RADII[element]
    value = float(covalent_radii[atomic_numbers[element]])
    if not math.isfinite(value) or value <= 0:  # pragma: no cover - ase has radii for all real elements
        raise ValueError(f"radius: no tabulated radius for element '{element}', give one explicitly")
    return value


def volume_per_atom(element: str, radius: float | None = None, bonding: str | None = None) -> float:
    """Centre V0 (Å³) of the random-cell volume per atom: 14.5 r³ (covalent) or 5.5 r³ (metallic)."""
    r = characteristic_radius(element, radius, bonding)
    return VOLUME_FACTORS[bonding_type(element, bonding)] * r**3


def minimum_separation(element: str, radius: float | None = None, bonding: str | None = None) -> float:
    """Minimum interatomic separation (Å) of random cells: 1.8 r."""
    return MIN_SEPARATION_FACTOR * characteristic_radius(element, radius, bonding)


# Keep the symbol list importable for callers that want to enumerate elements.
KNOWN_ELEMENTS = tuple(s for s in chemical_symbols if s != 'X')
