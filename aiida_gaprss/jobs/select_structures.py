"""Job ``select_structures``: choose structures for the reference code from a pool or from relaxation frames.

Run by :class:`aiida_gaprss.calculations.select_structures.SelectStructures`. Methods (``aiida_gaprss.rss.selection``):

* ``kernel_cur`` — leverage-score CUR on the kernel of configuration-averaged SOAP (iteration 0, the paper's method);
* ``descriptor_cur`` and ``random`` — the ablation baselines;
* ``flat_histogram_cur`` — Boltzmann-biased flat histogram on enthalpy per atom to ``n_flat`` frames, then kernel
  CUR to ``n`` (iterations >= 1); frames without an enthalpy (e.g. failed relaxations) are never chosen. The second
  step is ``parameters['diversity']``: ``kernel_cur`` (default), or ``descriptor_cur`` / ``random`` (the ablation).

Writes the selected structures (in pool order) and ``report.json`` with their indices in the input.
"""

from __future__ import annotations

import logging
import pathlib

import numpy as np

from aiida_gaprss.data.extxyz import read_frames, write_frames
from aiida_gaprss.jobs.runner import main, write_json
from aiida_gaprss.rss import selection
from aiida_gaprss.rss.soap import averaged_soap

__all__ = ('run', 'select_indices')

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
        usable = [i for i, atoms in enumerate(frames) if np.isfinite(atoms.info.get('enthalpy', np.nan))]
        if not usable:
            raise ValueError('field `structures`: no frame carries a finite `enthalpy`')
        enthalpies = np.array([frames[i].info['enthalpy'] / len(frames[i]) for i in usable])
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


def run(content: dict, workdir: pathlib.Path) -> dict:
    """Read the candidates, select, write the selected structures and the report."""
    parameters = content['parameters']
    with open(workdir / parameters['structures'], encoding='utf-8') as handle:
        frames = list(read_frames(handle))
    indices = select_indices(frames, parameters)
    chosen = [frames[i] for i in indices]
    for index, atoms in zip(indices, chosen, strict=True):
        atoms.info.setdefault('origin', f'candidate:{int(index)}')
    with open(workdir / parameters['output'], 'w', encoding='utf-8') as handle:
        write_frames(handle, chosen)
    write_json(
        workdir / parameters['report'],
        {'method': parameters['method'], 'num_candidates': len(frames), 'indices': [int(i) for i in indices]},
    )
    return {'num_selected': len(chosen)}


if __name__ == '__main__':
    raise SystemExit(main(run))
