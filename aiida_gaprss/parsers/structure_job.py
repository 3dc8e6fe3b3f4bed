"""Parser of every :class:`~aiida_gaprss.calculations.structure_job.StructureJob`: ``report`` and ``structures``."""

from __future__ import annotations

from aiida import orm
from aiida.engine import ExitCode

from aiida_gaprss.data.extxyz import read_frames
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.parsers.python_job import PythonJobParser

__all__ = ('StructureJobParser',)


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
