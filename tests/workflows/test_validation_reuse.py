"""The QE/VASP reference side of a validation is found again by its settings' fingerprint and reused across runs."""

from __future__ import annotations

import pytest
from aiida import orm

from aiida_gaprss.workflows.validation.reuse import FINGERPRINT_EXTRA, find_reference_side, reference_fingerprint

RELAX = {'fmax': 0.01, 'steps': 300, 'smax': 0.01}
EOS = {'volume_factors': [0.94, 1.0, 1.06], 'fmax': 0.01, 'steps': 100}


@pytest.fixture
def pw_codes(aiida_code_installed):
    """Two pw.x code nodes (a user's code, another one) and the Debian pseudo family."""
    from aiida_gaprss.pseudos import install_debian_family

    install_debian_family()
    return [
        aiida_code_installed(default_calc_job_plugin='quantumespresso.pw', filepath_executable='/usr/bin/pw.x')
        for _ in range(2)
    ]


def qe(code, **kwargs):
    namespace = {'code': code, 'kpoints_spacing': orm.Float(0.25), 'options': orm.Dict({'withmpi': False})}
    namespace.update(kwargs)
    return namespace


def test_equal_settings_give_one_fingerprint_and_each_setting_counts(pw_codes):
    code, other = pw_codes
    base = reference_fingerprint('qe', qe(code), ['Si'], RELAX, EOS)
    # new nodes of equal content, and how the jobs run (options, parallelization) do not change it
    same = qe(code, options=orm.Dict({'withmpi': True, 'resources': {'num_machines': 2}}))
    same['parallelization'] = orm.Dict({'npool': 2})
    assert reference_fingerprint('qe', same, ['Si'], dict(RELAX), dict(EOS)) == base
    changed = {
        'k-point spacing': reference_fingerprint('qe', qe(code, kpoints_spacing=orm.Float(0.2)), ['Si'], RELAX, EOS),
        'code': reference_fingerprint('qe', qe(other), ['Si'], RELAX, EOS),
        'pw.x parameters': reference_fingerprint(
            'qe', qe(code, parameters=orm.Dict({'SYSTEM': {'ecutwfc': 40}})), ['Si'], RELAX, EOS
        ),
        'protocol': reference_fingerprint('qe', qe(code, protocol=orm.Str('fast')), ['Si'], RELAX, EOS),
        'relax fmax': reference_fingerprint('qe', qe(code), ['Si'], {**RELAX, 'fmax': 0.02}, EOS),
        'E(V) points': reference_fingerprint('qe', qe(code), ['Si'], RELAX, None),
        'element': reference_fingerprint('qe', qe(code), ['C'], RELAX, EOS),
        'system': reference_fingerprint('qe', qe(code), ['Si', 'C'], RELAX, EOS),
    }
    assert base not in changed.values()
    assert len(set(changed.values())) == len(changed)


def test_only_qe_and_vasp_sides_have_a_fingerprint(pw_codes):
    with pytest.raises(ValueError, match='reference.engine'):
        reference_fingerprint('ase', {}, ['Si'], RELAX, EOS)


def test_the_newest_side_with_the_fingerprint_is_found():
    assert find_reference_side('no-such-fingerprint') is None
    older, newer, other = (orm.Dict({'phases': {'diamond': {'energy_per_atom': value}}}).store() for value in (1, 2, 3))
    for node, fingerprint in ((older, 'abc'), (newer, 'abc'), (other, 'xyz')):
        node.base.extras.set(FINGERPRINT_EXTRA, fingerprint)
    assert find_reference_side('abc').uuid == newer.uuid
    assert find_reference_side('xyz').uuid == other.uuid
