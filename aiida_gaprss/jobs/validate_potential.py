"""Job ``validate_potential``: known phases and E–V curves with one calculator, or the KPCA structure map.

Run as ``python -m aiida_gaprss.jobs.validate_potential job.json`` by
:class:`aiida_gaprss.calculations.validate_potential.ValidatePotential` (``mode = 'validate'``) and
:class:`aiida_gaprss.calculations.validate_potential.StructureMap` (``mode = 'structure_map'``). No AiiDA import.

``validate``
    Every known phase (:mod:`aiida_gaprss.rss.phases`, or the ``info['phase']``-tagged structures of the input file)
    is relaxed with the calculator (variable cell, 0 GPa, :func:`aiida_gaprss.rss.validation.relax_phase`), then,
    unless ``eos`` is ``None`` (or the phase is not in ``eos.phases``, when given), scaled over ``eos.volume_factors``
    around its *own* minimum and relaxed at fixed volume (:func:`aiida_gaprss.rss.eos.energy_volume_scan`) and
    fitted with Birch–Murnaghan. The calculator is a
    spec of :func:`aiida_gaprss.rss.potentials.calculator_from_spec`: the GAP under validation or an ASE reference.
    A phase whose relaxation raises is recorded under ``failures`` and left out; the job fails only if all fail.
    Writes ``phases.xyz`` (the relaxed phases) and ``results.json``::

        {'phases': {name: {'energy', 'energy_per_atom', 'volume_per_atom', 'natoms', 'converged', 'status',
                           'n_steps', 'spacegroup', 'spacegroup_relaxed'}},
         'energy_volume': {name: {'volumes', 'energies', 'fit', 'fit_error', 'converged'}},
         'failures': [{'phase', 'error'}], 'calculator': spec, 'element': ..., 'seconds': {name: s}}

``structure_map``
    GAP-RSS Fig. 5: :func:`aiida_gaprss.rss.structure_map.kpca_map` of the input structures plus the known phases of
    ``element`` or, for a chemical system, of ``elements`` (its elements' ground states and compounds:
    :func:`map_phases`): averaged SOAP n = l = 16, σ 0.1 r0, r_cut 2.5 r0, every cell rescaled to shortest bond
    r0 = 1 Å, coloured by mean coordination up to 1.2 r0; ``composition`` gives each structure's atomic fraction per
    species, to colour a chemical system's map by composition. Dimers (``config_type = 'dimer'``) and non-periodic
    structures are left out. Writes ``results.json`` with ``coordinates`` (N×2), ``coordination``,
    ``iteration``/``config_type`` of every input structure and ``phases`` (name -> index of the phase among the rows,
    which follow the input structures).

Units: eV, Å, GPa; energies per atom in eV/atom, volumes in Å³/atom.
"""

from __future__ import annotations

import logging
import multiprocessing
import pathlib
import time

import numpy as np

from aiida_gaprss.data.extxyz import read_frames, write_frames
from aiida_gaprss.jobs.runner import main, write_json

__all__ = ('DEFAULT_VOLUME_FACTORS', 'map_phases', 'run', 'structure_map', 'validate_phase')

LOGGER = logging.getLogger(__name__)

#: Volume factors of the E–V scan around each phase's minimum (±10 %, 7 points).
DEFAULT_VOLUME_FACTORS = (0.90, 0.933, 0.967, 1.0, 1.033, 1.067, 1.10)

_WORKER: dict = {}


def _spacegroup(atoms, symprec: float = 0.05) -> int | None:
    import spglib

    cell = (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers)
    try:
        dataset = spglib.get_symmetry_dataset(cell, symprec=symprec)
    except Exception:  # noqa: BLE001 - symmetry is informative only
        return None
    return None if dataset is None else int(dataset.number)


