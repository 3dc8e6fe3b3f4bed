"""Parser of ``gaprss.gap_fit``: the potential, training errors and gap_fit's report, or a precise exit code.

Order of checks (the first that applies gives the exit code):

1. no retrieved folder: 300;
2. the scheduler reported out-of-walltime (exit status 120 set by the scheduler parser, or a time-limit message in the
   scheduler's stderr): 400; out-of-memory (exit status 110, or an OOM-killer message): 330; a node failure (140)
   or a cancellation (``*** JOB ... CANCELLED AT ...`` in the scheduler's stderr -- aiida-core's SLURM plugin sets
   no exit code for a CANCELLED job): 340;
3. missing gap_fit stdout / stderr: 301 / 302;
4. an out-of-memory message of gap_fit or its runtime (``Cannot allocate memory``, ``bad_alloc``, ...): 330;
5. a ``SYSTEM ABORT`` (QUIP's error), an ``ERROR`` line or a crash signal: 320, with gap_fit's own message;
6. no ``gap.xml`` although gap_fit stopped before its final message, with no error (killed by a signal): 340;
   no ``gap.xml`` after a normal end: 310; ``gap.xml`` refers to a missing or corrupt sparseX file: 311;
7. an evaluation code ran but wrote no errors: 312 (the potential and the report are still attached).
"""

from __future__ import annotations

import datetime
import json
import logging
import pathlib
import re

from aiida import orm
from aiida.common import NotExistent
from aiida.engine import ExitCode
from aiida.parsers import Parser

from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.parsers.python_job import scheduler_stop_message
from aiida_gaprss.rss.gap_parameters import build_gap_fit_command, gap_fit_command_line

__all__ = ('PARSER_EVALUATION_MAX_ATOMS', 'GapFitParser', 'find_error', 'find_out_of_memory', 'parse_stdout')

LOGGER = logging.getLogger(__name__)

#: Without an evaluation code, the parser computes training errors itself only up to this many training atoms.
PARSER_EVALUATION_MAX_ATOMS = 5000

_OUT_OF_MEMORY = (
    re.compile(r'Cannot allocate memory[^\n]*(?:\n[^\n]*Error allocating[^\n]*)?'),
    re.compile(r'[^\n]*Allocation would exceed memory limit[^\n]*'),
    re.compile(r'[^\n]*std::bad_alloc[^\n]*'),
    re.compile(r'[^\n]*\bout of memory\b[^\n]*', re.IGNORECASE),
    re.compile(r'[^\n]*oom[-_ ]kill[^\n]*', re.IGNORECASE),
    re.compile(r'[^\n]*MemoryError[^\n]*'),
)
_WALLTIME = (
    re.compile(r'[^\n]*DUE TO TIME LIMIT[^\n]*'),
    re.compile(r'[^\n]*(?:walltime|wall time|time limit)[^\n]*(?:exceeded|reached)[^\n]*', re.IGNORECASE),
    re.compile(r'[^\n]*PBS: job killed: walltime[^\n]*'),
)
_ABORT = re.compile(r'SYSTEM ABORT:(?P<text>.*?)(?:\n\s*STOP\b|\Z)', re.DOTALL)
_ERROR_LINE = re.compile(r'^\s*(?:ERROR|Error termination|Fatal error)\b.*$', re.MULTILINE)
_SIGNAL = re.compile(r'Program received signal (?P<signal>\w+)[^\n]*')
_TIMER = re.compile(
    r'^TIMER:\s+(?P<name>.+?)\s+done in\s+(?P<cpu>[-+.\dEe]+) cpu secs,\s+(?P<wall>[-+.\dEe]+) wall clock secs',
    re.MULTILINE,
)
_STAMP = r'(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)'


def _collapse(text: str) -> str:
    """One line of text: Fortran's hyphenated wraps joined, runs of whitespace collapsed."""
    text = re.sub(r'-\n', '', text)
    return re.sub(r'\s+', ' ', text).strip()


def find_out_of_memory(*texts: str) -> str | None:
    """The first out-of-memory message in ``texts``, or None."""
    for text in texts:
        for pattern in _OUT_OF_MEMORY:
            match = pattern.search(text or '')
            if match:
                return _collapse(match.group(0))
    return None


def find_error(stdout: str, stderr: str) -> str | None:
    """gap_fit's error message (``SYSTEM ABORT`` text, ``ERROR`` lines or a crash signal), or None."""
    messages = []
    for text in (stderr, stdout):
        for match in _ABORT.finditer(text or ''):
            message = _collapse(match.group('text'))
            if message and message not in messages:
                messages.append(message)
    if messages:
        return ' | '.join(messages)
    for text in (stderr, stdout):
        lines = [_collapse(line) for line in _ERROR_LINE.findall(text or '')]
        lines = [line for line in lines if line]
        if lines:
            return ' | '.join(dict.fromkeys(lines))
    signal = _SIGNAL.search(stderr or '')
    if signal:
        return _collapse(signal.group(0))
    return None


