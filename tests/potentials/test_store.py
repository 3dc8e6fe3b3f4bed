"""Shipping a potential: the folder format, finding and loading it, checksums, the cache and the size limit."""

from __future__ import annotations

import configparser
import fnmatch
import gzip
import json
import os
import pathlib

import numpy as np
import pytest

from aiida_gaprss import potentials

from .conftest import EVALUATION, NAME, PHASES, PROVENANCE, write_tiny

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_available_path_metadata(shipped_root, monkeypatch):
    assert potentials.available(shipped_root) == [NAME]
    assert potentials.path(NAME, shipped_root) == shipped_root / NAME
    info = potentials.metadata(NAME, shipped_root)
    assert info['name'] == NAME and info['elements'] == ['Si'] and info['format'] == 1
    assert info['provenance']['run']['uuid'] == PROVENANCE['run']['uuid']
    assert info['training']['num_structures'] == 16 and info['training']['num_atoms'] == 128
    assert info['training']['config_types'] == {'bulk': 8, 'strained': 8}
    assert info['training']['sigmas'] == {'energy_sigma': 16, 'force_sigma': 16, 'virial_sigma': 16}
    assert info['training']['labels'] == {'energy': 16, 'forces': 16, 'virial': 16}
    assert info['gap']['seed'] == 1 and info['gap']['xml'] == 'gap.xml'
    assert [text.split()[0] for text in info['gap']['descriptors']] == ['distance_2b', 'angle_3b', 'soap']
    # every file of the folder but metadata.json is listed with its size and checksum
    files = sorted(child.name for child in (shipped_root / NAME).iterdir())
    assert sorted([*info['files'], 'metadata.json']) == files
    assert info['total_size'] == sum((shipped_root / NAME / name).stat().st_size for name in info['files'])
    # the root can come from the environment (as the CLI tests use it)
    monkeypatch.setenv(potentials.ROOT_VARIABLE, str(shipped_root))
    assert potentials.available() == [NAME]
    assert potentials.shipped_root() == shipped_root


def test_the_package_root_is_the_default(monkeypatch):
    monkeypatch.delenv(potentials.ROOT_VARIABLE, raising=False)
    assert potentials.shipped_root() == ROOT / 'aiida_gaprss' / 'potentials'


@pytest.mark.parametrize('call', [potentials.path, potentials.metadata, potentials.load, potentials.verify])
def test_bad_name_lists_what_ships(shipped_root, call):
    with pytest.raises(ValueError, match=rf"field `name`: no shipped potential 'si-pbe'; shipped: {NAME} \(in "):
        call('si-pbe', shipped_root)


def test_bad_name_with_nothing_shipped(tmp_path):
    with pytest.raises(ValueError, match="no shipped potential 'si-pbe-gaprss'; shipped: none"):
        potentials.load('si-pbe-gaprss', tmp_path)


def test_folder_format(shipped_root, tiny_fit):
    folder = shipped_root / NAME
    info = potentials.metadata(NAME, shipped_root)
    # the training file is byte for byte what gap_fit read, with every label and the per-structure sigmas
    assert (folder / 'training.xyz').read_bytes() == (tiny_fit['folder'] / 'train.xyz').read_bytes()
    from aiida_gaprss.data.extxyz import read_frames

    with open(folder / 'training.xyz', encoding='utf-8') as handle:
        frames = list(read_frames(handle))
    for atoms in frames:
        assert {'energy', 'virial', 'config_type', 'energy_sigma', 'force_sigma', 'virial_sigma'} <= set(atoms.info)
        assert atoms.arrays['forces'].shape == (8, 3)
    assert (folder / 'gap_fit_command.txt').read_text(encoding='utf-8') == tiny_fit['command_line'] + '\n'
    assert json.loads((folder / 'reference.json').read_text()) == {'engine': 'ase', 'calculator': {'type': 'sw_si'}}
    # the GAP files are gzipped copies of what gap_fit wrote; deterministic gzip (no time stamp)
    for plain, entry in info['gap']['files'].items():
        stored = folder / entry['stored']
        assert gzip.decompress(stored.read_bytes()) == (tiny_fit['folder'] / plain).read_bytes()
        assert stored.read_bytes()[4:8] == b'\0\0\0\0'
    assert len(info['gap']['files']) == 4  # gap.xml and one sparseX file per descriptor
    # the evaluation's plot is in the folder and the card shows it
    assert (folder / 'learning_curve.png').read_bytes()[:4] == b'\x89PNG'
    assert info['plots'] == {'learning_curve': 'learning_curve.png'}


def test_package_data_covers_every_file(shipped_root):
    """setup.cfg's package_data must take every file of a potential folder into a (non-editable) install."""
    config = configparser.ConfigParser()
    config.read(ROOT / 'setup.cfg')
    patterns = [word.strip() for word in config['options.package_data']['aiida_gaprss'].split(',')]
    for child in (shipped_root / NAME).iterdir():
        relative = f'potentials/{NAME}/{child.name}'
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative


