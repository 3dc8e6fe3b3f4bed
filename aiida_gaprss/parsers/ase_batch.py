"""Parser of ``gaprss.ase_batch``: the labelled StructureSet and the report Dict."""

from __future__ import annotations

import logging

from aiida import orm
from aiida.engine import ExitCode

from aiida_gaprss.data.extxyz import read_frames
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.parsers.python_job import PythonJobParser

__all__ = ('AseBatchParser',)

LOGGER = logging.getLogger(__name__)


class AseBatchParser(PythonJobParser):
    """Outputs ``report`` always, ``structures`` when at least one structure was labelled."""

    def parse_outputs(self, status: dict) -> ExitCode | None:
        """Read ``report.json`` and ``labelled.xyz``."""
        process = self.node.process_class
        report = self.read_json(process.REPORT_FILENAME)
        self.out('report', orm.Dict(report))
        if report['num_labelled'] == 0:
            first = report['failures'][0]['error'] if report['failures'] else 'no structures'
            return self.exit_codes.ERROR_ALL_STRUCTURES_FAILED.format(first=first)
        with self.retrieved.base.repository.open(process.LABELLED_FILENAME, 'r') as handle:
            frames = list(read_frames(handle))
        if len(frames) != report['num_labelled']:
            raise ValueError(f'{len(frames)} labelled frames but the report says {report["num_labelled"]}')
        self.out('structures', StructureSet.from_atoms(frames))
        return None
