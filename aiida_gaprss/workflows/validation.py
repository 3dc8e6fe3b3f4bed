"""``ValidationWorkChain`` (``gaprss.validation``): a GapPotential against the reference on known phases and E(V).

What it does (GAP-RSS, Bernstein, Csányi & Deringer 2019, Figs. 2–3):

1. the known phases of the element (:mod:`aiida_gaprss.rss.phases`; ``phases`` picks some) are relaxed — variable
   cell, 0 GPa — with the potential and, separately, with the reference, each to its *own* minimum;
2. each phase is scaled over ``eos.volume_factors`` around that minimum and relaxed at fixed volume, and the E(V)
   points are fitted with Birch–Murnaghan (V0, B0, B0');
3. ``phase_errors`` = E_pot(min_pot)/N − E_ref(min_ref)/N per phase (eV/atom), ``converged`` when below 1 meV/atom
   (:func:`aiida_gaprss.rss.validation.phase_energy_errors`); ``energy_volume`` holds both curves and fits; the PNG
   ``plots.energy_volume`` draws the potential solid and the reference dashed.

The heavy work runs in :class:`~aiida_gaprss.calculations.validate_potential.ValidatePotential` jobs on the computer
of ``code``; the daemon only compares numbers and draws the plot (calcfunctions, so every number and PNG has
provenance).

Reference side — one of:

* ``reference.engine = 'ase'`` with ``reference.ase.calculator`` (an ASE calculator spec, e.g. ``{'type': 'sw_si'}``)
  or ``reference.ase.potential`` (a GapPotential used as the reference calculator): the same job, run with the
  reference calculator;
* ``reference.engine = 'qe'`` with ``reference.qe`` (the inputs of the QE engine of the ReferenceWorkChain: ``code``,
  ``protocol``, ``pseudo_family``, ``kpoints_spacing``, ``parameters``, ``options``, ``settings``,
  ``parallelization``): each phase is relaxed by aiida-quantumespresso's ``PwRelaxWorkChain`` (``vc-relax``, 0 GPa,
  ``forc_conv_thr`` and ``press_conv_thr`` from ``relax.fmax`` and ``relax.smax``), then each E(V) point by another
  ``PwRelaxWorkChain`` at fixed volume (``relax`` of the positions for cubic phases, ``vc-relax`` with
  ``cell_dofree = 'shape'`` otherwise), on the k-point mesh of the phase's vc-relax. pw.x energies are converted with
  QE's CODATA-2006 constants, as the reference labels of the loop (:func:`~aiida_gaprss.workflows.reference.functions.
  labels_from_qe`), so a GAP fitted to QE labels is compared in the same units;
* ``reference.engine = 'vasp'`` with ``reference.vasp`` (the inputs of the VASP engine of the ReferenceWorkChain:
  ``code``, ``protocol``, ``potential_family``, ``potential_mapping``, ``parameters``, ``options``,
  ``max_iterations``): each phase is relaxed by aiida-vasp's ``VaspRelaxWorkChain`` (``vasp.v2.relax``; ``ISIF = 3``,
  0 GPa, ``EDIFFG = -relax.fmax``, restarted with a fresh basis until one whole VASP run changes the volume by less
  than 1 % (aiida-vasp's ``convergence_mode = 'inout'``), then a final single point in the relaxed cell, so the
  energy has no Pulay stress), then each E(V) point by another
  ``VaspRelaxWorkChain`` at fixed volume (``ISIF = 2`` for cubic phases, ``ISIF = 4`` otherwise; no relaxation for
  ``eos.relax = 'none'``) on the k-point mesh of the phase's relaxed single point. INCAR as the reference labels
  (``reference_vasp.yaml``: ENCUT, KSPACING with 2π — aiida-vasp's ``kpoints_spacing`` is KSPACING / 2π — smearing);
  the energy is ``energy_free`` (TOTEN), as in the labels (:func:`~aiida_gaprss.workflows.reference.functions.
  labels_from_vasp`). VASP has no stress criterion: ``relax.smax`` is not used, the cell is converged by the
  workchain's restarts;
* ``reference_results``: the ``reference_results`` output of an earlier validation of the same phases and settings
  (the GAP-RSS loop computes the reference side once per run and reuses it);
* none: only the potential's side (relaxed phases, E–V curves and fits), no errors.
"""

from __future__ import annotations

import copy
import logging

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import WorkChain, calcfunction, if_, while_

from aiida_gaprss.calculations.validate_potential import validate_validation_parameters
from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.workflows.python_job import ValidatePotentialBaseWorkChain
from aiida_gaprss.workflows.reference.engines import pw_options
from aiida_gaprss.workflows.reference.inputs import define_engine_inputs
from aiida_gaprss.workflows.window import ChildWindowMixin

__all__ = (
    'DEFAULT_PARAMETERS',
    'PROTOCOLS',
    'ValidationWorkChain',
    'compare_validation',
    'loop_validation_inputs',
    'plot_validation_energy_volume',
    'validation_protocol',
    'vasp_reference_results',
    'vasp_relax_builder',
)

LOGGER = logging.getLogger(__name__)

#: Settings of the validation jobs (``parameters`` input; ``job_options`` are the jobs' ``metadata.options``).
DEFAULT_PARAMETERS = {
    'relax': {'fmax': 0.01, 'steps': 300, 'smax': 0.01},
    'eos': {'volume_factors': [0.90, 0.933, 0.967, 1.0, 1.033, 1.067, 1.10], 'relax': 'auto', 'fmax': 0.01,
            'steps': 200},
    'processes': 1,
}  # fmt: skip
PARAMETER_KEYS = ('relax', 'eos', 'processes', 'job_options')

