"""``ValidatePotential`` (``gaprss.validate_potential``) and ``StructureMap`` (``gaprss.structure_map``) Python jobs.

``ValidatePotential`` relaxes the known phases of an element with one calculator — a
:class:`~aiida_gaprss.data.gap_potential.GapPotential` (``potential``) or an ASE calculator spec (``calculator``:
``{'type': 'sw_si'}`` or ``{'type': 'import', 'path': 'module:callable', 'kwargs': {...}}``) — and scans E(V) around
each minimum, on the computer of the job Python (``aiida_gaprss.jobs.validate_potential``). Outputs: ``structures``
(the relaxed phases) and ``results`` (Dict: per-phase energies and volumes, E–V points and Birch–Murnaghan fits).

``StructureMap`` computes the GAP-RSS Fig. 5 KPCA map of a StructureSet (plus the element's known phases) in a job,
since the n = l = 16 averaged SOAP of a large database is not cheap enough for a daemon worker. Output:
``structure_map`` (Dict of coordinates and colours).

Both are parsed by :class:`aiida_gaprss.parsers.validate_potential.ValidatePotentialParser` (entry point
``gaprss.validate_potential``).
"""

from __future__ import annotations

import logging
from typing import ClassVar

from aiida import orm
from aiida.common.folders import Folder

from aiida_gaprss.calculations.ase_batch import validate_calculator_or_potential
from aiida_gaprss.calculations.python_job import PythonJob
from aiida_gaprss.common import checks
from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet

__all__ = (
    'StructureMap',
    'ValidatePotential',
    'validate_map_parameters',
    'validate_validation_parameters',
)

LOGGER = logging.getLogger(__name__)

KEYS = {'element', 'phases', 'relax', 'eos', 'processes'}
RELAX_KEYS = {'fmax', 'steps', 'smax'}
EOS_KEYS = {'volume_factors', 'relax', 'fmax', 'steps', 'phases'}
MAP_KEYS = {'element', 'elements', 'soap', 'processes'}


def validate_validation_parameters(parameters: dict, *, known_phases_only: bool = True) -> None:
    """Raise ``ValueError`` naming the field for bad ``ValidatePotential`` parameters.

    ``element`` (str) and ``phases`` (non-empty list of names) are required; ``relax`` ({fmax eV/Å, steps, smax GPa}),
    ``eos`` (None to skip, or {volume_factors (≥ 5 positive numbers), relax ('auto', 'positions', 'shape', 'none'),
    fmax, steps, phases (the phases that get an E(V) curve; default all of ``phases``)}) and ``processes`` are
    optional.
    """
    from aiida_gaprss.rss.eos import RELAX_MODES
    from aiida_gaprss.rss.phases import PHASES

    unknown = sorted(set(parameters) - KEYS)
    if unknown:
        raise ValueError(f'field `parameters.{unknown[0]}`: unknown key; known: {sorted(KEYS)}')
    element = parameters.get('element')
    if not isinstance(element, str) or not element:
        raise ValueError(f'field `parameters.element`: expected a chemical symbol, got {element!r}')
    phases = parameters.get('phases')
    if not isinstance(phases, list) or not phases or not all(isinstance(name, str) for name in phases):
        raise ValueError('field `parameters.phases`: expected a non-empty list of phase names')
    if len(set(phases)) != len(phases):
        raise ValueError('field `parameters.phases`: names must be unique')
    if known_phases_only:
        known = list(PHASES.get(element, {}))
        for name in phases:
            if name not in known:
                raise ValueError(f'field `parameters.phases`: unknown phase {name!r} of {element}; known: {known}')
    relax = parameters.get('relax', {})
    if not isinstance(relax, dict):
        raise ValueError('field `parameters.relax`: expected a dict')
    unknown = sorted(set(relax) - RELAX_KEYS)
    if unknown:
        raise ValueError(f'field `parameters.relax.{unknown[0]}`: unknown key; known: {sorted(RELAX_KEYS)}')
    for key in ('fmax', 'smax'):
        if key in relax:
            checks.positive_number(relax[key], checks.field(f'parameters.relax.{key}'))
    if 'steps' in relax:
        checks.integer(relax['steps'], checks.field('parameters.relax.steps'), minimum=1)
    eos = parameters.get('eos', {})
    if eos is not None:
        if not isinstance(eos, dict):
            raise ValueError('field `parameters.eos`: expected a dict or None')
        unknown = sorted(set(eos) - EOS_KEYS)
        if unknown:
            raise ValueError(f'field `parameters.eos.{unknown[0]}`: unknown key; known: {sorted(EOS_KEYS)}')
        factors = eos.get('volume_factors', [0.9, 1.0, 1.1, 1.05, 0.95])
        if not isinstance(factors, list) or len(factors) < 5:
            raise ValueError('field `parameters.eos.volume_factors`: expected a list of at least 5 numbers')
        for value in factors:
            checks.positive_number(value, checks.field('parameters.eos.volume_factors'))
        if eos.get('relax', 'auto') not in RELAX_MODES:
            raise ValueError(f'field `parameters.eos.relax`: expected one of {RELAX_MODES}, got {eos["relax"]!r}')
        if 'fmax' in eos:
            checks.positive_number(eos['fmax'], checks.field('parameters.eos.fmax'))
        if 'steps' in eos:
            checks.integer(eos['steps'], checks.field('parameters.eos.steps'), minimum=0)
        if 'phases' in eos:
            subset = eos['phases']
            if not isinstance(subset, list) or not subset or not all(isinstance(name, str) for name in subset):
                raise ValueError('field `parameters.eos.phases`: expected a non-empty list of phase names')
            outside = [name for name in subset if name not in phases]
            if outside:
                raise ValueError(f'field `parameters.eos.phases`: {outside[0]!r} is not one of `parameters.phases` '
                                 f'{phases}')  # fmt: skip
    if 'processes' in parameters:
        checks.integer(parameters['processes'], checks.field('parameters.processes'), minimum=1)


