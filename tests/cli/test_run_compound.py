"""`gaprss run SiC ...`: a chemical system from the command line, built like `gaprss run Si` (submission captured)."""

import types

import pytest
from click.testing import CliRunner


@pytest.fixture
def captured(monkeypatch):
    """Replace the daemon submission by a capture of the builder (nothing runs, nothing is left queued)."""
    import aiida.engine

    builders = []

    def fake_submit(builder):
        builders.append(builder)
        return types.SimpleNamespace(pk=12345)

    monkeypatch.setattr(aiida.engine, 'submit', fake_submit)
    return builders


@pytest.fixture
def code_options(fixture_code):
    python, gap_fit = fixture_code('python'), fixture_code('gaprss.gap_fit')
    return ['--python-code', python.full_label, '--gap-fit-code', gap_fit.full_label]


@pytest.mark.parametrize('system, expected', [('SiC', 'SiC'), ('Si-C', 'Si-C')])
def test_run_a_binary(captured, code_options, system, expected):
    from aiida_gaprss.cli import cmd_root

    arguments = ['run', system, '--engine', 'ase', '--protocol', 'tiny', '--budget', '25', *code_options]
    result = CliRunner().invoke(cmd_root, arguments, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f'Submitted GapRssWorkChain<12345> ({system}, engine ase, protocol tiny)' in result.output
    (builder,) = captured
    assert builder.composition.value == expected and 'element' not in builder
    assert builder.budget.value == 25
    assert builder.reference.ase.calculator['path'].endswith(':tersoff_si_c')
    assert sum(d['type'] == 'distance_2b' for d in builder.fit.parameters['descriptors']) == 3


def test_run_an_element_is_unchanged(captured, code_options):
    from aiida_gaprss.cli import cmd_root

    result = CliRunner().invoke(cmd_root, ['run', 'Si', '--engine', 'ase', '--protocol', 'tiny', *code_options])
    assert result.exit_code == 0, result.output
    (builder,) = captured
    assert builder.element.value == 'Si' and 'composition' not in builder


@pytest.mark.parametrize(
    'system, message',
    [('Si-Qq', 'field `composition`: unknown element'), ('SiC7', 'field `parameters.pool.natoms`')],
)
def test_run_a_bad_system_refused(captured, code_options, system, message):
    from aiida_gaprss.cli import cmd_root

    result = CliRunner().invoke(cmd_root, ['run', system, '--engine', 'ase', '--protocol', 'tiny', *code_options])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not captured
