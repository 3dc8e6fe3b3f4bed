"""Compositions of a chemical system for multi-component GAP-RSS: fixed stoichiometries or a composition range.

Accepted forms (:func:`parse_composition`)
-----------------------------------------
``'SiC'``, ``'SiO2'``, ``'Si2C'``
    One fixed stoichiometry (a chemical formula without brackets); every cell holds whole formula units.
``{'Si': 1, 'C': 1}``
    The same as a mapping of integers.
``['SiC', 'Si2C', 'Si']`` (list or tuple)
    Several fixed stoichiometries; each cell takes one of those its atom count can hold.
``'Si-C'`` (symbols joined by ``-``)
    The whole chemical system: any composition, the pure elements included.
``{'Si': (0.25, 0.75), 'C': (0.25, 0.75)}``
    A composition range: the atomic fraction of each element inside its closed interval.

For a cell of ``N`` atoms the admissible per-element counts (:meth:`CompositionSpace.count_vectors`) are the
multiples of the stoichiometries that add up to ``N`` (fixed), or every vector of non-negative integers adding up to
``N`` with all fractions inside their ranges (range). The generator draws ``N`` first, then one admissible count
vector uniformly (:mod:`aiida_gaprss.rss.compound_generation`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import reduce

from ..common import checks
from .elements import validate_element

__all__ = ('CompositionSpace', 'formula_counts', 'formula_string', 'parse_composition')

_TOKEN = re.compile(r'([A-Z][a-z]?)(\d*)')
_TOL = 1e-9


@dataclass(frozen=True)
class CompositionSpace:
    """The compositions random cells may take.

    Attributes
    ----------
    elements
        Chemical symbols, in the order they were first given.
    stoichiometries
        Reduced integer formula units (one count per element), for fixed stoichiometries; empty for a range.
    fraction_ranges
        ``(lo, hi)`` atomic fraction per element for a composition range; None for fixed stoichiometries.
    """

    elements: tuple[str, ...]
    stoichiometries: tuple[tuple[int, ...], ...] = ()
    fraction_ranges: tuple[tuple[float, float], ...] | None = None

    @property
    def is_range(self) -> bool:
        """True for a composition range, False for fixed stoichiometries."""
        return self.fraction_ranges is not None

    def count_vectors(self, natoms: int) -> list[tuple[int, ...]]:
        """The admissible per-element atom counts of a cell of ``natoms`` atoms (possibly none)."""
        if not self.is_range:
            out = []
            for units in self.stoichiometries:
                size = sum(units)
                if natoms % size == 0 and tuple(u * (natoms // size) for u in units) not in out:
                    out.append(tuple(u * (natoms // size) for u in units))
            return out
        lows = [math.ceil(lo * natoms - _TOL) for lo, _ in self.fraction_ranges]
        highs = [math.floor(hi * natoms + _TOL) for _, hi in self.fraction_ranges]
        return [c for c in _compositions(natoms, lows, highs)]

    def label(self, counts: Sequence[int]) -> str:
        """Reduced formula of ``counts`` (e.g. 'SiC', 'SiO2'; 'Si' for a pure element)."""
        return formula_string(dict(zip(self.elements, counts, strict=True)))


def _compositions(total: int, lows: list[int], highs: list[int]):
    """Integer vectors with entries in [lows, highs] adding up to ``total``, in lexicographic order."""
    if len(lows) == 1:
        if lows[0] <= total <= highs[0]:
            yield (total,)
        return
    for first in range(max(lows[0], 0), min(highs[0], total) + 1):
        for rest in _compositions(total - first, lows[1:], highs[1:]):
            yield (first, *rest)


def formula_counts(formula: str) -> dict[str, int]:
    """Element counts of a chemical formula without brackets ('SiO2' -> {'Si': 1, 'O': 2}).

    Raises
    ------
    ValueError
        Naming 'composition', for anything that is not a sequence of element symbols with optional counts, or an
        unknown element.
    """
    if not isinstance(formula, str) or not formula.strip():
        raise ValueError(f'composition: expected a chemical formula like "SiC", got {formula!r}')
    text = formula.strip()
    tokens = _TOKEN.findall(text)
    if ''.join(s + n for s, n in tokens) != text:
        raise ValueError(f'composition: cannot read the formula {formula!r} (symbols and counts, no brackets)')
    counts: dict[str, int] = {}
    for symbol, number in tokens:
        try:
            symbol = validate_element(symbol)
        except ValueError:
            raise ValueError(f'composition: unknown element {symbol!r} in {formula!r}') from None
        value = int(number) if number else 1
        if value < 1:
            raise ValueError(f'composition: count of {symbol} must be >= 1 in {formula!r}')
        counts[symbol] = counts.get(symbol, 0) + value
    return counts


def formula_string(counts: Mapping[str, int]) -> str:
    """Reduced formula of element counts, elements in the given order, zeros left out ({'Si': 2, 'C': 2} -> 'SiC')."""
    present = {s: int(n) for s, n in counts.items() if int(n) > 0}
    if not present:
        return ''
    divisor = reduce(math.gcd, present.values())
    return ''.join(f'{s}{n // divisor if n // divisor > 1 else ""}' for s, n in present.items())


def _stoichiometry(value) -> dict[str, int]:
    if isinstance(value, str):
        return formula_counts(value)
    if isinstance(value, Mapping):
        out = {}
        for symbol, count in value.items():
            try:
                symbol = validate_element(symbol)
            except ValueError:
                raise ValueError(f'composition: unknown element {symbol!r}') from None
            checks.integer(count, f'composition.{symbol}', minimum=0, expected='a non-negative integer count')
            out[symbol] = count
        if not any(out.values()):
            raise ValueError(f'composition: the stoichiometry {value!r} has no atoms')
        return out
    raise ValueError(f'composition: expected a formula or a mapping element -> count, got {value!r}')


def _fraction_range(symbol: str, value) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f'composition.{symbol}: expected a fraction range (lo, hi), got {value!r}') from None
    if not (0.0 <= lo <= hi <= 1.0):
        raise ValueError(f'composition.{symbol}: need 0 <= lo <= hi <= 1, got ({lo}, {hi})')
    return lo, hi


def parse_composition(value) -> CompositionSpace:
    """Read a composition specification (see the module docstring) into a :class:`CompositionSpace`.

    Raises
    ------
    ValueError
        Naming 'composition' (or 'composition.<element>'), e.g. for an unknown element, an unreadable formula, a
        fraction outside [0, 1], or ranges whose lower bounds add up to more than 1 or upper bounds to less than 1.
    """
    if isinstance(value, CompositionSpace):
        return value
    if isinstance(value, str) and '-' in value:
        symbols = []
        for part in value.split('-'):
            try:
                symbols.append(validate_element(part))
            except ValueError:
                raise ValueError(f'composition: unknown element {part!r} in the chemical system {value!r}') from None
        if len(set(symbols)) != len(symbols) or len(symbols) < 2:
            raise ValueError(f'composition: a chemical system needs distinct elements, got {value!r}')
        return CompositionSpace(tuple(symbols), fraction_ranges=tuple((0.0, 1.0) for _ in symbols))
    if isinstance(value, Mapping) and value and all(not isinstance(v, int | str) for v in value.values()):
        symbols, ranges = [], []
        for symbol, interval in value.items():
            try:
                symbol = validate_element(symbol)
            except ValueError:
                raise ValueError(f'composition: unknown element {symbol!r}') from None
            symbols.append(symbol)
            ranges.append(_fraction_range(symbol, interval))
        if len(set(symbols)) != len(symbols):
            raise ValueError(f'composition: duplicate elements in {value!r}')
        if sum(lo for lo, _ in ranges) > 1 + _TOL or sum(hi for _, hi in ranges) < 1 - _TOL:
            raise ValueError(f'composition: no composition has all fractions inside the ranges {value!r}')
        return CompositionSpace(tuple(symbols), fraction_ranges=tuple(ranges))
    items = list(value) if isinstance(value, list | tuple) else [value]
    if not items:
        raise ValueError('composition: the list of stoichiometries is empty')
    parsed = [_stoichiometry(item) for item in items]
    symbols = list(dict.fromkeys(s for p in parsed for s in p))
    units = []
    for p in parsed:
        vector = [p.get(s, 0) for s in symbols]
        divisor = reduce(math.gcd, [n for n in vector if n])
        reduced = tuple(n // divisor for n in vector)
        if reduced not in units:
            units.append(reduced)
    return CompositionSpace(tuple(symbols), stoichiometries=tuple(units))
