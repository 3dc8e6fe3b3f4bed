"""Convex hulls over composition for multi-component GAP-RSS: formation energies, selection and fit sigmas.

With several elements, energies per atom of different compositions are not comparable (Si and C differ by ~3 eV/atom
in binding energy), so every place where GAP-RSS ranks structures by energy uses the distance above a lower convex
hull that includes composition:

* **selection** (Boltzmann-biased flat histogram, :func:`aiida_gaprss.rss.selection.flat_histogram`): the
  enthalpy per atom above the **formation-enthalpy convex hull** at the structure's own pressure,
  :func:`enthalpy_above_formation_hull` (``ΔH_i = H_i(p_i) − min`` over phase mixtures of the same composition;
  a mixture of the elements' ground states is one such mixture, so a compound only counts as low if it is stable
  against decomposition). Distances above the hull do not depend on the elemental reference energies.
* **fit sigmas** (:func:`aiida_gaprss.rss.hull.per_structure_sigmas`): ΔE above the lower hull in
  composition–volume–energy space, :func:`composition_volume_hull_distance` — the paper's (V, E) hull with the
  composition fractions as further coordinates.

For one element (or one composition) every function here gives exactly the numbers of the elemental functions of
:mod:`aiida_gaprss.rss.hull`. Compositions are atomic fractions; the last element's fraction is dropped as a
coordinate (fractions add up to one), and coordinates the points do not span (e.g. a single composition) are
removed before the hull is built, so qhull never sees a degenerate set.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from .hull import GPA_A3_IN_EV, enthalpy_above_hull, lower_hull_distance, per_structure_sigmas

logger = logging.getLogger(__name__)

__all__ = (
    'composition_fractions',
    'composition_volume_hull_distance',
    'energy_above_formation_hull',
    'enthalpy_above_formation_hull',
    'formation_energies',
    'lower_hull_distance_nd',
    'multicomponent_sigmas',
)

_RANK_TOL = 1e-9


def composition_fractions(atoms_list: Sequence, elements: Sequence[str]) -> np.ndarray:
    """(N, S) atomic fractions of ``elements`` in each structure; ValueError names a structure with other elements."""
    elements = list(elements)
    out = np.zeros((len(atoms_list), len(elements)))
    for index, atoms in enumerate(atoms_list):
        symbols = atoms.get_chemical_symbols()
        extra = set(symbols) - set(elements)
        if extra:
            raise ValueError(f'atoms_list[{index}]: elements {sorted(extra)} not among {elements}')
        out[index] = [symbols.count(s) / len(symbols) for s in elements]
    return out


def _matrix(values, field: str, rows: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or (rows is not None and array.shape[0] != rows):
        raise ValueError(f'{field}: expected {rows} rows, got shape {np.shape(values)}')
    if not np.isfinite(array).all():
        raise ValueError(f'{field} has non-finite values')
    return array


def _vector(values, field: str, size: int | None = None) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or (size is not None and array.size != size):
        raise ValueError(f'{field}: expected {size} values, got shape {array.shape}')
    if not np.isfinite(array).all():
        raise ValueError(f'{field} has non-finite values at index(es) {np.flatnonzero(~np.isfinite(array))[:10]}')
    return array


def _spanned(coordinates: np.ndarray) -> np.ndarray:
    """The coordinates in an orthonormal basis of the affine subspace the points span (drops degenerate directions)."""
    centred = coordinates - coordinates.mean(axis=0)
    if centred.size == 0 or not np.any(centred):
        return np.zeros((coordinates.shape[0], 0))
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    keep = singular > _RANK_TOL * max(1.0, singular[0])
    return centred @ vt[keep].T


def lower_hull_distance_nd(coordinates, energies) -> np.ndarray:
    """Vertical distance (>= 0) of each point above the lower convex hull of all points in (coordinates, energy).

    ``coordinates`` is (N, d) (composition fractions, volumes, …). For one spanned direction this is exactly
    :func:`aiida_gaprss.rss.hull.lower_hull_distance`; for none, ``E − min E``.
    """
    E = _vector(energies, 'energies')
    X = _matrix(coordinates, 'coordinates', E.size)
    Y = _spanned(X)
    if Y.shape[1] == 0:
        return E - E.min()
    if Y.shape[1] == 1:
        return lower_hull_distance(Y[:, 0], E)
    from scipy.spatial import ConvexHull, QhullError

    points = np.column_stack([Y, E])
    try:
        hull = ConvexHull(points)
    except QhullError:  # all points on one hyperplane in (Y, E): the hull is that plane
        hull = ConvexHull(points, qhull_options='QJ')
    normals, offsets = hull.equations[:, :-1], hull.equations[:, -1]
    lower = normals[:, -1] < -1e-12
    n_y, n_e, c = normals[lower, :-1], normals[lower, -1], offsets[lower]
    surface = np.max(-(Y @ n_y.T + c) / n_e, axis=1)
    return np.clip(E - surface, 0.0, None)


def _coordinates(compositions) -> np.ndarray:
    """Independent composition coordinates: all fractions but the last."""
    return _matrix(compositions, 'compositions')[:, :-1]


def energy_above_formation_hull(compositions, energies_per_atom) -> np.ndarray:
    """ΔE (eV/atom) above the lower convex hull over composition of the energies per atom (formation-energy hull)."""
    X = _coordinates(compositions)
    return lower_hull_distance_nd(X, _vector(energies_per_atom, 'energies_per_atom', X.shape[0]))


def composition_volume_hull_distance(compositions, volumes_per_atom, energies_per_atom) -> np.ndarray:
    """ΔE (eV/atom) above the lower hull in (composition, V, E) space: the paper's (V, E) hull over composition."""
    X = _coordinates(compositions)
    V = _vector(volumes_per_atom, 'volumes_per_atom', X.shape[0])
    return lower_hull_distance_nd(np.column_stack([X, V]), _vector(energies_per_atom, 'energies_per_atom', V.size))