#: Validation settings per protocol of the GAP-RSS loop: phases per element (None = all known) and parameters.
PROTOCOLS = {
    'fast': {
        'phases': {
            'Si': ['diamond', 'beta_sn'],
            'C': ['diamond', 'graphite'],
            'B': ['alpha_b12'],
            'Ti': ['hcp', 'bcc'],
        },
        'parameters': {
            'relax': {'fmax': 0.02, 'steps': 150, 'smax': 0.02},
            'eos': {'volume_factors': [0.94, 0.97, 1.0, 1.03, 1.06], 'relax': 'auto', 'fmax': 0.02, 'steps': 60},
            'processes': 1,
        },
    },
    # every known phase relaxed; E(V) over ±8 % in volume for the phases whose curves a user checks first (the
    # reference side of E(V) is the most expensive part of a QE validation: 7 fixed-volume relaxations per phase);
    # layered phases (graphite) never get an E(V) fit (PhaseSpec.layered): for C the two sp3 phases
    'moderate': {
        'phases': None,
        'eos_phases': {'Si': ['diamond', 'beta_sn'], 'C': ['diamond', 'lonsdaleite'], 'Ti': ['hcp', 'bcc']},
        'parameters': {
            **DEFAULT_PARAMETERS,
            'eos': {**DEFAULT_PARAMETERS['eos'], 'volume_factors': [0.92, 0.947, 0.973, 1.0, 1.027, 1.053, 1.08]},
        },
    },
    'precise': {'phases': None, 'parameters': DEFAULT_PARAMETERS},
}
PROTOCOLS['tiny'] = PROTOCOLS['fast']  # the loop's tiny protocol (tests, benchmarks), when validated, as fast


def validation_protocol(element: str, protocol: str = 'moderate') -> dict:
    """``{'phases': [...], 'parameters': {...}}`` of protocol fast, moderate, precise (tiny: fast) for ``element``."""
    from aiida_gaprss.rss.phases import PHASES

    if protocol not in PROTOCOLS:
        raise ValueError(f'field `protocol`: unknown validation protocol {protocol!r}; known: {sorted(PROTOCOLS)}')
    if element not in PHASES:
        raise ValueError(f'field `element`: no known phases for {element!r}; known: {sorted(PHASES)}')
    settings = PROTOCOLS[protocol]
    phases = (settings['phases'] or {}).get(element) or list(PHASES[element])
    parameters = copy.deepcopy(settings['parameters'])
    configured = settings.get('eos_phases', {}).get(element)
    candidates = [name for name in (phases if configured is None else configured) if name in phases]
    # no E(V) fit of a layered phase (graphite): without dispersion its energy barely depends on the layer distance
    eos_phases = [name for name in candidates if not PHASES[element][name].layered]
    if parameters.get('eos') is not None:
        if not eos_phases:
            parameters['eos'] = None
        elif configured is not None or eos_phases != list(phases):
            parameters['eos']['phases'] = eos_phases
    return {'phases': list(phases), 'parameters': parameters}


def loop_validation_inputs(element: str, protocol: str = 'moderate', *, structure_map: bool = True) -> dict:
    """The ``validation`` namespace of the GAP-RSS loop for a protocol, as nodes: ``builder.validation = ...``."""
    settings = validation_protocol(element, protocol)
    return {
        'enabled': orm.Bool(True),
        'phases': orm.List(settings['phases']),
        'parameters': orm.Dict(settings['parameters']),
        'structure_map': orm.Bool(structure_map),
    }


def _job_parameters(element: str, phases: list[str], parameters: dict) -> dict:
    merged = copy.deepcopy(DEFAULT_PARAMETERS)
    for key, value in parameters.items():
        if key == 'job_options':
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return {'element': element, 'phases': list(phases), **merged}


def _phases_of(value) -> list[str]:
    from aiida_gaprss.rss.phases import PHASES

    if 'phases' in value:
        return list(value['phases'].get_list())
    return list(PHASES.get(value['element'].value, {}))


def validate_inputs(value, _):
    """Refuse bad input before anything runs; the message names the field."""
    from aiida_gaprss.rss.phases import PHASES

    element = value['element'].value
    if element not in PHASES:
        return f'field `element`: no known phases for {element!r}; known: {sorted(PHASES)}'
    reference = value.get('reference') or {}
    if 'max_concurrent' in reference and reference['max_concurrent'].value < 1:
        return f'field `reference.max_concurrent`: must be >= 1, got {reference["max_concurrent"].value}'
    parameters = value['parameters'].get_dict() if 'parameters' in value else {}
    unknown = sorted(set(parameters) - set(PARAMETER_KEYS))
    if unknown:
        return f'field `parameters.{unknown[0]}`: unknown key; known: {list(PARAMETER_KEYS)}'
    if not isinstance(parameters.get('job_options', {}), dict):
        return 'field `parameters.job_options`: expected a dict of metadata.options'
    try:
        validate_validation_parameters(_job_parameters(element, _phases_of(value), parameters))
    except ValueError as exception:
        return str(exception)
    reference = value.get('reference', {})
    if reference and 'reference_results' in value:
        return 'give at most one of `reference` (compute the reference side) and `reference_results` (reuse it)'
    if reference:
        engine = reference['engine'].value if 'engine' in reference else 'ase'
        if engine == 'vasp':
            return _validate_vasp(reference, element, _phases_of(value))
        if engine == 'qe':
            return _validate_qe(reference, element, _phases_of(value))
        if engine != 'ase':
            return f"field `reference.engine`: expected 'ase', 'qe' or 'vasp', got {engine!r}"
        ase = reference.get('ase', {})
        if ('calculator' in ase) == ('potential' in ase):
            return 'field `reference.ase`: give exactly one of `calculator` (Dict spec) and `potential` (GapPotential)'
        if 'calculator' in ase:
            from aiida_gaprss.calculations.ase_batch import validate_calculator

            error = validate_calculator(ase['calculator'].get_dict())
            if error:
                return error.replace('field `calculator', 'field `reference.ase.calculator')
    if 'reference_results' in value:
        content = value['reference_results'].get_dict()
        phases = content.get('phases')
        if not isinstance(phases, dict) or not phases:
            return 'field `reference_results.phases`: expected a dict phase -> result'
        missing = [name for name in _phases_of(value) if name not in phases]
        if missing and len(missing) == len(_phases_of(value)):
            return f'field `reference_results.phases`: none of the requested phases is there (e.g. {missing[0]!r})'
    return None


