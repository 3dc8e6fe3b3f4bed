"""Parser of every :class:`~aiida_gaprss.calculations.structure_job.StructureJob`: ``report`` and ``structures``.

A job whose class sets ``PARTIAL_TRAJECTORIES`` (relaxation batches) and that stopped before it finished (killed, or
raised) still gets, as ``structures``, every *finished* trajectory it wrote (a trajectory counts when its ``final``
frame is in the file; a trajectory cut by the kill is dropped) and a ``report`` with ``partial = True``, the ids of the
finished trajectories and why the job stopped; it then ends with ``ERROR_PARTIAL_TRAJECTORIES``.
"""

from __future__ import annotations

import io

from aiida import orm
from aiida.engine import ExitCode

from aiida_gaprss.data.extxyz import read_frames
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.parsers.python_job import PythonJobParser
from aiida_gaprss.rss.relax import status_counts

__all__ = ('StructureJobParser', 'complete_trajectories')


def complete_trajectories(text: str) -> list:
    """The frames of every complete trajectory in the text of a frame file that may have been cut anywhere.

    Only whole lines are read (a cut line is dropped), reading stops at the first frame that cannot be read (the
    one being written when the job died), and a trajectory is kept only if its ``final`` frame was read.
    """
    text = text[: text.rfind('\n') + 1]
    frames = []
    reader = read_frames(io.StringIO(text))
    while True:
        try:
            frames.append(next(reader))
        except StopIteration:
            break
        except Exception:  # noqa: BLE001 - ASE raises XYZError, RuntimeError, ValueError ... for the frame cut by the kill
            break
    finished = {frame.info.get('trajectory_id') for frame in frames if frame.info.get('final')}
    return [frame for frame in frames if frame.info.get('trajectory_id') in finished]


class StructureJobParser(PythonJobParser):
    """Outputs ``report`` always and ``structures`` when the job wrote at least one."""

    def parse_outputs(self, status: dict) -> ExitCode | None:
        """Read ``report.json`` and ``output.xyz``."""
        process = self.node.process_class
        self.out('report', orm.Dict(self.read_json(process.REPORT_FILENAME)))
        with self.retrieved.base.repository.open(process.OUTPUT_STRUCTURES, 'r') as handle:
            frames = list(read_frames(handle))
        if not frames:
            return self.exit_codes.ERROR_NO_STRUCTURES
        self.out('structures', StructureSet.from_atoms(frames))
        return None

    def parse_partial(self, reason: str) -> ExitCode | None:
        """The finished trajectories of a relaxation batch that stopped, with ``ERROR_PARTIAL_TRAJECTORIES``."""
        process = self.node.process_class
        if not getattr(process, 'PARTIAL_TRAJECTORIES', False):
            return None
        if process.OUTPUT_STRUCTURES not in self.retrieved.base.repository.list_object_names():
            return None
        frames = complete_trajectories(self.read_text(process.OUTPUT_STRUCTURES))
        if not frames:
            return None
        finished = sorted({int(frame.info['trajectory_id']) for frame in frames})
        total = self.node.inputs.structures.num_structures if 'structures' in self.node.inputs else None
        frames.sort(key=lambda frame: (int(frame.info['trajectory_id']), int(frame.info.get('step', 0))))
        report = {
            'partial': True,
            'stopped': reason,
            'num_cells': total,
            'num_frames': len(frames),
            'finished_trajectory_ids': finished,
            'status_counts': status_counts(frames),
        }
        self.out('structures', StructureSet.from_atoms(frames))
        self.out('report', orm.Dict(report))
        return self.exit_codes.ERROR_PARTIAL_TRAJECTORIES.format(
            finished=len(finished), total=total if total is not None else '?', reason=reason
        )