def _float(text: str) -> float:
    return float(text.replace('D', 'E'))


def parse_stdout(stdout: str) -> dict:
    """What gap_fit's standard output reports: version, seed, targets found, descriptors, memory, timings."""
    result: dict = {}
    version = re.search(r'git version\s+(\S+)', stdout)
    if version:
        result['gap_fit_version'] = version.group(1)
    seed = re.search(r'^rnd_seed = (-?\d+)', stdout, re.MULTILINE)
    if seed:
        result['random_seed'] = int(seed.group(1))
    for key, name in (('energies', 'energy'), ('forces', 'forces'), ('virials', 'virial')):
        match = re.search(rf'Number of target {key} \(property name: \w+\) found: (\d+)', stdout)
        if match:
            result[f'n_target_{name}'] = int(match.group(1))
    counts = [int(n) for n in re.findall(r'^Number of descriptors:\s+(\d+)', stdout, re.MULTILINE)]
    if counts:
        result['n_descriptor_environments'] = counts
    peak = re.search(r'^PEAK\s+([\d.]+)\s+(\w?B)', stdout, re.MULTILINE)
    if peak:
        scale = {'B': 1e-6, 'KB': 1e-3, 'MB': 1.0, 'GB': 1e3, 'TB': 1e6}.get(peak.group(2), float('nan'))
        result['memory_estimate_mb'] = float(peak.group(1)) * scale
    timers = {match.group('name').strip(): _float(match.group('wall')) for match in _TIMER.finditer(stdout)}
    if timers:
        result['timers_wall_seconds'] = timers
    start = re.search(rf'libAtoms::Hello World: {_STAMP}', stdout)
    end = re.search(rf'libAtoms::Finalise: {_STAMP}', stdout)
    result['finished'] = end is not None
    if start and end:
        fmt = '%Y-%m-%d %H:%M:%S'
        delta = datetime.datetime.strptime(end.group(1), fmt) - datetime.datetime.strptime(start.group(1), fmt)
        result['wall_time_seconds'] = delta.total_seconds()
    return result


