"""Placing Wyckoff orbits in a cell so that no two atoms are closer than their minimum separation.

Shared by the elemental generator (one separation ``d_min`` for every pair) and the multi-species one (a separation
per pair of species, :class:`PairSeparations`). With one separation the arithmetic is exactly that of the elemental
generator as it always was (same inputs, same cells); with pair separations every comparison is made on the
*reduced* distance ``d_ij / d_min(s_i, s_j)`` against 1, and every push moves a pair by its own overlap
``1.01 d_min(s_i, s_j) - d_ij``.

Steps (see :mod:`aiida_gaprss.rss.generation` for the whole recipe): each orbit gets random free parameters (up to
20 trials in batches of 4, keeping the trial whose shortest (reduced) distance is largest); if some pairs are still
too close, a symmetry-preserving push (like buildcell's): pairs closer than 1.01 d_min are pushed apart along their
bond (half the overlap each, with momentum), and the displacements are projected (least squares, Cartesian metric)
onto the orbits' free parameters, so the imposed operations and Wyckoff sites stay exact; it stops when every pair
clears its d_min or stalls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from .wyckoff import SpaceGroupTable, WyckoffPosition, cell_heights

__all__ = ('PairSeparations', 'lattice_shifts', 'minimum_distance', 'pair_vectors', 'place_orbits')

_POSITION_TRIALS = 20
_TRIAL_BATCH = 4
_PUSH_SWEEPS = 400
_PUSH_MARGIN = 1.01
_PUSH_STEP = 0.5
_PUSH_PATIENCE = 15
_PUSH_MOMENTUM = 0.8
_MAX_SHIFT = 3


@dataclass(frozen=True)
class PairSeparations:
    """Minimum separations per pair of species, and the species of each orbit to place.

    Attributes
    ----------
    table
        (S, S) symmetric array of minimum separations (Å) between species ``s`` and ``t``.
    orbit_species
        Species index of each orbit, in the order of the orbits passed to :func:`place_orbits`.
    """

    table: np.ndarray
    orbit_species: tuple[int, ...]

    def reach(self) -> float:
        """Largest separation that matters for the orbits' species."""
        present = sorted(set(self.orbit_species))
        return float(self.table[np.ix_(present, present)].max())

    def self_image(self) -> float:
        """Largest like-species separation: the shortest lattice vector must clear it."""
        return float(max(self.table[s, s] for s in set(self.orbit_species)))


def lattice_shifts(cell: np.ndarray, cutoff: float) -> np.ndarray | None:
    """Integer lattice shifts needed to find every pair closer than ``cutoff`` from wrapped differences."""
    nmax = np.ceil(cutoff / cell_heights(cell) + 0.5).astype(int)
    if nmax.max() > _MAX_SHIFT:
        return None
    grids = np.meshgrid(*(np.arange(-n, n + 1) for n in nmax), indexing='ij')
    return np.stack([g.ravel() for g in grids], axis=1).astype(float)