def _validate_qe(reference, element: str, phases: list[str]) -> str | None:
    from aiida_gaprss.rss.phases import build_phase
    from aiida_gaprss.workflows.reference.engines import QeEngine

    if 'qe' not in reference or 'code' not in reference['qe']:
        return 'field `reference.qe.code`: engine `qe` needs a pw.x code'
    error = QeEngine.validate({'qe': reference['qe']}, [build_phase(element, name) for name in phases])
    return error.replace('field `qe.', 'field `reference.qe.') if error else None


#: INCAR tags of a relaxation that the validation sets itself (from ``relax`` / ``eos`` and the mode).
VASP_RELAX_TAGS = ('ibrion', 'nsw', 'isif', 'ediffg', 'pstress')


def _validate_vasp(reference, element: str, phases: list[str]) -> str | None:
    from aiida_gaprss.rss.phases import build_phase
    from aiida_gaprss.workflows.reference.engines import VaspEngine

    if 'vasp' not in reference or 'code' not in reference['vasp']:
        return 'field `reference.vasp.code`: engine `vasp` needs a VASP code'
    error = VaspEngine.validate({'vasp': reference['vasp']}, [build_phase(element, name) for name in phases])
    if error:
        return error.replace('field `vasp.', 'field `reference.vasp.').replace('`vasp.', '`reference.vasp.')
    parameters = reference['vasp']['parameters'].get_dict() if 'parameters' in reference['vasp'] else {}
    for key in parameters:
        if key.lower() in VASP_RELAX_TAGS:
            return (
                f'field `reference.vasp.parameters.{key}`: set by the validation (relaxation of the phases and fixed-'
                f'volume E(V) points from `parameters.relax` / `parameters.eos`); leave it out'
            )
    return None


#: Inputs of the ``vasp`` namespace (those of the ReferenceWorkChain's VASP engine used here).
VASP_KEYS = ('code', 'protocol', 'potential_family', 'potential_mapping', 'parameters', 'options', 'max_iterations')
#: Degrees of freedom (positions, shape, volume) of a VASP relaxation per mode; ISIF 3, 4 and 2.
_VASP_MODES = {'vc-relax': (True, True, True), 'shape': (True, True, False), 'relax': (True, False, False)}


def vasp_relax_builder(vasp, atoms, mode: str, relax: dict, mesh=None):
    """A ``VaspRelaxWorkChain`` (``vasp.v2.relax``) builder for one phase.

    Parameters
    ----------
    vasp : mapping
        The ``reference.vasp`` inputs (``code``, ``potential_family``, ``potential_mapping``, optional ``protocol``,
        ``parameters``, ``options``, ``max_iterations``).
    atoms : ase.Atoms
        The starting structure.
    mode : {'vc-relax', 'shape', 'relax', 'none'}
        ``vc-relax``: positions, shape and volume at 0 GPa (ISIF 3); ``shape``: positions and shape at fixed volume
        (ISIF 4); ``relax``: positions only (ISIF 2); ``none``: a single point.
    relax : dict
        ``fmax`` (eV/Å, EDIFFG = -fmax) and ``steps`` (NSW of each VASP run).
    mesh : list of int, optional
        Explicit k-point mesh (the E(V) points use the mesh of their phase's relaxed single point); default: the
        protocol's KSPACING through aiida-vasp's ``kpoints_spacing`` (KSPACING / 2π).

    Returns
    -------
    ProcessBuilder
    """
    from aiida.plugins import WorkflowFactory
    from aiida_vasp.utils.opthold import RelaxOptions

    from aiida_gaprss.workflows.reference.engines import VaspEngine
    from aiida_gaprss.workflows.reference.protocols import load_protocol

    if mode not in (*_VASP_MODES, 'none'):
        raise ValueError(f'mode: expected one of {[*_VASP_MODES, "none"]}, got {mode!r}')
    VaspRelaxWorkChain = WorkflowFactory('vasp.v2.relax')
    protocol = load_protocol('vasp', vasp['protocol'].value if 'protocol' in vasp else None)
    overrides = vasp['parameters'].get_dict() if 'parameters' in vasp else {}
    incar, spacing = VaspEngine.incar(protocol, atoms, overrides)
    for key in VASP_RELAX_TAGS:  # the single-point tags of the label protocol; the relax settings set them
        incar.pop(key, None)
    positions, shape, volume = _VASP_MODES.get(mode, (False, False, False))
    fmax = float(relax.get('fmax', 0.01))
    structure = orm.StructureData(ase=atoms)
    builder = VaspRelaxWorkChain.get_builder()
    builder.structure = structure
    # every option written out (aiida-vasp's defaults filled in), as its own serializer would for a plain dict
    builder.relax_settings = RelaxOptions(
        perform=mode != 'none',
        algo='cg',
        force_cutoff=fmax,
        steps=int(relax.get('steps', 300)),
        positions=positions,
        shape=shape,
        volume=volume,
        # variable cell: VASP relaxes with the plane-wave basis of the starting cell (Pulay stress), so aiida-vasp
        # restarts until one whole run changes the volume by < 1 % and the positions by < 0.1 Å ('inout'); at fixed
        # volume its default ('last': the last two ionic steps) suffices
        convergence_mode='inout' if volume else 'last',
    ).aiida_dict()
    builder.verbose = orm.Bool(False)
    builder.vasp.code = vasp['code']
    builder.vasp.parameters = orm.Dict({'incar': incar})
    if mesh is None:
        builder.vasp.kpoints_spacing = orm.Float(spacing)
    else:
        kpoints = orm.KpointsData()
        kpoints.set_kpoints_mesh([int(n) for n in mesh])
        builder.vasp.kpoints = kpoints
    builder.vasp.potential_family = vasp['potential_family']
    builder.vasp.potential_mapping = vasp['potential_mapping']
    builder.vasp.settings = orm.Dict(
        {
            'parser_settings': {
                'include_quantity': ['forces', 'stress'],
                'energy_type': ['energy_free', 'energy_extrapolated'],
            }
        }
    )
    options = {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}}
    if 'options' in vasp:
        options.update(vasp['options'].get_dict())
    builder.vasp.calc.metadata.options = options
    builder.vasp.max_iterations = vasp['max_iterations'] if 'max_iterations' in vasp else orm.Int(2)
    builder.vasp.clean_workdir = orm.Bool(True)
    return builder


