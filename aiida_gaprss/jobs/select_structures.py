"""Job ``select_structures``: choose structures for the reference code from a pool or from relaxation frames.

Run by :class:`aiida_gaprss.calculations.select_structures.SelectStructures`. Methods (``aiida_gaprss.rss.selection``):

* ``kernel_cur`` — leverage-score CUR on the kernel of configuration-averaged SOAP (iteration 0, the paper's method);
* ``descriptor_cur`` and ``random`` — the ablation baselines;
* ``flat_histogram_cur`` — Boltzmann-biased flat histogram on enthalpy per atom to ``n_flat`` frames, then kernel
  CUR to ``n`` (iterations >= 1); frames without an enthalpy (e.g. failed relaxations) are never chosen. The second
  step is ``parameters['diversity']``: ``kernel_cur`` (default), or ``descriptor_cur`` / ``random`` (the ablation).
  ``parameters['enthalpy']`` is what the histogram bins: ``'own'`` (default, the paper's: each frame's enthalpy per
  atom at its own pressure) or ``'above_hull'`` (the enthalpy above the lowest any frame has at that frame's pressure,
  :func:`aiida_gaprss.rss.hull.enthalpy_above_hull`: comparable across pressures) or ``'above_formation_hull'`` (for
  several elements: the enthalpy above the formation-enthalpy hull over composition at that frame's pressure,
  :func:`aiida_gaprss.rss.formation_hull.enthalpy_above_formation_hull`; the same numbers as ``'above_hull'`` for one
  composition). ``parameters['strained']`` =
  ``{'n': m, 'volume_range': [lo, hi], 'pool': k}`` replaces ``m`` of the ``n`` structures by isotropically strained
  copies (:mod:`aiida_gaprss.rss.strain`) of ``m`` distinct low minima: the ``k·m`` converged final frames lowest in
  that same enthalpy measure, thinned to ``m`` by kernel CUR.

Writes the selected structures (in pool order) and ``report.json`` with their indices in the input.
"""

from __future__ import annotations

import logging
import pathlib

import numpy as np

from aiida_gaprss.data.extxyz import read_frames, write_frames
from aiida_gaprss.jobs.runner import main, write_json
from aiida_gaprss.rss import selection
from aiida_gaprss.rss.hull import GPA_A3_IN_EV, enthalpy_above_hull
from aiida_gaprss.rss.soap import averaged_soap
from aiida_gaprss.rss.strain import strained_copies

__all__ = ('frame_enthalpies', 'run', 'select_indices', 'select_structures')

LOGGER = logging.getLogger(__name__)


def select_indices(frames: list, parameters: dict) -> np.ndarray:
    """Return the sorted indices of ``frames`` chosen by ``parameters['method']``.

    Structures whose ``config_type`` is in ``parameters['always_include']`` (e.g. the dimers of the first iteration)
    are kept without competing; ``n`` more are chosen among the others.
    """
    always = set(parameters.get('always_include', ()))
    kept = [i for i, atoms in enumerate(frames) if atoms.info.get('config_type') in always]
    if kept:
        others = [i for i in range(len(frames)) if i not in set(kept)]
        if not others:
            return np.asarray(kept)
        rest = {key: value for key, value in parameters.items() if key != 'always_include'}
        picked = select_indices([frames[i] for i in others], rest)
        return np.sort(np.concatenate([kept, np.asarray(others)[picked]]).astype(int))
    method = parameters['method']
    n = min(int(parameters['n']), len(frames))
    seed = int(parameters.get('seed', 0))
    soap = dict(parameters.get('soap', {}))
    soap.setdefault('processes', int(parameters.get('processes', 1)))
    zeta = int(parameters.get('zeta', 4))

    if method == 'random':
        return np.sort(selection.random_selection(len(frames), n, seed=seed))
    if method in ('kernel_cur', 'descriptor_cur'):
        descriptors = averaged_soap(frames, **soap)
        if method == 'kernel_cur':
            return np.sort(selection.kernel_cur(descriptors, n, zeta=zeta, seed=seed))
        return np.sort(selection.descriptor_cur(descriptors, n, seed=seed))
    if method == 'flat_histogram_cur':
        usable, enthalpies = frame_enthalpies(frames, parameters.get('enthalpy', 'own'))
        n = min(n, len(usable))
        n_flat = min(max(int(parameters.get('n_flat', 10 * n)), n), len(usable))

        def descriptors(indices):
            return averaged_soap([frames[usable[i]] for i in indices], **soap)

        picked = selection.select_from_trajectories(
            enthalpies,
            descriptors,
            n,
            n_flat=n_flat,
            kT=float(parameters['kT']),
            seed=seed,
            zeta=zeta,
            method=parameters.get('diversity', 'kernel_cur'),
        )
        return np.sort(np.asarray(usable)[picked])
    raise ValueError(f'field `method`: unknown selection method {method!r}')


