"""Data that passed through silently: labels in a calculator, strings gap_fit cannot read, corrupted gap.xml numbers.

Rows D22–D35 of docs/bad_inputs.md.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator
from ase.stress import voigt_6_to_full_3x3_stress

from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from tests.reliability.bad_input_table import assert_table_message, row_of

TINY_GAP = pathlib.Path(__file__).parents[1] / 'reliability' / 'fixtures' / 'tiny_gap'


def _cell(seed: int = 0):
    atoms = bulk('Si', 'diamond', 5.43, cubic=True)
    atoms.rattle(0.05, seed=seed)
    return atoms


def _single_point(atoms, **results):
    rng = np.random.default_rng(1)
    results = {'energy': -43.2, 'forces': rng.normal(size=(len(atoms), 3)), 'stress': rng.normal(size=6), **results}
    atoms.calc = SinglePointCalculator(atoms, **results)
    return results


def test_labels_of_a_single_point_calculator_are_taken():
    """D22: energy, forces and stress held in a SinglePointCalculator become the set's labels; the atoms given stay."""
    atoms = _cell()
    results = _single_point(atoms)
    node = StructureSet.from_atoms([_cell(1), atoms])
    stored = node.get_atoms()[1]
    assert stored.info['energy'] == results['energy']
    np.testing.assert_array_equal(stored.arrays['forces'], results['forces'])
    np.testing.assert_array_equal(stored.info['stress'], voigt_6_to_full_3x3_stress(results['stress']))
    assert node.label_counts['energy'] == 1 and node.label_counts['forces'] == 1
    assert atoms.calc is not None and 'energy' not in atoms.info  # the caller's object is not changed


def _stale(atoms):
    _single_point(atoms)
    atoms.positions[0] += 0.3  # moved after the calculation: the results are not this structure's


def _conflicting(atoms):
    _single_point(atoms)
    atoms.info['energy'] = -40.0


def _unknown_result(atoms):
    _single_point(atoms)
    atoms.calc.results['homo_lumo_gap'] = 1.1


def _quote(field: str, text: str):
    def change(atoms):
        atoms.info[field] = text

    return change


@pytest.mark.parametrize(
    'change',
    [
        pytest.param(_stale, id='D23-calculator-results-of-other-positions'),
        pytest.param(_conflicting, id='D24-calculator-energy-differs-from-info'),
        pytest.param(_unknown_result, id='D25-calculator-result-extxyz-cannot-hold'),
        pytest.param(_quote('config_type', 'say "bulk"'), id='D26-double-quote-in-config-type'),
        pytest.param(_quote('origin', "rss 'iteration' 3"), id='D27-single-quote-in-origin'),
        pytest.param(_quote('label', 'two\nlines'), id='D28-line-break-in-label'),
    ],
)
def test_structure_set_refuses_data_it_would_lose_or_gap_fit_cannot_read(change, request):
    atoms = _cell(1)
    change(atoms)
    with pytest.raises(ValueError) as excinfo:
        StructureSet.from_atoms([_cell(), atoms])
    assert_table_message(row_of(request), str(excinfo.value))


def test_a_quote_in_a_file_is_refused_as_in_atoms(tmp_path):
    """D26: the same check on a file read by StructureSet.from_file (and so by every `gaprss` command)."""
    path = tmp_path / 'quoted.xyz'
    atoms = _cell()
    atoms.info['config_type'] = 'say "bulk"'
    from aiida_gaprss.data.extxyz import frames_to_string

    path.write_text(frames_to_string([atoms]), encoding='utf-8')
    with pytest.raises(ValueError) as excinfo:
        StructureSet.from_file(path)
    assert_table_message('D26', str(excinfo.value))


def test_gap_fit_cannot_read_a_double_quote_in_config_type(tmp_path):
    """Why D26 is refused: the real gap_fit stops on such a training file (libAtoms' reader has no escapes)."""
    from aiida_gaprss.data.extxyz import frames_to_string
    from aiida_gaprss.rss.potentials import stillinger_weber_si
    from tests.conftest import installed_program, label_frames

    frames = label_frames([_cell(k) for k in range(3)], stillinger_weber_si(), config_type='bulk')
    frames[1].info['config_type'] = 'say "bulk"'
    (tmp_path / 'train.xyz').write_text(frames_to_string(frames), encoding='utf-8')
    gap = 'gap={distance_2b cutoff=4.0 covariance_type=ard_se delta=1.0 theta_uniform=1.0 n_sparse=5}'
    command = [installed_program('gap_fit'), 'at_file=train.xyz', gap, 'default_sigma={0.002 0.1 0.1 0.0}',
               'e0={Si:0.0}', 'gp_file=gap.xml']  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env={'OMP_NUM_THREADS': '1'})
    assert result.returncode != 0 and 'SYSTEM ABORT' in result.stdout + result.stderr


