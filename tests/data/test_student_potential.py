"""Tests of the ``StudentPotential`` data node on a real MTP fitted by motep to GAP-labelled Si cells."""

import json
import shutil

import numpy as np
import pytest
from aiida import orm
from aiida.plugins import DataFactory

from aiida_gaprss.data import StudentPotential
from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.students.mtp import POTENTIAL_FILENAME, SETTINGS_FILENAME, fit_student, student_calculator
from tests.conftest import labelled_si_cells


@pytest.fixture(scope='module')
def student_folder(small_gap_folder, tmp_path_factory):
    """A level-4 MTP fitted (few iterations) to 6 cells labelled by the tiny teacher GAP."""
    teacher = GapPotential.from_folder(small_gap_folder).get_calculator()
    cells = labelled_si_cells(6, seed=5, calculator=teacher)
    folder = tmp_path_factory.mktemp('student')
    fit_student(cells, level=4, seed=2, max_iter=10, workdir=folder)
    return folder


def test_entry_point():
    assert DataFactory('gaprss.student') is StudentPotential


def test_round_trip_and_attributes(student_folder, tmp_path):
    node = StudentPotential.from_folder(student_folder).store()
    loaded = orm.load_node(node.pk)
    settings = json.loads((student_folder / SETTINGS_FILENAME).read_text())
    assert loaded.kind == 'mtp'
    assert loaded.level == 4
    assert loaded.cutoff == 5.0
    assert loaded.elements == ['Si']
    assert loaded.base.attributes.get('weights') == [10.0, 1.0, 0.01]
    assert loaded.base.attributes.get('motep_version') == settings['motep_version']
    assert loaded.training_errors['energy_rmse'] == pytest.approx(settings['training_errors']['energy_rmse'])
    assert len(loaded.sha256) == 64
    written = loaded.write_files(tmp_path / 'copy')
    for name in (POTENTIAL_FILENAME, SETTINGS_FILENAME):
        assert (written / name).read_bytes() == (student_folder / name).read_bytes()
    assert StudentPotential.from_folder(written).sha256 == loaded.sha256


def test_calculator_matches_the_original_folder(student_folder):
    node = StudentPotential.from_folder(student_folder).store()
    atoms = labelled_si_cells(1, seed=42)[0]
    atoms.calc = orm.load_node(node.pk).get_calculator()
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    direct = atoms.copy()
    direct.calc = student_calculator(student_folder)
    assert np.isfinite(energy)
    assert energy == pytest.approx(direct.get_potential_energy(), abs=1e-10)
    assert np.allclose(forces, direct.get_forces(), atol=1e-10)


def test_different_students_have_different_hashes(student_folder, tmp_path):
    copy = tmp_path / 'copy'
    shutil.copytree(student_folder, copy)
    text = (copy / POTENTIAL_FILENAME).read_text()
    (copy / POTENTIAL_FILENAME).write_text(text.replace('species_count', 'species_count ', 1))
    assert StudentPotential.from_folder(copy).sha256 != StudentPotential.from_folder(student_folder).sha256


@pytest.mark.parametrize('victim', [POTENTIAL_FILENAME, SETTINGS_FILENAME])
def test_missing_file_refused(student_folder, tmp_path, victim):
    copy = tmp_path / 'copy'
    shutil.copytree(student_folder, copy)
    (copy / victim).unlink()
    with pytest.raises(ValueError, match=f'field `folder`: {victim} missing'):
        StudentPotential.from_folder(copy)


def test_incomplete_settings_refused(student_folder, tmp_path):
    copy = tmp_path / 'copy'
    shutil.copytree(student_folder, copy)
    settings = json.loads((copy / SETTINGS_FILENAME).read_text())
    del settings['level']
    (copy / SETTINGS_FILENAME).write_text(json.dumps(settings))
    with pytest.raises(ValueError, match='lacks level'):
        StudentPotential.from_folder(copy)


def test_one_calculator_for_cells_of_different_sizes(student_folder):
    """One student calculator evaluates cells of any size in turn (motep alone keeps the first neighbour list)."""
    node = StudentPotential.from_folder(student_folder)
    small = labelled_si_cells(1, seed=7)[0]
    cells = [small, small.repeat((2, 1, 1)), small.repeat((1, 1, 1))[:5], small]
    shared = node.get_calculator()
    for atoms in cells:
        mine = atoms.copy()
        mine.calc = shared
        fresh = atoms.copy()
        fresh.calc = node.get_calculator()
        assert mine.get_potential_energy() == pytest.approx(fresh.get_potential_energy(), abs=1e-9)
        assert np.allclose(mine.get_forces(), fresh.get_forces(), atol=1e-9)
    doubled = cells[1].copy()
    doubled.calc = shared
    assert doubled.get_potential_energy() == pytest.approx(2 * fresh.get_potential_energy(), rel=1e-9)
