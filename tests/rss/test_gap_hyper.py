"""Tests of the δ heuristics (aiida_gaprss.rss.gap_hyper)."""

import numpy as np
import pytest

from aiida_gaprss.rss import gap_hyper


def test_delta_2b_is_std_of_energy_per_atom():
    # per-atom energies -5, -4, -3 -> population std sqrt(2/3)
    assert np.isclose(gap_hyper.delta_2b([-10.0, -16.0, -9.0], [2, 4, 3]), np.sqrt(2 / 3))
    # relative to isolated atoms (e0 = -1 eV): per-atom binding energies -4, -3, -2 -> rms sqrt(29/3)
    symbols = [['Si'] * 2, ['Si'] * 4, ['Si'] * 3]
    rms = gap_hyper.delta_2b([-10.0, -16.0, -9.0], [2, 4, 3], e0={'Si': -1.0}, symbols=symbols, about='e0')
    assert np.isclose(rms, np.sqrt(29 / 3))
    assert gap_hyper.delta_2b([-10.0], [2]) == gap_hyper.DELTA_FLOOR


def test_delta_from_error_and_rmse():
    rmse = gap_hyper.energy_rmse_per_atom([-10.2, -16.0], [-10.0, -16.4], [2, 4])
    assert np.isclose(rmse, 0.1)
    assert gap_hyper.delta_from_error(rmse) == pytest.approx(0.1)
    assert gap_hyper.delta_from_error(0.0) == gap_hyper.DELTA_FLOOR
    assert np.isclose(gap_hyper.delta_per_descriptor([1.0, -3.0], 8), 0.5)


@pytest.mark.parametrize(
    'call, field',
    [
        (lambda: gap_hyper.delta_2b([-1.0, np.nan], [1, 1]), 'energies'),
        (lambda: gap_hyper.delta_2b([-1.0, -2.0], [1, 0]), 'n_atoms'),
        (lambda: gap_hyper.delta_2b([-1.0], [1, 2]), 'differ in length'),
        (lambda: gap_hyper.delta_2b([-1.0], [1], about='e0'), 'e0'),
        (lambda: gap_hyper.delta_2b([-1.0], [1], e0={'C': 0.0}, symbols=[['Si']]), "'Si'"),
        (lambda: gap_hyper.delta_from_error(-0.1), 'rmse_per_atom'),
        (lambda: gap_hyper.delta_per_descriptor([1.0], 0), 'n_descriptors'),
    ],
)
def test_validation(call, field):
    with pytest.raises(ValueError, match=field):
        call()
