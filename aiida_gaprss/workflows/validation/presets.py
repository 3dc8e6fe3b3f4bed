"""Validation presets: the job defaults, the settings per protocol of the GAP-RSS loop and their merge."""

from __future__ import annotations

import copy

from aiida import orm

from aiida_gaprss.protocols import validation_defaults, validation_presets, validation_system_eos_phases

__all__ = (
    'DEFAULT_PARAMETERS',
    'PARAMETER_KEYS',
    'PROTOCOLS',
    'SYSTEM_EOS_PHASES',
    'job_parameters',
    'loop_validation_inputs',
    'system_label',
    'validation_protocol',
)

#: Settings of the validation jobs (``parameters`` input; ``job_options`` are the jobs' ``metadata.options``), from
#: ``aiida_gaprss/protocols/validation.yaml`` like the two tables below.
DEFAULT_PARAMETERS = validation_defaults()
PARAMETER_KEYS = ('relax', 'eos', 'processes', 'job_options')

#: Validation settings per protocol of the GAP-RSS loop: phases per element (None = all known) and parameters.
PROTOCOLS = validation_presets()

#: Compound phases with an E(V) curve when a chemical system is validated (the polytypes of SiC).
SYSTEM_EOS_PHASES = validation_system_eos_phases()


def system_label(system) -> str:
    """``'Si'`` for an element, ``'Si-C'`` for the chemical system of ``['Si', 'C']``."""
    return system if isinstance(system, str) else '-'.join(system)


def validation_protocol(element, protocol: str = 'moderate') -> dict:
    """``{'phases': [...], 'parameters': {...}}`` of protocol fast, moderate, precise (tiny: fast) for ``element``.

    ``element`` is a chemical symbol, or a list of two or more for a chemical system: then the phases are the
    elements' ground states and the compounds (:func:`aiida_gaprss.rss.phases.system_phase_names`), the compound
    phases of :data:`SYSTEM_EOS_PHASES` get E(V) curves, and the parameters are the protocol's.
    """
    from aiida_gaprss.rss.phases import PHASES

    if protocol not in PROTOCOLS:
        raise ValueError(f'field `protocol`: unknown validation protocol {protocol!r}; known: {sorted(PROTOCOLS)}')
    if not isinstance(element, str):
        return _system_protocol(list(element), protocol)
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


def _system_protocol(elements: list[str], protocol: str) -> dict:
    from aiida_gaprss.rss.phases import split_system_phase, system_phase_names

    try:
        phases = system_phase_names(elements)
    except ValueError as exception:
        raise ValueError(f'field `element`: {exception}') from None
    parameters = copy.deepcopy(PROTOCOLS[protocol]['parameters'])
    eos_phases = []
    for name in phases:
        key, phase = split_system_phase(name)
        if phase in SYSTEM_EOS_PHASES.get(key, ()):
            eos_phases.append(name)
    if parameters.get('eos') is not None:
        if eos_phases:
            parameters['eos']['phases'] = eos_phases
        else:
            parameters['eos'] = None
    return {'phases': phases, 'parameters': parameters}


def loop_validation_inputs(element, protocol: str = 'moderate', *, structure_map: bool = True) -> dict:
    """The ``validation`` namespace of the GAP-RSS loop for a protocol, as nodes: ``builder.validation = ...``."""
    settings = validation_protocol(element, protocol)
    return {
        'enabled': orm.Bool(True),
        'phases': orm.List(settings['phases']),
        'parameters': orm.Dict(settings['parameters']),
        'structure_map': orm.Bool(structure_map),
    }


def job_parameters(element: str, phases: list[str], parameters: dict) -> dict:
    """The ``parameters`` of a ``ValidatePotential`` job: ``DEFAULT_PARAMETERS`` updated one section deep."""
    merged = copy.deepcopy(DEFAULT_PARAMETERS)
    for key, value in parameters.items():
        if key == 'job_options':
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return {'element': element, 'phases': list(phases), **merged}
