"""Random starting cells in the style of AIRSS ``buildcell``, and dimers in vacuum, for GAP-RSS.

The paper (Bernstein, Csányi & Deringer 2019, Methods) makes its random cells with ``buildcell`` (AIRSS 0.9):
6–24 atoms, positions repeated by 1–8 symmetry operations, a minimum separation of 1.8 r and a volume per atom
centred on V0 = 14.5 r³ (covalent) or 5.5 r³ (metallic). This module reproduces that recipe in pure Python.

Why not a library
-----------------
``buildcell`` is a Fortran program outside PyPI, and the Python wrapper of the paper's authors
(``wfl.generate.buildcell``) needs that binary and pins numpy < 2. ``pyxtal`` is the well-kept Python library for
symmetric random crystals, but measured on this machine it makes ~2 cells/s with a heavy tail (one cell took
147 s and ignored its time-out), while the 10,000-cell initial pool has to be made in well under 90 s on two
cores. So the *generator* is our own; the symmetry *data* come from pyxtal's Wyckoff-position tables (read once
per space group and cached; pyxtal's generator is never called), and spglib is used in the tests to check the
result.

Algorithm (per cell, all random numbers from one per-cell ``numpy`` generator)
-----------------------------------------------------------------------------
1. Atom count ``N``: uniform over the integers of ``natoms`` with the requested parity ('any'/'even'/'odd').
2. Number of symmetry operations ``k``: uniform over the crystallographic point-group orders (1, 2, 3, 4, 6, 8,
   12, 16, 24, 48) inside ``symmops`` for which some space group can hold exactly ``N`` atoms in its primitive
   cell; then a space group uniformly among those with ``k`` operations (modulo lattice translations of the
   primitive cell, i.e. point-group order — what buildcell's SYMMOPS counts) that can hold ``N`` atoms.
3. Wyckoff decomposition of ``N``: as many general positions (``k`` atoms each) as possible, the rest on special
   positions (multiplicities ``k/|site group|``; positions without free parameters used at most once), chosen at
   random among the decompositions that add up to exactly ``N``.
4. Volume per atom: uniform in V0·[0.95, 1.05] ('narrow') or V0·[0.75, 1.25] ('wide'). The paper calls the
   narrow range "buildcell-default"; we take ±5 % from the paper authors' own buildcell driver
   (``wfl.generate.buildcell.create_input(vol_range=(0.95, 1.05))``, which writes ``#TARGVOL=0.95V0-1.05V0``,
   used by ``gap_rss_iter_fit`` for its narrow inputs, with ``vol_range=(0.75, 1.25)`` for the wide ones).
   Drawing uniformly inside the range is our assumption about how buildcell samples a TARGVOL range.
5. Lattice of the group's crystal system (conventional cell: lengths uniform in [0.5, 1.5], free angles uniform
   in [60°, 120°], then scaled to the target volume), transformed to the primitive cell (C, A, I, F and
   rhombohedral centring removed), rejected if too flat (smallest height < 0.35 V^(1/3)).
6. Positions: each Wyckoff orbit gets random free parameters (up to 20 trials, keeping the best); if some
   pairs are still closer than the minimum separation, a symmetry-preserving "push" (like buildcell's): pairs
   closer than 1.01·d_min are pushed apart along their bond (half the overlap each, with momentum), and the
   displacements are projected (least squares, Cartesian metric) onto the orbits' free parameters, so the
   imposed operations and Wyckoff sites stay exact; it stops when it clears d_min or stalls.
7. Any failure restarts from step 2 (rejection sampling, like re-running buildcell until it succeeds — what the
   paper authors' driver does), keeping ``N`` and the volume. So the realised operation counts are the uniform
   draw *conditioned on success*: for covalent densities almost uniform, for the dense metallic V0 = 5.5 r³ with
   d_min = 1.8 r (packing fraction 0.56) tilted towards few operations, because orbits on mirror planes and
   special positions rarely fit. ``atoms.info['symmops']`` records the count actually imposed. The final cell
   has no two atoms (nor an atom and its own image) closer than 1.8 r.

Reproducibility: cell ``i`` of a batch draws from ``numpy.random.default_rng(SeedSequence(seed, spawn_key=
(stream, i)))``, so the same seed gives identical cells whatever the number of ``processes``.

Later iterations: use ``generate_random_cells(..., volume_mode='narrow', parity='any')`` (the paper's "narrow
only"; pass ``parity`` to bias it, e.g. by calling twice). Dimers: :func:`generate_dimers`.
"""

from __future__ import annotations

import itertools
import logging
import math
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from ase import Atoms

from .elements import (
    MIN_SEPARATION_FACTOR,
    bonding_type,
    characteristic_radius,
    validate_element,
    volume_per_atom,
)

logger = logging.getLogger(__name__)

