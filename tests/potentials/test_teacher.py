"""A shipped potential as the teacher of indirect learning: reproducible from the repository alone."""

import numpy as np
import pytest
from ase.build import bulk

from tests.potentials.conftest import NAME


def test_shipped_potential_as_teacher(shipped_root, aiida_profile_clean, fixture_code):
    from aiida_gaprss import potentials
    from aiida_gaprss.workflows.indirect import IndirectLearningWorkChain
    from aiida_gaprss.workflows.teacher import SHIPPED_EXTRA, teacher_from_shipped

    teacher, database, reference = teacher_from_shipped(NAME, root=shipped_root)
    assert teacher.is_stored and database.is_stored
    assert teacher.base.extras.get(SHIPPED_EXTRA) == NAME
    assert reference is None  # the tiny potential was labelled by the ASE engine: no protocol to name
    # the node is the shipped potential: same energy as the package's own loader
    atoms = bulk('Si', 'diamond', 5.43)
    expected = atoms.copy()
    expected.calc = potentials.load(NAME, root=shipped_root)
    atoms.calc = teacher.get_calculator()
    assert atoms.get_potential_energy() == pytest.approx(expected.get_potential_energy(), abs=1e-8)
    # the database carries the reference labels the GAP was fitted to
    frames = database.get_atoms()
    assert len(frames) == 16 and all('energy' in a.info and 'forces' in a.arrays for a in frames)
    assert np.isfinite([a.info['energy'] for a in frames]).all()
    # made once per profile
    again = teacher_from_shipped(NAME, root=shipped_root)
    assert (again[0].pk, again[1].pk) == (teacher.pk, database.pk)
    # and it teaches: the builder takes it with its database for the direct baseline
    builder = IndirectLearningWorkChain.get_builder_from_protocol(
        teacher, codes={'python': fixture_code('python')}, protocol='fast', teacher_training_set=database
    )
    assert builder.parameters['student']['direct'] is True


def test_unknown_shipped_teacher(shipped_root, aiida_profile_clean):
    from aiida_gaprss.workflows.teacher import teacher_from_shipped

    with pytest.raises(ValueError, match="no shipped potential 'c-pbe'; shipped: si-tiny"):
        teacher_from_shipped('c-pbe', root=shipped_root)


def test_cli_names_a_shipped_teacher(shipped_root, aiida_profile_clean, fixture_code, monkeypatch):
    from click.testing import CliRunner

    from aiida_gaprss.cli import cmd_root

    monkeypatch.setenv('GAPRSS_POTENTIALS_ROOT', str(shipped_root))
    python = fixture_code('python').full_label
    result = CliRunner().invoke(cmd_root, ['indirect', 'c-pbe', '--python-code', python])
    assert result.exit_code == 2 and "no shipped potential 'c-pbe'" in result.output
    # a known name gets as far as the builder: a bad level is refused there, naming the field
    result = CliRunner().invoke(cmd_root, ['indirect', NAME, '--python-code', python, '--levels', '7'])
    assert result.exit_code == 2 and 'parameters.student.levels' in result.output