def _last_kpoints_mesh(node: orm.ProcessNode) -> list[int] | None:
    """The k-point mesh of the last VASP calculation under ``node`` (that of the relaxed single point)."""
    calculations = [child for child in node.called_descendants if isinstance(child, orm.CalcJobNode)]
    if not calculations:
        return None
    last = max(calculations, key=lambda child: child.ctime)
    try:
        mesh, _ = last.inputs.kpoints.get_kpoints_mesh()
    except (AttributeError, KeyError):
        return None
    return [int(n) for n in mesh]


#: Inputs of the ``qe`` namespace (those of the ReferenceWorkChain's QE engine used here).
QE_KEYS = ('code', 'protocol', 'pseudo_family', 'kpoints_spacing', 'parameters', 'options', 'settings',
           'parallelization')  # fmt: skip
#: Ry/Bohr per eV/Å and kbar per GPa (QE's CODATA-2006 units).
_RY_BOHR_PER_EV_A = 1.0 / 25.71104309541616
_KBAR_PER_GPA = 10.0


def qe_kpoints_spacing(qe, element: str) -> float:
    """The k-point spacing (1/Å with 2π) the QE reference of ``element`` uses: the input's or its protocol's."""
    from aiida_gaprss.workflows.reference.protocols import load_protocol, settings_for_species

    if 'kpoints_spacing' in qe:
        return float(qe['kpoints_spacing'].value)
    overrides = qe['parameters'].get_dict() if 'parameters' in qe else {}
    if 'KPOINTS_SPACING' in {key.upper() for key in overrides}:
        return float(next(value for key, value in overrides.items() if key.upper() == 'KPOINTS_SPACING'))
    protocol = load_protocol('qe', qe['protocol'].value if 'protocol' in qe else None)
    return float(settings_for_species(protocol, [element], 'qe')['kpoints_spacing'])


def qe_relax_builder(qe, atoms, mode: str, relax: dict, mesh=None):
    """A ``PwRelaxWorkChain`` builder for one phase: ``mode`` 'vc-relax' (0 GPa), 'relax' or 'shape' (fixed volume).

    Returns
    -------
    tuple
        (builder, k-point mesh used).
    """
    from aiida.plugins import WorkflowFactory

    from aiida_gaprss.common.merge import deep_merge
    from aiida_gaprss.workflows.reference.engines import QeEngine, upper_sections
    from aiida_gaprss.workflows.reference.protocols import load_protocol

    PwRelaxWorkChain = WorkflowFactory('quantumespresso.pw.relax')
    protocol = load_protocol('qe', qe['protocol'].value if 'protocol' in qe else None)
    family_label = qe['pseudo_family'].value if 'pseudo_family' in qe else protocol['pseudo_family']
    overrides = upper_sections(qe['parameters'].get_dict() if 'parameters' in qe else {})
    if 'kpoints_spacing' in qe:
        overrides['KPOINTS_SPACING'] = qe['kpoints_spacing'].value
    parameters, own_mesh = QeEngine.parameters(protocol, atoms, overrides)
    calculation = 'relax' if mode == 'relax' else 'vc-relax'
    relax_parameters = {
        'CONTROL': {'calculation': calculation, 'forc_conv_thr': float(relax.get('fmax', 0.01)) * _RY_BOHR_PER_EV_A,
                    'etot_conv_thr': 1e-5 * len(atoms), 'nstep': int(relax.get('steps', 300))},
        'IONS': {'ion_dynamics': 'bfgs'},
    }  # fmt: skip
    if calculation == 'vc-relax':
        relax_parameters['CELL'] = {
            'cell_dynamics': 'bfgs',
            'press': 0.0,
            'press_conv_thr': float(relax.get('smax', 0.01)) * _KBAR_PER_GPA,
            'cell_dofree': 'shape' if mode == 'shape' else 'all',
        }
    parameters = deep_merge(parameters, relax_parameters)
    structure = orm.StructureData(ase=atoms)
    builder = PwRelaxWorkChain.get_builder()
    builder.structure = structure
    builder.base_relax.pw.code = qe['code']
    builder.base_relax.pw.parameters = orm.Dict(parameters)
    builder.base_relax.pw.pseudos = orm.load_group(family_label).get_pseudos(structure=structure)
    kpoints = orm.KpointsData()
    kpoints.set_kpoints_mesh(list(mesh or own_mesh))
    builder.base_relax.kpoints = kpoints
    options = qe['options'].get_dict() if 'options' in qe else None
    builder.base_relax.pw.metadata.options = pw_options(qe['code'], options)
    for key in ('settings', 'parallelization'):
        if key in qe:
            builder.base_relax.pw[key] = qe[key]
    builder.meta_convergence = orm.Bool(mode == 'vc-relax')
    builder.clean_workdir = orm.Bool(True)
    return builder, list(mesh or own_mesh)


