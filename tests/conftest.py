"""Shared fixtures: an isolated AiiDA profile (SQLite + ZeroMQ broker), codes for the real programs, builders."""

from __future__ import annotations

import os
import pathlib
import shutil
import sys

import pytest

pytest_plugins = ['aiida.tools.pytest_fixtures']

FIXTURES = pathlib.Path(__file__).parent / 'fixtures'


@pytest.fixture(scope='session', autouse=True)
def aiida_profile(aiida_config, aiida_profile_factory):
    """A temporary profile like ``verdi presto``'s: SQLite storage and the built-in ZeroMQ broker (the daemon runs)."""
    with aiida_profile_factory(aiida_config, broker_backend='core.zeromq') as profile:
        # stopping the daemon may take longer than the default 2 s on a loaded 2-core machine
        profile.set_option('daemon.timeout', 60)
        aiida_config.update_profile(profile)
        aiida_config.store()
        yield profile


@pytest.fixture
def aiida_localhost(aiida_computer_local):
    """aiida-core's ``localhost`` (``core.local``), its jobs started by ``bash``, not a login shell (``bash -l``).

    As ``gaprss setup`` configures the localhost it creates (``setup.common.LOCAL_TRANSPORT``): the codes are absolute
    paths, and a login shell reads the user's profile at every submission, which can stall (a stale ``pyenv rehash``
    lock made every submission wait 60 s and CI time out).
    """
    from aiida_gaprss.setup.common import LOCAL_TRANSPORT

    computer = aiida_computer_local(label='localhost', configure=False)
    computer.configure(**LOCAL_TRANSPORT)
    return computer


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With ``GAPRSS_NO_SKIPS=1`` (set by ``.ci/run``) a skipped test is a failure: CI installs everything it tests.

    Deselected tests (``-m``) are not affected, nor are expected failures (``xfail``).
    """
    outcome = yield
    report = outcome.get_result()
    if os.environ.get('GAPRSS_NO_SKIPS') == '1' and report.skipped and not hasattr(report, 'wasxfail'):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = 'failed'
        report.longrepr = f'skipped, and GAPRSS_NO_SKIPS=1 (CI): {reason}'


@pytest.fixture(scope='session')
def filepath_fixtures() -> pathlib.Path:
    """Folder of stored real outputs used by the parser tests."""
    return FIXTURES


def installed_program(name: str) -> str:
    """Absolute path of an executable, preferring the one installed beside the running Python.

    Every program the tests use (``gap_fit`` and ``quip`` from quippy-ase in the venv, Debian's ``pw.x``) is installed
    by ``install.sh``: a missing one is a failure of the set-up, not a reason to skip.
    """
    candidate = pathlib.Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f'executable `{name}` not found: install.sh installs it (run ./install.sh)', pytrace=False)
    return os.path.realpath(found)


@pytest.fixture
def fixture_code(aiida_code_installed):
    """Return an installed code for a given entry point, pointing at the real executable.

    ``fixture_code('gaprss.gap_fit')`` gives a code for ``gap_fit``; ``fixture_code('python')`` the job Python.
    """
    executables = {
        'gaprss.gap_fit': 'gap_fit',
        'python': 'python',
        'quantumespresso.pw': 'pw.x',
    }

    def factory(entry_point: str):
        name = executables.get(entry_point, entry_point)
        executable = sys.executable if name == 'python' else installed_program(name)
        plugin = None if entry_point == 'python' else entry_point
        return aiida_code_installed(
            default_calc_job_plugin=plugin,
            filepath_executable=executable,
            label=f'{name}-test',
        )

    return factory


@pytest.fixture
def vasp_code(aiida_code_installed):
    """A ``vasp.vasp`` code running the fake VASP (tests/fake_vasp/vasp: real SW labels written as VASP outputs)."""
    from tests.fake_vasp import FAKE_VASP

    return aiida_code_installed(
        default_calc_job_plugin='vasp.vasp',
        filepath_executable=str(FAKE_VASP),
        label='fake-vasp',
        prepend_text=f'export PATH={pathlib.Path(sys.executable).parent}:$PATH\nexport OMP_NUM_THREADS=1',
    )


@pytest.fixture
def potcar_family(tmp_path) -> str:
    """The offline family of fake POTCARs (B, C, Si, Ti); its label."""
    from tests.fake_vasp import FAMILY
    from tests.fake_vasp.potcars import upload_fake_potcar_family

    return upload_fake_potcar_family(tmp_path / 'potcars', FAMILY)


@pytest.fixture
def small_gap(small_gap_folder):
    """The GAP of ``small_gap_folder`` as a stored GapPotential."""
    from aiida_gaprss.data.gap_potential import GapPotential

    return GapPotential.from_folder(small_gap_folder).store()


def label_frames(frames, calculator, **info) -> list:
    """Return copies of ``frames`` labelled by ``calculator`` (info ``energy``, ``virial`` in eV; arrays ``forces``).

    Keyword arguments are set in ``info`` too (e.g. ``config_type='bulk'``).
    """
    labelled = []
    for atoms in frames:
        atoms = atoms.copy()
        atoms.calc = calculator
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        virial = -atoms.get_stress(voigt=False) * atoms.get_volume()
        atoms.calc = None
        atoms.info.update(energy=float(energy), virial=virial, **info)
        atoms.arrays['forces'] = forces
        labelled.append(atoms)
    return labelled


def labelled_si_cells(n: int = 20, seed: int = 0, calculator=None):
    """Return ``n`` strained, rattled 8-atom Si cells labelled by a real calculator (Lennard-Jones by default)."""
    import numpy as np
    from ase.build import bulk
    from ase.calculators.lj import LennardJones

    rng = np.random.default_rng(seed)
    cells = []
    for i in range(n):
        atoms = bulk('Si', 'diamond', 5.43, cubic=True)
        atoms.rattle(0.1, seed=seed + i)
        atoms.set_cell(atoms.cell * rng.uniform(0.95, 1.05), scale_atoms=True)
        cells.append(atoms)
    calculator = calculator or LennardJones(sigma=2.1, epsilon=1.0, rc=5.0)
    return label_frames(cells, calculator, config_type='bulk')


@pytest.fixture(scope='session')
def small_gap_folder(tmp_path_factory) -> pathlib.Path:
    """A folder with a real, tiny GAP (2b + SOAP) fitted by the real ``gap_fit`` to Lennard-Jones-labelled Si cells."""
    import subprocess

    from aiida_gaprss.data.extxyz import write_frames

    folder = tmp_path_factory.mktemp('small_gap')
    with open(folder / 'train.xyz', 'w', encoding='utf-8') as handle:
        write_frames(handle, labelled_si_cells(20))
    command = [
        installed_program('gap_fit'),
        'at_file=train.xyz',
        'gap={distance_2b cutoff=5.0 covariance_type=ard_se delta=1.0 theta_uniform=1.0 n_sparse=20 '
        'sparse_method=uniform : soap l_max=4 n_max=4 atom_sigma=0.5 cutoff=4.0 cutoff_transition_width=0.5 '
        'delta=0.2 zeta=4 covariance_type=dot_product n_sparse=30 sparse_method=cur_points}',
        'default_sigma={0.002 0.1 0.1 0.0}',
        'e0={Si:0.0}',
        'gp_file=gap.xml',
        'rnd_seed=1',
    ]
    subprocess.run(command, cwd=folder, check=True, capture_output=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    (folder / 'train.xyz').unlink()
    for index in folder.glob('*.idx'):
        index.unlink()
    return folder


@pytest.fixture
def pw_code_lost_once(aiida_code_installed, tmp_path):
    """A serial pw.x whose first job dies at once and leaves no output, like a job killed with its node."""
    marker = tmp_path / 'first-job-lost'
    script = tmp_path / 'pw-lost-once.sh'
    lost = f'if [ ! -e {marker} ]; then touch {marker}; exit 137; fi'
    script.write_text(f'#!/bin/sh\n{lost}\nexec {installed_program("pw.x")} "$@"\n')
    script.chmod(0o755)
    code = aiida_code_installed(
        default_calc_job_plugin='quantumespresso.pw',
        filepath_executable=str(script),
        label='pw-lost-once',
        with_mpi=False,  # a serial code: the validation leaves `withmpi` to the code
    )
    return code, marker
