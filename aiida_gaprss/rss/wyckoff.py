"""Space-group tables for symmetric random cells: Wyckoff positions in the primitive cell, lattices, decompositions.

Shared by the elemental generator (:mod:`aiida_gaprss.rss.generation`) and the multi-species one
(:mod:`aiida_gaprss.rss.compound_generation`). The symmetry *data* come from pyxtal's Wyckoff-position tables (read
once per space group and cached; pyxtal's generator is never called), the point-group orders from spglib's database.
Everything here is deterministic; randomness enters only through the ``numpy`` generator passed in.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

__all__ = (
    'CENTRING_TRANSFORMS',
    'LENGTH_RANGE',
    'POINT_GROUP_ORDERS',
    'GroupTables',
    'SpaceGroupTable',
    'WyckoffPosition',
    'build_tables',
    'can_hold',
    'can_hold_counts',
    'cell_heights',
    'decompose',
    'decompose_stoichiometry',
    'imposed_operations',
    'point_group_orders',
    'primitive_lattice',
    'random_lattice_parameters',
    'space_group',
    'species_reach',
)

#: Orders of the crystallographic point groups: the possible numbers of symmetry operations of a primitive cell.
POINT_GROUP_ORDERS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 48)

#: Range of the random conventional lattice lengths before scaling to the target volume.
LENGTH_RANGE = (0.5, 1.5)

# Columns: primitive basis vectors in fractional coordinates of the conventional cell (spglib/ITA choices).
CENTRING_TRANSFORMS = {
    'P': np.eye(3),
    'C': np.array([[0.5, -0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]),
    'A': np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, -0.5, 0.5]]),
    'I': np.array([[-0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.5, 0.5, -0.5]]),
    'F': np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]),
    'R': np.array([[2 / 3, -1 / 3, -1 / 3], [1 / 3, 1 / 3, -2 / 3], [1 / 3, 1 / 3, 1 / 3]]),
}


@dataclass(frozen=True)
class WyckoffPosition:
    """One Wyckoff position of a space group, written in the primitive cell."""

    label: str  # e.g. '4e' (conventional multiplicity + letter)
    multiplicity: int  # atoms in the primitive cell
    dof: int  # free parameters
    A: np.ndarray  # (m, 3, 3): primitive fractional position_j = A_j @ u + b_j, u in conventional fractions
    b: np.ndarray  # (m, 3)
    pinv: np.ndarray  # (3, 3): pseudo-inverse of sum_j A_j^T A_j (least-squares projection onto u)


@dataclass(frozen=True)
class SpaceGroupTable:
    """A space group in its primitive cell: Wyckoff positions (general first) and operations."""

    number: int
    symbol: str
    order: int  # operations modulo the primitive lattice
    centring: str
    lattice_type: str
    transform: np.ndarray  # columns: primitive vectors in conventional fractions
    wyckoffs: tuple[WyckoffPosition, ...]  # general position first
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
def space_group(number: int) -> SpaceGroupTable:
    """Symmetry table of space group ``number`` (standard setting) in its primitive cell."""
    from pyxtal.symmetry import Group  # heavy import, only when a table is first built

    group = Group(number)
    centring = group.symbol[0]
    P = CENTRING_TRANSFORMS[centring]
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
        wyckoffs.append(WyckoffPosition(label, len(keep), dof, A, b, pinv))
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
    return SpaceGroupTable(
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
def point_group_orders() -> dict[int, int]:
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
    group = space_group(int(spacegroup))
    return group.rotations.copy(), group.translations.copy()


@dataclass
class GroupTables:
    """The space groups of an operation-count range and which of them can hold which atom counts."""

    groups: dict[int, SpaceGroupTable]
    feasible: dict[tuple[int, int], tuple[int, ...]]  # (order, natoms) -> space-group numbers


def can_hold(group: SpaceGroupTable, natoms: int) -> bool:
    """Whether ``natoms`` atoms fit ``group``'s primitive cell as general positions plus special ones."""
    k = group.order
    specials = list(range(1, len(group.wyckoffs)))
    reach = group.special_reach(specials, natoms)
    return any((reach >> (natoms - g * k)) & 1 for g in range(natoms // k + 1))


def build_tables(symmops: tuple[int, int], counts: Sequence[int]) -> GroupTables:
    """Space groups with ``symmops[0]``–``symmops[1]`` operations, and those that can hold each of ``counts``."""
    orders = point_group_orders()
    numbers = [n for n, k in orders.items() if symmops[0] <= k <= symmops[1]]
    groups = {n: space_group(n) for n in numbers}
    feasible: dict[tuple[int, int], tuple[int, ...]] = {}
    for natoms in counts:
        for n, g in groups.items():
            if can_hold(g, natoms):
                feasible.setdefault((g.order, natoms), ())
                feasible[(g.order, natoms)] += (n,)
    return GroupTables(groups, feasible)


def cell_heights(cell: np.ndarray) -> np.ndarray:
    """Distances between opposite faces of the cell (rows are the lattice vectors)."""
    volume = abs(np.linalg.det(cell))
    areas = np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    return volume / areas


def random_lattice_parameters(group: SpaceGroupTable, rng: np.random.Generator) -> np.ndarray:
    """Random conventional lattice parameters (a, b, c, alpha, beta, gamma) of the group's crystal system."""
    a, b, c = rng.uniform(*LENGTH_RANGE, size=3)
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


def primitive_lattice(group: SpaceGroupTable, parameters: np.ndarray, volume: float) -> np.ndarray | None:
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
def decompose(group: SpaceGroupTable, natoms: int, rng: np.random.Generator) -> list[int] | None:
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


# ----------------------------------------------------------------------------------------------------------------
# Several species: the stoichiometry respected orbit by orbit
# ----------------------------------------------------------------------------------------------------------------
def species_reach(group: SpaceGroupTable, counts: Sequence[int], available: Sequence[int]) -> np.ndarray:
    """Which per-species atom counts the Wyckoff positions ``available`` (indices) can hold.

    Returns a boolean array of shape ``[c + 1 for c in counts]``: entry ``n`` is True if some assignment of orbits to
    species gives exactly ``n[s]`` atoms of species ``s``. An orbit holds one species; positions with free parameters
    can be used any number of times (by any species), positions without at most once in total. For one species this
    is :meth:`SpaceGroupTable.special_reach` as an array.
    """
    shape = tuple(int(c) + 1 for c in counts)
    reach = np.zeros(shape, dtype=bool)
    reach[(0,) * len(shape)] = True
    for index in available:
        wyckoff = group.wyckoffs[index]
        m = wyckoff.multiplicity
        if wyckoff.dof == 0:
            new = reach.copy()
            for axis, size in enumerate(shape):
                if m < size:
                    new[_along(axis, slice(m, None))] |= reach[_along(axis, slice(0, size - m))]
            reach = new
        else:
            for axis, size in enumerate(shape):
                for j in range(m, size):  # increasing j: repeated use of the position
                    reach[_along(axis, j)] |= reach[_along(axis, j - m)]
    return reach


def _along(axis: int, index) -> tuple:
    return (slice(None),) * axis + (index,)


def can_hold_counts(group: SpaceGroupTable, counts: Sequence[int]) -> bool:
    """Whether ``group``'s primitive cell can hold exactly ``counts[s]`` atoms of each species ``s``."""
    return bool(species_reach(group, counts, range(len(group.wyckoffs)))[tuple(counts)])


def decompose_stoichiometry(
    group: SpaceGroupTable, counts: Sequence[int], rng: np.random.Generator
) -> tuple[list[int], list[int]] | None:
    """Wyckoff orbits and their species holding exactly ``counts[s]`` atoms of each species ``s``.

    As in the elemental :func:`decompose`: as many general positions as possible (counted over all species; among
    equal totals the first in the order of decreasing per-species counts), the rest special positions chosen one at a
    time uniformly among the (position, species) pairs after which the remainder can still be completed.

    Returns
    -------
    (indices, species) or None
        Wyckoff indices into ``group.wyckoffs`` and the species index of each orbit; None if impossible.
    """
    k = group.order
    counts = [int(c) for c in counts]
    specials = list(range(1, len(group.wyckoffs)))
    full = species_reach(group, counts, specials)
    candidates = sorted(itertools.product(*(range(c // k, -1, -1) for c in counts)), key=lambda g: -sum(g))
    general = next((g for g in candidates if full[tuple(c - n * k for c, n in zip(counts, g, strict=True))]), None)
    if general is None:
        return None
    indices = [0] * sum(general)
    species = [s for s, n in enumerate(general) for _ in range(n)]
    rest = [c - n * k for c, n in zip(counts, general, strict=True)]
    available = list(specials)
    while any(rest):
        reach_all = species_reach(group, rest, available)
        options = []
        for index in available:
            wyckoff = group.wyckoffs[index]
            m = wyckoff.multiplicity
            if m > max(rest):
                continue
            if wyckoff.dof == 0:
                reach = species_reach(group, rest, [i for i in available if i != index])
            else:
                reach = reach_all
            for s in range(len(rest)):
                if m <= rest[s]:
                    after = list(rest)
                    after[s] -= m
                    if reach[tuple(after)]:
                        options.append((index, s))
        if not options:  # pragma: no cover - the reach tables guarantee an option
            return None
        index, s = options[rng.integers(len(options))]
        indices.append(index)
        species.append(s)
        rest[s] -= group.wyckoffs[index].multiplicity
        if group.wyckoffs[index].dof == 0:
            available.remove(index)
    return indices, species