def frame_enthalpies(frames: list, mode: str = 'own') -> tuple[list[int], np.ndarray]:
    """Indices of the frames with a finite ``enthalpy`` and their enthalpy per atom (eV/atom) in ``mode``.

    ``'own'``: H/N at the frame's own pressure (the paper's); ``'above_hull'``: H/N above the lowest enthalpy per
    atom any usable frame has at that frame's pressure (:func:`aiida_gaprss.rss.hull.enthalpy_above_hull`);
    ``'above_formation_hull'``: above the formation-enthalpy hull over the compositions of the usable frames
    (:func:`aiida_gaprss.rss.formation_hull.enthalpy_above_formation_hull`).
    """
    usable = [i for i, atoms in enumerate(frames) if np.isfinite(atoms.info.get('enthalpy', np.nan))]
    if not usable:
        raise ValueError('field `structures`: no frame carries a finite `enthalpy`')
    counts = np.array([len(frames[i]) for i in usable], dtype=float)
    enthalpies = np.array([frames[i].info['enthalpy'] for i in usable]) / counts
    if mode == 'own':
        return usable, enthalpies
    if mode not in ('above_hull', 'above_formation_hull'):
        raise ValueError(f"field `enthalpy`: expected 'own', 'above_hull' or 'above_formation_hull', got {mode!r}")
    pressures = np.array([float(frames[i].info.get('pressure', 0.0)) for i in usable])
    volumes = np.array([abs(frames[i].cell.volume) for i in usable]) / counts
    energies = enthalpies - pressures * GPA_A3_IN_EV * volumes
    if mode == 'above_formation_hull':
        from aiida_gaprss.rss.formation_hull import composition_fractions, enthalpy_above_formation_hull
        from aiida_gaprss.rss.soap import soap_species

        chosen = [frames[i] for i in usable]
        compositions = composition_fractions(chosen, soap_species(chosen))
        return usable, enthalpy_above_formation_hull(compositions, volumes, energies, pressures)
    return usable, enthalpy_above_hull(volumes, energies, pressures)


def _low_minima(frames: list, parameters: dict, m: int, excluded: set) -> list[int]:
    """Indices of ``m`` distinct low minima: converged final frames lowest in the selection's enthalpy measure,
    the lowest ``pool · m`` of them thinned to ``m`` by (deterministic) kernel CUR on averaged SOAP."""
    usable, enthalpies = frame_enthalpies(frames, parameters.get('enthalpy', 'own'))
    minima = [
        (h, i)
        for h, i in zip(enthalpies, usable, strict=True)
        if frames[i].info.get('final') and frames[i].info.get('status') == 'converged' and i not in excluded
    ]
    minima.sort()
    pool = [i for _, i in minima[: max(m, int(parameters['strained'].get('pool', 4)) * m)]]
    if len(pool) <= m:
        return pool
    soap = dict(parameters.get('soap', {}))
    soap.setdefault('processes', int(parameters.get('processes', 1)))
    descriptors = averaged_soap([frames[i] for i in pool], **soap)
    picked = selection.kernel_cur(descriptors, m, zeta=int(parameters.get('zeta', 4)), stochastic=False)
    return [pool[int(i)] for i in np.sort(picked)]


def select_structures(frames: list, parameters: dict) -> tuple[list, dict]:
    """The selected structures (candidates first, then any strained copies) and the report.

    With ``parameters['strained']`` (flat_histogram_cur only), ``strained.n`` of the ``n`` structures are strained
    copies of distinct low minima; fewer if the candidates hold fewer converged minima (the rest is then selected as
    usual).
    """
    strained = parameters.get('strained') or {}
    m = min(int(strained.get('n', 0)), int(parameters['n']) - 1) if strained else 0
    sources: list[int] = []
    if m > 0:
        if parameters['method'] != 'flat_histogram_cur':
            raise ValueError('field `strained`: strained copies need relaxation frames (method flat_histogram_cur)')
        sources = _low_minima(frames, parameters, m, excluded=set())
    rest = {key: value for key, value in parameters.items() if key != 'strained'}
    rest['n'] = int(parameters['n']) - len(sources)
    indices = select_indices(frames, rest)
    chosen = [frames[i] for i in indices]
    for index, atoms in zip(indices, chosen, strict=True):
        atoms.info.setdefault('origin', f'candidate:{int(index)}')
    copies = strained_copies([frames[i] for i in sources], volume_range=strained.get('volume_range', (0.88, 1.12)),
                             seed=int(parameters.get('seed', 0)) + 7919) if sources else []  # fmt: skip
    report = {
        'method': parameters['method'],
        'num_candidates': len(frames),
        'indices': [int(i) for i in indices],
        'strained_sources': [int(i) for i in sources],
        'strained_volume_factors': [float(atoms.info['volume_factor']) for atoms in copies],
    }
    return chosen + copies, report


def run(content: dict, workdir: pathlib.Path) -> dict:
    """Read the candidates, select, write the selected structures and the report."""
    parameters = content['parameters']
    with open(workdir / parameters['structures'], encoding='utf-8') as handle:
        frames = list(read_frames(handle))
    chosen, report = select_structures(frames, parameters)
    with open(workdir / parameters['output'], 'w', encoding='utf-8') as handle:
        write_frames(handle, chosen)
    write_json(workdir / parameters['report'], report)
    return {'num_selected': len(chosen), 'num_strained': len(report['strained_sources'])}


if __name__ == '__main__':
    raise SystemExit(main(run))