def validate_map_parameters(parameters: dict) -> None:
    """Raise ``ValueError`` naming the field for bad ``StructureMap`` parameters (element or elements, soap,
    processes)."""
    from aiida_gaprss.rss.elements import validate_element
    from aiida_gaprss.rss.structure_map import KPCA_SOAP

    unknown = sorted(set(parameters) - MAP_KEYS)
    if unknown:
        raise ValueError(f'field `parameters.{unknown[0]}`: unknown key; known: {sorted(MAP_KEYS)}')
    if parameters.get('element') is not None and parameters.get('elements') is not None:
        raise ValueError('field `parameters.elements`: give either `element` or `elements`, not both')
    if parameters.get('elements') is not None:
        elements = parameters['elements']
        if (
            not isinstance(elements, list)
            or len(elements) < 2
            or len(set(elements)) != len(elements)
            or not all(isinstance(symbol, str) for symbol in elements)
        ):
            raise ValueError(f'field `parameters.elements`: expected two or more distinct symbols, got {elements!r}')
        for symbol in elements:
            try:
                validate_element(symbol)
            except ValueError as exception:
                raise ValueError(f'field `parameters.elements`: {str(exception).partition(": ")[2]}') from None
    soap = parameters.get('soap', {}) or {}
    if not isinstance(soap, dict):
        raise ValueError('field `parameters.soap`: expected a dict')
    unknown = sorted(set(soap) - set(KPCA_SOAP))
    if unknown:
        raise ValueError(f'field `parameters.soap.{unknown[0]}`: unknown key; known: {sorted(KPCA_SOAP)}')
    if 'processes' in parameters:
        checks.integer(parameters['processes'], checks.field('parameters.processes'), minimum=1)


def _validate_inputs(value, _):
    error = validate_calculator_or_potential(value)
    if error:
        return error
    if 'parameters' in value:
        try:
            validate_validation_parameters(value['parameters'].get_dict(), known_phases_only='structures' not in value)
        except ValueError as exception:
            return str(exception)
        if 'structures' in value:
            names = {atoms.info.get('phase') for atoms in value['structures'].iter_atoms()}
            for name in value['parameters']['phases']:
                if name not in names:
                    return f'field `structures`: no structure with info phase={name!r}'
    return None


def _validate_map_inputs(value, _):
    if 'parameters' in value:
        try:
            validate_map_parameters(value['parameters'].get_dict())
        except ValueError as exception:
            return str(exception)
    return None


def _copy_potential(potential: GapPotential, folder: Folder, subfolder_name: str) -> None:
    subfolder = folder.get_subfolder(subfolder_name, create=True)
    for name in potential.filenames:
        with potential.base.repository.open(name, mode='rb') as source:
            subfolder.create_file_from_filelike(source, name, mode='wb')


