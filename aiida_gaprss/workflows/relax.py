"""``RelaxBatchBaseWorkChain``: a relaxation batch that survives its job being killed.

A relaxation job killed part-way (``scancel``, the walltime, the OOM killer, a node failure) returns the frames of the
trajectories it finished (``RelaxBatch`` exit code 320 ``ERROR_PARTIAL_TRAJECTORIES``), or nothing at all if it died
before the first one (300 ``ERROR_MISSING_STATUS``, 304 ``ERROR_JOB_KILLED``, or the scheduler's 110 / 120 / 140).
This work chain keeps those frames and submits a new job for the cells not finished only -- same potential, same
pressures, same trajectory ids -- at most ``max_iterations`` jobs in all. At the end the frames of every job are merged
by :func:`merge_relaxation_frames` (a calcfunction, so the graph shows which job relaxed which cell); without a
restart the outputs are the CalcJob's own nodes, as with a bare ``RelaxBatch``.

Exit codes (those of :class:`~aiida_gaprss.workflows.python_job.PythonJobBaseWorkChain`, whose hooks this subclass
fills): 0 when every cell is relaxed; 420 ``ERROR_STOPPED_TOO_OFTEN`` when the last allowed job was killed too (the
frames finished so far are still attached as ``structures``); 421 ``ERROR_UNRECOVERABLE_FAILURE`` for a job that
failed in a way a restart does not fix (the task raised, bad output).
"""

from __future__ import annotations

import logging

from aiida import orm
from aiida.engine import calcfunction

from aiida_gaprss.calculations.relax_batch import RelaxBatch
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.workflows.python_job import PythonJobBaseWorkChain

__all__ = ('RelaxBatchBaseWorkChain', 'merge_relaxation_frames', 'unfinished_cells')

LOGGER = logging.getLogger(__name__)


def _finished_ids(frames: StructureSet | None) -> set[int]:
    if frames is None:
        return set()
    return {int(atoms.info['trajectory_id']) for atoms in frames.iter_atoms() if atoms.info.get('final')}


@calcfunction
def unfinished_cells(structures: StructureSet, parameters: orm.Dict, frames: StructureSet | None = None) -> dict:
    """The cells of a killed relaxation job whose trajectory is not in ``frames``, and the parameters to relax them.

    Each remaining cell gets the pressure the killed job used for it (``info['pressure']``) and keeps its trajectory
    id (``trajectory_ids`` of the new parameters), so the restarted job continues the same batch.
    """
    from aiida_gaprss.jobs.relax_batch import job_pressures, job_trajectory_ids

    cells = structures.get_atoms()
    settings = parameters.get_dict()
    pressures = job_pressures(cells, settings)
    ids = job_trajectory_ids(len(cells), settings)
    done = _finished_ids(frames)
    remaining, remaining_ids = [], []
    for atoms, pressure, trajectory_id in zip(cells, pressures, ids, strict=True):
        if trajectory_id in done:
            continue
        atoms.info['pressure'] = float(pressure)
        remaining.append(atoms)
        remaining_ids.append(trajectory_id)
    if not remaining:
        raise ValueError('every trajectory is finished: nothing to restart')
    settings.pop('trajectory_offset', None)
    settings['trajectory_ids'] = remaining_ids
    return {'structures': StructureSet.from_atoms(remaining), 'parameters': orm.Dict(settings)}


@calcfunction
def merge_relaxation_frames(**parts: StructureSet) -> dict:
    """All frames of the jobs of one batch, ordered by trajectory id then step (a trajectory is taken once)."""
    from aiida_gaprss.rss.relax import status_counts

    trajectories: dict[int, list] = {}
    for key in sorted(parts):
        current: dict[int, list] = {}
        for atoms in parts[key].iter_atoms():
            current.setdefault(int(atoms.info['trajectory_id']), []).append(atoms)
        for trajectory_id, frames in current.items():
            trajectories.setdefault(trajectory_id, frames)
    frames = [atoms for _, trajectory in sorted(trajectories.items()) for atoms in trajectory]
    report = {
        'num_jobs': len(parts),
        'num_trajectories': len(trajectories),
        'num_frames': len(frames),
        'trajectory_ids': sorted(trajectories),
        'status_counts': status_counts(frames),
    }
    return {'structures': StructureSet.from_atoms(frames), 'report': orm.Dict(report)}


