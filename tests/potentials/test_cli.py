"""``gaprss potentials list / show / refit`` against a shipped folder (no AiiDA profile needed)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from aiida_gaprss.cli import cmd_root

from .conftest import NAME


@pytest.fixture
def run(shipped_root, tmp_path):
    def invoke(*args):
        environment = {'GAPRSS_POTENTIALS_ROOT': str(shipped_root), 'XDG_CACHE_HOME': str(tmp_path / 'cache')}
        return CliRunner().invoke(cmd_root, ['potentials', *args], env=environment, catch_exceptions=False)

    return invoke


def test_list_and_show(run, tmp_path):
    result = run('list')
    assert result.exit_code == 0, result.output
    assert NAME in result.output and 'Si' in result.output and '0f0e0d0c' in result.output
    result = run('show', NAME, '--verify')
    assert result.exit_code == 0, result.output
    for text in ('reference: engine `ase`', 'training: 16 structures, 128 atoms', 'gap_fit: rnd_seed 1, 3 descriptors',
                 'beta_sn', 'errors over 2 fit seeds', f'reproduce: gaprss potentials refit {NAME}',
                 'checksums: 9 files match metadata.json', 'check structure:', 'matches the stored'):  # fmt: skip
        assert text in result.output, text
    result = run('show', NAME, '--card')
    assert result.output.startswith(f'# {NAME}: a Gaussian approximation potential for Si')


def test_unknown_name_and_empty_root(run, tmp_path):
    result = run('show', 'si-pbe-gaprss')
    assert result.exit_code == 2
    assert f"no shipped potential 'si-pbe-gaprss'; shipped: {NAME}" in result.output
    result = CliRunner().invoke(cmd_root, ['potentials', 'list', '--root', str(tmp_path / 'none')])
    assert result.exit_code == 0 and 'no potentials ship in' in result.output


def test_refit_reproduces(run, tmp_path):
    result = run('refit', NAME, '-o', str(tmp_path / 'refit'))
    assert result.exit_code == 0, result.output
    assert 'REPRODUCED: the refit matches the shipped potential' in result.output
    assert 'refit minus shipped, largest energy difference 0 meV/atom' in result.output
    result = run('refit', NAME, '-o', str(tmp_path / 'refit'))
    assert result.exit_code == 2 and 'is not empty' in result.output
    result = run('refit', NAME, '--seed', '3', '-o', str(tmp_path / 'seed3'), '--json')
    assert result.exit_code == 0, result.output
    comparison = json.loads(result.output)
    assert comparison['seed'] == 3 and comparison['passed'] is None and comparison['training']['energy_max_abs'] > 0