class GapFitParser(Parser):
    """Parse a ``gaprss.gap_fit`` job (see the module docstring for the exit codes)."""

    def _read(self, name: str) -> str | None:
        if name not in self.retrieved.base.repository.list_object_names():
            return None
        return self.retrieved.base.repository.get_object_content(name, mode='r')

    def _scheduler_exit(self) -> ExitCode | None:
        """Walltime / memory failures reported by the scheduler (exit status or its stderr)."""
        status = self.node.exit_status
        scheduler_stderr = self._read(self.node.get_option('scheduler_stderr') or '_scheduler-stderr.txt') or ''
        if status == self.exit_codes.ERROR_SCHEDULER_OUT_OF_WALLTIME.status:
            message = self.node.exit_message or 'the scheduler reported that the job ran out of walltime'
            return self.exit_codes.ERROR_OUT_OF_WALLTIME.format(message=message)
        if status == self.exit_codes.ERROR_SCHEDULER_OUT_OF_MEMORY.status:
            message = self.node.exit_message or 'the scheduler reported that the job ran out of memory'
            return self.exit_codes.ERROR_OUT_OF_MEMORY.format(message=message)
        for pattern in _WALLTIME:
            match = pattern.search(scheduler_stderr)
            if match:
                return self.exit_codes.ERROR_OUT_OF_WALLTIME.format(message=_collapse(match.group(0)))
        oom = find_out_of_memory(scheduler_stderr)
        if oom:
            return self.exit_codes.ERROR_OUT_OF_MEMORY.format(message=oom)
        stopped = scheduler_stop_message(self.node, scheduler_stderr)
        if stopped:
            return self.exit_codes.ERROR_JOB_KILLED.format(message=stopped)
        return None

    def parse(self, **kwargs):
        """Parse the retrieved files; attach ``potential`` and ``output_parameters``."""
        try:
            _ = self.retrieved
        except NotExistent:
            return self.exit_codes.ERROR_NO_RETRIEVED_FOLDER

        exit_code = self._scheduler_exit()
        if exit_code is not None:
            return exit_code

        calculation = self.node.process_class
        stdout = self._read(calculation.STDOUT_FILENAME)
        if stdout is None:
            return self.exit_codes.ERROR_OUTPUT_STDOUT_MISSING
        stderr = self._read(calculation.STDERR_FILENAME)
        if stderr is None:
            return self.exit_codes.ERROR_OUTPUT_STDERR_MISSING

        oom = find_out_of_memory(stderr, stdout)
        if oom:
            return self.exit_codes.ERROR_OUT_OF_MEMORY.format(message=oom)
        error = find_error(stdout, stderr)
        if error:
            return self.exit_codes.ERROR_GAP_FIT.format(message=error)

        report = parse_stdout(stdout)
        temporary = kwargs.get('retrieved_temporary_folder')
        folder = pathlib.Path(temporary) if temporary else None
        xml_name = calculation.POTENTIAL_FILENAME
        if folder is None or not (folder / xml_name).is_file():
            if not report['finished']:
                return self.exit_codes.ERROR_JOB_KILLED.format(
                    message='gap_fit stopped before its final message, with no error and no gap.xml'
                )
            return self.exit_codes.ERROR_POTENTIAL_MISSING.format(message='gap_fit finished normally')

        argv = self._command_argv()
        try:
            potential = GapPotential.from_folder(folder, command_line=gap_fit_command_line(argv), xml_name=xml_name)
        except ValueError as exception:
            return self.exit_codes.ERROR_POTENTIAL_INVALID.format(message=str(exception))

        errors, errors_problem = self._training_errors(folder / xml_name)
        output = self._output_parameters(report, potential, errors)
        self.out('potential', potential)
        self.out('output_parameters', orm.Dict(output))
        if errors_problem:
            return self.exit_codes.ERROR_TRAINING_ERRORS.format(message=errors_problem)
        return ExitCode(0)

    def _command_argv(self) -> list[str]:
        parameters = self.node.inputs.parameters.get_dict()
        calculation = self.node.process_class
        return build_gap_fit_command(
            parameters, at_file=calculation.TRAINING_FILENAME, gp_file=calculation.POTENTIAL_FILENAME
        )

    def _training_errors(self, xml_path: pathlib.Path) -> tuple[dict | None, str | None]:
        """Training errors from the evaluation code's JSON, or computed here for small sets."""
        if 'evaluation_code' in self.node.inputs:
            calculation = self.node.process_class
            content = self._read(calculation.ERRORS_FILENAME)
            if content is None:
                status = self._read(calculation.ERRORS_STATUS_FILENAME)
                detail = 'no status file'
                if status:
                    try:
                        detail = json.loads(status).get('error') or detail
                    except ValueError:
                        detail = 'unreadable status file'
                return None, f'the evaluation job wrote no `{calculation.ERRORS_FILENAME}` ({detail})'
            try:
                return json.loads(content), None
            except ValueError as exception:
                return None, f'`{calculation.ERRORS_FILENAME}` is not valid JSON: {exception}'

        training_set = self.node.inputs.training_set
        if training_set.num_atoms > PARSER_EVALUATION_MAX_ATOMS:
            self.logger.warning(
                f'training set of {training_set.num_atoms} atoms is too large to evaluate in the parser '
                f'(> {PARSER_EVALUATION_MAX_ATOMS}); give an `evaluation_code` to get training errors'
            )
            return None, None
        from quippy.potential import Potential

        from aiida_gaprss.jobs.gap_errors import training_errors

        try:
            calculator = Potential(param_filename=str(xml_path))
            return training_errors(training_set.iter_atoms(), calculator), None
        except Exception as exception:  # noqa: BLE001 - quippy raises plain RuntimeError and friends
            return None, f'evaluating the potential in the parser failed: {exception}'

    def _output_parameters(self, report: dict, potential: GapPotential, errors: dict | None) -> dict:
        training_set = self.node.inputs.training_set
        descriptors = potential.descriptors
        n_sparse = potential.base.attributes.get('n_sparse', [])
        output = {
            'n_structures': training_set.num_structures,
            'n_atoms': training_set.num_atoms,
            'species': training_set.species,
            'sparse_points': [
                {'type': descriptor['type'], 'n_sparse': count}
                for descriptor, count in zip(descriptors, n_sparse, strict=False)
            ],
            'e0': potential.base.attributes.get('e0', {}),
            **report,
            'units': {'energy': 'eV/atom', 'forces': 'eV/Angstrom', 'virial': 'eV/atom', 'time': 's'},
        }
        if errors is not None:
            output['energy_rmse'] = errors.get('energy_rmse')
            output['forces_rmse'] = errors.get('forces_rmse')
            output['virial_rmse'] = errors.get('virial_rmse')
            output['training_errors'] = errors
        return output