def validate_phase(name: str, atoms, calculator, relax: dict, eos: dict | None) -> dict:
    """Relax one phase with ``calculator`` and scan E(V) around its minimum.

    Returns
    -------
    dict
        ``phase`` (the relaxed frame), ``result`` (numbers of the relaxed phase), ``energy_volume`` (or None),
        ``seconds``.
    """
    from aiida_gaprss.rss.eos import energy_volume_scan, scan_curve
    from aiida_gaprss.rss.validation import relax_phase

    start = time.perf_counter()
    relaxed = relax_phase(
        atoms,
        calculator,
        fmax=float(relax.get('fmax', 0.01)),
        steps=int(relax.get('steps', 300)),
        smax=float(relax.get('smax', 0.01)),
    )
    relaxed.info['phase'] = name
    result = {
        'energy': float(relaxed.info['energy']),
        'energy_per_atom': float(relaxed.info['energy_per_atom']),
        'volume_per_atom': float(relaxed.info['volume_per_atom']),
        'natoms': len(relaxed),
        'converged': bool(relaxed.info.get('converged', False)),
        'status': str(relaxed.info.get('status', '')),
        'n_steps': int(relaxed.info.get('n_steps', 0)),
        'spacegroup': atoms.info.get('spacegroup'),
        'spacegroup_relaxed': _spacegroup(relaxed),
    }
    curve = None
    if eos is not None:
        frames = energy_volume_scan(
            relaxed,
            calculator,
            volume_factors=list(eos.get('volume_factors', DEFAULT_VOLUME_FACTORS)),
            relax=eos.get('relax', 'auto'),
            fmax=float(eos.get('fmax', 0.01)),
            steps=int(eos.get('steps', 200)),
        )
        curve = scan_curve(frames, name)
    return {'phase': relaxed, 'result': result, 'energy_volume': curve, 'seconds': time.perf_counter() - start}


def _worker_init(spec: dict) -> None:
    from threadpoolctl import threadpool_limits

    from aiida_gaprss.rss.potentials import calculator_from_spec

    _WORKER['limits'] = threadpool_limits(limits=1)
    _WORKER['calculator'] = calculator_from_spec(spec)


def _worker_run(task):
    name, atoms, relax, eos = task
    try:
        return name, validate_phase(name, atoms, _WORKER['calculator'], relax, eos), None
    except Exception as exception:  # noqa: BLE001 - one phase failing must not lose the others
        LOGGER.warning('phase %s failed: %s: %s', name, type(exception).__name__, exception)
        return name, None, f'{type(exception).__name__}: {exception}'


def _starting_structures(parameters: dict, workdir: pathlib.Path) -> dict:
    from aiida_gaprss.rss.phases import build_phase

    element = parameters['element']
    names = list(parameters['phases'])
    if parameters.get('structures'):
        with open(workdir / parameters['structures'], encoding='utf-8') as handle:
            given = {atoms.info['phase']: atoms for atoms in read_frames(handle)}
        missing = [name for name in names if name not in given]
        if missing:
            raise ValueError(f'structures: no structure with info phase={missing[0]!r}')
        return {name: given[name] for name in names}
    return {name: build_phase(element, name) for name in names}


def _validate(parameters: dict, workdir: pathlib.Path) -> dict:
    spec = dict(parameters['calculator'])
    relax = dict(parameters.get('relax', {}))
    eos = parameters.get('eos', {})
    eos = None if eos is None else dict(eos)
    processes = int(parameters.get('processes', 1))
    structures = _starting_structures(parameters, workdir)
    curves_of = set(eos.get('phases', structures)) if eos is not None else set()
    tasks = [(name, atoms, relax, eos if name in curves_of else None) for name, atoms in structures.items()]

    outcomes = {}
    if processes <= 1 or len(tasks) == 1:
        _worker_init(spec)
        try:
            for task in tasks:
                name, outcome, error = _worker_run(task)
                outcomes[name] = (outcome, error)
        finally:
            _WORKER['limits'].restore_original_limits()
            _WORKER.clear()
    else:
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context('fork' if 'fork' in methods else 'spawn')
        with context.Pool(min(processes, len(tasks)), initializer=_worker_init, initargs=(spec,)) as pool:
            for name, outcome, error in pool.imap_unordered(_worker_run, tasks, chunksize=1):
                outcomes[name] = (outcome, error)

    frames, phases, curves, failures, seconds = [], {}, {}, [], {}
    for name in structures:  # input order
        outcome, error = outcomes[name]
        if outcome is None:
            failures.append({'phase': name, 'error': error})
            continue
        frames.append(outcome['phase'])
        phases[name] = outcome['result']
        if outcome['energy_volume'] is not None:
            curves[name] = outcome['energy_volume']
        seconds[name] = outcome['seconds']
    if not phases:
        raise RuntimeError(f'every phase failed; first: {failures[0]["phase"]}: {failures[0]["error"]}')
    with open(workdir / parameters['output'], 'w', encoding='utf-8') as handle:
        write_frames(handle, frames)
    results = {
        'element': parameters['element'],
        'calculator': spec,
        'phases': phases,
        'energy_volume': curves,
        'failures': failures,
        'relax': relax,
        'eos': eos,
        'seconds': seconds,
        'units': {'energy': 'eV', 'energy_per_atom': 'eV/atom', 'volume_per_atom': 'Angstrom^3/atom', 'b0': 'GPa'},
    }
    write_json(workdir / parameters['results'], results)
    return {'num_phases': len(phases), 'num_failed': len(failures)}


