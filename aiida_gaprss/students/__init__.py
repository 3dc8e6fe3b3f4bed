"""Student potentials of indirect learning (pure science: no AiiDA imports).

:mod:`aiida_gaprss.students.mtp` fits Moment Tensor Potentials with ``motep`` and evaluates them through an ASE
calculator.
"""

from aiida_gaprss.students.mtp import (
    AVAILABLE_LEVELS,
    DEFAULT_WEIGHTS,
    POTENTIAL_FILENAME,
    SETTINGS_FILENAME,
    error_metrics,
    evaluate,
    fit_student,
    labels_of,
    student_calculator,
    untrained_mtp_text,
)

__all__ = [
    'AVAILABLE_LEVELS',
    'DEFAULT_WEIGHTS',
    'POTENTIAL_FILENAME',
    'SETTINGS_FILENAME',
    'error_metrics',
    'evaluate',
    'fit_student',
    'labels_of',
    'student_calculator',
    'untrained_mtp_text',
]
