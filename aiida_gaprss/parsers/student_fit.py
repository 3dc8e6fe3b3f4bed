"""``StudentFitParser`` (``gaprss.student_fit``): the fit report and one StudentPotential per fitted level."""

from __future__ import annotations

import tempfile

from aiida import orm
from aiida.engine import ExitCode

from aiida_gaprss.data.student_potential import StudentPotential
from aiida_gaprss.parsers.python_job import PythonJobParser
from aiida_gaprss.students.mtp import level_key

__all__ = ('StudentFitParser',)


class StudentFitParser(PythonJobParser):
    """Outputs ``report`` and one ``students.level_XX`` per fitted level; 320 if a student's files are missing."""

    def parse_outputs(self, status: dict) -> ExitCode | None:
        """Read the report and store every student folder as a StudentPotential."""
        report = self.read_json(self.node.process_class.REPORT_FILENAME)
        self.out('report', orm.Dict(report))
        problems = []
        for level, entry in sorted(report.get('students', {}).items(), key=lambda item: int(item[0])):
            folder = entry.get('folder', f'student_{level}')
            with tempfile.TemporaryDirectory(prefix='gaprss-student-') as tmp:
                try:
                    self.retrieved.base.repository.copy_tree(tmp, path=folder)
                    student = StudentPotential.from_folder(tmp)
                except (FileNotFoundError, OSError, ValueError) as exception:
                    problems.append(f'level {level}: {exception}')
                    continue
            self.out(f'students.{level_key(level)}', student)
        expected = {int(level) for level in self.node.inputs.parameters['levels']}
        missing = sorted(expected - {int(level) for level in report.get('students', {})})
        if missing:
            problems.append(f'levels {missing} absent from the report')
        if problems:
            return self.exit_codes.ERROR_STUDENT_FILES_MISSING.format(detail='; '.join(problems))
        return None
