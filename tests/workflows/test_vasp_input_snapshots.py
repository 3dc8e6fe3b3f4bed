"""The VASP inputs the workflows build stay those pinned in ``tests/fixtures/vasp_input_snapshots.json``.

Reference single points and isolated atoms (aiida-vasp ``VaspWorkChain``) and the validation's relaxations
(``VaspRelaxWorkChain``: vc-relax, fixed-volume shape, positions, single point) for every VASP protocol, the
validation presets, several structures and the optional inputs (:mod:`tests.workflows.vasp_input_cases`). A change
of any INCAR tag, k-point spacing or mesh, potential, option, setting or relax setting fails here.
To pin new inputs on purpose: ``GAPRSS_WRITE_VASP_SNAPSHOTS=1 pytest tests/workflows/test_vasp_input_snapshots.py``
(the test then fails once, saying it wrote the file; commit the file with the reason).
"""

from __future__ import annotations

import json
import os
import pathlib

import pytest

from tests.workflows.test_qe_input_snapshots import _differences
from tests.workflows.vasp_input_cases import snapshot

SNAPSHOTS = pathlib.Path(__file__).parents[1] / 'fixtures' / 'vasp_input_snapshots.json'


def test_vasp_inputs_equal_the_snapshots(vasp_code, potcar_family):
    got = json.loads(json.dumps(snapshot(vasp_code)))  # as stored: tuples become lists
    if os.environ.get('GAPRSS_WRITE_VASP_SNAPSHOTS') == '1':
        SNAPSHOTS.write_text(json.dumps(got, indent=1, sort_keys=True) + '\n', encoding='utf-8')
        pytest.fail(f'wrote {len(got)} cases to {SNAPSHOTS}; unset GAPRSS_WRITE_VASP_SNAPSHOTS and run again')
    expected = json.loads(SNAPSHOTS.read_text(encoding='utf-8'))
    assert sorted(got) == sorted(expected)
    differences = [f'{case}: {line}' for case in sorted(expected) for line in _differences(expected[case], got[case])]
    assert not differences, '\n'.join(differences[:60]) + f'\n({len(differences)} differences)'


def test_incar_outside_aiida_equals_the_builder():
    """``VaspEngine.incar`` (runs outside AiiDA) gives the INCAR and ``kpoints_spacing`` the builder does."""
    from aiida_gaprss.workflows.reference.engines import VaspEngine
    from aiida_gaprss.workflows.reference.protocols import load_protocol
    from tests.workflows.qe_input_cases import structures

    expected = json.loads(SNAPSHOTS.read_text(encoding='utf-8'))
    for name, atoms in structures().items():
        incar, spacing = VaspEngine.incar(load_protocol('vasp', 'paper'), atoms)
        case = expected[f'scf/paper/{name}']
        assert json.loads(json.dumps(incar)) == case['parameters']['incar'], name
        assert spacing == case['kpoints_spacing'], name
