"""Input checks of the ``ValidationWorkChain``: the message of a refusal names the field."""

from __future__ import annotations

from aiida_gaprss.calculations.validate_potential import validate_validation_parameters
from aiida_gaprss.workflows.validation.builders import VASP_RELAX_TAGS
from aiida_gaprss.workflows.validation.presets import PARAMETER_KEYS, job_parameters, system_label

__all__ = ('phases_of', 'system_of', 'validate_inputs', 'validate_qe_reference', 'validate_vasp_reference')


def system_of(value):
    """The chemical symbol of ``element`` or the list of ``elements`` of a ``ValidationWorkChain``'s inputs."""
    if 'elements' in value:
        return list(value['elements'].get_list())
    return value['element'].value


def phases_of(value) -> list[str]:
    """The requested phases of a ``ValidationWorkChain``'s inputs (default: every known phase of the element; for
    ``elements``, the elements' ground states and their compounds)."""
    from aiida_gaprss.rss.phases import PHASES, system_phase_names

    if 'phases' in value:
        return list(value['phases'].get_list())
    if 'elements' in value:
        return system_phase_names(value['elements'].get_list())
    return list(PHASES.get(value['element'].value, {}))


def _check_system(value) -> str | None:
    """The error of ``element`` / ``elements`` and, for ``elements``, of the phase names, or None."""
    from aiida_gaprss.rss.phases import GROUND_STATES, PHASES, foreign_system_phase

    if ('element' in value) == ('elements' in value):
        return 'field `element`: give exactly one of `element` (one element) and `elements` (a chemical system)'
    if 'element' in value:
        element = value['element'].value
        if element not in PHASES:
            return f'field `element`: no known phases for {element!r}; known: {sorted(PHASES)}'
        return None
    elements = value['elements'].get_list()
    if len(elements) < 2 or len(set(elements)) != len(elements) or not all(isinstance(e, str) for e in elements):
        return f'field `elements`: expected two or more different chemical symbols, got {elements!r}'
    unknown = [element for element in elements if element not in GROUND_STATES]
    if unknown:
        return f'field `elements`: no known phases for {unknown[0]!r}; known: {sorted(GROUND_STATES)}'
    error = foreign_system_phase(phases_of(value), elements)
    return f'field `phases`: {error}' if error else None


def validate_inputs(value, _):
    """Refuse bad input before anything runs; the message names the field."""
    error = _check_system(value)
    if error:
        return error
    if ('potential' in value) == ('calculator' in value):
        return 'field `potential`: give exactly one of `potential` (a GapPotential) and `calculator` (an ASE spec)'
    if 'calculator' in value:
        from aiida_gaprss.calculations.ase_batch import validate_calculator

        error = validate_calculator(value['calculator'].get_dict())
        if error:
            return error
    system = system_of(value)
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
        validate_validation_parameters(
            job_parameters(system_label(system), phases_of(value), parameters), known_phases_only='element' in value
        )
    except ValueError as exception:
        return str(exception)
    reference = value.get('reference', {})
    engine = reference['engine'].value if 'engine' in reference else 'ase'
    if reference and 'reference_results' in value and engine == 'ase':
        return (
            'give at most one of `reference` (compute the reference side) and `reference_results` (reuse it) with '
            "the engine 'ase'; with 'qe' or 'vasp' both complete the reused side with the phases it lacks"
        )
    if reference:
        engine = reference['engine'].value if 'engine' in reference else 'ase'
        if engine == 'vasp':
            return validate_vasp_reference(reference, system, phases_of(value))
        if engine == 'qe':
            return validate_qe_reference(reference, system, phases_of(value))
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
        missing = [name for name in phases_of(value) if name not in phases]
        if missing and len(missing) == len(phases_of(value)):
            return f'field `reference_results.phases`: none of the requested phases is there (e.g. {missing[0]!r})'
    return None


def validate_qe_reference(reference, element, phases: list[str]) -> str | None:
    """The error of a ``reference.qe`` namespace, or None (``element``: a symbol, or a system's list of them)."""
    from aiida_gaprss.rss.phases import build_validation_phase
    from aiida_gaprss.workflows.reference.engines import QeEngine

    if 'qe' not in reference or 'code' not in reference['qe']:
        return 'field `reference.qe.code`: engine `qe` needs a pw.x code'
    error = QeEngine.validate({'qe': reference['qe']}, [build_validation_phase(element, name) for name in phases])
    return error.replace('field `qe.', 'field `reference.qe.') if error else None


def validate_vasp_reference(reference, element, phases: list[str]) -> str | None:
    """The error of a ``reference.vasp`` namespace, or None (``element``: a symbol, or a system's list of them)."""
    from aiida_gaprss.rss.phases import build_validation_phase
    from aiida_gaprss.workflows.reference.engines import VaspEngine

    if 'vasp' not in reference or 'code' not in reference['vasp']:
        return 'field `reference.vasp.code`: engine `vasp` needs a VASP code'
    error = VaspEngine.validate({'vasp': reference['vasp']}, [build_validation_phase(element, name) for name in phases])
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