def test_metadata_numbers_are_those_of_the_potential(shipped_root, tiny_fit, sw_reference):
    from quippy.potential import Potential

    from aiida_gaprss.potentials import phase_energies
    from aiida_gaprss.potentials.store import check_atoms

    info = potentials.metadata(NAME, shipped_root)
    original = Potential(param_filename=str(tiny_fit['folder'] / 'gap.xml'))
    energies = phase_energies(original, 'Si', PHASES)
    stored = info['phases']['energies']
    assert list(stored) == PHASES and info['phases']['ground_state'] == 'diamond'
    for name in PHASES:
        assert stored[name]['energy_per_atom'] == pytest.approx(energies[name]['energy_per_atom'], abs=1e-10)
        assert stored[name]['reference_energy_per_atom'] == sw_reference[name]
        assert stored[name]['error'] == pytest.approx(energies[name]['energy_per_atom'] - sw_reference[name])
    relative = stored['beta_sn']['relative_energy'] - (sw_reference['beta_sn'] - sw_reference['diamond'])
    assert stored['beta_sn']['relative_error'] == pytest.approx(relative)
    atoms = check_atoms(info['check'])
    assert len(atoms) == 8 and 'diamond' in info['check']['description']
    atoms.calc = original
    assert info['check']['energy_per_atom'] == pytest.approx(atoms.get_potential_energy() / 8, abs=1e-12)
    assert np.abs(atoms.get_forces()).max() > 0.01  # rattled: the check covers forces too
    assert info['training_errors']['energy_rmse'] > 0 and info['training_errors']['per_config_type'].keys() == {
        'bulk',
        'strained',
    }


def test_load_gives_the_fitted_potential(shipped_root, tiny_fit, tmp_path):
    from ase.build import bulk
    from quippy.potential import Potential

    from aiida_gaprss.rss.potentials import calculator_from_spec

    atoms = bulk('Si', 'diamond', 5.45, cubic=True)
    atoms.rattle(0.05, seed=3)
    atoms.calc = potentials.load(NAME, shipped_root)
    energy = atoms.get_potential_energy()
    atoms.calc = Potential(param_filename=str(tiny_fit['folder'] / 'gap.xml'))
    assert energy == atoms.get_potential_energy()
    # decompressed once into $XDG_CACHE_HOME (set per test by conftest), checked, reused
    cache = tmp_path / 'cache' / 'aiida-gaprss' / 'potentials'
    (folder,) = cache.iterdir()
    assert folder.name.startswith(f'{NAME}-')
    gap_files = potentials.metadata(NAME, shipped_root)['gap']['files']
    assert sorted(child.name for child in folder.iterdir()) == sorted(gap_files)
    stamp = (folder / 'gap.xml').stat().st_mtime_ns
    assert potentials.gap_folder(NAME, shipped_root) == folder
    assert (folder / 'gap.xml').stat().st_mtime_ns == stamp
    # a picklable spec for worker processes
    spec = potentials.spec(NAME, shipped_root)
    assert spec == {'type': 'gap', 'xml': str(folder / 'gap.xml')}
    atoms.calc = calculator_from_spec(spec)
    assert atoms.get_potential_energy() == energy
    result = potentials.check_energy(NAME, shipped_root)
    assert result['passed'] and result['energy_difference'] == 0.0


def test_damaged_cache_is_extracted_again(shipped_root, caplog):
    folder = potentials.gap_folder(NAME, shipped_root)
    xml = folder / 'gap.xml'
    xml.write_text(xml.read_text().replace('<GAP_params', '<GAP_params damaged="1"', 1))
    assert potentials.gap_folder(NAME, shipped_root) == folder
    assert 'do not match' in caplog.text
    assert 'damaged' not in xml.read_text()
    assert potentials.check_energy(NAME, shipped_root)['passed']


def test_verify(shipped_root):
    result = potentials.verify(NAME, shipped_root)
    assert result == {'files': 9, 'size': potentials.metadata(NAME, shipped_root)['total_size']}


def test_checksum_failures_are_named(copy_root):
    folder = copy_root / NAME
    training = folder / 'training.xyz'
    content = training.read_text()
    training.write_text(content.replace('config_type=bulk', 'config_type=bulx', 1))
    with pytest.raises(ValueError, match=r'file `training.xyz` does not match its sha256 in metadata.json'):
        potentials.verify(NAME, copy_root)
    training.write_text(content)
    potentials.verify(NAME, copy_root)
    # a GAP file that does not match is refused before it is used
    stored = folder / 'gap.xml.gz'
    original = stored.read_bytes()
    stored.write_bytes(gzip.compress(gzip.decompress(original).replace(b'<GAP_params', b'<GAP_params x="1"', 1)))
    for call in (potentials.verify, potentials.load):
        with pytest.raises(ValueError, match=r'file `gap.xml.gz` does not match its sha256'):
            call(NAME, copy_root)
    stored.write_bytes(original)
    # a file nobody listed
    (folder / 'notes.txt').write_text('added later')
    with pytest.raises(ValueError, match=r'file `notes.txt` is in the folder but not in metadata.json'):
        potentials.verify(NAME, copy_root)
    os.remove(folder / 'notes.txt')
    (folder / 'reference.json').unlink()
    with pytest.raises(ValueError, match=r'file `reference.json` is missing'):
        potentials.verify(NAME, copy_root)