def enthalpy_above_formation_hull(compositions, volumes_per_atom, energies_per_atom, pressures) -> np.ndarray:
    """ΔH (eV/atom) of each point above the formation-enthalpy hull at that point's own pressure.

    ``ΔH_i = E_i + p_i V_i − min`` over mixtures ``λ`` of the points with composition ``x_i`` of
    ``Σ_j λ_j (E_j + p_i V_j)``; the minimum is taken on the vertices of the (composition, V, E) lower hull. For a
    single composition this is :func:`aiida_gaprss.rss.hull.enthalpy_above_hull` (same numbers).

    Parameters
    ----------
    compositions
        (N, S) atomic fractions.
    volumes_per_atom, energies_per_atom, pressures
        Å³/atom, eV/atom and GPa (the pressure each frame was relaxed at).
    """
    X = _coordinates(compositions)
    V = _vector(volumes_per_atom, 'volumes_per_atom', X.shape[0])
    E = _vector(energies_per_atom, 'energies_per_atom', V.size)
    P = _vector(pressures, 'pressures', V.size)
    Y = _spanned(X)
    if Y.shape[1] == 0:
        return enthalpy_above_hull(V, E, P)
    vertices = composition_volume_hull_distance(compositions, V, E) <= 1e-12
    Yv, Vv, Ev = Y[vertices], V[vertices], E[vertices]
    p = P * GPA_A3_IN_EV
    result = np.empty(V.size)
    for pressure in np.unique(p):
        at = np.flatnonzero(p == pressure)
        # lowest enthalpy of a mixture at each composition = lower hull over composition of the vertices' enthalpies
        H = np.concatenate([Ev + pressure * Vv, E[at] + pressure * V[at]])
        distance = lower_hull_distance_nd(np.concatenate([Yv, Y[at]]), H)
        result[at] = distance[Yv.shape[0] :]
    return result


def formation_energies(
    compositions, energies_per_atom, elements: Sequence[str], references: Mapping[str, float] | None = None
) -> np.ndarray:
    """Formation energy per atom ``E − Σ_s x_s μ_s`` (eV/atom).

    ``μ_s`` from ``references`` (eV/atom) or else the lowest energy per atom of the pure-``s`` points. ValueError
    naming 'references' if an element has neither.
    """
    X = _matrix(compositions, 'compositions')
    E = _vector(energies_per_atom, 'energies_per_atom', X.shape[0])
    mu = []
    for s, symbol in enumerate(elements):
        if references and symbol in references:
            mu.append(float(references[symbol]))
            continue
        pure = X[:, s] > 1 - 1e-12
        if not pure.any():
            raise ValueError(f'references: no energy for {symbol} (no pure-{symbol} structure and none given)')
        mu.append(float(E[pure].min()))
    return E - X @ np.asarray(mu)


def multicomponent_sigmas(atoms_list: Sequence, elements: Sequence[str], **kwargs) -> dict[str, np.ndarray]:
    """:func:`aiida_gaprss.rss.hull.per_structure_sigmas` with ΔE above the (composition, V, E) lower hull.

    The ramp, the per-configuration scaling and the special config types are the elemental ones; only the hull gains
    the composition coordinates. Keyword arguments are passed on.
    """
    elements = list(elements)

    def distance(regular: Sequence, volumes: np.ndarray, energies: np.ndarray) -> np.ndarray:
        return composition_volume_hull_distance(composition_fractions(regular, elements), volumes, energies)

    return per_structure_sigmas(atoms_list, hull_distance=distance, **kwargs)
