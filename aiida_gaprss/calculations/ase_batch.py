"""``AseBatch`` (``gaprss.ase_batch``): many structures labelled in one job by any ASE calculator.

The calculator is one of

* ``calculator`` Dict ``{'type': 'import', 'path': 'package.module:callable', 'kwargs': {...}}``: any importable
  callable returning an ASE calculator (e.g. ``ase.calculators.lj:LennardJones``);
* ``calculator`` Dict ``{'type': 'sw_si'}``: Stillinger-Weber silicon (quippy);
* ``potential``: a :class:`~aiida_gaprss.data.gap_potential.GapPotential` (its files are copied into the job, so
  the labels' provenance holds the exact potential). ``parameters['args_str']`` is passed on to quippy.

A structure whose calculation raises is left out and recorded in ``report`` (``failures``: index and error);
the job fails (320) only if every structure failed.
"""

from __future__ import annotations

import importlib.util
import logging

from aiida import orm
from aiida.common.folders import Folder

from aiida_gaprss.calculations.python_job import PythonJob
from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet

__all__ = ('AseBatch', 'validate_calculator', 'validate_calculator_or_potential')

LOGGER = logging.getLogger(__name__)

_PARAMETER_KEYS = {'compute_virial': bool, 'stop_on_error': bool, 'args_str': str}


def validate_calculator(spec: dict) -> str | None:
    """Return an error message for a bad ``calculator`` spec (types ``import`` or ``sw_si``), else ``None``."""
    kind = spec.get('type')
    if kind == 'sw_si':
        extra = sorted(set(spec) - {'type'})
        return f'field `calculator`: unknown key `{extra[0]}` for type `sw_si`' if extra else None
    if kind == 'gap':
        return 'field `calculator`: for a GAP give the `potential` input (a GapPotential node), not a path'
    if kind != 'import':
        return f"field `calculator.type`: expected 'import' or 'sw_si', got {kind!r}"
    extra = sorted(set(spec) - {'type', 'path', 'kwargs'})
    if extra:
        return f'field `calculator`: unknown key `{extra[0]}` for type `import`'
    path = spec.get('path')
    if not isinstance(path, str) or path.count(':') != 1 or not all(path.split(':')):
        return f"field `calculator.path`: expected 'package.module:callable', got {path!r}"
    module = path.split(':')[0]
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        found = None
    if found is None:
        return f'field `calculator.path`: module `{module}` cannot be found'
    if not isinstance(spec.get('kwargs', {}), dict):
        return 'field `calculator.kwargs`: expected a dict'
    from aiida_gaprss.rss.potentials import check_calculator_factory

    try:
        check_calculator_factory(path)
    except ValueError as exception:
        return f'field `calculator.path`: {str(exception).split(": ", 1)[1]}'
    return None


def validate_calculator_or_potential(value) -> str | None:
    """Exactly one of the inputs ``calculator`` (a valid spec) and ``potential``: an error message, else ``None``."""
    has_calculator = 'calculator' in value
    if has_calculator == ('potential' in value):
        return 'give exactly one of the inputs `calculator` (Dict spec) and `potential` (GapPotential)'
    return validate_calculator(value['calculator'].get_dict()) if has_calculator else None


def validate_inputs(value, _):
    """Exactly one of ``calculator`` and ``potential``; known parameter keys."""
    error = validate_calculator_or_potential(value)
    if error:
        return error
    if 'parameters' in value:
        for key, content in value['parameters'].get_dict().items():
            if key not in _PARAMETER_KEYS:
                return f'field `parameters.{key}`: unknown key; known: {sorted(_PARAMETER_KEYS)}'
            if not isinstance(content, _PARAMETER_KEYS[key]):
                return f'field `parameters.{key}`: expected {_PARAMETER_KEYS[key].__name__}'
    return None


class AseBatch(PythonJob):
    """Label a StructureSet with an ASE calculator in one job (see the module docstring)."""

    TASK = 'ase_batch'
    INPUT_FILENAME = 'structures.xyz'
    LABELLED_FILENAME = 'labelled.xyz'
    REPORT_FILENAME = 'report.json'
    POTENTIAL_FOLDER = 'potential'
    OUTPUT_FILES = (LABELLED_FILENAME, REPORT_FILENAME)

    @classmethod
    def define(cls, spec):
        """Inputs: structures, calculator or potential, parameters; outputs: structures, report."""
        super().define(spec)
        spec.input('structures', valid_type=StructureSet, help='The structures to label.')
        spec.input('calculator', valid_type=orm.Dict, required=False, help='Calculator spec (`import` or `sw_si`).')
        spec.input('potential', valid_type=GapPotential, required=False, help='A GAP potential as the calculator.')
        spec.input(
            'parameters',
            valid_type=orm.Dict,
            required=False,
            help='Optional: compute_virial (bool, default True), stop_on_error (bool, default False), args_str (GAP).',
        )
        spec.inputs.validator = validate_inputs
        spec.inputs['metadata']['options']['parser_name'].default = 'gaprss.ase_batch'
        spec.output('structures', valid_type=StructureSet, required=False, help='The labelled structures.')
        spec.output(
            'report',
            valid_type=orm.Dict,
            help='num_structures, num_labelled, indices (input position of each labelled structure), failures.',
        )
        spec.exit_code(320, 'ERROR_ALL_STRUCTURES_FAILED', message='Every structure failed: {first}')

    def get_job_parameters(self) -> dict:
        """Input/output file names, the calculator spec and the options."""
        parameters = self.inputs.parameters.get_dict() if 'parameters' in self.inputs else {}
        if 'potential' in self.inputs:
            calculator = {'type': 'gap', 'xml': f'{self.POTENTIAL_FOLDER}/{self.inputs.potential.xml_name}'}
            if parameters.get('args_str'):
                calculator['args_str'] = parameters['args_str']
        else:
            calculator = self.inputs.calculator.get_dict()
        return {
            'structures': self.INPUT_FILENAME,
            'output': self.LABELLED_FILENAME,
            'report': self.REPORT_FILENAME,
            'calculator': calculator,
            'compute_virial': parameters.get('compute_virial', True),
            'stop_on_error': parameters.get('stop_on_error', False),
        }

    def write_input_files(self, folder: Folder) -> None:
        """Write the structures and, for a GAP, the potential's files."""
        self.write_structure_set(folder, self.inputs.structures, self.INPUT_FILENAME)
        if 'potential' in self.inputs:
            self.write_potential_files(folder, self.inputs.potential, self.POTENTIAL_FOLDER)