def pair_vectors(frac: np.ndarray, cell: np.ndarray, shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cartesian vectors x_i - x_j - L and their lengths, shape (N, N, S, 3) / (N, N, S)."""
    diff = frac[:, None, :] - frac[None, :, :]
    diff -= np.rint(diff)
    vec = (diff @ cell)[:, :, None, :] + (shifts @ cell)[None, None, :, :]
    dist = np.sqrt(np.einsum('ijsk,ijsk->ijs', vec, vec))
    return vec, dist


def minimum_distance(atoms: Atoms) -> float:
    """Shortest interatomic distance of a periodic cell over all images (an atom to its own images included)."""
    cell = np.asarray(atoms.cell)
    cutoff = float(np.max(np.linalg.norm(cell, axis=1))) * 2
    nmax = np.ceil(cutoff / cell_heights(cell) + 0.5).astype(int)
    grids = np.meshgrid(*(np.arange(-n, n + 1) for n in nmax), indexing='ij')
    shifts = np.stack([g.ravel() for g in grids], axis=1).astype(float)
    _, dist = pair_vectors(atoms.get_scaled_positions(wrap=True), cell, shifts)
    zero = np.all(shifts == 0, axis=1)
    idx = np.arange(len(atoms))
    dist[idx, idx, np.flatnonzero(zero)[0]] = np.inf
    return float(dist.min())


def _atom_scale(wyckoffs: Sequence[WyckoffPosition], pairs: PairSeparations | None) -> np.ndarray | None:
    """(N, N) minimum separation of every pair of atoms (slot order), or None for one separation."""
    if pairs is None:
        return None
    species = np.concatenate([np.full(w.multiplicity, s) for w, s in zip(wyckoffs, pairs.orbit_species, strict=True)])
    return pairs.table[np.ix_(species, species)]


def place_orbits(
    group: SpaceGroupTable,
    chosen: list[int],
    cell: np.ndarray,
    dmin: float,
    rng: np.random.Generator,
    pairs: PairSeparations | None = None,
) -> tuple[np.ndarray | None, bool]:
    """Fractional positions of the orbits ``chosen`` (Wyckoff indices) in ``cell`` and whether all pairs are clear.

    Parameters
    ----------
    group, chosen, cell
        The space-group table, the Wyckoff indices of the orbits and the primitive cell (rows, Å).
    dmin
        One minimum separation (Å) for every pair; ignored when ``pairs`` is given.
    rng
        Random generator (the free parameters of the orbits).
    pairs
        Minimum separations per pair of species and the species of each orbit.

    Returns
    -------
    (frac, ok)
        Positions of all atoms, orbit by orbit in the order of ``chosen`` (None if the cell cannot hold them), and
        whether every pair clears its minimum separation.
    """
    reach, self_limit, limit = (dmin, dmin, dmin) if pairs is None else (pairs.reach(), pairs.self_image(), 1.0)
    shifts = lattice_shifts(cell, reach * _PUSH_MARGIN)
    if shifts is None:
        return None, False
    zero = int(np.flatnonzero(np.all(shifts == 0, axis=1))[0])
    lengths = np.linalg.norm(shifts @ cell, axis=1)
    lengths[zero] = np.inf
    if lengths.min() < self_limit:  # an atom would touch its own image
        return None, False
    wyckoffs = [group.wyckoffs[i] for i in chosen]
    params = np.zeros((len(chosen), 3))
    shift_cart = shifts @ cell
    placed = np.zeros((0, 3))
    placed_species: list[int] = []
    # Fixed sites first, then the most constrained (largest) orbits; trials in small vectorised batches.
    for slot in sorted(range(len(chosen)), key=lambda i: (wyckoffs[i].dof, -wyckoffs[i].multiplicity)):
        wyckoff = wyckoffs[slot]
        weights = None
        if pairs is not None:
            own = pairs.orbit_species[slot]
            others = np.array(placed_species + [own] * wyckoff.multiplicity, dtype=int)
            weights = 1.0 / pairs.table[own, others] ** 2
        best_u, best_pos, best_d = None, None, -1.0
        batches = 1 if wyckoff.dof == 0 else _POSITION_TRIALS // _TRIAL_BATCH
        for _ in range(batches):
            u = rng.random((1 if wyckoff.dof == 0 else _TRIAL_BATCH, 3))
            pos = np.einsum('mij,tj->tmi', wyckoff.A, u) + wyckoff.b  # (T, m, 3)
            d = _min_pair_new(placed, pos, cell, shift_cart, zero, weights)
            t = int(np.argmax(d))
            if d[t] > best_d:
                best_u, best_pos, best_d = u[t], pos[t], d[t]
            if best_d >= limit:
                break
        params[slot] = best_u
        placed = np.concatenate([placed, best_pos])
        if pairs is not None:
            placed_species += [pairs.orbit_species[slot]] * wyckoff.multiplicity
    owner = np.concatenate([np.full(w.multiplicity, i) for i, w in enumerate(wyckoffs)])
    frac = _positions(wyckoffs, params)
    scale = _atom_scale(wyckoffs, pairs)
    if _min_pair(frac, cell, shifts, zero, scale) >= limit:
        return frac, True
    return _push(wyckoffs, params, owner, cell, shifts, zero, dmin, scale)


def _positions(wyckoffs: list[WyckoffPosition], params: np.ndarray) -> np.ndarray:
    """Fractional positions of all orbits, in slot order."""
    return np.concatenate([w.A @ params[i] + w.b for i, w in enumerate(wyckoffs)])


def _min_pair_new(
    placed: np.ndarray,
    new: np.ndarray,
    cell: np.ndarray,
    shift_cart: np.ndarray,
    zero: int,
    weights: np.ndarray | None = None,
):
    """Per trial, the shortest distance between its ``new`` atoms (T, m, 3) and ``placed`` + themselves.

    With ``weights`` (1 / d_min² of the new orbit's species against each placed atom, then against itself), the
    shortest reduced distance ``d / d_min`` instead.
    """
    trials, m = new.shape[:2]
    allpos = np.concatenate([np.broadcast_to(placed, (trials, *placed.shape)), new], axis=1)  # (T, P+m, 3)
    diff = new[:, :, None, :] - allpos[:, None, :, :]
    diff -= np.rint(diff)
    vec = (diff @ cell)[:, :, :, None, :] + shift_cart  # (T, m, P+m, S, 3)
    d2 = np.einsum('tijsk,tijsk->tijs', vec, vec)
    idx = np.arange(m)
    d2[:, idx, len(placed) + idx, zero] = np.inf
    if weights is not None:
        d2 *= weights[None, None, :, None]
    return np.sqrt(d2.reshape(trials, -1).min(axis=1))


def _min_pair(frac: np.ndarray, cell: np.ndarray, shifts: np.ndarray, zero: int, scale=None) -> float:
    """Shortest distance (or reduced distance ``d / d_min`` with the (N, N) ``scale``) over all pairs and images."""
    _, dist = pair_vectors(frac, cell, shifts)
    idx = np.arange(len(frac))
    dist[idx, idx, zero] = np.inf
    if scale is not None:
        dist /= scale[:, :, None]
    return float(dist.min())


def _push(
    wyckoffs: list[WyckoffPosition],
    params: np.ndarray,
    owner: np.ndarray,
    cell: np.ndarray,
    shifts: np.ndarray,
    zero: int,
    dmin: float,
    scale: np.ndarray | None = None,
) -> tuple[np.ndarray, bool]:
    """Symmetry-preserving push of overlapping atoms (buildcell-like); positions and whether they clear d_min.

    Every pair closer than 1.01 d_min (its own d_min from ``scale`` when given) is pushed apart along its bond by its
    overlap (half to each atom); the displacements of each orbit are then projected (least squares) onto the orbit's
    free parameters, so the imposed symmetry and the Wyckoff sites are kept exactly.
    """
    limit = dmin if scale is None else 1.0
    target = dmin * _PUSH_MARGIN if scale is None else scale[:, :, None] * _PUSH_MARGIN
    idx = np.arange(len(owner))
    movable = []
    for slot, w in enumerate(wyckoffs):
        if w.dof > 0:
            C = np.einsum('ki,mkl->mil', cell, w.A)  # d(cartesian position)/du of each image
            movable.append((slot, np.flatnonzero(owner == slot), C, np.linalg.pinv(np.einsum('mji,mjk->ik', C, C))))
    if not movable:
        return None, False
    best, stalled = 0.0, 0
    velocity = np.zeros_like(params)
    for _ in range(_PUSH_SWEEPS):
        frac = _positions(wyckoffs, params)
        vec, dist = pair_vectors(frac, cell, shifts)
        dist[idx, idx, zero] = np.inf
        shortest = dist.min() if scale is None else (dist / scale[:, :, None]).min()
        if shortest >= limit:
            return frac, True
        if shortest > best + 1e-3 * limit:
            best, stalled = shortest, 0
        else:
            stalled += 1
            if stalled > _PUSH_PATIENCE:
                return frac, False
        overlap = np.clip(target - dist, 0.0, None)
        factor = np.divide(overlap, np.maximum(dist, 1e-6), out=np.zeros_like(dist), where=overlap > 0)
        disp = _PUSH_STEP * np.einsum('ijsk,ijs->ik', vec, factor)
        for slot, atoms_of_slot, C, pinv in movable:
            velocity[slot] = _PUSH_MOMENTUM * velocity[slot] + pinv @ np.einsum('mji,mj->i', C, disp[atoms_of_slot])
            params[slot] = params[slot] + velocity[slot]
    frac = _positions(wyckoffs, params)
    return frac, _min_pair(frac, cell, shifts, zero, scale) >= limit
