"""The validation job's E(V) subset (``eos.phases``): curves only for the phases asked, and its checks."""

import json

import pytest

from aiida_gaprss.calculations.validate_potential import validate_validation_parameters
from aiida_gaprss.jobs.validate_potential import run

PARAMETERS = {
    'element': 'Si',
    'phases': ['diamond', 'beta_sn', 'sh'],
    'relax': {'fmax': 0.05, 'steps': 60, 'smax': 0.05},
    'eos': {'volume_factors': [0.94, 0.97, 1.0, 1.03, 1.06], 'fmax': 0.05, 'steps': 10, 'phases': ['diamond']},
}


def test_only_the_eos_phases_get_a_curve(tmp_path):
    parameters = {**PARAMETERS, 'calculator': {'type': 'sw_si'}, 'output': 'phases.xyz', 'results': 'results.json'}
    validate_validation_parameters({key: parameters[key] for key in PARAMETERS})
    summary = run({'parameters': parameters}, tmp_path)
    assert summary == {'num_phases': 3, 'num_failed': 0}
    results = json.loads((tmp_path / 'results.json').read_text())
    assert set(results['phases']) == {'diamond', 'beta_sn', 'sh'}
    assert set(results['energy_volume']) == {'diamond'}
    assert len(results['energy_volume']['diamond']['volumes']) == 5
    assert 90 < results['energy_volume']['diamond']['fit']['b0'] < 115  # SW silicon: 101 GPa


@pytest.mark.parametrize(
    ('eos_phases', 'message'),
    [
        (['diamond', 'bc8'], r"field `parameters.eos.phases`: 'bc8' is not one of `parameters.phases`"),
        ([], 'field `parameters.eos.phases`: expected a non-empty list of phase names'),
        ('diamond', 'field `parameters.eos.phases`: expected a non-empty list of phase names'),
    ],
)
def test_eos_phases_outside_the_phases_are_refused(eos_phases, message):
    parameters = {**PARAMETERS, 'eos': {**PARAMETERS['eos'], 'phases': eos_phases}}
    with pytest.raises(ValueError, match=message):
        validate_validation_parameters(parameters)
