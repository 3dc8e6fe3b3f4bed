"""Typed checks of input values: each returns the value or raises ``ValueError`` naming the field.

Every message reads ``<label>: expected <what>, got <value>``. The label is the name a user wrote: a plain argument
name on the science floors (``seed``), ``field `parameters.seed``` (from :func:`field`) where the value came in
through an AiiDA input. ``expected`` replaces the default wording of ``<what>`` where a unit or a meaning says more
(``a positive force (eV/Å)``).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from numbers import Integral, Real

__all__ = (
    'boolean',
    'choice',
    'field',
    'fraction',
    'integer',
    'is_integer',
    'is_number',
    'non_negative_integer',
    'non_negative_number',
    'number',
    'positive_integer',
    'positive_number',
    'refuse',
)


def field(path: str) -> str:
    """The label of an input field in messages: ``field `path```."""
    return f'field `{path}`'


def refuse(label: str, expected: str, value) -> ValueError:
    """The ``ValueError`` of a refused value (raise it)."""
    return ValueError(f'{label}: expected {expected}, got {value!r}')


def is_integer(value) -> bool:
    """An integer (Python or numpy), not a bool."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """A real number (Python or numpy, integer or float), not a bool; it may be infinite or NaN."""
    return isinstance(value, Real) and not isinstance(value, bool)


def integer(value, label: str, *, minimum: int | None = None, maximum: int | None = None, expected: str = '') -> int:
    """``value`` as an ``int`` if it is an integer within ``[minimum, maximum]`` (either bound may be left open)."""
    if not expected:
        if minimum is not None and maximum is not None:
            expected = f'an integer in [{minimum}, {maximum}]'
        elif minimum is not None:
            expected = f'an integer >= {minimum}'
        elif maximum is not None:
            expected = f'an integer <= {maximum}'
        else:
            expected = 'an integer'
    if not is_integer(value) or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise refuse(label, expected, value)
    return int(value)


def positive_integer(value, label: str, *, expected: str = 'a positive integer') -> int:
    """``value`` as an ``int`` if it is an integer >= 1."""
    return integer(value, label, minimum=1, expected=expected)


def non_negative_integer(value, label: str, *, expected: str = 'a non-negative integer') -> int:
    """``value`` as an ``int`` if it is an integer >= 0."""
    return integer(value, label, minimum=0, expected=expected)


def number(
    value, label: str, *, minimum: float | None = None, maximum: float | None = None, expected: str = 'a finite number'
) -> float:
    """``value`` as a ``float`` if it is a finite number within ``[minimum, maximum]`` (bounds included)."""
    if (
        not is_number(value)
        or not math.isfinite(value)
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        raise refuse(label, expected, value)
    return float(value)


def positive_number(value, label: str, *, expected: str = 'a positive number') -> float:
    """``value`` as a ``float`` if it is a finite number > 0."""
    if not is_number(value) or not math.isfinite(value) or value <= 0:
        raise refuse(label, expected, value)
    return float(value)


def non_negative_number(value, label: str, *, expected: str = 'a non-negative number') -> float:
    """``value`` as a ``float`` if it is a finite number >= 0."""
    return number(value, label, minimum=0, expected=expected)


def fraction(value, label: str, *, expected: str = 'a fraction in (0, 1)') -> float:
    """``value`` as a ``float`` if it lies strictly between 0 and 1."""
    if not is_number(value) or not 0 < value < 1:
        raise refuse(label, expected, value)
    return float(value)


def boolean(value, label: str, *, expected: str = 'true or false') -> bool:
    """``value`` if it is a bool (``0`` and ``1`` are not)."""
    if not isinstance(value, bool):
        raise refuse(label, expected, value)
    return value


def choice(value, label: str, choices: Collection, *, expected: str = ''):
    """``value`` if it is one of ``choices``."""
    try:
        known = value in choices and not (isinstance(value, bool) and not any(isinstance(c, bool) for c in choices))
    except TypeError:  # an unhashable value asked of a set
        known = False
    if not known:
        raise refuse(label, expected or f'one of {", ".join(repr(item) for item in choices)}', value)
    return value
