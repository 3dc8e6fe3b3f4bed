"""The Si–C run benchmark (``benchmarks/sic_qe_run.py``): one learning-curve point scored as issue 23's goal asks."""

from __future__ import annotations

import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def sic_run():
    sys.path.insert(0, str(ROOT / 'benchmarks'))
    try:
        import sic_qe_run

        yield sic_qe_run
    finally:
        sys.path.remove(str(ROOT / 'benchmarks'))


def _formation(potential: dict, reference: dict) -> dict:
    def side(values):
        return {'phases': {name: {'formation_energy': value} for name, value in values.items()}}

    return {'potential': side(potential), 'reference': side(reference)}


def _curve(v0_potential: float, v0_reference: float) -> dict:
    return {
        'phases': {'SiC_3C': {'potential': {'fit': {'v0': v0_potential}}, 'reference': {'fit': {'v0': v0_reference}}}}
    }


QE = {'SiC_3C': -0.270, 'SiC_2H': -0.269, 'SiC_4H': -0.2705, 'SiC_rocksalt': 0.95}


def test_a_point_that_meets_the_goal(sic_run):
    gap = {'SiC_3C': -0.250, 'SiC_2H': -0.240, 'SiC_4H': -0.245, 'SiC_rocksalt': 1.10}
    point = sic_run.score_point(_formation(gap, QE), _curve(10.40, 10.45))
    assert point['formation_errors']['SiC_3C'] == pytest.approx(0.020)
    assert point['ordered'] is True
    assert point['lattice_constant_3c']['reference'] == pytest.approx((8 * 10.45) ** (1 / 3))
    assert point['lattice_error_3c'] == pytest.approx((10.40 / 10.45) ** (1 / 3) - 1)
    assert point['goal'] == {'ordered': True, 'formation_3c': True, 'lattice_3c': True, 'all': True}


@pytest.mark.parametrize(
    ('gap', 'v0', 'failed'),
    [
        ({'SiC_3C': -0.230, 'SiC_2H': -0.24, 'SiC_rocksalt': 1.0}, 10.45, 'formation_3c'),  # 40 meV/atom off
        ({'SiC_3C': -0.260, 'SiC_2H': -0.27, 'SiC_rocksalt': -0.5}, 10.45, 'ordered'),  # rock salt below 3C
        ({'SiC_3C': -0.260, 'SiC_2H': -0.27, 'SiC_rocksalt': 1.0}, 10.80, 'lattice_3c'),  # a 1.1 % too large
    ],
)
def test_a_point_that_misses_one_condition(sic_run, gap, v0, failed):
    point = sic_run.score_point(_formation(gap, QE), _curve(v0, 10.45))
    assert point['goal'][failed] is False and point['goal']['all'] is False
    assert all(value for key, value in point['goal'].items() if key not in (failed, 'all'))


def test_a_point_without_energy_volume_cannot_meet_the_goal(sic_run):
    point = sic_run.score_point(_formation(QE, QE), None)
    assert point['goal']['lattice_3c'] is None and point['goal']['all'] is False
    assert point['formation_errors'] == {name: 0.0 for name in QE}