def _qe_energy(parameters: orm.Dict) -> float:
    """pw.x total energy in eV with QE's own CODATA-2006 constants (as the loop's reference labels)."""
    from ase.units import create_units
    from qe_tools import CONSTANTS

    return float(parameters['energy']) / CONSTANTS.hartree_to_ev * create_units('2006')['Hartree']


def _vasp_energy(misc: orm.Dict) -> float:
    """VASP total energy in eV: ``energy_free`` (TOTEN), the energy of the reference labels."""
    energies = misc['total_energies']
    if 'energy_free' not in energies:
        raise KeyError('misc.total_energies.energy_free: missing (set parser_settings.energy_type)')
    return float(energies['energy_free'])


def _relaxation_results(content: dict, nodes: dict, suffix: str, energy_of, failed: str) -> dict:
    """The reference side in the ``results`` format from ``relax_<phase>_<suffix>`` / ``_structure`` nodes."""
    from aiida_gaprss.rss.eos import fit_birch_murnaghan

    phases, curves, failures = {}, {}, []
    for name in content['phases']:
        if f'relax_{name}_{suffix}' not in nodes:
            failures.append({'phase': name, 'error': f'{failed} failed'})
            continue
        atoms = nodes[f'relax_{name}_structure'].get_ase()
        energy = energy_of(nodes[f'relax_{name}_{suffix}'])
        phases[name] = {
            'energy': energy,
            'energy_per_atom': energy / len(atoms),
            'volume_per_atom': atoms.get_volume() / len(atoms),
            'natoms': len(atoms),
            'converged': True,
            'status': 'converged',
        }
        points = []
        for key in sorted(nodes):
            if key.startswith(f'eos_{name}_') and key.endswith(f'_{suffix}'):
                frame = nodes[key[: -len(suffix)] + 'structure'].get_ase()
                points.append((frame.get_volume() / len(frame), energy_of(nodes[key]) / len(frame)))
        if points:
            points.sort()
            curve = {'volumes': [v for v, _ in points], 'energies': [e for _, e in points], 'fit': None,
                     'fit_error': None, 'converged': len(points) == content['num_points']}  # fmt: skip
            try:
                curve['fit'] = fit_birch_murnaghan(curve['volumes'], curve['energies']).as_dict()
            except ValueError as exception:
                curve['fit_error'] = str(exception)
            curves[name] = curve
    return {**content, 'phases': phases, 'energy_volume': curves, 'failures': failures}


@calcfunction
def qe_reference_results(settings: orm.Dict, **nodes) -> orm.Dict:
    """The reference side from ``PwRelaxWorkChain`` outputs, in the ``results`` format of the validation job.

    ``nodes``: ``relax_<phase>_parameters`` / ``relax_<phase>_structure`` of each phase's vc-relax and
    ``eos_<phase>_<i>_parameters`` / ``eos_<phase>_<i>_structure`` of its fixed-volume points.
    """
    return orm.Dict(_relaxation_results(settings.get_dict(), nodes, 'parameters', _qe_energy, 'PwRelaxWorkChain'))


@calcfunction
def vasp_reference_results(settings: orm.Dict, **nodes) -> orm.Dict:
    """The reference side from ``VaspRelaxWorkChain`` outputs, in the ``results`` format of the validation job.

    ``nodes``: ``relax_<phase>_misc`` / ``relax_<phase>_structure`` of each phase's relaxation (``misc`` of its final
    single point) and ``eos_<phase>_<i>_misc`` / ``eos_<phase>_<i>_structure`` of its fixed-volume points.
    """
    return orm.Dict(_relaxation_results(settings.get_dict(), nodes, 'misc', _vasp_energy, 'VaspRelaxWorkChain'))


