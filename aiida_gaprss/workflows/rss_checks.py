"""Input checks of ``GapRssWorkChain``: the whole input set (:func:`validate_rss_inputs`, its spec validator) and its
chemical system (one ``element`` or a ``composition``).

Each returns the first problem, naming its field, or ``None``, before anything is submitted.
"""

from __future__ import annotations

from aiida_gaprss.calculations.gap_fit import validate_training_set
from aiida_gaprss.workflows import chemical_system
from aiida_gaprss.workflows.iteration import validate_system_parameters

__all__ = (
    'system_phases_error',
    'validate_reference_species',
    'validate_rss_inputs',
    'check_validation_inputs',
    'validation_enabled',
    'validation_system',
)


def validate_rss_inputs(value, _=None) -> str | None:
    """The spec validator of ``GapRssWorkChain``: the first problem of its inputs, naming its field, or ``None``."""
    if value['budget'].value < 1:
        return f'field `budget`: must be a positive number of reference evaluations, got {value["budget"].value}'
    if value['max_iterations'].value < 1:
        return f'field `max_iterations`: must be >= 1, got {value["max_iterations"].value}'
    for key in ('num_select', 'num_select_initial'):
        if value[key].value < 1:
            return f'field `{key}`: must be >= 1, got {value[key].value}'
    if 'convergence_tolerance' in value and value['convergence_tolerance'].value <= 0:
        return 'field `convergence_tolerance`: must be a positive energy per atom (eV)'
    error = validate_system_parameters(value)
    if error:
        return error
    if validation_enabled(value):
        error = check_validation_inputs(value)
        if error:
            return error
    restart = value.get('restart', {})
    if 'potential' in restart and 'database' not in restart:
        return 'field `restart.database`: a restart potential needs the database it was fitted to'
    if 'database' in restart:
        error = validate_training_set(restart['database'], None)
        if error:
            return f'field `restart.database`: {error}'
        used = (
            restart['reference_evaluations'].value if 'reference_evaluations' in restart else len(restart['database'])
        )
        if used >= value['budget'].value:
            return (
                f'field `budget`: the restart already used {used} reference evaluations; raise the budget above it '
                f'(got {value["budget"].value})'
            )
    return validate_reference_species(value)


def validate_reference_species(value) -> str | None:
    """Check every element against the reference engine now (e.g. a pseudopotential for each in the QE family)."""
    from aiida_gaprss.workflows.reference.engines import ENGINES

    reference = value.get('reference', {})
    engine = reference['engine'].value if 'engine' in reference else 'qe'
    if engine not in ENGINES:
        return None  # the reference namespace's own validator names the field
    error = ENGINES[engine].validate(reference, [chemical_system.probe_atoms(value)])
    if not error:
        return None
    if chemical_system.is_compound(value):
        return f'composition {chemical_system.system_label(value)}: {error}'
    return f'element {value["element"].value}: {error}'


def validation_enabled(inputs) -> bool:
    """Whether the known-phase validation runs: the ``validation`` namespace given and not ``enabled = False``."""
    validation = inputs.get('validation', {})
    return bool(validation) and bool(validation['enabled'].value if 'enabled' in validation else True)


def validation_system(inputs):
    """What the validation validates: the element's symbol, or the list of a composition's elements (its order)."""
    if chemical_system.is_compound(inputs):
        return chemical_system.system_elements(inputs)
    return inputs['element'].value


def system_phases_error(elements) -> str | None:
    """Why the chemical system of ``elements`` cannot be validated on known phases, or None.

    Every element needs known ground states (:data:`aiida_gaprss.rss.phases.GROUND_STATES`) and the system at least
    one known compound (:data:`aiida_gaprss.rss.phases.COMPOUND_PHASES`, e.g. the SiC polytypes of Si–C): without one
    there is no formation energy to validate.
    """
    from aiida_gaprss.rss.composition import formula_counts
    from aiida_gaprss.rss.phases import COMPOUND_PHASES, GROUND_STATES, system_phase_names

    label = '-'.join(elements)
    unknown = [element for element in elements if element not in GROUND_STATES]
    if unknown:
        return f'no known phases for {unknown[0]!r} of the chemical system {label}; known: {sorted(GROUND_STATES)}'
    if all(name.partition('_')[0] in GROUND_STATES for name in system_phase_names(elements)):
        known = ', '.join(f'{formula} of {"-".join(formula_counts(formula))}' for formula in COMPOUND_PHASES)
        return f'no known compound phases of the chemical system {label} (known: {known})'
    return None


def check_validation_inputs(value) -> str | None:
    """Errors of the loop's ``validation`` namespace (checked before anything runs), naming the field."""
    from aiida_gaprss.calculations.validate_potential import validate_validation_parameters
    from aiida_gaprss.rss.phases import PHASES, system_phase_names
    from aiida_gaprss.workflows.validation import PARAMETER_KEYS, job_parameters

    validation = value['validation']
    system = validation_system(value)
    if isinstance(system, str):
        if system not in PHASES:
            return f'field `validation`: no known phases for {system!r}; known: {sorted(PHASES)}'
        phases = validation['phases'].get_list() if 'phases' in validation else list(PHASES[system])
    else:
        error = system_phases_error(system)
        if error:
            return f'field `validation`: {error}; disable the validation'
        error = _system_phase_names_error(system, validation)
        if error:
            return error
        phases = validation['phases'].get_list() if 'phases' in validation else system_phase_names(system)
    parameters = validation['parameters'].get_dict() if 'parameters' in validation else {}
    unknown = sorted(set(parameters) - set(PARAMETER_KEYS))
    if unknown:
        return f'field `validation.parameters.{unknown[0]}`: unknown key; known: {list(PARAMETER_KEYS)}'
    label = system if isinstance(system, str) else '-'.join(system)
    try:  # the phase names of a system are checked above
        validate_validation_parameters(
            job_parameters(label, phases, parameters), known_phases_only=isinstance(system, str)
        )
    except ValueError as exception:
        return str(exception).replace('field `parameters', 'field `validation.parameters')
    if 'reference_results' not in validation:
        reference = value.get('reference', {})
        engine = reference['engine'].value if 'engine' in reference else 'qe'
        if engine not in ('ase', 'qe', 'vasp'):
            return (
                f'field `validation.reference_results`: the reference side of the validation is computed only for '
                f'engines `ase`, `qe` and `vasp` (known-phase relaxations with {engine} are not implemented); give '
                'precomputed reference_results or disable validation'
            )
    return None


def _system_phase_names_error(elements: list[str], validation) -> str | None:
    """The error of ``validation.phases`` of a chemical system (``<element or formula>_<phase>`` of its elements)."""
    from aiida_gaprss.rss.phases import foreign_system_phase

    if 'phases' not in validation:
        return None
    error = foreign_system_phase(validation['phases'].get_list(), elements)
    return f'field `validation.phases`: {error}' if error else None
