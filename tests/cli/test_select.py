"""Tests of ``gaprss select`` through click's CliRunner (real dscribe SOAP, small parameters)."""

import json

import ase.io
import numpy as np
import pytest
from ase import Atoms
from click.testing import CliRunner

from aiida_gaprss.cli import cmd_root

SOAP = ['--n-max', '4', '--l-max', '3', '--r-cut', '4.0', '--processes', '1']


@pytest.fixture
def pool(tmp_path):
    rng = np.random.default_rng(0)
    atoms_list = []
    for i in range(30):
        n = int(rng.integers(4, 9))
        a = (20.0 * n) ** (1 / 3)
        atoms = Atoms(f'Si{n}', scaled_positions=rng.random((n, 3)), cell=[a, a, a], pbc=True)
        atoms.info['enthalpy'] = n * (-5.0 + 0.05 * i)
        atoms.info['config_type'] = f'cell{i}'
        atoms_list.append(atoms)
    path = tmp_path / 'pool.xyz'
    ase.io.write(path, atoms_list, format='extxyz')
    return path


@pytest.mark.parametrize(
    'method, extra',
    [
        ('kernel-cur', []),
        ('descriptor-cur', ['--deterministic']),
        ('random', []),
        ('flat-histogram', ['--kT', '0.3']),
        ('combined', ['--iteration', '3', '--n-flat', '12']),
    ],
)
def test_select_methods(pool, tmp_path, method, extra):
    out = tmp_path / f'{method}.xyz'
    args = ['select', str(pool), '-n', '5', '-m', method, '-o', str(out), '--seed', '3', *SOAP, *extra]
    result = CliRunner().invoke(cmd_root, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    chosen = ase.io.read(out, index=':')
    assert len(chosen) == 5 == summary['selected']
    assert [a.info['config_type'] for a in chosen] == [f'cell{i}' for i in summary['indices']]
    assert all(a.info['selection_method'] == method for a in chosen)
    again = CliRunner().invoke(cmd_root, [*args, '--force'])
    assert json.loads(again.output.strip().splitlines()[-1])['indices'] == summary['indices']
    if method == 'combined':
        assert summary['kT'] == 0.1


def test_select_errors(pool, tmp_path):
    out = str(tmp_path / 'x.xyz')
    result = CliRunner().invoke(cmd_root, ['select', str(pool), '-n', '31', '-o', out])
    assert result.exit_code != 0 and '31 > 30' in result.output
    result = CliRunner().invoke(cmd_root, ['select', str(pool), '-n', '3', '-m', 'flat-histogram', '-o', out])
    assert result.exit_code != 0 and '--kT' in result.output
    result = CliRunner().invoke(cmd_root, ['select', str(pool), '-n', '3', '--sigma', '-1', '-o', out, *SOAP])
    assert result.exit_code != 0 and 'sigma' in result.output