@calcfunction
def compare_validation(potential: orm.Dict, **reference) -> dict:
    """Phase errors (each at its own method's minimum) and E–V curves of the potential and (optional) reference.

    ``reference`` holds at most one Dict, ``reference``, in the job's ``results`` format.
    """
    from aiida_gaprss.rss.validation import phase_energy_errors

    pot = potential.get_dict()
    ref = reference['reference'].get_dict() if 'reference' in reference else None
    curves = {}
    for name, curve in pot.get('energy_volume', {}).items():
        curves.setdefault(name, {})['potential'] = curve
    if ref is not None:
        for name, curve in ref.get('energy_volume', {}).items():
            curves.setdefault(name, {})['reference'] = curve
    energy_volume = {'phases': curves, 'units': {'volume': 'Angstrom^3/atom', 'energy': 'eV/atom', 'b0': 'GPa'}}
    outputs = {'energy_volume': orm.Dict(energy_volume)}
    if ref is not None:
        errors = phase_energy_errors(pot['phases'], ref['phases'])
        for name, row in errors['phases'].items():
            row['potential_volume_per_atom'] = pot['phases'][name]['volume_per_atom']
            row['reference_volume_per_atom'] = ref['phases'][name]['volume_per_atom']
            millis = 1000.0 * row['error']
            row['display'] = '< 1 meV/atom (converged)' if row['converged'] else f'{millis:+.1f} meV/atom'
            fits = curves.get(name, {})
            for side in ('potential', 'reference'):
                fit = (fits.get(side) or {}).get('fit')
                if fit:
                    row[f'{side}_v0'] = fit['v0']
                    row[f'{side}_b0'] = fit['b0']
        outputs['phase_errors'] = orm.Dict(errors)
    return outputs


@calcfunction
def plot_validation_energy_volume(energy_volume: orm.Dict, title: orm.Str) -> orm.SinglefileData:
    """PNG of the E–V curves: potential solid, reference dashed (:func:`aiida_gaprss.plots.plot_energy_volume`)."""
    import io

    from aiida_gaprss.plots import plot_energy_volume

    curves = {}
    for name, sides in energy_volume['phases'].items():
        curves[name] = {side: (curve['volumes'], curve['energies']) for side, curve in sides.items()}
    data = plot_energy_volume(curves, None, title=title.value or None)
    return orm.SinglefileData(io.BytesIO(data), filename='energy_volume.png')


