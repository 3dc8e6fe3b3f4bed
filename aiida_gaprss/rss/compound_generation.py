"""Buildcell-style random cells of a chemical system (several species) for multi-component GAP-RSS.

The elemental recipe (:mod:`aiida_gaprss.rss.generation`) with the species' own scales
(:mod:`aiida_gaprss.rss.species`) and compositions (:mod:`aiida_gaprss.rss.composition`). Per cell, all random
numbers from one per-cell ``numpy`` generator (``SeedSequence(seed, spawn_key=(stream, index))``, so the same seed
gives the same cells whatever the number of processes):

1. Atom count ``N``: uniform over the counts of ``natoms`` with the requested parity for which the composition
   admits at least one vector of per-species counts; then one such vector uniformly (a fixed stoichiometry: whole
   formula units; several stoichiometries: one of those ``N`` can hold; a range: every integer composition inside
   the fraction ranges).
2. Volume per atom: uniform in V0·[0.95, 1.05] ('narrow') or V0·[0.75, 1.25] ('wide') with the composition's V0
   (``(Σ x_s f_s)(Σ x_s r_s)³``, :meth:`~aiida_gaprss.rss.species.SpeciesScales.volume_per_atom`).
3. Operation count ``k`` uniform over the point-group orders inside ``symmops`` for which some space group can hold
   the counts *species by species* (each Wyckoff orbit holds one species, fixed sites at most once:
   :func:`~aiida_gaprss.rss.wyckoff.can_hold_counts`), then a group uniformly among those.
4. Wyckoff assignment respecting the stoichiometry (:func:`~aiida_gaprss.rss.wyckoff.decompose_stoichiometry`),
   lattice as for one element, orbits placed with per-pair minimum separations ``d_min(A, B)``
   (:func:`~aiida_gaprss.rss.placement.place_orbits`); any failure redraws from step 3.

``atoms.info``: config_type='rss_random', composition (reduced formula), volume_mode, parity, symmops, spacegroup,
wyckoff (e.g. 'Si:4a C:4c'), target_volume_per_atom, min_separations ({'Si-C': …}, present pairs), seed, stream,
index. Atoms are ordered by species (the order of the composition's elements).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from .batches import check_count, check_processes, progress_callback, run_batch
from .composition import CompositionSpace, parse_composition
from .generation import (
    ATTEMPTS,
    MAX_SYMMOPS,
    MIN_HEIGHT_FACTOR,
    VOLUME_SPREADS,
    atom_counts,
    parse_range,
)
from .placement import PairSeparations, place_orbits
from .species import SpeciesScales, pair_key, species_scales
from .wyckoff import (
    POINT_GROUP_ORDERS,
    can_hold_counts,
    cell_heights,
    decompose_stoichiometry,
    point_group_orders,
    primitive_lattice,
    random_lattice_parameters,
    space_group,
)

logger = logging.getLogger(__name__)

__all__ = ('check_compound_settings', 'compound_initial_pool', 'generate_compound_cells')


@dataclass(frozen=True)
class _CompoundSpec:
    composition: CompositionSpace
    scales: SpeciesScales
    totals: tuple[int, ...]  # atom counts N with at least one admissible composition
    volume_mode: str
    parity: str
    symmops: tuple[int, int]
    seed: int
    stream: int


@dataclass
class _CompoundTables:
    """Space groups of the operation range; which of them hold which count vectors, filled in as cells need it."""

    groups: dict[int, object]
    feasible: dict[tuple[int, ...], dict[int, tuple[int, ...]]] = field(default_factory=dict)

    def holding(self, counts: tuple[int, ...]) -> dict[int, tuple[int, ...]]:
        """Operation count -> numbers of the groups that can hold ``counts`` (present species only)."""
        if counts not in self.feasible:
            by_order: dict[int, tuple[int, ...]] = {}
            for number, group in self.groups.items():
                if can_hold_counts(group, counts):
                    by_order[group.order] = by_order.get(group.order, ()) + (number,)
            self.feasible[counts] = by_order
        return self.feasible[counts]


def _build_compound_tables(symmops: tuple[int, int]) -> _CompoundTables:
    numbers = [n for n, k in point_group_orders().items() if symmops[0] <= k <= symmops[1]]
    return _CompoundTables({n: space_group(n) for n in numbers})


def _one_compound_cell(spec: _CompoundSpec, tables: _CompoundTables, index: int) -> Atoms:
    rng = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(spec.stream, index)))
    natoms = int(spec.totals[rng.integers(len(spec.totals))])
    vectors = spec.composition.count_vectors(natoms)
    counts = vectors[rng.integers(len(vectors))]
    present = [s for s, n in enumerate(counts) if n > 0]
    present_counts = tuple(counts[s] for s in present)
    spread = VOLUME_SPREADS[spec.volume_mode]
    v_atom = spec.scales.volume_per_atom(counts) * rng.uniform(1.0 - spread, 1.0 + spread)
    volume = natoms * v_atom
    table = spec.scales.min_separations[np.ix_(present, present)]
    holding = tables.holding(present_counts)
    orders = [k for k in POINT_GROUP_ORDERS if k in holding]
    for _attempt in range(ATTEMPTS):
        k = orders[rng.integers(len(orders))]
        candidates = holding[k]
        group = tables.groups[candidates[rng.integers(len(candidates))]]
        cell = primitive_lattice(group, random_lattice_parameters(group, rng), volume)
        if cell is None or cell_heights(cell).min() < MIN_HEIGHT_FACTOR * volume ** (1 / 3):
            continue
        indices, orbit_species = decompose_stoichiometry(group, present_counts, rng)
        pairs = PairSeparations(table, tuple(orbit_species))
        frac, ok = place_orbits(group, indices, cell, float(table.min()), rng, pairs)
        if ok:
            return _as_atoms(spec, present, counts, group, k, indices, orbit_species, cell, frac, v_atom, index)
    raise RuntimeError(
        f'could not build cell {index} ({spec.composition.label(counts)}, {natoms} atoms, V/atom {v_atom:.2f} Å3): '
        'the volume is too small for the minimum separations'
    )


def _as_atoms(spec, present, counts, group, k, indices, orbit_species, cell, frac, v_atom, index) -> Atoms:
    elements = spec.scales.elements
    species = np.concatenate(
        [np.full(group.wyckoffs[i].multiplicity, present[s]) for i, s in zip(indices, orbit_species, strict=True)]
    )
    order = np.argsort(species, kind='stable')
    atoms = Atoms([elements[s] for s in species[order]], cell=cell, scaled_positions=frac[order] % 1.0, pbc=True)
    wyckoff = sorted(
        zip((present[s] for s in orbit_species), indices, strict=True),
    )
    atoms.info.update(
        config_type='rss_random',
        composition=spec.composition.label(counts),
        volume_mode=spec.volume_mode,
        parity=spec.parity,
        symmops=int(k),
        spacegroup=int(group.number),
        wyckoff=' '.join(f'{elements[s]}:{group.wyckoffs[i].label}' for s, i in wyckoff),
        target_volume_per_atom=float(v_atom),
        min_separations={
            pair_key(elements[a], elements[b]): float(spec.scales.min_separations[a, b])
            for n, a in enumerate(present)
            for b in present[n:]
        },
        seed=int(spec.seed),
        stream=int(spec.stream),
        index=int(index),
    )
    return atoms


def _make_compound_spec(
    composition,
    *,
    seed,
    volume_mode,
    parity,
    natoms,
    symmops,
    radii,
    bonding,
    min_separations,
    stream,
) -> _CompoundSpec:
    space = parse_composition(composition)
    if volume_mode not in VOLUME_SPREADS:
        raise ValueError(f'volume_mode: expected one of {tuple(VOLUME_SPREADS)}, got {volume_mode!r}')
    natoms = parse_range(natoms, 'natoms', minimum=1)
    symmops = parse_range(symmops, 'symmops', minimum=1, maximum=MAX_SYMMOPS)
    counts = atom_counts(natoms, parity)
    if seed is None or isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f'seed: expected a non-negative integer, got {seed!r}')
    for units in space.stoichiometries:  # every fixed stoichiometry must fit some cell size
        size = sum(units)
        if not any(n % size == 0 for n in range(natoms[0], natoms[1] + 1)):
            raise ValueError(
                f'natoms: the stoichiometry {space.label(units)} needs a multiple of {size} atoms, '
                f'none in {natoms[0]}-{natoms[1]} (composition {composition!r})'
            )
    totals = tuple(n for n in counts if space.count_vectors(n))
    if not totals:
        raise ValueError(
            f'natoms: no {parity} atom count in {natoms[0]}-{natoms[1]} holds the composition {composition!r}'
        )
    scales = species_scales(space.elements, radii=radii, bonding=bonding, min_separations=min_separations)
    smallest = 1.0 - VOLUME_SPREADS[volume_mode]
    for n in totals:
        for vector in space.count_vectors(n):
            scales.check_packing(vector, scales.volume_per_atom(vector) * smallest)
    return _CompoundSpec(space, scales, totals, volume_mode, parity, symmops, int(seed), int(stream))


def check_compound_settings(
    composition,
    *,
    volume_mode: str = 'narrow',
    parity: str = 'any',
    natoms=(6, 24),
    symmops=(1, 8),
    radii: Mapping[str, float] | None = None,
    bonding: Mapping[str, str] | None = None,
    min_separations: Mapping | None = None,
) -> SpeciesScales:
    """Check the settings of :func:`generate_compound_cells` without making a cell; return the species' scales.

    Raises
    ------
    ValueError
        As :func:`generate_compound_cells` would (the message starts with the field: 'composition', 'natoms',
        'radii', 'min_separations', ...).
    """
    spec = _make_compound_spec(
        composition,
        seed=0,
        volume_mode=volume_mode,
        parity=parity,
        natoms=natoms,
        symmops=symmops,
        radii=radii,
        bonding=bonding,
        min_separations=min_separations,
        stream=0,
    )
    return spec.scales


def generate_compound_cells(
    n: int,
    composition,
    *,
    seed: int,
    volume_mode: str = 'narrow',
    parity: str = 'any',
    natoms=(6, 24),
    symmops=(1, 8),
    radii: Mapping[str, float] | None = None,
    bonding: Mapping[str, str] | None = None,
    min_separations: Mapping | None = None,
    processes: int = 1,
    progress: bool | Callable[[int], None] = False,
    stream: int = 0,
) -> list[Atoms]:
    """Make ``n`` buildcell-style random cells of a chemical system.

    Parameters
    ----------
    n
        Number of cells.
    composition
        Fixed stoichiometry ('SiC', 'SiO2', {'Si': 1, 'C': 1}), a list of them, a chemical system ('Si-C') or
        fraction ranges ({'Si': (0.25, 0.75), 'C': (0.25, 0.75)}); see :mod:`aiida_gaprss.rss.composition`.
    seed, volume_mode, parity, natoms, symmops, processes, progress, stream
        As for :func:`aiida_gaprss.rss.generation.generate_random_cells`.
    radii, bonding
        Per-element overrides of the characteristic radius (Å) and bonding type.
    min_separations
        Per-pair overrides (Å), e.g. {'Si-C': 1.6}; default ``1.8 (r_A + r_B) / 2``.

    Returns
    -------
    list of ase.Atoms
        Periodic cells with exactly the drawn per-species counts (see the module docstring for ``info``).

    Raises
    ------
    ValueError
        Bad input, the message naming the field: 'composition' (unknown element, unreadable formula), 'natoms' (a
        stoichiometry no allowed cell size can hold), 'radii'/'min_separations' (separations that cannot fit the
        volume), and the fields of the elemental generator.
    """
    n = check_count(n)
    processes = check_processes(processes)
    spec = _make_compound_spec(
        composition,
        seed=seed,
        volume_mode=volume_mode,
        parity=parity,
        natoms=natoms,
        symmops=symmops,
        radii=radii,
        bonding=bonding,
        min_separations=min_separations,
        stream=check_count(stream, 'stream'),
    )
    tables = _build_compound_tables(spec.symmops)
    return run_batch(_one_compound_cell, spec, tables, n, processes, progress)


def compound_initial_pool(
    composition,
    n: int = 10000,
    *,
    seed: int,
    processes: int = 2,
    natoms=(6, 24),
    symmops=(1, 8),
    radii: Mapping[str, float] | None = None,
    bonding: Mapping[str, str] | None = None,
    min_separations: Mapping | None = None,
    even_fraction: float = 0.8,
    progress: bool | Callable[[int], None] = False,
) -> list[Atoms]:
    """The paper's first-iteration split for a chemical system: half narrow (80 % even, 20 % odd), half wide (even).

    As :func:`aiida_gaprss.rss.generation.initial_pool` (streams 0, 1, 2 of ``seed``). A sub-batch whose parity no
    admissible cell size has (e.g. odd counts of 'SiC') is given to its even sibling instead.
    """
    n = check_count(n)
    processes = check_processes(processes)
    if not 0.0 <= float(even_fraction) <= 1.0:
        raise ValueError(f'even_fraction: must be in [0, 1], got {even_fraction!r}')
    n_narrow = n // 2
    n_even = int(round(even_fraction * n_narrow))
    common = dict(natoms=natoms, symmops=symmops, radii=radii, bonding=bonding, min_separations=min_separations)
    try:
        _make_compound_spec(composition, seed=seed, volume_mode='narrow', parity='odd', stream=1, **common)
        n_odd = n_narrow - n_even
    except ValueError as exception:
        if not str(exception).startswith('natoms'):
            raise
        n_even, n_odd = n_narrow, 0
    batches = [('narrow', 'even', n_even, 0), ('narrow', 'odd', n_odd, 1), ('wide', 'even', n - n_narrow, 2)]
    update, bar = progress_callback(progress, n)
    cells: list[Atoms] = []
    try:
        for mode, parity, count, stream in batches:
            if count == 0:
                continue
            spec = _make_compound_spec(composition, seed=seed, volume_mode=mode, parity=parity, stream=stream, **common)
            tables = _build_compound_tables(spec.symmops)
            cells.extend(run_batch(_one_compound_cell, spec, tables, count, processes, update))
    finally:
        if bar is not None:
            bar.close()
    logger.info('initial pool of %d cells of %r (%d narrow even, %d narrow odd, %d wide even)', len(cells), composition,
                n_even, n_odd, n - n_narrow)  # fmt: skip
    return cells
