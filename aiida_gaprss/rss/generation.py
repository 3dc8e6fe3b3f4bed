"""Random starting cells in the style of AIRSS ``buildcell``, and dimers in vacuum, for GAP-RSS.

The paper (Bernstein, Csányi & Deringer 2019, Methods) makes its random cells with ``buildcell`` (AIRSS 0.9):
6–24 atoms, positions repeated by 1–8 symmetry operations, a minimum separation of 1.8 r and a volume per atom
centred on V0 = 14.5 r³ (covalent) or 5.5 r³ (metallic). This module reproduces that recipe in pure Python.

The generator is our own (buildcell is a Fortran program outside PyPI; pyxtal's generator was too slow and
heavy-tailed for a 10,000-cell pool: docs/science.md); the symmetry *data* come from pyxtal's Wyckoff-position tables
(read once per space group and cached), and spglib checks the result in the tests.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from ..common import checks
from .batches import check_count, check_processes, collect, iter_batch
from .dimers import DIMER_RANGE, generate_dimers
from .elements import (
    MIN_SEPARATION_FACTOR,
    bonding_type,
    characteristic_radius,
    validate_element,
    volume_per_atom,
)
from .placement import minimum_distance, place_orbits
from .wyckoff import (
    POINT_GROUP_ORDERS,
    GroupTables,
    build_tables,
    cell_heights,
    decompose,
    imposed_operations,
    primitive_lattice,
    random_lattice_parameters,
)

logger = logging.getLogger(__name__)

__all__ = (
    'DIMER_RANGE',
    'MAX_SYMMOPS',
    'PARITIES',
    'POINT_GROUP_ORDERS',
    'VOLUME_SPREADS',
    'atom_counts',
    'generate_dimers',
    'generate_random_cells',
    'imposed_operations',
    'initial_pool',
    'iter_initial_pool',
    'iter_random_cells',
    'minimum_distance',
    'parse_range',
)

#: Half-width of the uniform volume-per-atom distribution, as a fraction of V0.
VOLUME_SPREADS = {'narrow': 0.05, 'wide': 0.25}

PARITIES = ('any', 'even', 'odd')

#: Largest number of symmetry operations of a primitive cell (m-3m).
MAX_SYMMOPS = 48
#: Tries (operation count, group, lattice, positions) per cell before giving up.
ATTEMPTS = 2000
#: Cells flatter than this (smallest height / V^(1/3)) are rejected.
MIN_HEIGHT_FACTOR = 0.35


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


def atom_counts(natoms: tuple[int, int], parity: str) -> list[int]:
    """The atom counts of ``natoms`` (inclusive range) with ``parity``; ValueError naming 'parity' or 'natoms'."""
    if parity not in PARITIES:
        raise ValueError(f'parity: expected one of {PARITIES}, got {parity!r}')
    counts = [n for n in range(natoms[0], natoms[1] + 1) if parity == 'any' or (n % 2 == 0) == (parity == 'even')]
    if not counts:
        raise ValueError(f'natoms: no {parity} atom count in {natoms[0]}-{natoms[1]}')
    return counts


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


def _one_cell(spec: _Spec, tables: GroupTables, index: int) -> Atoms:
    rng = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(spec.stream, index)))
    counts = atom_counts(spec.natoms, spec.parity)
    natoms = int(counts[rng.integers(len(counts))])
    spread = VOLUME_SPREADS[spec.volume_mode]
    v_atom = spec.v0 * rng.uniform(1.0 - spread, 1.0 + spread)
    orders = [k for k in POINT_GROUP_ORDERS if (k, natoms) in tables.feasible]
    volume = natoms * v_atom
    # Rejection sampling, like re-running buildcell until it succeeds: every failure redraws the operation count,
    # the group, the lattice and the positions (never the atom count or the volume).
    for _attempt in range(ATTEMPTS):
        k = orders[rng.integers(len(orders))]
        candidates = tables.feasible[(k, natoms)]
        group = tables.groups[candidates[rng.integers(len(candidates))]]
        cell = primitive_lattice(group, random_lattice_parameters(group, rng), volume)
        if cell is None or cell_heights(cell).min() < MIN_HEIGHT_FACTOR * volume ** (1 / 3):
            continue
        chosen = decompose(group, natoms, rng)
        frac, ok = place_orbits(group, chosen, cell, spec.dmin, rng)
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


def _iter_run(spec: _Spec, n: int, processes: int, update: Callable[[int], None] | None) -> Iterator[Atoms]:
    """Yield cells ``0 .. n-1`` of ``spec`` in index order as they are made (bounded memory)."""
    tables = build_tables(spec.symmops, atom_counts(spec.natoms, spec.parity))
    return iter_batch(_one_cell, spec, tables, n, processes, update)


def _make_spec(element, *, seed, volume_mode, parity, natoms, symmops, radius, bonding, stream=0, v0=None) -> _Spec:
    element = validate_element(element)
    if volume_mode not in VOLUME_SPREADS:
        raise ValueError(f'volume_mode: expected one of {tuple(VOLUME_SPREADS)}, got {volume_mode!r}')
    natoms = parse_range(natoms, 'natoms', minimum=1)
    symmops = parse_range(symmops, 'symmops', minimum=1, maximum=MAX_SYMMOPS)
    if not any(symmops[0] <= k <= symmops[1] for k in POINT_GROUP_ORDERS):  # pragma: no cover - 1..48 always
        raise ValueError(f'symmops: no point-group order in {symmops}')
    atom_counts(natoms, parity)
    checks.non_negative_integer(seed, 'seed')
    r = characteristic_radius(element, radius, bonding)
    kind = bonding_type(element, bonding)
    v0 = volume_per_atom(element, r, kind) if v0 is None else float(v0)
    dmin = MIN_SEPARATION_FACTOR * r
    return _Spec(element, r, kind, v0, dmin, volume_mode, parity, natoms, symmops, int(seed), stream)


def generate_random_cells(
    n: int, element: str, *, progress: bool | Callable[[int], None] = False, **options
) -> list[Atoms]:
    """The cells of :func:`iter_random_cells` (same arguments) as a list; ``progress`` True shows a tqdm bar."""
    return collect(lambda update: iter_random_cells(n, element, progress=update, **options), progress, check_count(n))


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
    n = check_count(n)
    processes = check_processes(processes)
    spec = _make_spec(
        element,
        seed=seed,
        volume_mode=volume_mode,
        parity=parity,
        natoms=natoms,
        symmops=symmops,
        radius=radius,
        bonding=bonding,
        stream=check_count(stream, 'stream'),
    )
    return _iter_run(spec, n, processes, progress)


def initial_pool(
    element: str, n: int = 10000, *, progress: bool | Callable[[int], None] = False, **options
) -> list[Atoms]:
    """The cells of :func:`iter_initial_pool` (same arguments) as a list; ``progress`` True shows a tqdm bar."""
    return collect(lambda update: iter_initial_pool(element, n, progress=update, **options), progress, check_count(n))


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
    n = check_count(n)
    processes = check_processes(processes)
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
    return itertools.chain.from_iterable(_iter_run(spec, count, processes, progress) for spec, count in batches)
