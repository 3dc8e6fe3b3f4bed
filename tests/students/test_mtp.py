"""Tests of the MTP student (motep) on Stillinger--Weber-labelled Si cells."""

import json

import numpy as np
import pytest
from ase.build import bulk

from aiida_gaprss.rss.potentials import stillinger_weber_si
from aiida_gaprss.students import (
    POTENTIAL_FILENAME,
    SETTINGS_FILENAME,
    error_metrics,
    evaluate,
    fit_student,
    student_calculator,
    untrained_mtp_text,
)


def _labelled_cells(n, seed):
    """Rattled, strained 8-atom diamond cells labelled by SW (info/arrays convention)."""
    rng = np.random.default_rng(seed)
    sw = stillinger_weber_si()
    cells = []
    for i in range(n):
        atoms = bulk('Si', 'diamond', a=5.431 * rng.uniform(0.94, 1.06), cubic=True)
        atoms.rattle(0.12, seed=seed * 1000 + i)
        atoms.calc = sw
        atoms.info['energy'] = atoms.get_potential_energy()
        atoms.arrays['forces'] = atoms.get_forces()
        atoms.info['virial'] = -atoms.get_stress(voigt=False) * atoms.get_volume()
        atoms.calc = None
        cells.append(atoms)
    return cells


@pytest.fixture(scope='module')
def training():
    return _labelled_cells(12, seed=1)


@pytest.fixture(scope='module')
def fitted(training, tmp_path_factory):
    results = {}
    for level in (2, 8):
        folder = tmp_path_factory.mktemp(f'mtp{level}')
        results[level] = (folder, fit_student(training, level=level, seed=3, max_iter=40, workdir=folder))
    return results


def test_untrained_text_levels():
    text = untrained_mtp_text(16, cutoff=5.0, min_dist=1.5)
    assert 'alpha_moments_count = 350' in text
    assert 'max_dist = 5.0' in text
    with pytest.raises(ValueError, match='level'):
        untrained_mtp_text(15)
    with pytest.raises(ValueError, match='cutoff'):
        untrained_mtp_text(8, cutoff=1.0)


def test_fit_writes_files_and_reproduces_training(fitted, training):
    folder, report = fitted[8]
    assert (folder / POTENTIAL_FILENAME).is_file()
    settings = json.loads((folder / SETTINGS_FILENAME).read_text())
    assert settings['level'] == 8
    assert settings['species'] == ['Si']
    assert settings['weights'] == [10.0, 1.0, 0.01]
    spread = np.std([a.info['energy'] / len(a) for a in training])
    errors = report['training_errors']
    # A fitted student is far better than predicting the mean energy, and forces are learnt.
    assert errors['energy_rmse'] < 0.25 * spread
    assert errors['force_rmse'] < 0.5 * np.std(np.concatenate([a.arrays['forces'].ravel() for a in training]))


def test_higher_level_is_better(fitted):
    assert fitted[8][1]['training_errors']['force_rmse'] < fitted[2][1]['training_errors']['force_rmse']


def test_loads_back_identically(fitted, training):
    folder, report = fitted[8]
    predicted = evaluate(training, student_calculator(folder))
    assert error_metrics(training, predicted) == pytest.approx(report['training_errors'], rel=1e-9, abs=1e-12)
    stress_cell = training[0].copy()
    stress_cell.calc = student_calculator(folder)
    assert np.all(np.isfinite(stress_cell.get_stress()))


def test_bad_input(tmp_path, training):
    unlabelled = training[0].copy()
    del unlabelled.info['energy']
    with pytest.raises(ValueError, match=r"train_atoms\[1\].info\['energy'\]"):
        fit_student([training[1], unlabelled], level=8, seed=1, workdir=tmp_path)
    with pytest.raises(ValueError, match='weights'):
        fit_student(training, level=8, seed=1, weights=(1, 1), workdir=tmp_path)
    with pytest.raises(ValueError, match='folder'):
        student_calculator(tmp_path)


def test_fit_stops_on_the_loss(training, tmp_path):
    """With a tolerance the fit stops once the loss no longer falls, says so, and keeps the loss history."""
    settings = fit_student(
        training, level=4, seed=2, max_iter=2000, tolerance=0.01, window=10, workdir=tmp_path / 'converged'
    )
    run = settings['optimisation']
    assert run['converged'] is True and run['stop_reason'] in ('tolerance', 'optimizer')
    assert 10 <= run['iterations'] < 2000
    history = np.array(run['loss_history'])
    assert history[0, 0] == 0 and history[-1, 0] == run['iterations']
    assert history[-1, 1] < history[0, 1]  # the loss fell
    if run['stop_reason'] == 'tolerance':  # the last window fell by less than the tolerance
        losses = dict(zip(history[:, 0].astype(int), history[:, 1], strict=True))
        before = losses.get(run['iterations'] - 10)
        assert before is None or before - history[-1, 1] <= 0.01 * abs(before)
    assert run['final_loss'] <= run['loss_before_lls'] * (1 + 1e-9)  # the last least-squares step never hurts
    assert json.loads((tmp_path / 'converged' / SETTINGS_FILENAME).read_text())['optimisation'] == run


def test_fit_capped_by_max_iter_is_not_converged(training, tmp_path):
    settings = fit_student(training, level=4, seed=2, max_iter=3, tolerance=1e-9, window=50, workdir=tmp_path)
    assert settings['optimisation']['iterations'] == 3
    assert settings['optimisation']['converged'] is False
    assert settings['optimisation']['stop_reason'] == 'max_iter'


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [({'tolerance': 1.5}, 'tolerance: expected a number in'), ({'window': 0}, 'window: expected a positive integer')],
)
def test_bad_convergence_settings(training, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_student(training, level=2, seed=1, max_iter=5, workdir=tmp_path, **kwargs)
