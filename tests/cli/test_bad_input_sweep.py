"""A sweep of bad inputs over every ``gaprss`` subcommand: a one-line usage error (exit 2), no traceback, nothing lost.

Each case runs the command in-process (click's CliRunner) in a folder of input files and asserts: exit status 2 (a
usage error, as click gives), a ``SystemExit`` (no exception escaped the command), no ``Traceback`` in the output,
the message quoted by its row of docs/bad_inputs.md (rows ``L..``), and that no file of the folder was changed,
removed or created (nothing written, nothing lost). ``test_every_subcommand_is_swept`` walks the command tree so a
new subcommand without a bad-input case fails the suite.
"""

from __future__ import annotations

import pathlib

import click
import numpy as np
import pytest
from aiida import orm
from aiida.manage import get_manager
from ase import Atoms
from ase.build import bulk
from click.testing import CliRunner

from aiida_gaprss.cli import cmd_root
from aiida_gaprss.data.extxyz import frames_to_string
from tests.reliability.bad_input_table import assert_table_message, row_of

GOOD_XYZ = (
    '2\nLattice="5.0 0.0 0.0 0.0 5.0 0.0 0.0 0.0 5.0" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
    'Si 0.0 0.0 0.0\nSi 1.3 1.3 1.3\n'
)


def _cells(count: int = 4) -> list[Atoms]:
    cells = []
    for index in range(count):
        atoms = bulk('Si', 'diamond', 5.43)
        atoms.rattle(0.05, seed=index)
        atoms.info['energy'] = -10.0 + index
        cells.append(atoms)
    return cells


def _with(change: str) -> str:
    cells = _cells()
    if change == 'nan':
        cells[1].positions[0, 0] = np.nan
    elif change == 'overlap':
        cells[1] = Atoms('Si2', positions=[[0, 0, 0], [0.05, 0, 0]], cell=[5, 5, 5], pbc=True)
    return frames_to_string(cells)


@pytest.fixture
def folder(tmp_path, monkeypatch) -> pathlib.Path:
    """The working folder of the commands, with the input files of the cases."""
    files = {
        'pool.xyz': frames_to_string(_cells()),
        'nan.xyz': _with('nan'),
        'overlap.xyz': _with('overlap'),
        'empty.xyz': '',
        'garbage.xyz': 'this is not\nan xyz file\n',
        'truncated.xyz': GOOD_XYZ.replace('2\n', '5\n', 1),
        'existing.xyz': 'an earlier result\n',
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding='utf-8')
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def nodes() -> dict:
    """A stored data node (not a process) and a pk no node has."""
    data = orm.Int(5).store()
    return {'data': str(data.pk), 'missing': str(data.pk + 100_000)}


def _profile() -> list[str]:
    return ['-p', get_manager().get_profile().name]


#: Commands that load an AiiDA profile (``-p`` is passed so the test profile is used, not the user's default).
PROFILE_COMMANDS = ('run', 'continue', 'status', 'lineage', 'export', 'report', 'indirect', 'potentials export')


def _snapshot(folder: pathlib.Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob('*')) if path.is_file()}


def _command_of(args: list[str]) -> str:
    return ' '.join(args[:2]) if args[0] == 'potentials' else args[0]


