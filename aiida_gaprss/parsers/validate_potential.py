"""``ValidatePotentialParser`` (``gaprss.validate_potential``): outputs of ValidatePotential and StructureMap."""

from __future__ import annotations

from aiida import orm
from aiida.engine import ExitCode

from aiida_gaprss.data.extxyz import read_frames
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.parsers.python_job import PythonJobParser

__all__ = ('ValidatePotentialParser',)


class ValidatePotentialParser(PythonJobParser):
    """Outputs of ``ValidatePotential`` (``structures``, ``results``) or ``StructureMap`` (``structure_map``)."""

    def parse_outputs(self, status: dict) -> ExitCode | None:
        """Read ``results.json`` (and ``phases.xyz``)."""
        process = self.node.process_class
        results = self.read_json(process.RESULTS_FILENAME)
        if 'structure_map' in process.spec().outputs:  # a StructureMap
            self.out('structure_map', orm.Dict(results))
            return None
        if not results.get('phases'):
            return self.exit_codes.ERROR_NO_PHASE
        with self.retrieved.base.repository.open(process.PHASES_FILENAME, 'r') as handle:
            frames = list(read_frames(handle))
        self.out('structures', StructureSet.from_atoms(frames))
        self.out('results', orm.Dict(results))
        return None
