"""Every preset lives in YAML under aiida_gaprss/protocols/ and is read by one loader (issue 21, item 3)."""

from __future__ import annotations

import pytest

from aiida_gaprss.protocols import (
    PROTOCOL_FOLDER,
    md_protocols,
    student_validation_defaults,
    student_validation_presets,
)


def test_md_presets_are_the_yaml_ones_and_valid():
    from aiida_gaprss.rss.md import BAROSTATS, PROTOCOLS, get_protocol

    assert PROTOCOLS == md_protocols() and set(PROTOCOLS) == {'fast', 'moderate', 'precise'}
    assert PROTOCOLS['precise']['natoms'] == 1000 and PROTOCOLS['precise']['compression']['ramp_ps'] == 200.0
    for name, preset in PROTOCOLS.items():
        assert 'description' not in preset, name
        assert preset['barostat'] in BAROSTATS
        assert get_protocol(name) == preset
    with pytest.raises(ValueError, match='unknown key'):
        get_protocol('fast', {'descriptionx': 1})


def test_student_validation_presets_and_defaults_come_from_one_file():
    from aiida_gaprss.calculations.student_validation import PRESETS, get_validation_parameters
    from aiida_gaprss.jobs.student_validation import CHECKS, DEFAULTS

    assert PRESETS == student_validation_presets() and DEFAULTS == student_validation_defaults()
    assert DEFAULTS['checks'] == list(CHECKS)
    assert PRESETS['moderate']['similarity']['pressures'] == [float(p) for p in range(21)]
    for name, preset in PRESETS.items():
        assert preset['protocol'] in md_protocols(), name  # each names an MD preset that exists
        assert set(preset) <= set(DEFAULTS), name  # and only keys the job knows
        assert get_validation_parameters(name, seed=3)['seed'] == 3
    student_validation_presets()['fast']['speed']['natoms'] = -1  # the loaders hand out copies
    assert student_validation_presets()['fast']['speed']['natoms'] == 64


def test_no_preset_tables_left_in_python():
    """The presets are not repeated as Python dicts: no module builds one from literals next to the YAML."""
    import pathlib

    package = PROTOCOL_FOLDER.parent
    offenders = []
    for path in package.rglob('*.py'):
        text = path.read_text(encoding='utf-8')
        for marker in ("'melt_quench': {", "'speed': {'kind'", "'volume_factors': ["):
            if marker in text:
                offenders.append(f'{path.relative_to(package)}: {marker}')
    assert not offenders, offenders
    assert {p.stem for p in pathlib.Path(PROTOCOL_FOLDER).glob('*.yaml')} >= {
        'md', 'student_validation', 'validation', 'gaprss', 'indirect', 'reference_qe', 'reference_vasp'
    }  # fmt: skip


def test_validation_presets_come_from_yaml():
    from aiida_gaprss.protocols import validation_defaults, validation_presets
    from aiida_gaprss.workflows.validation import DEFAULT_PARAMETERS, PROTOCOLS, validation_protocol

    assert PROTOCOLS == validation_presets() and DEFAULT_PARAMETERS == validation_defaults()
    assert PROTOCOLS['tiny'] == PROTOCOLS['fast']  # `base: fast`
    assert PROTOCOLS['precise']['parameters'] == DEFAULT_PARAMETERS
    assert PROTOCOLS['moderate']['parameters']['relax'] == DEFAULT_PARAMETERS['relax']
    moderate = validation_protocol('Si', 'moderate')
    assert moderate['parameters']['eos']['volume_factors'][0] == 0.92
    assert moderate['parameters']['eos']['phases'] == ['diamond', 'beta_sn']
    with pytest.raises(ValueError, match='field `protocol`'):
        validation_protocol('Si', 'nope')