def test_size_limit_fails_loudly_and_leaves_nothing(tiny_fit, sw_reference, tmp_path):
    root = tmp_path / 'potentials'
    message = (
        r"field `max_size`: the folder of 'big' would be 0\.\d\d MB, above the limit of 0\.01 MB \(largest files: "
    )
    with pytest.raises(ValueError, match=message + r'.*\); nothing was written'):
        write_tiny(root, tiny_fit, sw_reference, name='big', max_size=10_000, phases=[])
    assert list(root.iterdir()) == []
    assert potentials.MAX_SIZE == 20_000_000


def test_existing_folder_needs_force(copy_root, tiny_fit, sw_reference):
    before = potentials.metadata(NAME, copy_root)['created']
    with pytest.raises(ValueError, match=r'field `name`: `.*si-tiny` exists; use force'):
        write_tiny(copy_root, tiny_fit, sw_reference, phases=[])
    write_tiny(copy_root, tiny_fit, sw_reference, phases=[], force=True, description='Rewritten.')
    info = potentials.metadata(NAME, copy_root)
    assert info['description'] == 'Rewritten.' and info['phases']['energies'] == {} and info['created'] >= before
    assert [child.name for child in copy_root.iterdir()] == [NAME]
    potentials.verify(NAME, copy_root)


@pytest.mark.parametrize(
    'change, message',
    [
        ({'name': 'Si PBE'}, r'field `name`: \'Si PBE\' is not a potential name'),
        ({'command_line': 'quip at_file=train.xyz'}, r'field `command_line`: expected a gap_fit command'),
        ({'command_line': 'gap_fit at_file=../train.xyz gp_file=gap.xml'}, r'`at_file` must be a plain file name'),
        ({'gap_files': ['gap.xml', 'gap.xml.sparseX.x']}, r'field `gap_folder`: GAP file `gap.xml.sparseX.x` is not'),
        ({'training': '/nonexistent/train.xyz'}, r'field `training`: file `/nonexistent/train.xyz` does not exist'),
        ({'reference': {'code': 'pw.x'}}, r'field `reference`: expected a mapping with the reference `engine`'),
        ({'phases': ['diamond', 'fcc']}, r"field `phases`: 'fcc' is not a known phase of \['Si'\]; known: \['diamond'"),
        ({'evaluation': {'phases': {}}}, r'field `evaluation.seeds`: expected a non-empty list of distinct integers'),
        ({'evaluation': {'seeds': [1, 1]}}, r'field `evaluation.seeds`'),
        ({'evaluation': {'seeds': [1], 'colour': 'red'}}, r'field `evaluation.colour`: unknown key'),
        ({'evaluation': {'seeds': [1, 2], 'phases': {'sh': [0.01]}}}, r'field `evaluation.phases.sh.errors`: 1 values'),
        ({'evaluation': {'seeds': [1], 'phases': {'sh': ['x']}}}, r'field `evaluation.phases.sh.errors\[0\]`'),
        (
            {'evaluation': {'seeds': [1], 'eos': {'diamond': {'reference': {'v0': 20.0}, 'potential': [{}]}}}},
            r'field `evaluation.eos.diamond.reference`',
        ),
        (
            {'evaluation': {'seeds': [1], 'plots': {'learning_curve': '/nonexistent.png'}}},
            r'field `evaluation.plots.learning_curve`: file `/nonexistent.png` does not exist',
        ),
        ({'evaluation': {'seeds': [1], 'goal': {'speed': 1.0}}}, r'field `evaluation.goal.speed`: unknown key'),
        ({'plots': {'energy_volume': __file__}}, r'field `plots.energy_volume`: .* is not a PNG file'),
    ],
)
def test_bad_input_is_named(tiny_fit, sw_reference, tmp_path, change, message):
    root = tmp_path / 'potentials'
    with pytest.raises(ValueError, match=message):
        write_tiny(root, tiny_fit, sw_reference, **{'phases': [], **change})
    assert not root.exists() or list(root.iterdir()) == []


def test_evaluation_statistics(tmp_path):
    from .conftest import png

    png(tmp_path / 'curve.png')
    result = potentials.normalise_evaluation(EVALUATION, tmp_path)
    assert result['plots'] == {'learning_curve': str(tmp_path / 'curve.png')}
    diamond, beta = result['phases']['diamond'], result['phases']['beta_sn']
    assert diamond['mean'] == pytest.approx(0.00055) and diamond['max_abs'] == pytest.approx(0.0042)
    assert beta['relative_mean'] == pytest.approx(0.018) and beta['relative_max_abs'] == pytest.approx(0.028)
    eos = result['eos']['diamond']
    assert eos['v0_mean'] == pytest.approx(20.0) and eos['b0_deviation'] == pytest.approx(0.06)
    assert eos['b0_max_deviation'] == pytest.approx(0.08)
