"""Job ``ase_batch``: label many structures with one ASE calculator (energy, forces, virial).

Run as ``python -m aiida_gaprss.jobs.ase_batch job.json`` by :class:`aiida_gaprss.calculations.ase_batch.AseBatch`.
The calculator is given by a spec of :func:`aiida_gaprss.rss.potentials.calculator_from_spec` (``sw_si``, ``gap``
or ``import``). A structure whose calculation raises is recorded in the report and left out; the others go on.

Labels written: ``info['energy']`` (eV, ``get_potential_energy()``), ``arrays['forces']`` (eV/Å) and, for fully
periodic cells, ``info['virial']`` = -stress × volume (3×3, eV). Old labels on the input are removed first.
"""

from __future__ import annotations

import logging
import pathlib
import time

import numpy as np

from aiida_gaprss.data.extxyz import read_frames, write_frames
from aiida_gaprss.jobs.runner import main, write_json
from aiida_gaprss.rss.potentials import calculator_from_spec

__all__ = ('OLD_LABELS', 'label_structure', 'run')

LOGGER = logging.getLogger(__name__)

#: Keys removed from a structure before it is labelled again.
OLD_LABELS = ('energy', 'free_energy', 'virial', 'stress', 'forces')


def label_structure(atoms, calculator, *, compute_virial: bool = True):
    """Return a copy of ``atoms`` labelled with ``calculator`` (plain ``info``/``arrays``, no calculator attached)."""
    labelled = atoms.copy()
    for key in OLD_LABELS:
        labelled.info.pop(key, None)
        if key in labelled.arrays:
            del labelled.arrays[key]
    labelled.calc = calculator
    energy = float(labelled.get_potential_energy())
    forces = np.array(labelled.get_forces(), dtype=float)
    virial = None
    if compute_virial and all(labelled.pbc) and labelled.cell.volume > 0:
        stress = np.array(labelled.get_stress(voigt=False), dtype=float)
        virial = -stress * labelled.get_volume()
    labelled.calc = None
    if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
        raise ValueError('calculator returned non-finite energy or forces')
    labelled.info['energy'] = energy
    labelled.arrays['forces'] = forces
    if virial is not None:
        if not np.all(np.isfinite(virial)):
            raise ValueError('calculator returned a non-finite stress')
        labelled.info['virial'] = virial
    return labelled


def run(content: dict, workdir: pathlib.Path) -> dict:
    """Label every structure of the input file; write the labelled file and ``report.json``."""
    parameters = content['parameters']
    spec = dict(parameters['calculator'])
    calculator = calculator_from_spec(spec)
    compute_virial = bool(parameters.get('compute_virial', True))
    stop_on_error = bool(parameters.get('stop_on_error', False))

    labelled, indices, failures, timings = [], [], [], []
    with open(workdir / parameters['structures'], encoding='utf-8') as handle:
        for index, atoms in enumerate(read_frames(handle)):
            start = time.perf_counter()
            try:
                labelled.append(label_structure(atoms, calculator, compute_virial=compute_virial))
                indices.append(index)
            except Exception as exception:  # noqa: BLE001 - any calculator error excludes only this structure
                if stop_on_error:
                    raise
                LOGGER.warning('structure %d failed: %s: %s', index, type(exception).__name__, exception)
                failures.append({'index': index, 'error': f'{type(exception).__name__}: {exception}'})
            timings.append(time.perf_counter() - start)

    with open(workdir / parameters['output'], 'w', encoding='utf-8') as handle:
        write_frames(handle, labelled)
    report = {
        'num_structures': len(indices) + len(failures),
        'num_labelled': len(indices),
        'indices': indices,
        'failures': failures,
        'calculator': spec,
        'seconds_per_structure': float(np.mean(timings)) if timings else 0.0,
    }
    write_json(workdir / parameters['report'], report)
    return {'num_labelled': len(indices), 'num_failed': len(failures)}


if __name__ == '__main__':
    raise SystemExit(main(run))