def map_phases(element: str | None, elements=None) -> dict:
    """The known phases a structure map marks: those of ``element``, or of the chemical system of ``elements`` (each
    element's ground state and the compounds of those elements, named as by
    :func:`aiida_gaprss.rss.phases.system_phase_names`, e.g. ``SiC_3C``); none for an element, or a system with an
    element, without known phases."""
    from aiida_gaprss.rss.phases import PHASES, build_system_phase, known_phases, system_phase_names

    if elements:
        try:
            names = system_phase_names(list(elements))
        except ValueError:  # an element without known phases: a map with nothing marked
            return {}
        return {name: build_system_phase(name) for name in names}
    return known_phases(element) if element in PHASES else {}


def structure_map(
    atoms_list, element: str | None, *, elements=None, soap: dict | None = None, processes: int = 1
) -> dict:
    """KPCA map of ``atoms_list`` plus the known phases of ``element`` or of the system of ``elements``
    (:func:`map_phases`; plain lists, JSON-ready)."""
    from aiida_gaprss.rss.structure_map import kpca_map

    atoms_list = list(atoms_list)
    phases = map_phases(element, elements)
    rows = atoms_list + list(phases.values())
    result = kpca_map(rows, soap=soap or None, processes=processes)
    n = len(atoms_list)
    species = sorted({symbol for atoms in rows for symbol in atoms.get_chemical_symbols()})
    composition = {
        symbol: [atoms.get_chemical_symbols().count(symbol) / len(atoms) for atoms in atoms_list] for symbol in species
    }
    return {
        'species': species,
        'composition': composition,
        'coordinates': np.asarray(result['coordinates'])[:, :2].tolist(),
        'coordination': np.asarray(result['coordination']).tolist(),
        'shortest_bond': np.asarray(result['shortest_bond']).tolist(),
        'num_structures': n,
        'iteration': [atoms.info.get('iteration') for atoms in atoms_list],
        'config_type': [atoms.info.get('config_type') for atoms in atoms_list],
        'phases': {name: n + index for index, name in enumerate(phases)},
        'element': element,
        'elements': list(elements) if elements else None,
    }


def _structure_map(parameters: dict, workdir: pathlib.Path) -> dict:
    with open(workdir / parameters['structures'], encoding='utf-8') as handle:
        atoms_list = list(read_frames(handle))
    # dimers (isolated pairs in a box) and non-periodic clusters have no place on a map of crystal topologies
    periodic = [atoms for atoms in atoms_list if all(atoms.pbc) and atoms.info.get('config_type') != 'dimer']
    result = structure_map(
        periodic,
        parameters.get('element'),
        elements=parameters.get('elements'),
        soap=parameters.get('soap'),
        processes=int(parameters.get('processes', 1)),
    )
    result['num_skipped'] = len(atoms_list) - len(periodic)
    write_json(workdir / parameters['results'], result)
    return {'num_structures': result['num_structures']}


def run(content: dict, workdir: pathlib.Path) -> dict:
    """Dispatch on ``parameters['mode']``: ``'validate'`` (default) or ``'structure_map'``."""
    parameters = content['parameters']
    mode = parameters.get('mode', 'validate')
    if mode == 'validate':
        return _validate(parameters, workdir)
    if mode == 'structure_map':
        return _structure_map(parameters, workdir)
    raise ValueError(f'mode: expected validate or structure_map, got {mode!r}')


if __name__ == '__main__':
    raise SystemExit(main(run))