class ValidatePotential(PythonJob):
    """Relax the known phases with one calculator and scan E(V) (see the module docstring)."""

    TASK = 'validate_potential'
    INPUT_FILENAME: ClassVar[str] = 'structures.xyz'
    PHASES_FILENAME: ClassVar[str] = 'phases.xyz'
    RESULTS_FILENAME: ClassVar[str] = 'results.json'
    POTENTIAL_FOLDER: ClassVar[str] = 'potential'
    OUTPUT_FILES = (PHASES_FILENAME, RESULTS_FILENAME)

    @classmethod
    def define(cls, spec):
        """Inputs: parameters, potential or calculator, optional starting structures; outputs: structures, results."""
        super().define(spec)
        spec.input('parameters', valid_type=orm.Dict, help='element, phases, relax, eos, processes.')
        spec.input('potential', valid_type=GapPotential, required=False, help='The GAP to validate.')
        spec.input('calculator', valid_type=orm.Dict, required=False, help='ASE calculator spec (sw_si or import).')
        spec.input(
            'structures',
            valid_type=StructureSet,
            required=False,
            help="Starting structures tagged with info['phase'] (default: built from crystallographic data).",
        )
        spec.inputs.validator = _validate_inputs
        spec.inputs['metadata']['options']['parser_name'].default = 'gaprss.validate_potential'
        spec.output('structures', valid_type=StructureSet, help='The relaxed phases.')
        spec.output('results', valid_type=orm.Dict, help='Per-phase energies, volumes, E–V points and EOS fits.')
        spec.exit_code(320, 'ERROR_NO_PHASE', message='No phase could be relaxed.')

    def get_job_parameters(self) -> dict:
        """Task parameters, file names and the calculator spec."""
        parameters = dict(self.inputs.parameters.get_dict())
        if 'potential' in self.inputs:
            calculator = {'type': 'gap', 'xml': f'{self.POTENTIAL_FOLDER}/{self.inputs.potential.xml_name}'}
        else:
            calculator = self.inputs.calculator.get_dict()
        parameters.update(
            mode='validate',
            calculator=calculator,
            output=self.PHASES_FILENAME,
            results=self.RESULTS_FILENAME,
            structures=self.INPUT_FILENAME if 'structures' in self.inputs else None,
        )
        return parameters

    def write_input_files(self, folder: Folder) -> None:
        """Starting structures (if given) and the potential's files (if a GAP)."""
        if 'structures' in self.inputs:
            with folder.open(self.INPUT_FILENAME, 'w', encoding='utf-8') as handle:
                handle.write(self.inputs.structures.get_content())
        if 'potential' in self.inputs:
            _copy_potential(self.inputs.potential, folder, self.POTENTIAL_FOLDER)


class StructureMap(PythonJob):
    """KPCA structure map of a StructureSet and the element's known phases (see the module docstring)."""

    TASK = 'validate_potential'
    INPUT_FILENAME: ClassVar[str] = 'structures.xyz'
    RESULTS_FILENAME: ClassVar[str] = 'results.json'
    OUTPUT_FILES = (RESULTS_FILENAME,)

    @classmethod
    def define(cls, spec):
        """Inputs: structures, optional parameters (element, soap, processes); output: structure_map."""
        super().define(spec)
        spec.input('structures', valid_type=StructureSet, help='The structures to place on the map.')
        spec.input('parameters', valid_type=orm.Dict, required=False, help='element, soap overrides, processes.')
        spec.inputs.validator = _validate_map_inputs
        spec.inputs['metadata']['options']['parser_name'].default = 'gaprss.validate_potential'
        spec.output('structure_map', valid_type=orm.Dict, help='KPCA coordinates, coordination, phase indices.')

    def get_job_parameters(self) -> dict:
        """Task parameters and file names."""
        parameters = dict(self.inputs.parameters.get_dict()) if 'parameters' in self.inputs else {}
        if 'element' not in parameters:
            species = self.inputs.structures.species
            parameters['element'] = species[0] if len(species) == 1 else None
        parameters.update(mode='structure_map', structures=self.INPUT_FILENAME, results=self.RESULTS_FILENAME)
        return parameters

    def write_input_files(self, folder: Folder) -> None:
        """The structures."""
        with folder.open(self.INPUT_FILENAME, 'w', encoding='utf-8') as handle:
            handle.write(self.inputs.structures.get_content())