#: One case per row L.. of docs/bad_inputs.md: the arguments ('{data}' and '{missing}' stand for the pks of the
#: ``nodes`` fixture).
@pytest.mark.parametrize(
    'args',
    [
        pytest.param(
            ['generate', 'Si', '-n', '5', '--seed', '1', '-o', 'missing/cells.xyz'],
            id='L01-generate-output-in-missing-folder',
        ),
        pytest.param(
            ['generate', 'Si', '-n', '5', '--seed', '1', '-o', 'existing.xyz'], id='L02-generate-over-an-existing-file'
        ),
        pytest.param(
            ['generate', 'Si', '-n', '1000000000', '--seed', '1', '-o', 'cells.xyz'], id='L03-generate-absurd-count'
        ),
        pytest.param(
            ['generate', 'Si', '-n', '200000', '--seed', '1', '-o', 'cells.xyz'],
            id='L04-generate-large-count-unconfirmed',
        ),
        pytest.param(
            ['select', 'pool.xyz', '-n', '2', '-m', 'random', '-o', 'missing/picked.xyz'],
            id='L05-select-output-in-missing-folder',
        ),
        pytest.param(
            ['select', 'pool.xyz', '-n', '2', '-m', 'random', '-o', 'pool.xyz', '-f'], id='L06-select-output-is-input'
        ),
        pytest.param(['select', 'empty.xyz', '-n', '2', '-o', 'picked.xyz'], id='L07-select-empty-file'),
        pytest.param(['select', 'garbage.xyz', '-n', '2', '-o', 'picked.xyz'], id='L08-select-garbage-file'),
        pytest.param(['select', 'truncated.xyz', '-n', '2', '-o', 'picked.xyz'], id='L09-select-truncated-file'),
        pytest.param(
            ['select', 'nan.xyz', '-n', '2', '-m', 'random', '-o', 'picked.xyz'], id='L10-select-random-nan-position'
        ),
        pytest.param(
            ['select', 'overlap.xyz', '-n', '2', '-m', 'random', '-o', 'picked.xyz'], id='L11-select-random-overlap'
        ),
        pytest.param(['run', 'Si', '--overrides', '[1, 2]'], id='L12-run-overrides-array'),
        pytest.param(['run', 'Si', '--overrides', '5'], id='L13-run-overrides-number'),
        pytest.param(['run', 'Si', '--overrides', 'null', '--budget', '5'], id='L14-run-overrides-null'),
        pytest.param(
            ['run', 'Si', '--engine', 'vasp', '--potential-mapping', '{Si: Si}'],
            id='L15-run-potential-mapping-not-json',
        ),
        pytest.param(
            ['run', 'Si', '--engine', 'vasp', '--potential-mapping', '{"Si": 1}'],
            id='L16-run-potential-mapping-not-strings',
        ),
        pytest.param(['indirect', '{data}', '--overrides', '[1]'], id='L17-indirect-overrides-array'),
        pytest.param(['lineage', '{missing}'], id='L18-lineage-missing-pk'),
        pytest.param(['report', '{missing}'], id='L19-report-missing-pk'),
        pytest.param(['export', '{missing}'], id='L20-export-missing-pk'),
        pytest.param(['potentials', 'export', '{missing}', '--name', 'x'], id='L21-potentials-export-missing-pk'),
        pytest.param(['indirect', '{missing}'], id='L22-indirect-missing-pk'),
        pytest.param(['status', '{data}'], id='L23-status-of-a-data-node'),
        pytest.param(['continue', '{data}'], id='L24-continue-of-a-data-node'),
        pytest.param(['report', '{data}'], id='L25-report-of-a-data-node'),
        pytest.param(['lineage', '{data}'], id='L26-lineage-of-a-data-node'),
        pytest.param(['report', '{data}', '-o', 'missing/report.html'], id='L27-report-output-in-missing-folder'),
        pytest.param(['export', '{data}', '-o', 'existing.xyz'], id='L28-export-over-an-existing-file'),
        pytest.param(['potentials', 'show', 'no-such-potential'], id='L29-potentials-show-unknown'),
        pytest.param(
            ['potentials', 'refit', 'no-such-potential', '-o', 'missing/refit'],
            id='L30-potentials-refit-output-in-missing-folder',
        ),
        pytest.param(['potentials', 'list', '--root', 'pool.xyz'], id='L31-potentials-list-root-is-a-file'),
        pytest.param(['setup', '--threads', '0'], id='L32-setup-threads-zero'),
    ],
)
def test_bad_input_is_a_usage_error_and_loses_nothing(folder, nodes, args, request):
    args = [argument.replace('{data}', nodes['data']).replace('{missing}', nodes['missing']) for argument in args]
    if _command_of(args) in PROFILE_COMMANDS:
        args += _profile()
    before = _snapshot(folder)
    result = CliRunner().invoke(cmd_root, args, input='')
    assert isinstance(result.exception, SystemExit), f'{args}: {result.exception!r}\n{result.output}'
    assert result.exit_code == 2, result.output
    assert 'Traceback' not in result.output
    assert_table_message(row_of(request), result.output)
    assert _snapshot(folder) == before, 'a file was written, changed or removed'


def _leaves(group: click.Group, prefix: str = '') -> list[str]:
    names = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            names += _leaves(command, f'{prefix}{name} ')
        else:
            names.append(f'{prefix}{name}')
    return names