__all__ = (
    'POINT_GROUP_ORDERS',
    'VOLUME_SPREADS',
    'generate_dimers',
    'generate_random_cells',
    'imposed_operations',
    'initial_pool',
    'iter_initial_pool',
    'iter_random_cells',
    'minimum_distance',
    'parse_range',
)

#: Orders of the crystallographic point groups: the possible numbers of symmetry operations of a primitive cell.
POINT_GROUP_ORDERS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 48)

#: Half-width of the uniform volume-per-atom distribution, as a fraction of V0.
VOLUME_SPREADS = {'narrow': 0.05, 'wide': 0.25}

PARITIES = ('any', 'even', 'odd')

_MAX_SYMMOPS = 48
_POSITION_TRIALS = 20
_TRIAL_BATCH = 4
_PUSH_SWEEPS = 400
_PUSH_MARGIN = 1.01
_PUSH_STEP = 0.5
_PUSH_PATIENCE = 15
_PUSH_MOMENTUM = 0.8
_LENGTH_RANGE = (0.5, 1.5)
_ATTEMPTS = 2000
_MIN_HEIGHT_FACTOR = 0.35
_MAX_SHIFT = 3
_TOL = 1e-6

# Columns: primitive basis vectors in fractional coordinates of the conventional cell (spglib/ITA choices).
_CENTRING_TRANSFORMS = {
    'P': np.eye(3),
    'C': np.array([[0.5, -0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]),
    'A': np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, -0.5, 0.5]]),
    'I': np.array([[-0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.5, 0.5, -0.5]]),
    'F': np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]),
    'R': np.array([[2 / 3, -1 / 3, -1 / 3], [1 / 3, 1 / 3, -2 / 3], [1 / 3, 1 / 3, 1 / 3]]),
}