class ValidationWorkChain(ChildWindowMixin, WorkChain):
    """Validate a GapPotential on known phases and E–V curves (see the module docstring)."""

    @classmethod
    def define(cls, spec):
        """Inputs, outline, outputs and exit codes."""
        super().define(spec)
        spec.input('potential', valid_type=GapPotential, help='The potential to validate.')
        spec.input('element', valid_type=orm.Str, help='Chemical symbol (B, C, Si or Ti have known phases).')
        spec.input('phases', valid_type=orm.List, required=False, help='Phase names (default: all known).')
        spec.input('code', valid_type=orm.AbstractCode, help='The job Python (runs aiida_gaprss.jobs.*).')
        spec.input(
            'parameters',
            valid_type=orm.Dict,
            required=False,
            help='relax {fmax, steps, smax}, eos {volume_factors, relax, fmax, steps} or None, processes, '
            'job_options (metadata.options of the jobs). Defaults: DEFAULT_PARAMETERS.',
        )
        spec.input_namespace('reference', required=False, populate_defaults=False, help='Compute the reference side.')
        spec.input('reference.engine', valid_type=orm.Str, required=False, help="'ase' (default), 'qe' or 'vasp'.")
        spec.input(
            'reference.max_concurrent',
            valid_type=orm.Int,
            required=False,
            help='QE/VASP relaxations running at once (a rolling window; default: all at once).',
        )
        spec.input('reference.ase.calculator', valid_type=orm.Dict, required=False, help='ASE calculator spec.')
        spec.input('reference.ase.potential', valid_type=GapPotential, required=False, help='A GAP as reference.')
        define_engine_inputs(spec, 'qe', prefix='reference.', keys=QE_KEYS, code_required=False)
        define_engine_inputs(
            spec,
            'vasp',
            prefix='reference.',
            keys=VASP_KEYS,
            code_required=False,
            helps={
                'parameters': 'INCAR overrides (and `kspacing`, 1/Å with 2π); not IBRION, NSW, ISIF, EDIFFG, PSTRESS.'
            },
        )
        spec.input(
            'reference_results',
            valid_type=orm.Dict,
            required=False,
            help='The reference side computed before (`reference_results` output of an earlier validation).',
        )
        spec.inputs.validator = validate_inputs
        spec.outline(
            cls.setup,
            cls.run_jobs,
            while_(cls.window_has_work)(cls.window_submit, cls.window_collect),
            cls.inspect_jobs,
            if_(cls.needs_reference_eos)(
                cls.run_reference_eos,
                while_(cls.window_has_work)(cls.window_submit, cls.window_collect),
                cls.inspect_reference_eos,
            ),
            cls.results,
        )
        spec.output('potential_results', valid_type=orm.Dict, help="The potential's relaxed phases and E–V curves.")
        spec.output('relaxed_phases', valid_type=StructureSet, help='The phases relaxed with the potential.')
        spec.output('reference_results', valid_type=orm.Dict, required=False, help='The reference side (reusable).')
        spec.output('phase_errors', valid_type=orm.Dict, required=False, help='Energy error per phase (eV/atom).')
        spec.output('energy_volume', valid_type=orm.Dict, help='E–V points and Birch–Murnaghan fits of both sides.')
        spec.output_namespace('plots', valid_type=orm.SinglefileData, dynamic=True, help='PNG figures.')
        spec.exit_code(
            430, 'ERROR_POTENTIAL_JOB_FAILED', message='The validation job of the potential failed: {message}'
        )
        spec.exit_code(431, 'ERROR_REFERENCE_JOB_FAILED', message='The reference validation job failed: {message}')
        spec.exit_code(432, 'ERROR_REFERENCE_RELAX_FAILED', message='No phase could be relaxed by the reference.')

    def setup(self):
        """Phases and job parameters."""
        self.ctx.phases = _phases_of(self.inputs)
        parameters = self.inputs.parameters.get_dict() if 'parameters' in self.inputs else {}
        self.ctx.options = dict(parameters.get('job_options', {}))
        self.ctx.job_parameters = _job_parameters(self.inputs.element.value, self.ctx.phases, parameters)
        reference = self.inputs.get('reference', {})
        self.ctx.engine = (reference['engine'].value if 'engine' in reference else 'ase') if reference else None

    def _job_inputs(self, label: str) -> AttributeDict:
        return AttributeDict(
            {
                'code': self.inputs.code,
                'parameters': orm.Dict(self.ctx.job_parameters),
                'metadata': {'call_link_label': label, 'options': dict(self.ctx.options)},
            }
        )

    def _submit_job(self, inputs: dict):
        """Submit a validation job through its restart work chain."""
        return self.submit(ValidatePotentialBaseWorkChain, **ValidatePotentialBaseWorkChain.inputs_from_job(inputs))

    def run_jobs(self):
        """Submit the potential's job and, when asked, the reference's (they run side by side)."""
        inputs = self._job_inputs('potential')
        inputs.potential = self.inputs.potential
        jobs = {'potential_job': self._submit_job(inputs)}
        reference = self.inputs.get('reference', {})
        self.ctx.window_done = {}
        if self.ctx.engine in ('qe', 'vasp'):
            self.ctx.meshes = {}
            self.window_open(f'relax_{name}' for name in self.ctx.phases)
        elif reference:
            inputs = self._job_inputs('reference')
            ase = reference.get('ase', {})
            if 'calculator' in ase:
                inputs.calculator = ase['calculator']
            else:
                inputs.potential = ase['potential']
            jobs['reference_job'] = self._submit_job(inputs)
        self.to_context(**jobs)
        if self.window_has_work():
            self.window_submit()  # the reference relaxations start beside the potential's job
        self.report(f'validating on {", ".join(self.ctx.phases)}: ' + ', '.join(f'<{n.pk}>' for n in jobs.values()))

    # -- the QE/VASP relaxations, a rolling window of ``reference.max_concurrent`` ------------------------------------
    def window_size(self) -> int:
        """``reference.max_concurrent``, or everything at once."""
        reference = self.inputs.get('reference', {})
        if 'max_concurrent' in reference:
            return reference['max_concurrent'].value
        return len(self.ctx.window['pending']) + len(self.ctx.window['running'])

    def window_label(self, tag: str) -> str:
        """``reference_relax_<phase>`` and ``reference_eos_<phase>_<index>``."""
        return f'reference_{tag}'

    def window_launch(self, tag: str) -> orm.ProcessNode:
        """Submit the reference relaxation of a phase (``relax_<phase>``) or of one E(V) point (``eos_…``)."""
        from aiida_gaprss.rss.phases import build_phase, cheapest_cell

        reference = self.inputs.reference
        if tag.startswith('relax_'):
            phase = tag[len('relax_') :]
            element = self.inputs.element.value
            if self.ctx.engine == 'qe':  # the primitive or conventional cell, whichever pw.x relaxes faster
                atoms = cheapest_cell(element, phase, qe_kpoints_spacing(reference.qe, element))
            else:
                atoms = build_phase(element, phase)
            qe_mode = vasp_mode = 'vc-relax'
            settings, mesh = self.ctx.job_parameters['relax'], None
        else:
            spec = self.ctx.eos_specs[tag]
            phase, mode = spec['phase'], spec['mode']
            relaxed = self.ctx.relax_nodes[f'relax_{phase}_structure'].get_ase()
            atoms = relaxed.copy()
            atoms.set_cell(relaxed.cell.array * spec['factor'] ** (1.0 / 3.0), scale_atoms=True)
            # QE: 'none' (no relaxation at fixed volume) is run as 'positions' with pw.x; VASP: a single point
            qe_mode = 'shape' if mode == 'shape' else 'relax'
            vasp_mode = {'positions': 'relax', 'shape': 'shape', 'none': 'none'}[mode]
            settings = {**self.ctx.job_parameters['relax'], **self.ctx.job_parameters['eos']}
            mesh = self.ctx.meshes.get(phase)
        if self.ctx.engine == 'qe':
            builder, used = qe_relax_builder(reference.qe, atoms, qe_mode, settings, mesh)
            if qe_mode == 'vc-relax':  # the phase's own relaxation: its mesh serves every point of its E(V) curve
                self.ctx.meshes[phase] = [int(n) for n in used]
        else:
            builder = vasp_relax_builder(reference.vasp, atoms, vasp_mode, settings, mesh)
        builder.metadata.call_link_label = self.window_label(tag)
        return self.submit(builder)

    def window_finished(self, tag: str, node: orm.ProcessNode) -> None:
        """Remember the child; :meth:`inspect_jobs` and :meth:`inspect_reference_eos` read it."""
        self.ctx.window_done[tag] = node.pk

    def inspect_jobs(self):
        """Check the jobs; keep their results."""
        node = self.ctx.potential_job
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_POTENTIAL_JOB_FAILED.format(message=node.exit_message or 'excepted')
        self.out('potential_results', node.outputs.results)
        self.out('relaxed_phases', node.outputs.structures)
        if self.ctx.engine in ('qe', 'vasp'):
            self.ctx.relax_nodes = {}
            for name in self.ctx.phases:
                child = orm.load_node(self.ctx.window_done[f'relax_{name}'])
                if not self._collect_relaxation(child, f'relax_{name}'):
                    self.report(f'reference relaxation of {name} <{child.pk}> failed: {child.exit_message}')
                elif self.ctx.engine == 'vasp':
                    self.ctx.meshes[name] = _last_kpoints_mesh(child)
            if not self.ctx.relax_nodes:
                return self.exit_codes.ERROR_REFERENCE_RELAX_FAILED
            self.ctx.reference_results = None  # made after the E(V) points
        elif 'reference_job' in self.ctx:
            node = self.ctx.reference_job
            if not node.is_finished_ok:
                return self.exit_codes.ERROR_REFERENCE_JOB_FAILED.format(message=node.exit_message or 'excepted')
            self.ctx.reference_results = node.outputs.results
        elif 'reference_results' in self.inputs:
            self.ctx.reference_results = self.inputs.reference_results
        else:
            self.ctx.reference_results = None
        return None

    def _collect_relaxation(self, child, tag: str) -> bool:
        """Keep the energy node and relaxed structure of a reference relaxation; False if it gave none."""
        if self.ctx.engine == 'qe':
            if not (child.is_finished_ok and 'output_parameters' in child.outputs):
                return False
            self.ctx.relax_nodes[f'{tag}_parameters'] = child.outputs.output_parameters
            structure = child.outputs.output_structure if 'output_structure' in child.outputs else None
        else:
            if not (child.is_finished_ok and 'misc' in child.outputs):
                return False
            self.ctx.relax_nodes[f'{tag}_misc'] = child.outputs.misc
            links = child.base.links.get_outgoing(link_label_filter='relax__structure').all()  # relax.structure
            structure = links[0].node if links else None
        self.ctx.relax_nodes[f'{tag}_structure'] = structure or child.inputs.structure
        return True

    def needs_reference_eos(self):
        """QE or VASP reference: the relaxed phases, then the E(V) points (unless ``eos`` is None)."""
        return self.ctx.engine in ('qe', 'vasp')

    def run_reference_eos(self):
        """One fixed-volume relaxation per phase and volume factor, on the k-point mesh of the relaxed phase."""
        import numpy as np

        from aiida_gaprss.rss.eos import is_cubic

        eos = self.ctx.job_parameters.get('eos')
        if eos is None:
            return
        self.ctx.eos_specs = {}
        for name in eos.get('phases', self.ctx.phases):
            if f'relax_{name}_structure' not in self.ctx.relax_nodes:
                continue
            relaxed = self.ctx.relax_nodes[f'relax_{name}_structure'].get_ase()
            mode = eos.get('relax', 'auto')
            if mode == 'auto':
                mode = 'positions' if is_cubic(relaxed) else 'shape'
            # the k-point mesh of the phase's relaxation for every point of its curve: a mesh that changed with the
            # volume would put steps into E(V) (±60 meV/atom for Si2 at 0.5 1/Å) and shift E0 from the relaxed energy
            for index, factor in enumerate(np.sort(eos['volume_factors'])):
                self.ctx.eos_specs[f'eos_{name}_{index:02d}'] = {'phase': name, 'factor': float(factor), 'mode': mode}
        self.window_open(sorted(self.ctx.eos_specs))
        self.report(f'{self.ctx.engine.upper()} reference: {len(self.ctx.eos_specs)} fixed-volume relaxations')

    def inspect_reference_eos(self):
        """Gather the QE or VASP reference side into a ``results`` Dict."""
        engine = self.ctx.engine
        for tag in sorted(self.ctx.get('eos_specs', {})):
            child = orm.load_node(self.ctx.window_done[tag])
            if not self._collect_relaxation(child, tag):
                self.report(f'reference E(V) point {tag} <{child.pk}> failed: {child.exit_message}')
        eos = self.ctx.job_parameters.get('eos')
        settings = {
            'element': self.inputs.element.value,
            'phases': self.ctx.phases,
            'engine': engine,
            'relax': self.ctx.job_parameters['relax'],
            'eos': eos,
            'num_points': len(eos['volume_factors']) if eos else 0,
            'units': {'energy': 'eV', 'energy_per_atom': 'eV/atom', 'volume_per_atom': 'Angstrom^3/atom', 'b0': 'GPa'},
        }
        gather = qe_reference_results if engine == 'qe' else vasp_reference_results
        self.ctx.reference_results = gather(orm.Dict(settings), **self.ctx.relax_nodes)

    def results(self):
        """Phase errors, E–V curves and their plot."""
        kwargs = {}
        if self.ctx.reference_results is not None:
            kwargs['reference'] = self.ctx.reference_results
            self.out('reference_results', self.ctx.reference_results)
        outputs = compare_validation(self.ctx.potential_job.outputs.results, **kwargs)
        self.out('energy_volume', outputs['energy_volume'])
        if 'phase_errors' in outputs:
            errors = outputs['phase_errors']
            self.out('phase_errors', errors)
            summary = ', '.join(f'{name} {row["display"]}' for name, row in errors['phases'].items())
            self.report(f'phase errors: {summary}')
        if outputs['energy_volume']['phases']:
            versus = ' (solid) vs reference (dashed)' if self.ctx.reference_results is not None else ''
            title = orm.Str(f'{self.inputs.element.value}: potential{versus}')
            self.out('plots.energy_volume', plot_validation_energy_volume(outputs['energy_volume'], title))