class RelaxBatchBaseWorkChain(PythonJobBaseWorkChain):
    """Run a ``RelaxBatch``; when its job is stopped, keep the finished trajectories and relax the rest again."""

    _process_class = RelaxBatch
    _inputs_namespace = 'relax'
    STOPPED_EXIT_STATUSES = (RelaxBatch.exit_codes.ERROR_PARTIAL_TRAJECTORIES.status,
                             *PythonJobBaseWorkChain.STOPPED_EXIT_STATUSES)  # fmt: skip

    @classmethod
    def define(cls, spec):
        """The job's inputs under ``relax``; the frames of every job and a report of the merge as outputs."""
        super().define(spec)
        spec.outputs['structures'].help = 'Every frame of every trajectory.'
        spec.outputs['report'].required = False  # a restart that merged one part only has no merge report
        spec.outputs['report'].help = 'What the job(s) did.'
        spec.exit_code(
            420,
            'ERROR_STOPPED_TOO_OFTEN',
            message='The relaxation job was stopped {count} time(s) (max_iterations = {count}): {finished} of {total} '
            'trajectories finished, their frames are attached; last: {message}',
        )

    def setup(self):
        """The CalcJob inputs go to the context, where the handler replaces the cells by the unfinished ones."""
        super().setup()
        self.ctx.total = self.inputs.relax.structures.num_structures
        self.ctx.parts = {}

    def _attach_merged(self) -> int:
        """Merge the frames kept so far (with those of the last job) and attach them; return the trajectory count."""
        if not self.ctx.parts:
            return 0
        if len(self.ctx.parts) == 1:
            (frames,) = self.ctx.parts.values()
            self.out('structures', frames)
            return len(_finished_ids(frames))
        merged = merge_relaxation_frames(**self.ctx.parts, metadata={'call_link_label': 'merge_frames'})
        self.out('structures', merged['structures'])
        self.out('report', merged['report'])
        return merged['report']['num_trajectories']

    def keep_partial(self, node) -> None:
        """Keep the frames of the trajectories the stopped job finished."""
        if 'structures' in node.outputs:
            self.ctx.parts[f'job_{self.ctx.iteration:02d}'] = node.outputs.structures
        done = _finished_ids(node.outputs.structures if 'structures' in node.outputs else None)
        self.report(f'{len(done)} of its {self.ctx.inputs.structures.num_structures} trajectories finished')

    def nothing_left(self, node) -> bool:
        """Whether the job was stopped after its last trajectory."""
        frames = node.outputs.structures if 'structures' in node.outputs else None
        return len(_finished_ids(frames)) >= self.ctx.inputs.structures.num_structures

    def prepare_restart(self, node) -> None:
        """The next job relaxes the cells not finished, with their pressures and trajectory ids."""
        arguments = {'structures': self.ctx.inputs.structures, 'parameters': self.ctx.inputs.parameters}
        if 'structures' in node.outputs:
            arguments['frames'] = node.outputs.structures
        remaining = unfinished_cells(**arguments, metadata={'call_link_label': f'unfinished_{self.ctx.iteration:02d}'})
        self.ctx.inputs.structures = remaining['structures']
        self.ctx.inputs.parameters = remaining['parameters']
        self.report(f'restarting the {len(remaining["structures"])} unfinished cell(s)')

    def attach_partial(self, node) -> dict:
        """Every frame finished so far (a failed job's frames too); the counts for the 420 message."""
        if node.is_failed and 'structures' in node.outputs:
            self.ctx.parts[f'job_{self.ctx.iteration:02d}'] = node.outputs.structures
        return {'finished': self._attach_merged(), 'total': self.ctx.total}

    def get_outputs(self, node) -> dict:
        """The ``structures`` and ``report`` of a job."""
        return {key: node.outputs[key] for key in ('structures', 'report') if key in node.outputs}

    def results(self):
        """The last job's outputs when it was the only one, else every job's frames merged."""
        node = self.ctx.children[self.ctx.iteration - 1]
        if self.ctx.is_finished and node.is_failed:  # the handler attached what there is
            return None
        if not self.ctx.parts:
            return super().results()
        self.ctx.parts[f'job_{self.ctx.iteration:02d}'] = node.outputs.structures
        self._attach_merged()
        self.report(f'{self.ctx.total} cells relaxed in {self.ctx.iteration} jobs')
        return None
