"""Job ``relax_batch``: relax random cells with a GAP at random pressures, keeping every frame.

Run by :class:`aiida_gaprss.calculations.relax_batch.RelaxBatch`. Pressures come from ``info['pressure']`` of each
input cell when every cell has one, else they are drawn from P(p) = exp(-p/(β p0))/(β p0) with the job's seed.
Trajectory ids are offset by ``trajectory_offset`` so that the frames of several batches of one iteration stay
distinct after merging; every frame keeps the ``origin`` of its starting cell.
"""

from __future__ import annotations

import logging
import pathlib

from aiida_gaprss.data.extxyz import read_frames, write_frames
from aiida_gaprss.jobs.runner import main, write_json
from aiida_gaprss.rss.pressure import sample_pressures
from aiida_gaprss.rss.relax import relax_structures, status_counts

__all__ = ('run',)

LOGGER = logging.getLogger(__name__)


def run(content: dict, workdir: pathlib.Path) -> dict:
    """Relax every input cell; write all frames and a report."""
    parameters = content['parameters']
    with open(workdir / parameters['structures'], encoding='utf-8') as handle:
        cells = list(read_frames(handle))
    if all('pressure' in atoms.info for atoms in cells):
        pressures = [float(atoms.info['pressure']) for atoms in cells]
    else:
        sampling = parameters.get('pressure', {})
        pressures = sample_pressures(
            len(cells), p0=float(sampling.get('p0', 1.0)), beta=float(sampling.get('beta', 0.2)),
            seed=int(parameters['seed']),
        )  # fmt: skip
    frames = relax_structures(
        cells,
        parameters['calculator'],
        pressures,
        fmax=float(parameters.get('fmax', 0.01)),
        steps=int(parameters.get('steps', 300)),
        processes=int(parameters.get('processes', 1)),
        seed=int(parameters['seed']),
    )
    offset = int(parameters.get('trajectory_offset', 0))
    iteration = parameters.get('iteration')
    for frame in frames:
        start = cells[int(frame.info['trajectory_id'])]
        frame.info['trajectory_id'] = int(frame.info['trajectory_id']) + offset
        if 'origin' in start.info:
            frame.info['origin'] = f'{start.info["origin"]}:step{frame.info["step"]}'
        if iteration is not None:
            frame.info['iteration'] = int(iteration)
    with open(workdir / parameters['output'], 'w', encoding='utf-8') as handle:
        write_frames(handle, frames)
    counts = status_counts([frame for frame in frames if frame.info.get('final')])
    report = {'num_cells': len(cells), 'num_frames': len(frames), 'status_counts': counts}
    write_json(workdir / parameters['report'], report)
    return report


if __name__ == '__main__':
    raise SystemExit(main(run))
