"""The typed input checks of ``common/checks.py``: what each accepts, refuses, and the message naming the field."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aiida_gaprss.common import checks


@pytest.mark.parametrize('value', [1, 7, np.int64(3)])
def test_positive_integer_accepts_integers_and_returns_int(value):
    result = checks.positive_integer(value, 'n')
    assert result == int(value) and type(result) is int


@pytest.mark.parametrize('value', [0, -2, True, 1.0, '3', None, np.float64(2.0)])
def test_positive_integer_refuses_with_the_field(value):
    with pytest.raises(ValueError) as info:
        checks.positive_integer(value, 'n')
    assert str(info.value) == f'n: expected a positive integer, got {value!r}'


def test_integer_bounds_and_default_wording():
    assert checks.integer(0, 'seed', minimum=0) == 0
    with pytest.raises(ValueError, match=r'^field `parameters.seed`: expected an integer >= 0, got -1$'):
        checks.integer(-1, checks.field('parameters.seed'), minimum=0)
    with pytest.raises(ValueError, match=r'^z: expected an integer in \[1, 118\], got 119$'):
        checks.integer(119, 'z', minimum=1, maximum=118)
    with pytest.raises(ValueError, match=r'^z: expected an integer <= 3, got 4$'):
        checks.integer(4, 'z', maximum=3)
    with pytest.raises(ValueError, match=r'^k: expected an integer, got 2.5$'):
        checks.integer(2.5, 'k')
    with pytest.raises(ValueError, match=r'^n: expected a non-negative integer, got -1$'):
        checks.non_negative_integer(-1, 'n')


def test_numbers_refuse_bools_non_finite_and_out_of_range():
    assert checks.positive_number(2, 'fmax') == 2.0 and type(checks.positive_number(2, 'fmax')) is float
    assert checks.positive_number(np.float32(0.5), 'fmax') == 0.5
    for bad in (0, -1.0, math.inf, math.nan, True, '1', None):
        with pytest.raises(ValueError, match=r'^fmax: expected a positive force \(eV/Å\), got '):
            checks.positive_number(bad, 'fmax', expected='a positive force (eV/Å)')
    assert checks.non_negative_number(0, 'x') == 0.0
    with pytest.raises(ValueError, match=r'^x: expected a non-negative number, got -0.1$'):
        checks.non_negative_number(-0.1, 'x')
    assert checks.number(-3, 'p', minimum=-5, maximum=5) == -3.0
    with pytest.raises(ValueError, match=r'^p: expected a finite number, got inf$'):
        checks.number(math.inf, 'p')
    with pytest.raises(ValueError, match=r'^p: expected GPa, got 6$'):
        checks.number(6, 'p', maximum=5, expected='GPa')


def test_fraction_boolean_and_choice():
    assert checks.fraction(0.5, 'tolerance') == 0.5
    for bad in (0, 1, 1.5, False):
        with pytest.raises(ValueError, match=r'^tolerance: expected a fraction in \(0, 1\), got '):
            checks.fraction(bad, 'tolerance')
    assert checks.boolean(False, 'relax') is False
    with pytest.raises(ValueError, match=r'^relax: expected true or false, got 1$'):
        checks.boolean(1, 'relax')
    assert checks.choice('fast', 'protocol', ('fast', 'precise')) == 'fast'
    with pytest.raises(ValueError, match=r"^protocol: expected one of 'fast', 'precise', got 'slow'$"):
        checks.choice('slow', 'protocol', ('fast', 'precise'))
    with pytest.raises(ValueError, match=r'^mode: expected one of 1, 2, got True$'):
        checks.choice(True, 'mode', (1, 2))  # True == 1, but a bool is not a number here
    with pytest.raises(ValueError, match=r'^mode: expected one of'):
        checks.choice([1], 'mode', {1, 2})  # unhashable: refused, not a TypeError


def test_type_predicates():
    assert checks.is_integer(np.int32(2)) and not checks.is_integer(True) and not checks.is_integer(2.0)
    assert checks.is_number(np.float64('nan')) and not checks.is_number(False) and not checks.is_number('1')
    error = checks.refuse('a', 'b', 3)
    assert isinstance(error, ValueError) and str(error) == 'a: expected b, got 3'
