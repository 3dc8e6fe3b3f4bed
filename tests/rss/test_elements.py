"""Characteristic radii and bonding types (aiida_gaprss.rss.elements)."""

import pytest
from ase.data import atomic_numbers, covalent_radii

from aiida_gaprss.rss.elements import (
    CHARACTERISTIC_RADII,
    bonding_type,
    characteristic_radius,
    minimum_separation,
    validate_element,
    volume_per_atom,
)


@pytest.mark.parametrize(
    ('element', 'radius', 'bonding'),
    [('B', 0.84, 'covalent'), ('C', 0.76, 'covalent'), ('Si', 1.11, 'covalent'), ('Ti', 1.47, 'metallic')],
)
def test_paper_elements(element, radius, bonding):
    assert CHARACTERISTIC_RADII[element] == radius
    assert characteristic_radius(element) == radius
    assert bonding_type(element) == bonding


def test_volume_and_separation_of_paper_elements():
    assert volume_per_atom('Si') == pytest.approx(14.5 * 1.11**3)
    assert volume_per_atom('Ti') == pytest.approx(5.5 * 1.47**3)
    assert minimum_separation('C') == pytest.approx(1.8 * 0.76)


def test_other_elements_use_tabulated_radii():
    assert bonding_type('Fe') == 'metallic'
    assert characteristic_radius('Fe') == pytest.approx(1.26)
    assert bonding_type('Al') == 'metallic'
    assert bonding_type('Ge') == 'covalent'
    assert characteristic_radius('Ge') == pytest.approx(covalent_radii[atomic_numbers['Ge']])
    assert bonding_type('O') == 'covalent'
    assert characteristic_radius('P') == pytest.approx(covalent_radii[atomic_numbers['P']])


def test_overrides():
    assert characteristic_radius('Si', radius=1.2) == 1.2
    assert volume_per_atom('Si', radius=1.0) == pytest.approx(14.5)
    assert bonding_type('Si', 'metallic') == 'metallic'
    assert volume_per_atom('Si', radius=1.0, bonding='metallic') == pytest.approx(5.5)
    assert characteristic_radius('Ti', bonding='covalent') == pytest.approx(covalent_radii[atomic_numbers['Ti']])


def test_symbol_normalisation():
    assert validate_element('si') == 'Si'
    assert validate_element(' Ti ') == 'Ti'


@pytest.mark.parametrize('symbol', ['Xx', 'X', '', 14, None])
def test_unknown_element(symbol):
    with pytest.raises(ValueError, match='element'):
        characteristic_radius(symbol)


@pytest.mark.parametrize('radius', [-1.0, 0.0, float('nan'), float('inf'), 'big'])
def test_bad_radius(radius):
    with pytest.raises(ValueError, match='radius'):
        characteristic_radius('Si', radius=radius)


def test_bad_bonding():
    with pytest.raises(ValueError, match='bonding'):
        bonding_type('Si', 'ionic')