# ----------------------------------------------------------------------------------------------------------------
# Input validation
# ----------------------------------------------------------------------------------------------------------------
def parse_range(value, field: str, *, minimum: int = 1, maximum: int | None = None) -> tuple[int, int]:
    """Parse an integer range given as ``(lo, hi)``, ``'lo-hi'``, ``'n'`` or ``n``; ValueError names ``field``."""
    try:
        if isinstance(value, str):
            parts = value.replace(':', '-').split('-')
            if len(parts) == 1:
                lo = hi = int(parts[0])
            elif len(parts) == 2:
                lo, hi = int(parts[0]), int(parts[1])
            else:
                raise ValueError
        elif isinstance(value, int | np.integer):
            lo = hi = int(value)
        else:
            lo, hi = (int(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f'{field}: expected an integer range like (6, 24) or "6-24", got {value!r}') from exc
    if lo > hi:
        raise ValueError(f'{field}: range is inverted ({lo} > {hi})')
    if lo < minimum:
        raise ValueError(f'{field}: must be >= {minimum}, got {lo}')
    if maximum is not None and hi > maximum:
        raise ValueError(f'{field}: must be <= {maximum}, got {hi}')
    return lo, hi


def _atom_counts(natoms: tuple[int, int], parity: str) -> list[int]:
    if parity not in PARITIES:
        raise ValueError(f'parity: expected one of {PARITIES}, got {parity!r}')
    counts = [n for n in range(natoms[0], natoms[1] + 1) if parity == 'any' or (n % 2 == 0) == (parity == 'even')]
    if not counts:
        raise ValueError(f'natoms: no {parity} atom count in {natoms[0]}-{natoms[1]}')
    return counts


# ----------------------------------------------------------------------------------------------------------------
# Symmetry tables (from pyxtal's Wyckoff data, transformed to the primitive cell)
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Wyckoff:
    label: str  # e.g. '4e' (conventional multiplicity + letter)
    multiplicity: int  # atoms in the primitive cell
    dof: int  # free parameters
    A: np.ndarray  # (m, 3, 3): primitive fractional position_j = A_j @ u + b_j, u in conventional fractions
    b: np.ndarray  # (m, 3)
    pinv: np.ndarray  # (3, 3): pseudo-inverse of sum_j A_j^T A_j (least-squares projection onto u)


@dataclass(frozen=True)
class _Group:
    number: int
    symbol: str
    order: int  # operations modulo the primitive lattice
    centring: str
    lattice_type: str
    transform: np.ndarray  # columns: primitive vectors in conventional fractions
    wyckoffs: tuple[_Wyckoff, ...]  # general position first
    rotations: np.ndarray  # (order, 3, 3) integer, primitive basis
    translations: np.ndarray  # (order, 3), primitive basis, in [0, 1)

    def special_reach(self, available: Sequence[int], limit: int) -> int:
        """Bitset of atom counts <= limit reachable with the special positions ``available`` (indices)."""
        bits = 1
        mask = (1 << (limit + 1)) - 1
        for index in available:
            wyckoff = self.wyckoffs[index]
            m = wyckoff.multiplicity
            if wyckoff.dof == 0:
                bits |= (bits << m) & mask
            else:
                for _ in range(limit // m):
                    new = bits | ((bits << m) & mask)
                    if new == bits:
                        break
                    bits = new
        return bits


def _unique_mod1(points: np.ndarray) -> list[int]:
    """Indices of the distinct points modulo 1."""
    kept: list[int] = []
    for i, p in enumerate(points):
        if all(np.abs((p - points[j] + 0.5) % 1.0 - 0.5).max() > 1e-6 for j in kept):
            kept.append(i)
    return kept


@cache
def _group(number: int) -> _Group:
    """Symmetry table of space group ``number`` (standard setting) in its primitive cell."""
    from pyxtal.symmetry import Group  # heavy import, only when a table is first built

    group = Group(number)
    centring = group.symbol[0]
    P = _CENTRING_TRANSFORMS[centring]
    Pinv = np.linalg.inv(P)
    probe = np.array([0.1234567, 0.3456789, 0.5678912])
    wyckoffs = []
    for wp in group.Wyckoff_positions:
        mats = np.array([op.affine_matrix for op in wp.ops])
        A = np.einsum('ij,mjk->mik', Pinv, mats[:, :3, :3])
        b = np.einsum('ij,mj->mi', Pinv, mats[:, :3, 3])
        keep = _unique_mod1(np.einsum('mij,j->mi', A, probe) + b)
        A, b = A[keep], b[keep]
        A[np.abs(A) < 1e-12] = 0.0
        dof = int(wp.get_dof())
        pinv = np.linalg.pinv(np.einsum('mji,mjk->ik', A, A), rcond=1e-8)
        label = f'{wp.multiplicity}{wp.letter}'
        wyckoffs.append(_Wyckoff(label, len(keep), dof, A, b, pinv))
    general = group.Wyckoff_positions[0]
    mats = np.array([op.affine_matrix for op in general.ops])
    rots = np.einsum('ij,mjk,kl->mil', Pinv, mats[:, :3, :3], P)
    trans = np.einsum('ij,mj->mi', Pinv, mats[:, :3, 3])
    rounded = np.rint(rots)
    if np.abs(rots - rounded).max() > 1e-6:  # pragma: no cover - guards the transform table
        raise RuntimeError(f'space group {number}: operations are not integral in the primitive basis')
    keep = _unique_mod1(np.einsum('mij,j->mi', rounded, probe) + trans)
    rotations = rounded[keep].astype(int)
    translations = trans[keep] % 1.0
    translations[np.abs(translations - 1.0) < 1e-9] = 0.0
    if wyckoffs[0].multiplicity != len(keep):  # pragma: no cover
        raise RuntimeError(f'space group {number}: inconsistent primitive order')
    return _Group(
        number=number,
        symbol=group.symbol,
        order=len(keep),
        centring=centring,
        lattice_type=group.lattice_type,
        transform=P,
        wyckoffs=tuple(wyckoffs),
        rotations=rotations,
        translations=translations,
    )


@cache
def _point_group_orders() -> dict[int, int]:
    """Space-group number -> number of operations in its primitive cell (point-group order), from spglib."""
    import spglib

    orders = {}
    for hall in range(1, 531):
        sg = spglib.get_spacegroup_type(hall)
        number = sg.number if hasattr(sg, 'number') else sg['number']
        if number not in orders:
            rotations = spglib.get_symmetry_from_database(hall)['rotations']
            orders[number] = len({r.tobytes() for r in rotations})
    return orders


def imposed_operations(spacegroup: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetry operations imposed on a generated cell of ``spacegroup``, in its (primitive) cell's basis.

    Returns ``(rotations, translations)``: integer (k, 3, 3) and float (k, 3) arrays, x' = R x + t.
    """
    group = _group(int(spacegroup))
    return group.rotations.copy(), group.translations.copy()


@dataclass
class _Tables:
    groups: dict[int, _Group]
    feasible: dict[tuple[int, int], tuple[int, ...]]  # (order, natoms) -> space-group numbers


def _general_then_special(group: _Group, natoms: int) -> bool:
    k = group.order
    specials = list(range(1, len(group.wyckoffs)))
    reach = group.special_reach(specials, natoms)
    return any((reach >> (natoms - g * k)) & 1 for g in range(natoms // k + 1))


def _build_tables(symmops: tuple[int, int], counts: Sequence[int]) -> _Tables:
    orders = _point_group_orders()
    numbers = [n for n, k in orders.items() if symmops[0] <= k <= symmops[1]]
    groups = {n: _group(n) for n in numbers}
    feasible: dict[tuple[int, int], tuple[int, ...]] = {}
    for natoms in counts:
        for n, g in groups.items():
            if _general_then_special(g, natoms):
                feasible.setdefault((g.order, natoms), ())
                feasible[(g.order, natoms)] += (n,)
    return _Tables(groups, feasible)


# ----------------------------------------------------------------------------------------------------------------
# Geometry helpers
# ----------------------------------------------------------------------------------------------------------------
def _heights(cell: np.ndarray) -> np.ndarray:
    volume = abs(np.linalg.det(cell))
    areas = np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    return volume / areas


def _shifts(cell: np.ndarray, cutoff: float) -> np.ndarray | None:
    """Integer lattice shifts needed to find every pair closer than ``cutoff`` from wrapped differences."""
    nmax = np.ceil(cutoff / _heights(cell) + 0.5).astype(int)
    if nmax.max() > _MAX_SHIFT:
        return None
    grids = np.meshgrid(*(np.arange(-n, n + 1) for n in nmax), indexing='ij')
    return np.stack([g.ravel() for g in grids], axis=1).astype(float)


def _pair_vectors(frac: np.ndarray, cell: np.ndarray, shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    nmax = np.ceil(cutoff / _heights(cell) + 0.5).astype(int)
    grids = np.meshgrid(*(np.arange(-n, n + 1) for n in nmax), indexing='ij')
    shifts = np.stack([g.ravel() for g in grids], axis=1).astype(float)
    _, dist = _pair_vectors(atoms.get_scaled_positions(wrap=True), cell, shifts)
    zero = np.all(shifts == 0, axis=1)
    idx = np.arange(len(atoms))
    dist[idx, idx, np.flatnonzero(zero)[0]] = np.inf
    return float(dist.min())


def _random_lattice_parameters(group: _Group, rng: np.random.Generator) -> np.ndarray:
    """Random conventional lattice parameters (a, b, c, alpha, beta, gamma) of the group's crystal system."""
    a, b, c = rng.uniform(*_LENGTH_RANGE, size=3)
    alpha = beta = gamma = 90.0
    kind = group.lattice_type
    if kind == 'triclinic':
        alpha, beta, gamma = rng.uniform(60.0, 120.0, size=3)
    elif kind == 'monoclinic':
        beta = rng.uniform(60.0, 120.0)
    elif kind == 'tetragonal':
        b = a
    elif kind in ('hexagonal', 'trigonal'):
        b, gamma = a, 120.0
    elif kind == 'cubic':
        b = c = a
    return np.array([a, b, c, alpha, beta, gamma])


def _lattice(group: _Group, parameters: np.ndarray, volume: float) -> np.ndarray | None:
    """Primitive cell (rows) of the conventional ``parameters``, scaled to ``volume``; None if degenerate."""
    a, b, c = parameters[:3]
    ca, cb, cg = np.cos(np.radians(parameters[3:]))
    sg = np.sin(np.radians(parameters[5]))
    cz2 = 1.0 - cb**2 - ((ca - cb * cg) / sg) ** 2
    if cz2 <= 1e-3:
        return None
    cell = np.array([[a, 0.0, 0.0], [b * cg, b * sg, 0.0], [c * cb, c * (ca - cb * cg) / sg, c * math.sqrt(cz2)]])
    prim = group.transform.T @ cell
    return prim * (volume / abs(np.linalg.det(prim))) ** (1.0 / 3.0)


# ----------------------------------------------------------------------------------------------------------------
# One cell
# ----------------------------------------------------------------------------------------------------------------
def _decompose(group: _Group, natoms: int, rng: np.random.Generator) -> list[int] | None:
    """Wyckoff indices adding up to ``natoms``: most general positions, the rest random special positions."""
    k = group.order
    available = list(range(1, len(group.wyckoffs)))
    for n_general in range(natoms // k, -1, -1):
        rest = natoms - n_general * k
        if (group.special_reach(available, rest) >> rest) & 1:
            break
    else:
        return None
    chosen = [0] * n_general
    while rest > 0:
        options = []
        for index in available:
            m = group.wyckoffs[index].multiplicity
            if m > rest:
                continue
            after = [i for i in available if i != index] if group.wyckoffs[index].dof == 0 else available
            if (group.special_reach(after, rest - m) >> (rest - m)) & 1:
                options.append(index)
        index = options[rng.integers(len(options))]
        chosen.append(index)
        rest -= group.wyckoffs[index].multiplicity
        if group.wyckoffs[index].dof == 0:
            available.remove(index)
    return chosen


def _place(
    group: _Group, chosen: list[int], cell: np.ndarray, dmin: float, rng: np.random.Generator
) -> tuple[np.ndarray | None, bool]:
    """Fractional positions of the orbits ``chosen`` in ``cell`` and whether all separations are >= dmin."""
    shifts = _shifts(cell, dmin * _PUSH_MARGIN)
    if shifts is None:
        return None, False
    zero = int(np.flatnonzero(np.all(shifts == 0, axis=1))[0])
    lengths = np.linalg.norm(shifts @ cell, axis=1)
    lengths[zero] = np.inf
    if lengths.min() < dmin:  # an atom would touch its own image
        return None, False
    wyckoffs = [group.wyckoffs[i] for i in chosen]
    params = np.zeros((len(chosen), 3))
    shift_cart = shifts @ cell
    placed = np.zeros((0, 3))
    # Fixed sites first, then the most constrained (largest) orbits; trials in small vectorised batches.
    for slot in sorted(range(len(chosen)), key=lambda i: (wyckoffs[i].dof, -wyckoffs[i].multiplicity)):
        wyckoff = wyckoffs[slot]
        best_u, best_pos, best_d = None, None, -1.0
        batches = 1 if wyckoff.dof == 0 else _POSITION_TRIALS // _TRIAL_BATCH
        for _ in range(batches):
            u = rng.random((1 if wyckoff.dof == 0 else _TRIAL_BATCH, 3))
            pos = np.einsum('mij,tj->tmi', wyckoff.A, u) + wyckoff.b  # (T, m, 3)
            d = _min_pair_new(placed, pos, cell, shift_cart, zero)
            t = int(np.argmax(d))
            if d[t] > best_d:
                best_u, best_pos, best_d = u[t], pos[t], d[t]
            if best_d >= dmin:
                break
        params[slot] = best_u
        placed = np.concatenate([placed, best_pos])
    owner = np.concatenate([np.full(w.multiplicity, i) for i, w in enumerate(wyckoffs)])
    frac = _positions(wyckoffs, params)
    if _min_pair(frac, cell, shifts, zero) >= dmin:
        return frac, True
    return _push(wyckoffs, params, owner, cell, shifts, zero, dmin)


def _positions(wyckoffs: list[_Wyckoff], params: np.ndarray) -> np.ndarray:
    """Fractional positions of all orbits, in slot order."""
    return np.concatenate([w.A @ params[i] + w.b for i, w in enumerate(wyckoffs)])


def _min_pair_new(placed: np.ndarray, new: np.ndarray, cell: np.ndarray, shift_cart: np.ndarray, zero: int):
    """Per trial, the shortest distance between its ``new`` atoms (T, m, 3) and ``placed`` + themselves."""
    trials, m = new.shape[:2]
    allpos = np.concatenate([np.broadcast_to(placed, (trials, *placed.shape)), new], axis=1)  # (T, P+m, 3)
    diff = new[:, :, None, :] - allpos[:, None, :, :]
    diff -= np.rint(diff)
    vec = (diff @ cell)[:, :, :, None, :] + shift_cart  # (T, m, P+m, S, 3)
    d2 = np.einsum('tijsk,tijsk->tijs', vec, vec)
    idx = np.arange(m)
    d2[:, idx, len(placed) + idx, zero] = np.inf
    return np.sqrt(d2.reshape(trials, -1).min(axis=1))


def _min_pair(frac: np.ndarray, cell: np.ndarray, shifts: np.ndarray, zero: int) -> float:
    _, dist = _pair_vectors(frac, cell, shifts)
    idx = np.arange(len(frac))
    dist[idx, idx, zero] = np.inf
    return float(dist.min())


def _push(
    wyckoffs: list[_Wyckoff],
    params: np.ndarray,
    owner: np.ndarray,
    cell: np.ndarray,
    shifts: np.ndarray,
    zero: int,
    dmin: float,
) -> tuple[np.ndarray, bool]:
    """Symmetry-preserving push of overlapping atoms (buildcell-like); positions and whether they clear d_min.

    Every pair closer than 1.02 d_min is pushed apart along its bond by its overlap (half to each atom); the
    displacements of each orbit are then projected (least squares) onto the orbit's free parameters, so the
    imposed symmetry and the Wyckoff sites are kept exactly.
    """
    target = dmin * _PUSH_MARGIN
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
        vec, dist = _pair_vectors(frac, cell, shifts)
        dist[idx, idx, zero] = np.inf
        shortest = dist.min()
        if shortest >= dmin:
            return frac, True
        if shortest > best + 1e-3 * dmin:
            best, stalled = shortest, 0
        else:
            stalled += 1
            if stalled > _PUSH_PATIENCE:
                return frac, False
        overlap = np.clip(target - dist, 0.0, None)
        scale = np.divide(overlap, np.maximum(dist, 1e-6), out=np.zeros_like(dist), where=overlap > 0)
        disp = _PUSH_STEP * np.einsum('ijsk,ijs->ik', vec, scale)
        for slot, atoms_of_slot, C, pinv in movable:
            velocity[slot] = _PUSH_MOMENTUM * velocity[slot] + pinv @ np.einsum('mji,mj->i', C, disp[atoms_of_slot])
            params[slot] = params[slot] + velocity[slot]
    frac = _positions(wyckoffs, params)
    return frac, _min_pair(frac, cell, shifts, zero) >= dmin


@dataclass(frozen=True)
class _Spec:
    element: str
    radius: float
    bonding: str
    v0: float
    dmin: float
    volume_mode: str
    parity: str
    natoms: tuple[int, int]
    symmops: tuple[int, int]
    seed: int
    stream: int


def _one_cell(spec: _Spec, tables: _Tables, index: int) -> Atoms:
    rng = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(spec.stream, index)))
    counts = _atom_counts(spec.natoms, spec.parity)
    natoms = int(counts[rng.integers(len(counts))])
    spread = VOLUME_SPREADS[spec.volume_mode]
    v_atom = spec.v0 * rng.uniform(1.0 - spread, 1.0 + spread)
    orders = [k for k in POINT_GROUP_ORDERS if (k, natoms) in tables.feasible]
    volume = natoms * v_atom
    # Rejection sampling, like re-running buildcell until it succeeds: every failure redraws the operation count,
    # the group, the lattice and the positions (never the atom count or the volume).
    for _attempt in range(_ATTEMPTS):
        k = orders[rng.integers(len(orders))]
        candidates = tables.feasible[(k, natoms)]
        group = tables.groups[candidates[rng.integers(len(candidates))]]
        cell = _lattice(group, _random_lattice_parameters(group, rng), volume)
        if cell is None or _heights(cell).min() < _MIN_HEIGHT_FACTOR * volume ** (1 / 3):
            continue
        chosen = _decompose(group, natoms, rng)
        frac, ok = _place(group, chosen, cell, spec.dmin, rng)
        if ok:
            atoms = Atoms(
                [spec.element] * natoms,
                cell=cell,
                scaled_positions=frac % 1.0,
                pbc=True,
            )
            atoms.info.update(
                config_type='rss_random',
                volume_mode=spec.volume_mode,
                parity=spec.parity,
                symmops=int(k),
                spacegroup=int(group.number),
                wyckoff=' '.join(group.wyckoffs[i].label for i in sorted(chosen)),
                target_volume_per_atom=float(v_atom),
                min_separation=float(spec.dmin),
                radius=float(spec.radius),
                bonding=spec.bonding,
                seed=int(spec.seed),
                stream=int(spec.stream),
                index=int(index),
            )
            return atoms
    raise RuntimeError(
        f'could not build cell {index} ({natoms} atoms of {spec.element}, V/atom {v_atom:.2f} Å3, '
        f'd_min {spec.dmin:.2f} Å): the volume is too small for the minimum separation'
    )


# ----------------------------------------------------------------------------------------------------------------
# Batches, in parallel
# ----------------------------------------------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(spec: _Spec, tables: _Tables) -> None:
    _WORKER['spec'] = spec
    _WORKER['tables'] = tables


def _work(chunk: tuple[int, int]) -> list[Atoms]:
    return [_one_cell(_WORKER['spec'], _WORKER['tables'], i) for i in range(*chunk)]


def _progress_callback(progress, total: int):
    if callable(progress):
        return progress, None
    if progress:
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover
            return (lambda n: None), None
        bar = tqdm(total=total, unit='cell', desc='random cells')
        return bar.update, bar
    return (lambda n: None), None


#: Chunks handed to the worker pool at a time, per process: the cells in flight stay bounded whatever ``n``.
_CHUNKS_IN_FLIGHT = 16


def _iter_run(spec: _Spec, n: int, processes: int, update: Callable[[int], None]) -> Iterator[Atoms]:
    """Yield cells ``0 .. n-1`` of ``spec`` in index order as they are made (bounded memory), calling ``update``."""
    counts = _atom_counts(spec.natoms, spec.parity)
    tables = _build_tables(spec.symmops, counts)
    if processes <= 1 or n < 2 * processes:
        for i in range(n):
            cell = _one_cell(spec, tables, i)
            update(1)
            yield cell
        return
    size = max(1, min(250, n // (processes * 8)))
    chunks = ((i, min(i + size, n)) for i in range(0, n, size))
    method = 'fork' if 'fork' in multiprocessing.get_all_start_methods() else 'spawn'
    context = multiprocessing.get_context(method)
    with context.Pool(processes, initializer=_init_worker, initargs=(spec, tables)) as pool:
        while window := list(itertools.islice(chunks, processes * _CHUNKS_IN_FLIGHT)):
            for block in pool.imap(_work, window):
                update(len(block))
                yield from block


def _collect(cells: Callable[[Callable[[int], None]], Iterator[Atoms]], progress, n: int) -> list[Atoms]:
    """All cells of ``cells(update)`` as a list, with ``progress`` (see :func:`generate_random_cells`)."""
    update, bar = _progress_callback(progress, n)
    try:
        return list(cells(update))
    finally:
        if bar is not None:
            bar.close()


def _ignore(count: int) -> None:
    """A progress callback that does nothing."""


def _make_spec(element, *, seed, volume_mode, parity, natoms, symmops, radius, bonding, stream=0, v0=None) -> _Spec:
    element = validate_element(element)
    if volume_mode not in VOLUME_SPREADS:
        raise ValueError(f'volume_mode: expected one of {tuple(VOLUME_SPREADS)}, got {volume_mode!r}')
    natoms = parse_range(natoms, 'natoms', minimum=1)
    symmops = parse_range(symmops, 'symmops', minimum=1, maximum=_MAX_SYMMOPS)
    if not any(symmops[0] <= k <= symmops[1] for k in POINT_GROUP_ORDERS):  # pragma: no cover - 1..48 always
        raise ValueError(f'symmops: no point-group order in {symmops}')
    _atom_counts(natoms, parity)
    if seed is None or isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f'seed: expected a non-negative integer, got {seed!r}')
    r = characteristic_radius(element, radius, bonding)
    kind = bonding_type(element, bonding)
    v0 = volume_per_atom(element, r, kind) if v0 is None else float(v0)
    dmin = MIN_SEPARATION_FACTOR * r
    return _Spec(element, r, kind, v0, dmin, volume_mode, parity, natoms, symmops, int(seed), stream)


def _check_count(n, field='n') -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f'{field}: expected a non-negative integer, got {n!r}')
    return int(n)


def _check_processes(processes) -> int:
    if processes is None:
        return os.cpu_count() or 1
    if isinstance(processes, bool) or not isinstance(processes, int | np.integer) or processes < 1:
        raise ValueError(f'processes: expected a positive integer, got {processes!r}')
    return int(processes)


def generate_random_cells(
    n: int, element: str, *, progress: bool | Callable[[int], None] = False, **options
) -> list[Atoms]:
    """The cells of :func:`iter_random_cells` (same arguments) as a list; ``progress`` True shows a tqdm bar."""
    return _collect(lambda update: iter_random_cells(n, element, progress=update, **options), progress, _check_count(n))


def iter_random_cells(
    n: int,
    element: str,
    *,
    seed: int,
    volume_mode: str = 'narrow',
    parity: str = 'any',
    natoms=(6, 24),
    symmops=(1, 8),
    radius: float | None = None,
    bonding: str | None = None,
    processes: int = 1,
    progress: Callable[[int], None] | None = None,
    stream: int = 0,
) -> Iterator[Atoms]:
    """Make ``n`` buildcell-style random cells of ``element``, one at a time as they are made (bounded memory).

    The inputs are checked when this is called, before the first cell.

    Parameters
    ----------
    n
        Number of cells.
    element
        Chemical symbol.
    seed
        Non-negative integer; the same seed (and ``stream``) gives identical cells whatever ``processes``.
    volume_mode
        'narrow' (V0 ± 5 %, uniform) or 'wide' (V0 ± 25 %, uniform).
    parity
        'any', 'even' or 'odd' atom counts (uniform over the allowed counts of ``natoms``).
    natoms
        Inclusive atom-count range, ``(lo, hi)`` or ``'lo-hi'``.
    symmops
        Inclusive range of the number of symmetry operations (1–48), like buildcell's SYMMOPS.
    radius, bonding
        Override the element's characteristic radius (Å) and bonding type ('covalent'/'metallic').
    processes
        Worker processes (cells are made in chunks; results are in index order).
    progress
        A callable receiving the number of cells just finished, or None.
    stream
        Separate random stream for independent batches with the same seed.

    Returns
    -------
    iterator of ase.Atoms
        Periodic cells, in index order; ``atoms.info`` holds config_type='rss_random', volume_mode, parity, symmops
        (requested operation count), spacegroup (number imposed), wyckoff (occupied Wyckoff positions, ITA labels
        with conventional-cell multiplicities), target_volume_per_atom, min_separation, radius, bonding, seed, stream,
        index. The cell is the primitive cell of the imposed group; see :func:`imposed_operations`.

    Raises
    ------
    ValueError
        Bad input; the message names the field.
    """
    n = _check_count(n)
    processes = _check_processes(processes)
    spec = _make_spec(
        element,
        seed=seed,
        volume_mode=volume_mode,
        parity=parity,
        natoms=natoms,
        symmops=symmops,
        radius=radius,
        bonding=bonding,
        stream=_check_count(stream, 'stream'),
    )
    return _iter_run(spec, n, processes, progress or _ignore)


def initial_pool(
    element: str, n: int = 10000, *, progress: bool | Callable[[int], None] = False, **options
) -> list[Atoms]:
    """The cells of :func:`iter_initial_pool` (same arguments) as a list; ``progress`` True shows a tqdm bar."""
    return _collect(lambda update: iter_initial_pool(element, n, progress=update, **options), progress, _check_count(n))


def iter_initial_pool(
    element: str,
    n: int = 10000,
    *,
    seed: int,
    processes: int = 2,
    natoms=(6, 24),
    symmops=(1, 8),
    radius: float | None = None,
    bonding: str | None = None,
    even_fraction: float = 0.8,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Atoms]:
    """The paper's first-iteration pool: half narrow (80 % even, 20 % odd atom counts), half wide (even only).

    Yielded one cell at a time as made (bounded memory); every input is checked when this is called, before the first
    cell (``ValueError`` naming the field). ``progress``: a callable receiving the number of cells just finished.

    The split is exact: ``n // 2`` narrow cells of which ``round(even_fraction * n // 2)`` even, the rest odd,
    and ``n - n // 2`` wide even cells, returned in that order (narrow even, narrow odd, wide even), each
    sub-batch on its own random stream (0, 1, 2) of ``seed``.
    """
    n = _check_count(n)
    processes = _check_processes(processes)
    if not 0.0 <= float(even_fraction) <= 1.0:
        raise ValueError(f'even_fraction: must be in [0, 1], got {even_fraction!r}')
    n_narrow = n // 2
    n_even = int(round(even_fraction * n_narrow))
    common = dict(seed=seed, natoms=natoms, symmops=symmops, radius=radius, bonding=bonding)
    batches = [
        (_make_spec(element, volume_mode=mode, parity=parity, stream=stream, **common), count)
        for mode, parity, count, stream in (
            ('narrow', 'even', n_even, 0),
            ('narrow', 'odd', n_narrow - n_even, 1),
            ('wide', 'even', n - n_narrow, 2),
        )
        if count > 0
    ]
    logger.info('initial pool of %d %s cells (%d narrow even, %d narrow odd, %d wide even)', n, element,
                n_even, n_narrow - n_even, n - n_narrow)  # fmt: skip
    update = progress or _ignore
    return itertools.chain.from_iterable(_iter_run(spec, count, processes, update) for spec, count in batches)


# ----------------------------------------------------------------------------------------------------------------
# Dimers
# ----------------------------------------------------------------------------------------------------------------
#: Default dimer bond-length range in units of 2r (the element's "bond length"), as in the paper authors'
#: ``wfl.generate.atoms_and_dimers.prepare(dimer_factor_range=(0.65, 2.5))``: 1.3 r (deep in the repulsive wall)
#: to 5 r (beyond the SOAP cut-off of 4.5 r / 4.1 r, where the many-body terms have died off).
DIMER_RANGE = (0.65, 2.5)

#: The 2-body cut-off of the paper's GAP, in units of r (covalent 9.0 r, metallic 8.2 r).
_TWO_BODY_CUTOFF = {'covalent': 9.0, 'metallic': 8.2}


def generate_dimers(
    element: str,
    n: int,
    *,
    r_min: float | None = None,
    r_max: float | None = None,
    box: float | None = None,
    radius: float | None = None,
    bonding: str | None = None,
) -> list[Atoms]:
    """``n`` dimers of ``element`` in vacuum, bond lengths evenly spaced from ``r_min`` to ``r_max`` (Å).

    Defaults: ``r_min = 1.3 r`` and ``r_max = 5 r`` (0.65–2.5 × 2r, see :data:`DIMER_RANGE`). Each dimer sits,
    along x, in the centre of a periodic cubic box of edge ``box`` (default: the larger of 20 Å and
    ``r_max`` + the paper's 2-body cut-off + 1 Å, so no periodic image is within any GAP cut-off).
    ``atoms.info``: config_type='dimer', bond_length, index.
    """
    element = validate_element(element)
    n = _check_count(n)
    r = characteristic_radius(element, radius, bonding)
    kind = bonding_type(element, bonding)
    lo = DIMER_RANGE[0] * 2 * r if r_min is None else r_min
    hi = DIMER_RANGE[1] * 2 * r if r_max is None else r_max
    for field, value in (('r_min', lo), ('r_max', hi)):
        if not isinstance(value, int | float | np.floating) or not math.isfinite(value) or value <= 0:
            raise ValueError(f'{field}: must be a positive bond length in Å, got {value!r}')
    if lo > hi:
        raise ValueError(f'r_min: must not exceed r_max ({lo} > {hi})')
    if box is None:
        box = max(20.0, hi + _TWO_BODY_CUTOFF[kind] * r + 1.0)
    if not isinstance(box, int | float | np.floating) or not math.isfinite(box) or box <= 2 * hi:
        raise ValueError(f'box: must be a length in Å larger than 2 * r_max = {2 * hi:.3f}, got {box!r}')
    lengths = np.linspace(lo, hi, n) if n > 1 else np.array([lo] * n)
    dimers = []
    centre = np.full(3, box / 2.0)
    for i, d in enumerate(lengths):
        positions = [centre - [d / 2.0, 0.0, 0.0], centre + [d / 2.0, 0.0, 0.0]]
        atoms = Atoms([element, element], positions=positions, cell=[box, box, box], pbc=True)
        atoms.info.update(config_type='dimer', bond_length=float(d), index=i)
        dimers.append(atoms)
    return dimers
