"""A real tiny GAP (the real ``gap_fit`` on Stillinger-Weber-labelled Si cells, the command line the fit workflow
builds) and a shipped-potential folder written from it into a temporary root."""

from __future__ import annotations

import os
import pathlib
import shlex
import shutil
import subprocess

import pytest

#: Name of the tiny potential shipped into the temporary root.
NAME = 'si-tiny'
#: Phases the tiny potential's metadata holds (two keep the fixture fast).
PHASES = ['diamond', 'beta_sn']
#: A run uuid and description standing in for what the AiiDA exporter records.
PROVENANCE = {'run': {'uuid': '0f0e0d0c-1111-2222-3333-444455556666', 'reference_evaluations': 16, 'iterations': 1}}
#: An evaluation over two fit seeds in the documented schema (the numbers only have to reach the card).
EVALUATION = {
    'seeds': [1, 2],
    'phases': {'diamond': [0.0042, -0.0031], 'beta_sn': {'errors': [0.012, 0.025], 'relative_errors': [0.008, 0.028]}},
    'eos': {
        'diamond': {
            'reference': {'v0': 20.0, 'b0': 100.0},
            'potential': [{'v0': 20.1, 'b0': 104.0}, {'v0': 19.9, 'b0': 108.0}],
        }
    },
    'goal': {'phase_error': 0.01, 'max_seed_error': 0.02, 'v0_relative': 0.01, 'b0_relative': 0.1},
    'reference_evaluations': 16,
    'plots': {'learning_curve': 'curve.png'},
}


def gap_fit_program() -> str:
    """The real gap_fit (installed with quippy-ase by install.sh: missing is a failure of the set-up)."""
    program = shutil.which('gap_fit')
    if program is None:
        pytest.fail('gap_fit not found on PATH: run ./install.sh and the tests with ./test.sh', pytrace=False)
    return program


@pytest.fixture(autouse=True)
def _user_cache(tmp_path, monkeypatch):
    """Every test decompresses into its own cache folder, never the user's."""
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    monkeypatch.delenv('GAPRSS_POTENTIALS_ROOT', raising=False)


@pytest.fixture(scope='session')
def tiny_fit(tmp_path_factory) -> dict:
    """A folder with ``train.xyz`` (16 SW-labelled 8-atom Si cells with per-structure sigmas, config types ``bulk``
    and ``strained``) and the real GAP fitted to it with the fit workflow's own command line (2b + 3b + SOAP, a few
    sparse points); returns ``folder`` and ``command_line``."""
    from aiida_gaprss.data.extxyz import write_frames
    from aiida_gaprss.rss.gap_parameters import build_gap_fit_command, structure_sigma_info, table1_parameters
    from aiida_gaprss.rss.potentials import stillinger_weber_si
    from tests.conftest import labelled_si_cells

    folder = tmp_path_factory.mktemp('tiny_fit')
    frames = labelled_si_cells(16, calculator=stillinger_weber_si())
    for index, atoms in enumerate(frames):
        atoms.info['config_type'] = 'bulk' if index % 2 else 'strained'
        atoms.info.update(structure_sigma_info(len(atoms), 0.002, 0.1, 0.1))
    with open(folder / 'train.xyz', 'w', encoding='utf-8') as handle:
        write_frames(handle, frames)
    sizes = {'distance_2b': {'n_sparse': 10}, 'angle_3b': {'n_sparse': 20}}
    sizes['soap'] = {'n_sparse': 30, 'n_max': 4, 'l_max': 4}
    parameters = table1_parameters('Si', overrides={'descriptors': sizes})
    argv = build_gap_fit_command(parameters, at_file='train.xyz', gp_file='gap.xml')
    environment = {**os.environ, 'OMP_NUM_THREADS': '1'}
    subprocess.run([gap_fit_program(), *argv], cwd=folder, check=True, capture_output=True, env=environment)
    for index in folder.glob('*.idx'):
        index.unlink()
    return {'folder': folder, 'command_line': shlex.join(['gap_fit', *argv]), 'parameters': parameters}


def png(path: pathlib.Path) -> pathlib.Path:
    """A small real PNG (matplotlib)."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(2, 2))
    axes.plot([0, 1], [1, 0])
    figure.savefig(path)
    plt.close(figure)
    return path


@pytest.fixture(scope='session')
def sw_reference() -> dict:
    """The reference side of the phases: Stillinger-Weber (which labelled the cells) at its own 0 GPa minima."""
    from aiida_gaprss.potentials import phase_energies
    from aiida_gaprss.rss.potentials import stillinger_weber_si

    return {name: row['energy_per_atom'] for name, row in phase_energies(stillinger_weber_si(), 'Si', PHASES).items()}


def write_tiny(root: pathlib.Path, tiny_fit: dict, phase_reference: dict, name: str = NAME, **kwargs) -> pathlib.Path:
    """Write the tiny potential as a shipped folder ``root/name`` (keyword arguments override the defaults)."""
    from aiida_gaprss.potentials import write_potential

    evaluation_file = root.parent / f'{name}-evaluation.json'
    if 'evaluation' not in kwargs:
        import json

        png(root.parent / 'curve.png')
        evaluation_file.write_text(json.dumps(EVALUATION), encoding='utf-8')
    arguments = {
        'gap_folder': tiny_fit['folder'],
        'command_line': tiny_fit['command_line'],
        'training': tiny_fit['folder'] / 'train.xyz',
        'reference': {'engine': 'ase', 'calculator': {'type': 'sw_si'}},
        'provenance': PROVENANCE,
        'evaluation': evaluation_file,
        'reference_phases': phase_reference,
        'reference_phases_source': 'Stillinger-Weber, relaxed at 0 GPa',
        'phases': PHASES,
        'description': 'A tiny test potential.',
        **kwargs,
    }
    return write_potential(root, name, **arguments)


@pytest.fixture(scope='session')
def shipped_root(tiny_fit, sw_reference, tmp_path_factory) -> pathlib.Path:
    """A root folder with the tiny potential shipped as ``si-tiny`` (do not modify: copy it with ``copy_root``)."""
    root = tmp_path_factory.mktemp('shipped') / 'potentials'
    write_tiny(root, tiny_fit, sw_reference)
    return root


@pytest.fixture
def copy_root(shipped_root, tmp_path) -> pathlib.Path:
    """A private copy of ``shipped_root`` a test may damage."""
    target = tmp_path / 'potentials'
    shutil.copytree(shipped_root, target)
    return target