def _corrupt(old: str, new: str):
    def change(folder: pathlib.Path):
        path = folder / 'gap.xml'
        text = path.read_text(encoding='utf-8')
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding='utf-8')

    return change


ALPHA = 'alpha="2582.2651050933573"'


@pytest.mark.parametrize(
    'change',
    [
        pytest.param(_corrupt(ALPHA, 'alpha="2582.26x1050933573"'), id='D29-gap-xml-corrupted-real'),
        pytest.param(_corrupt('n_sparseX="5"', 'n_sparseX="5.0"'), id='D30-gap-xml-real-for-integer'),
        pytest.param(_corrupt('Z1=14', 'Z1=1x4'), id='D31-gap-xml-corrupted-descriptor'),
        pytest.param(_corrupt(ALPHA, 'alpha="NaN"'), id='D32-gap-xml-nan'),
        pytest.param(_corrupt(ALPHA, 'alpha=""'), id='D33-gap-xml-empty-number'),
        pytest.param(_corrupt('sparsified="T"', 'sparsified="maybe"'), id='D34-gap-xml-bad-logical'),
    ],
)
def test_potential_with_a_corrupted_number_is_refused(tmp_path, change, request):
    folder = tmp_path / 'potential'
    shutil.copytree(TINY_GAP, folder)
    change(folder)
    with pytest.raises(ValueError) as excinfo:
        GapPotential.from_folder(folder)
    assert_table_message(row_of(request), str(excinfo.value))


def test_sparse_file_without_md5_is_read_as_quippy_would(tmp_path):
    """D35: with no md5 sum in gap.xml to vouch for it, the sparseX file's numbers are checked."""
    import re

    folder = tmp_path / 'potential'
    shutil.copytree(TINY_GAP, folder)
    xml = folder / 'gap.xml'
    xml.write_text(re.sub(r' sparseX_md5sum="[0-9a-f]*"', '', xml.read_text(encoding='utf-8')), encoding='utf-8')
    GapPotential.from_folder(folder)  # intact numbers: accepted
    sparse = next(folder.glob('gap.xml.sparseX.*'))
    sparse.write_text(sparse.read_text(encoding='utf-8').replace('e+00', 'e+0x', 1), encoding='utf-8')
    with pytest.raises(ValueError) as excinfo:
        GapPotential.from_folder(folder)
    assert_table_message('D35', str(excinfo.value))


def test_quippy_aborts_the_process_on_the_corrupted_file(tmp_path):
    """Why D29 is refused before quippy: reading the file kills the Python process (here a child, not the tests)."""
    folder = tmp_path / 'potential'
    shutil.copytree(TINY_GAP, folder)
    _corrupt(ALPHA, 'alpha="2582.26x1050933573"')(folder)
    script = (
        'from ase.build import bulk; from quippy.potential import Potential; '
        f"atoms = bulk('Si', 'diamond', 5.43); atoms.calc = Potential(param_filename='{folder / 'gap.xml'}'); "
        'atoms.get_potential_energy(); print("survived")'
    )
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=300)
    assert 'survived' not in result.stdout
    assert 'Fortran runtime error' in result.stderr


def test_get_calculator_checks_the_numbers_again(tmp_path):
    """D29: a node whose gap.xml was changed after it was built (e.g. imported) refuses before quippy reads it."""
    node = GapPotential.from_folder(TINY_GAP)
    text = (TINY_GAP / 'gap.xml').read_text(encoding='utf-8').replace(ALPHA, 'alpha="2582.26x1050933573"', 1)
    node.base.repository.put_object_from_bytes(text.encode(), 'gap.xml')  # unstored: the repository can change
    with pytest.raises(ValueError) as excinfo:
        node.get_calculator()
    assert_table_message('D29', str(excinfo.value))
