"""``TeacherMdParser`` (``gaprss.teacher_md``): the teacher's MD snapshots, final states and report."""

from __future__ import annotations

from aiida import orm
from aiida.engine import ExitCode

from aiida_gaprss.data.extxyz import read_frames
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.parsers.python_job import PythonJobParser

__all__ = ('TeacherMdParser',)


class TeacherMdParser(PythonJobParser):
    """Outputs ``report``, ``snapshots`` and ``final``; 320 if there are no snapshots."""

    def _frames(self, filename: str) -> list:
        with self.retrieved.base.repository.open(filename, 'r') as handle:
            return list(read_frames(handle))

    def parse_outputs(self, status: dict) -> ExitCode | None:
        """Read the report, the snapshots and the final states."""
        process = self.node.process_class
        self.out('report', orm.Dict(self.read_json(process.REPORT_FILENAME)))
        final = self._frames(process.FINAL_FILENAME)
        if final:
            self.out('final', StructureSet.from_atoms(final))
        snapshots = self._frames(process.SNAPSHOTS_FILENAME)
        if not snapshots:
            return self.exit_codes.ERROR_NO_SNAPSHOTS
        self.out('snapshots', StructureSet.from_atoms(snapshots))
        return None
