"""The QE inputs the workflows build stay those pinned in ``tests/fixtures/qe_input_snapshots.json``.

Reference single points and isolated atoms (``PwBaseWorkChain``) and the validation's relaxations
(``PwRelaxWorkChain``) for every QE protocol, the validation presets, several structures and the optional inputs
(:mod:`tests.workflows.qe_input_cases`). A change of any number, key, pseudopotential or option fails here.
To pin new inputs on purpose: ``GAPRSS_WRITE_QE_SNAPSHOTS=1 pytest tests/workflows/test_qe_input_snapshots.py``
(the test then fails once, saying it wrote the file; commit the file with the reason).
"""

from __future__ import annotations

import json
import os
import pathlib

import pytest

from aiida_gaprss.pseudos import install_debian_family
from tests.conftest import installed_program
from tests.workflows.qe_input_cases import QE_PROTOCOLS, snapshot, structures

SNAPSHOTS = pathlib.Path(__file__).parents[1] / 'fixtures' / 'qe_input_snapshots.json'


@pytest.fixture
def codes(aiida_code_installed):
    install_debian_family()
    return {
        mpi: aiida_code_installed(
            default_calc_job_plugin='quantumespresso.pw',
            filepath_executable=installed_program('pw.x'),
            label=f'pw-snapshot-{mpi}',
            with_mpi={'plain': None, 'mpi': True, 'serial': False}[mpi],
        )
        for mpi in ('plain', 'mpi', 'serial')
    }


def _differences(expected, got, path='') -> list[str]:
    if isinstance(expected, dict) and isinstance(got, dict):
        found = []
        for key in sorted(set(expected) | set(got)):
            where = f'{path}.{key}' if path else key
            if key not in got:
                found.append(f'{where}: missing (expected {expected[key]!r})')
            elif key not in expected:
                found.append(f'{where}: new ({got[key]!r})')
            else:
                found.extend(_differences(expected[key], got[key], where))
        return found
    return [] if expected == got else [f'{path}: expected {expected!r}, got {got!r}']


def test_qe_inputs_equal_the_snapshots(codes):
    got = json.loads(json.dumps(snapshot(codes)))  # as stored: tuples become lists
    if os.environ.get('GAPRSS_WRITE_QE_SNAPSHOTS') == '1':
        SNAPSHOTS.write_text(json.dumps(got, indent=1, sort_keys=True) + '\n', encoding='utf-8')
        pytest.fail(f'wrote {len(got)} cases to {SNAPSHOTS}; unset GAPRSS_WRITE_QE_SNAPSHOTS and run again')
    expected = json.loads(SNAPSHOTS.read_text(encoding='utf-8'))
    assert sorted(got) == sorted(expected)
    differences = [f'{case}: {line}' for case in sorted(expected) for line in _differences(expected[case], got[case])]
    assert not differences, '\n'.join(differences[:60]) + f'\n({len(differences)} differences)'


@pytest.mark.parametrize('protocol', QE_PROTOCOLS)
def test_parameters_outside_aiida_equal_the_builder(codes, protocol):
    """``QeEngine.parameters`` (benchmarks, ASE comparisons) gives the pw.x parameters and mesh the builder does."""
    from aiida_gaprss.workflows.reference.engines import QeEngine
    from aiida_gaprss.workflows.reference.protocols import load_protocol

    expected = json.loads(SNAPSHOTS.read_text(encoding='utf-8'))
    for name, atoms in structures().items():
        parameters, mesh = QeEngine.parameters(load_protocol('qe', protocol), atoms)
        case = expected[f'scf/{protocol}/{name}']
        assert json.loads(json.dumps(parameters)) == case['pw']['parameters'], name
        assert mesh == case['kpoints']['mesh'], name