def test_every_subcommand_is_swept():
    cases = test_bad_input_is_a_usage_error_and_loses_nothing.pytestmark[0].args[1]
    swept = {_command_of(param.values[0]) for param in cases}
    assert set(_leaves(cmd_root)) <= swept, f'subcommands without a bad-input case: {set(_leaves(cmd_root)) - swept}'


def test_select_reads_every_method_through_the_checks(folder):
    """Every selection method refuses the overlapping atoms before any SOAP is computed (not only kernel CUR)."""
    for method in ('kernel-cur', 'descriptor-cur', 'random', 'flat-histogram', 'combined'):
        result = CliRunner().invoke(cmd_root, ['select', 'overlap.xyz', '-n', '2', '-m', method, '-o', 'x.xyz'])
        assert result.exit_code == 2 and 'structure 1: field `positions`: atoms overlap' in result.output, method


def test_generate_streams_the_cells_to_the_file(folder):
    """The cells are in the file as they are made: with the file still open, the frames so far are readable."""
    from aiida_gaprss.rss.generation import iter_random_cells

    cells = iter_random_cells(10**9, 'Si', seed=1, natoms=(4, 6), processes=1)  # a list would never be built
    first = [next(cells) for _ in range(3)]
    assert [atoms.info['index'] for atoms in first] == [0, 1, 2]
    result = CliRunner().invoke(
        cmd_root, ['generate', 'Si', '-n', '200000', '--seed', '1', '-o', 'big.xyz', '--natoms', '4-6'], input='n\n'
    )
    assert result.exit_code == 2 and 'give --yes' in result.output
    assert not (folder / 'big.xyz').exists()
    result = CliRunner().invoke(
        cmd_root, ['generate', 'Si', '-n', '6', '--seed', '1', '-o', 'six.xyz', '--dimers', '2']
    )
    assert result.exit_code == 0, result.output
    assert 'wrote 6 random cells and 2 dimers' in result.output
    assert (folder / 'six.xyz').read_text(encoding='utf-8').count('Lattice=') == 8


def _constructor_cases(folder: pathlib.Path) -> dict:
    """Bad input for every public constructor of the data nodes: name -> a call that must raise a ValueError."""
    from ase.calculators.singlepoint import SinglePointCalculator

    from aiida_gaprss.data import GapPotential, StructureSet, StudentPotential

    stale = _cells(1)[0]
    stale.calc = SinglePointCalculator(stale.copy(), energy=-1.0)
    stale.positions[0] += 0.5
    quoted = _cells(1)[0]
    quoted.info['config_type'] = 'a "b"'
    (folder / 'empty_folder').mkdir()
    return {
        'StructureSet.from_atoms: empty': lambda: StructureSet.from_atoms([]),
        'StructureSet.from_atoms: not atoms': lambda: StructureSet.from_atoms(['Si']),
        'StructureSet.from_atoms: stale calculator': lambda: StructureSet.from_atoms([stale]),
        'StructureSet.from_atoms: quote': lambda: StructureSet.from_atoms([quoted]),
        'StructureSet: neither atoms nor file': lambda: StructureSet(),
        'StructureSet.from_file: garbage': lambda: StructureSet.from_file(folder / 'garbage.xyz'),
        'StructureSet.from_file: overlap': lambda: StructureSet.from_file(folder / 'overlap.xyz'),
        'StructureSet.from_file: no such file': lambda: StructureSet.from_file(folder / 'absent.xyz'),
        'GapPotential.from_folder: empty folder': lambda: GapPotential.from_folder(folder / 'empty_folder'),
        'GapPotential.from_folder: garbage gap.xml': lambda: GapPotential.from_folder(folder, xml_name='garbage.xyz'),
        'StudentPotential.from_folder: empty folder': lambda: StudentPotential.from_folder(folder / 'empty_folder'),
    }


def test_every_public_constructor_refuses_with_a_value_error_and_changes_nothing(folder):
    """Every data-node constructor refuses bad input with a ValueError naming the field (or file); nothing changes."""
    from aiida_gaprss import data

    cases = _constructor_cases(folder)
    covered = {name.split(':')[0].split('.')[0] for name in cases}
    assert covered == set(data.__all__), f'data node types without a bad-input case: {set(data.__all__) - covered}'
    before = _snapshot(folder)
    for name, call in cases.items():
        with pytest.raises(ValueError, match='(field|file) `') as excinfo:
            call()
        assert excinfo.type is ValueError, (name, excinfo.type)  # not a parser's own error passed through
    assert _snapshot(folder) == before
