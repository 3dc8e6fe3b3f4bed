"""``gaprss generate`` through click's CliRunner."""

import ase.io
import numpy as np
import pytest
from click.testing import CliRunner

from aiida_gaprss.cli import cmd_root


@pytest.fixture
def run():
    def _run(*args):
        return CliRunner().invoke(cmd_root, ['generate', *map(str, args)], catch_exceptions=False)

    return _run


def test_generate_writes_extxyz(run, tmp_path):
    out = tmp_path / 'si.extxyz'
    result = run('Si', '-n', 20, '--seed', 5, '--dimers', 3, '--processes', 1, '--natoms', '6-10', '-o', out)
    assert result.exit_code == 0, result.output
    assert 'wrote 20 random cells and 3 dimers' in result.output
    frames = ase.io.read(out, ':')
    assert len(frames) == 23
    assert [f.info['config_type'] for f in frames] == ['rss_random'] * 20 + ['dimer'] * 3
    assert all(6 <= len(f) <= 10 for f in frames[:20])
    assert all(f.info['volume_mode'] == 'narrow' and f.info['seed'] == 5 for f in frames[:20])
    assert all(set(f.get_chemical_symbols()) == {'Si'} for f in frames)


def test_generate_is_reproducible(run, tmp_path):
    first, second = tmp_path / 'a.xyz', tmp_path / 'b.xyz'
    assert run('C', '-n', 8, '--seed', 3, '--processes', 2, '-o', first).exit_code == 0
    assert run('C', '-n', 8, '--seed', 3, '--processes', 1, '-o', second).exit_code == 0
    assert first.read_text() == second.read_text()


def test_generate_initial_mode(run, tmp_path):
    out = tmp_path / 'pool.xyz'
    result = run('Si', '-n', 40, '--seed', 1, '--mode', 'initial', '--symmops', '1-4', '-o', out)
    assert result.exit_code == 0, result.output
    frames = ase.io.read(out, ':')
    modes = [f.info['volume_mode'] for f in frames]
    assert modes.count('narrow') == 20 and modes.count('wide') == 20
    assert sum(len(f) % 2 for f in frames if f.info['volume_mode'] == 'narrow') == 4  # 20 % odd
    assert all(len(f) % 2 == 0 for f in frames if f.info['volume_mode'] == 'wide')
    assert max(f.info['symmops'] for f in frames) <= 4


def test_generate_wide_odd(run, tmp_path):
    out = tmp_path / 'w.xyz'
    result = run('Ti', '-n', 6, '--seed', 2, '--mode', 'wide', '--parity', 'odd', '--natoms', '5-9', '-o', out)
    assert result.exit_code == 0, result.output
    frames = ase.io.read(out, ':')
    v0 = 5.5 * 1.47**3
    ratios = np.array([f.get_volume() / len(f) / v0 for f in frames])
    assert np.all((ratios >= 0.75 - 1e-9) & (ratios <= 1.25 + 1e-9))
    assert all(len(f) % 2 == 1 for f in frames)


@pytest.mark.parametrize(
    ('args', 'field'),
    [
        (['Xx'], 'element'),
        (['Si', '--natoms', '24-6'], 'natoms'),
        (['Si', '--symmops', '0-8'], 'symmops'),
        (['Si', '--symmops', '1-49'], 'symmops'),
        (['Si', '--radius', '-1'], 'radius'),
    ],
)
def test_generate_bad_input(run, tmp_path, args, field):
    out = tmp_path / 'bad.xyz'
    result = run(*args, '-n', 2, '--seed', 1, '-o', out)
    assert result.exit_code == 2
    assert field in result.output
    assert not out.exists()
