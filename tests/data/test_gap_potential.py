"""Tests of the ``GapPotential`` data node on a GAP fitted by the real ``gap_fit``."""

import shutil

import numpy as np
import pytest
from aiida import orm
from aiida.plugins import DataFactory

from aiida_gaprss.data.gap_potential import GapPotential, parse_gap_xml
from tests.conftest import labelled_si_cells


def test_entry_point():
    assert DataFactory('gaprss.potential') is GapPotential


def test_records_files_and_metadata(small_gap_folder):
    node = GapPotential.from_folder(small_gap_folder).store()
    loaded = orm.load_node(node.pk)
    sparse = sorted(path.name for path in small_gap_folder.glob('gap.xml.sparseX.*'))
    assert len(sparse) == 2
    assert loaded.filenames == sorted(['gap.xml', *sparse])
    assert loaded.elements == ['Si']
    assert [d['type'] for d in loaded.descriptors] == ['distance_2b', 'soap']
    assert loaded.descriptors[1]['n_max'] == 4
    assert loaded.descriptors[1]['cutoff'] == 4.0
    assert loaded.base.attributes.get('n_sparse') == [20, 30]
    assert 'gap={distance_2b' in loaded.command_line
    assert len(loaded.sha256) == 64


def test_explicit_command_line_wins(small_gap_folder):
    node = GapPotential.from_folder(small_gap_folder, command_line='gap_fit at_file=x.xyz')
    assert node.command_line == 'gap_fit at_file=x.xyz'


def test_calculator_reproduces_files_on_disk(small_gap_folder):
    from quippy.potential import Potential

    node = GapPotential.from_folder(small_gap_folder).store()
    atoms = labelled_si_cells(1, seed=99)[0]
    atoms.calc = orm.load_node(node.pk).get_calculator()
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    direct = atoms.copy()
    direct.calc = Potential(param_filename=str(small_gap_folder / 'gap.xml'))
    assert energy == pytest.approx(direct.get_potential_energy(), abs=1e-10)
    assert np.allclose(forces, direct.get_forces(), atol=1e-10)
    assert np.isfinite(energy)


def test_round_trip_through_folder(small_gap_folder, tmp_path):
    node = GapPotential.from_folder(small_gap_folder).store()
    with node.as_folder() as folder:
        again = GapPotential.from_folder(folder)
    assert again.sha256 == node.sha256


def test_rejects_missing_sparse_file(small_gap_folder, tmp_path):
    copy = tmp_path / 'copy'
    shutil.copytree(small_gap_folder, copy)
    victim = sorted(copy.glob('gap.xml.sparseX.*'))[0]
    victim.unlink()
    with pytest.raises(ValueError, match=f'sparseX file `{victim.name}`, which is missing'):
        GapPotential.from_folder(copy)


def test_rejects_corrupted_sparse_file(small_gap_folder, tmp_path):
    copy = tmp_path / 'copy'
    shutil.copytree(small_gap_folder, copy)
    victim = sorted(copy.glob('gap.xml.sparseX.*'))[0]
    victim.write_text(victim.read_text().replace('1', '2', 1))
    with pytest.raises(ValueError, match='does not match its md5 sum'):
        GapPotential.from_folder(copy)


def test_rejects_missing_or_invalid_xml(tmp_path):
    with pytest.raises(ValueError, match='field `folder`'):
        GapPotential.from_folder(tmp_path)
    (tmp_path / 'gap.xml').write_text('<notgap></notgap>')
    with pytest.raises(ValueError, match='not a GAP potential'):
        GapPotential.from_folder(tmp_path)
    (tmp_path / 'gap.xml').write_text('<broken')
    with pytest.raises(ValueError, match='not valid XML'):
        parse_gap_xml(tmp_path / 'gap.xml')
