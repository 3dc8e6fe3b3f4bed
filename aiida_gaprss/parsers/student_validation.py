"""``StudentValidationParser`` (``gaprss.student_validation``): report, plots, quenched cells, then exit codes."""

from __future__ import annotations

from aiida import orm
from aiida.engine import ExitCode

from aiida_gaprss.data.extxyz import read_frames
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.parsers.python_job import PythonJobParser

__all__ = ('StudentValidationParser',)


class StudentValidationParser(PythonJobParser):
    """Outputs ``report``, ``plots.*``, ``quenched``; then 320/321/322 from the report's ``failures``."""

    def parse_outputs(self, status: dict) -> ExitCode | None:
        """Attach every output, then map the recorded failures to exit codes."""
        process = self.node.process_class
        report = self.read_json(process.REPORT_FILENAME)
        self.out('report', orm.Dict(report))
        names = set(self.retrieved.base.repository.list_object_names())
        for key, filename in process.PLOT_FILENAMES.items():
            if filename in names:
                with self.retrieved.base.repository.open(filename, mode='rb') as handle:
                    self.out(f'plots.{key}', orm.SinglefileData(handle, filename=filename))
        if process.QUENCHED_FILENAME in names:
            with self.retrieved.base.repository.open(process.QUENCHED_FILENAME, 'r') as handle:
                frames = list(read_frames(handle))
            if frames:
                self.out('quenched', StructureSet.from_atoms(frames))
        failures = report.get('failures') or []

        def detail(rows):
            return '; '.join(f'{row.get("who")} {row.get("check")}: {row.get("error")}' for row in rows)

        teacher = [row for row in failures if row.get('who') == 'teacher']
        if teacher:
            return self.exit_codes.ERROR_TEACHER_FAILED.format(detail=detail(teacher))
        names = set(self.node.inputs.students.keys())
        students = [row for row in failures if row.get('who') in names]
        if students:
            return self.exit_codes.ERROR_STUDENT_FAILED.format(detail=detail(students))
        plots = [row for row in failures if row.get('who') == 'plots']
        if plots:
            return self.exit_codes.ERROR_PLOT_FAILED.format(detail=detail(plots))
        return None
