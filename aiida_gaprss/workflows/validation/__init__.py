"""Validation of a potential against a reference on known phases and E–V curves (``gaprss.validation``).

``presets`` (job defaults, settings per loop protocol), ``checks`` (input checks), ``builders`` (QE and VASP
relaxation builders), ``functions`` (calcfunctions) and ``workchain`` (the ``ValidationWorkChain``).
"""

from aiida_gaprss.workflows.validation.builders import (
    QE_KEYS,
    VASP_KEYS,
    VASP_RELAX_TAGS,
    last_kpoints_mesh,
    qe_kpoints_spacing,
    qe_relax_builder,
    vasp_relax_builder,
)
from aiida_gaprss.workflows.validation.checks import (
    phases_of,
    system_of,
    validate_inputs,
    validate_qe_reference,
    validate_vasp_reference,
)
from aiida_gaprss.workflows.validation.functions import (
    compare_formation_energies,
    compare_validation,
    plot_validation_energy_volume,
    plot_validation_formation_energies,
    qe_reference_results,
    system_phase_structures,
    vasp_reference_results,
)
from aiida_gaprss.workflows.validation.presets import (
    DEFAULT_PARAMETERS,
    PARAMETER_KEYS,
    PROTOCOLS,
    SYSTEM_EOS_PHASES,
    job_parameters,
    loop_validation_inputs,
    system_label,
    validation_protocol,
)
from aiida_gaprss.workflows.validation.workchain import ValidationWorkChain

__all__ = (
    'DEFAULT_PARAMETERS',
    'PARAMETER_KEYS',
    'PROTOCOLS',
    'QE_KEYS',
    'SYSTEM_EOS_PHASES',
    'VASP_KEYS',
    'VASP_RELAX_TAGS',
    'ValidationWorkChain',
    'compare_formation_energies',
    'compare_validation',
    'job_parameters',
    'last_kpoints_mesh',
    'loop_validation_inputs',
    'phases_of',
    'plot_validation_energy_volume',
    'plot_validation_formation_energies',
    'qe_kpoints_spacing',
    'qe_relax_builder',
    'qe_reference_results',
    'system_label',
    'system_of',
    'system_phase_structures',
    'validate_inputs',
    'validate_qe_reference',
    'validate_vasp_reference',
    'validation_protocol',
    'vasp_reference_results',
    'vasp_relax_builder',
)
