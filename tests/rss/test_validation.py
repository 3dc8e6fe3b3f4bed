"""Phase energy errors, each phase at its own method's minimum, with real (quippy SW) calculators."""

import numpy as np
import pytest
from quippy.potential import Potential

from aiida_gaprss.rss.phases import build_phase
from aiida_gaprss.rss.potentials import SW_SI_PARAM_XML, stillinger_weber_si
from aiida_gaprss.rss.validation import phase_energy_errors, relax_phase, relax_phases

PHASES = ('diamond', 'bc8', 'beta_sn', 'sh')
SW_EPS = 2.1675


def _sw(eps=None, sigma=None):
    xml = SW_SI_PARAM_XML
    if eps is not None:
        xml = xml.replace(f'eps="{SW_EPS}"', f'eps="{eps}"')
    if sigma is not None:
        xml = xml.replace('sigma="2.0951"', f'sigma="{sigma}"')
    assert xml != SW_SI_PARAM_XML or (eps is None and sigma is None)
    return Potential('IP SW', param_str=xml)


@pytest.fixture(scope='module')
def phases():
    return {name: build_phase('Si', name) for name in PHASES}


@pytest.fixture(scope='module')
def sw_results(phases):
    return relax_phases(phases, stillinger_weber_si())


def test_relax_phase_diamond_minimum():
    final = relax_phase(build_phase('Si', 'diamond', scale=1.02), stillinger_weber_si())
    assert final.info['converged']
    assert final.info['energy_per_atom'] == pytest.approx(-4.3350, abs=2e-4)
    assert final.info['volume_per_atom'] == pytest.approx(5.43095**3 / 8, rel=2e-3)
    assert final.info['phase'] == 'diamond'
    assert final.calc is None


def test_potential_against_itself_has_zero_error(phases, sw_results):
    again = relax_phases(phases, {'type': 'sw_si'})  # a second, independent calculator of the same potential
    result = phase_energy_errors(again, sw_results)
    assert result['ground_state'] == 'diamond'
    assert result['max_abs_error'] < 1e-8
    assert result['all_converged']
    for row in result['phases'].values():
        assert row['converged'] and abs(row['relative_error']) < 1e-8


def test_scaled_energy_potential_error_by_hand(phases, sw_results):
    """SW with ε × 1.015: same geometries, every energy × 1.015, so error = 0.015 E_SW exactly."""
    factor = 2.2 / SW_EPS
    other = relax_phases(phases, _sw(eps=2.2))
    result = phase_energy_errors(other, sw_results, ground_state='diamond')
    e_ref = {name: sw_results[name].info['energy'] / len(sw_results[name]) for name in PHASES}
    for name in PHASES:
        row = result['phases'][name]
        assert row['reference'] == pytest.approx(e_ref[name], abs=1e-10)
        assert row['error'] == pytest.approx((factor - 1.0) * e_ref[name], abs=2e-5)
        expected_relative = (factor - 1.0) * (e_ref[name] - e_ref['diamond'])
        assert row['relative_error'] == pytest.approx(expected_relative, abs=2e-5)
        assert not row['converged']  # |error| ≈ 63 meV/atom
    assert result['max_abs_error'] == pytest.approx((factor - 1.0) * 4.335, abs=1e-4)


def test_own_minimum_not_same_geometry(phases, sw_results):
    """SW with σ × 1.026: lattice 2.6 % larger but identical minimum energies, so the paper's error is 0
    even though the potential's energy at the reference's geometry differs."""
    stretched = _sw(sigma=2.15)
    other = relax_phases(phases, stretched)
    result = phase_energy_errors(other, sw_results)
    assert result['max_abs_error'] < 2e-5
    assert result['all_converged']
    v_other = other['diamond'].info['volume_per_atom']
    v_ref = sw_results['diamond'].info['volume_per_atom']
    assert v_other / v_ref == pytest.approx((2.15 / 2.0951) ** 3, rel=1e-3)
    at_reference_geometry = sw_results['diamond'].copy()
    at_reference_geometry.calc = stretched
    wrong_way = at_reference_geometry.get_potential_energy() / len(at_reference_geometry)
    assert wrong_way - sw_results['diamond'].info['energy_per_atom'] > 0.01


def test_input_forms_and_missing_phases():
    result = phase_energy_errors(
        {'a': -4.0, 'b': {'energy': -7.9, 'natoms': 2}, 'c': 1.0},
        {'a': -4.0005, 'b': {'energy_per_atom': -3.90}, 'd': 0.0},
    )
    assert result['missing'] == ['c', 'd']
    assert result['ground_state'] == 'a'
    assert result['phases']['a']['error'] == pytest.approx(0.0005)
    assert result['phases']['a']['converged']
    assert result['phases']['b']['error'] == pytest.approx(-0.05)
    assert result['phases']['b']['relative_error'] == pytest.approx(-0.05 - 0.0005)
    assert not result['all_converged']
    assert np.isclose(result['mean_abs_error'], (0.0005 + 0.05) / 2)


@pytest.mark.parametrize(
    ('pot', 'ref', 'kwargs', 'field'),
    [
        ({}, {'a': 1.0}, {}, 'potential_results'),
        ({'a': 1.0}, {}, {}, 'reference_results'),
        ({'a': 1.0}, {'b': 1.0}, {}, 'potential_results'),
        ({'a': 'x'}, {'a': 1.0}, {}, r"potential_results\['a'\]"),
        ({'a': 1.0}, {'a': {'energy': 1.0}}, {}, r"reference_results\['a'\]"),
        ({'a': 1.0}, {'a': 1.0}, {'ground_state': 'z'}, 'ground_state'),
        ({'a': 1.0}, {'a': 1.0}, {'tolerance': 0}, 'tolerance'),
    ],
)
def test_bad_input(pot, ref, kwargs, field):
    with pytest.raises(ValueError, match=field):
        phase_energy_errors(pot, ref, **kwargs)
