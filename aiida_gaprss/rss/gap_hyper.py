"""Automatic energy scales δ of the GAP descriptors (GAP-RSS, Methods, "Fitting").

The paper: "The 2b value is set from the variance of energies in the fitting database, the 3b value is set from the
energy error between a 2b-only fit and the fitting database, and the SOAP value is set from the energy error for a
2b+3b-only fit." Precisely, here:

* ``δ_2b = sqrt(Var_c[E_c / N_c])``: the standard deviation (population, over configurations ``c``) of the energy
  per atom, in eV. Passing ``e0`` (isolated-atom energies) and ``about='e0'`` instead gives the root-mean-square
  per-atom binding energy, ``sqrt(mean_c[((E_c - Σ_i e0_i) / N_c)²])``, which also covers the offset from the
  isolated atoms (useful when the database spans a narrow energy range).
* ``δ_3b = RMSE per atom`` of the 2b-only fit against the database; ``δ_SOAP = RMSE per atom`` of the 2b+3b fit
  (:func:`delta_from_error`, with :func:`energy_rmse_per_atom` to compute the error).

All in eV. ``wfl`` (the authors' later code) uses a per-descriptor normalisation instead (sum of absolute energy
residuals divided by the number of descriptor instances); :func:`delta_per_descriptor` provides it for comparison.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ('delta_2b', 'delta_from_error', 'delta_per_descriptor', 'energy_rmse_per_atom')

#: Smallest δ returned (eV): a perfect lower-body fit must not switch the next term off entirely.
DELTA_FLOOR = 1.0e-3


def _vector(values, field: str, *, positive: bool = False) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f'{field} must be a non-empty 1-d sequence, got shape {array.shape}')
    bad = ~np.isfinite(array)
    if bad.any():
        raise ValueError(f'{field} has non-finite values at index(es) {np.flatnonzero(bad)[:10].tolist()}')
    if positive and np.any(array <= 0):
        raise ValueError(f'{field} must be > 0, bad index(es) {np.flatnonzero(array <= 0)[:10].tolist()}')
    return array


def _reference_energies(symbols_list, e0: Mapping[str, float]) -> np.ndarray:
    out = []
    for index, symbols in enumerate(symbols_list):
        try:
            out.append(sum(float(e0[s]) for s in symbols))
        except KeyError as exc:
            raise ValueError(f'e0 has no entry for {exc.args[0]!r} (structure {index})') from None
    return np.asarray(out)


def delta_2b(
    energies,
    n_atoms,
    *,
    e0: Mapping[str, float] | None = None,
    symbols: Sequence[Sequence[str]] | None = None,
    about: str = 'mean',
    floor: float = DELTA_FLOOR,
) -> float:
    """δ for the 2-body term from the spread of the database energies (eV).

    Parameters
    ----------
    energies : sequence of float
        Total energies of the configurations (eV).
    n_atoms : sequence of int
        Number of atoms of each configuration.
    e0, symbols : optional
        Isolated-atom energies per element and the chemical symbols of each configuration; subtracted first when
        given (needed for ``about='e0'``; for ``about='mean'`` they only matter for mixed compositions).
    about : {'mean', 'e0'}
        ``'mean'``: standard deviation of the per-atom energies (the paper's "variance of energies", default);
        ``'e0'``: root-mean-square per-atom energy relative to the isolated atoms.
    floor : float
        Lower bound of the result (a database of one structure has zero variance).
    """
    E = _vector(energies, 'energies')
    N = _vector(n_atoms, 'n_atoms', positive=True)
    if E.size != N.size:
        raise ValueError(f'energies ({E.size}) and n_atoms ({N.size}) differ in length')
    if about not in ('mean', 'e0'):
        raise ValueError(f"about must be 'mean' or 'e0', got {about!r}")
    if (e0 is None) != (symbols is None):
        raise ValueError('e0 and symbols must be given together')
    if e0 is not None:
        if len(symbols) != E.size:
            raise ValueError(f'symbols ({len(symbols)}) and energies ({E.size}) differ in length')
        E = E - _reference_energies(symbols, e0)
    elif about == 'e0':
        raise ValueError("about='e0' needs e0 and symbols")
    per_atom = E / N
    value = float(np.std(per_atom)) if about == 'mean' else float(np.sqrt(np.mean(per_atom**2)))
    return max(value, float(floor))


def energy_rmse_per_atom(predicted, reference, n_atoms) -> float:
    """Root-mean-square error of the energy per atom, ``sqrt(mean_c[((E_pred - E_ref)/N)²])`` (eV/atom)."""
    P = _vector(predicted, 'predicted')
    R = _vector(reference, 'reference')
    N = _vector(n_atoms, 'n_atoms', positive=True)
    if not P.size == R.size == N.size:
        raise ValueError(f'predicted ({P.size}), reference ({R.size}) and n_atoms ({N.size}) differ in length')
    return float(np.sqrt(np.mean(((P - R) / N) ** 2)))


def delta_from_error(rmse_per_atom: float, *, floor: float = DELTA_FLOOR) -> float:
    """δ for the next body order (3b after a 2b fit, SOAP after a 2b+3b fit) = the lower-body fit's RMSE per atom."""
    value = float(rmse_per_atom)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f'rmse_per_atom must be a finite number >= 0, got {rmse_per_atom!r}')
    return max(value, float(floor))


def delta_per_descriptor(residuals, n_descriptors: int, *, floor: float = DELTA_FLOOR) -> float:
    """``wfl``'s variant: ``Σ_c |ΔE_c| / (number of descriptor instances in the database)`` (eV).

    ``residuals`` are total-energy residuals (or binding energies for the first stage), one per configuration.
    """
    r = _vector(residuals, 'residuals')
    if isinstance(n_descriptors, bool) or not isinstance(n_descriptors, int | np.integer) or n_descriptors < 1:
        raise ValueError(f'n_descriptors must be a positive integer, got {n_descriptors!r}')
    return max(float(np.sum(np.abs(r)) / n_descriptors), float(floor))
