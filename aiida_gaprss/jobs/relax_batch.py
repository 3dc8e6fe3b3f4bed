"""Job ``relax_batch``: relax random cells with a GAP at random pressures, keeping every frame.

Run by :class:`aiida_gaprss.calculations.relax_batch.RelaxBatch`. Pressures come from ``info['pressure']`` of each
input cell when every cell has one, else they are drawn from P(p) = exp(-p/(β p0))/(β p0) with the job's seed
(mixed with a uniform range if ``pressure.uniform`` is given, :func:`aiida_gaprss.rss.pressure.sample_pressures`).
Trajectory ids are offset by ``trajectory_offset`` so that the frames of several batches of one iteration stay
distinct after merging (or given one per cell as ``trajectory_ids``, which a restart of the unfinished cells of a
killed job uses); every frame keeps the ``origin`` of its starting cell.

Frames are written as trajectories finish: each finished trajectory is appended to the output file and flushed to
disk at once, so a job killed part-way (walltime, ``scancel``, the OOM killer) leaves the frames of every trajectory
it finished (the parser attaches them, see :class:`aiida_gaprss.parsers.structure_job.StructureJobParser`). A job
that finishes rewrites the file ordered by trajectory id and step, then writes its report.
"""

from __future__ import annotations

import logging
import os
import pathlib

from aiida_gaprss.data.extxyz import read_frames, write_frames
from aiida_gaprss.jobs.runner import main, write_json
from aiida_gaprss.rss.pressure import sample_pressures
from aiida_gaprss.rss.relax import relax_structures, status_counts

__all__ = ('job_pressures', 'job_trajectory_ids', 'run')

LOGGER = logging.getLogger(__name__)


def job_pressures(cells, parameters: dict) -> list[float]:
    """Pressures (GPa) of the cells: their ``info['pressure']`` if every cell has one, else sampled with the seed."""
    if all('pressure' in atoms.info for atoms in cells):
        return [float(atoms.info['pressure']) for atoms in cells]
    sampling = parameters.get('pressure', {})
    return [
        float(value)
        for value in sample_pressures(
            len(cells), p0=float(sampling.get('p0', 1.0)), beta=float(sampling.get('beta', 0.2)),
            seed=int(parameters['seed']), uniform=sampling.get('uniform'),
        )
    ]  # fmt: skip


def job_trajectory_ids(num_cells: int, parameters: dict) -> list[int]:
    """Trajectory id of each cell: ``trajectory_ids`` if given, else ``trajectory_offset`` + index."""
    if 'trajectory_ids' in parameters:
        ids = [int(value) for value in parameters['trajectory_ids']]
        if len(ids) != num_cells:
            raise ValueError(f'parameters.trajectory_ids: {len(ids)} ids for {num_cells} cells')
        return ids
    offset = int(parameters.get('trajectory_offset', 0))
    return [offset + index for index in range(num_cells)]


def run(content: dict, workdir: pathlib.Path) -> dict:
    """Relax every input cell; append the frames of each finished trajectory to the output, then write a report."""
    parameters = content['parameters']
    with open(workdir / parameters['structures'], encoding='utf-8') as handle:
        cells = list(read_frames(handle))
    pressures = job_pressures(cells, parameters)
    ids = job_trajectory_ids(len(cells), parameters)
    iteration = parameters.get('iteration')
    output = workdir / parameters['output']

    def label(index: int, frames) -> None:
        start = cells[index]
        for frame in frames:
            frame.info['trajectory_id'] = ids[index]
            if 'origin' in start.info:
                frame.info['origin'] = f'{start.info["origin"]}:step{frame.info["step"]}'
            if iteration is not None:
                frame.info['iteration'] = int(iteration)

    with open(output, 'w', encoding='utf-8') as stream:

        def finished(index: int, frames) -> None:
            label(index, frames)
            write_frames(stream, frames)
            stream.flush()
            os.fsync(stream.fileno())

        frames = relax_structures(
            cells,
            parameters['calculator'],
            pressures,
            fmax=float(parameters.get('fmax', 0.01)),
            steps=int(parameters.get('steps', 300)),
            processes=int(parameters.get('processes', 1)),
            seed=int(parameters['seed']),
            on_trajectory=finished,
        )
    # every trajectory is on disk; rewrite the file in trajectory order (atomically: a kill now loses nothing)
    temporary = output.with_name(output.name + '.sorted')
    with open(temporary, 'w', encoding='utf-8') as handle:
        write_frames(handle, frames)
    os.replace(temporary, output)
    counts = status_counts([frame for frame in frames if frame.info.get('final')])
    report = {'num_cells': len(cells), 'num_frames': len(frames), 'status_counts': counts}
    write_json(workdir / parameters['report'], report)
    return report


if __name__ == '__main__':
    raise SystemExit(main(run))
