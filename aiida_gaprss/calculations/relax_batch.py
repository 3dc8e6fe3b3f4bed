"""``RelaxBatch`` (``gaprss.relax_batch``): relax random cells with a GapPotential, every frame returned.

A batch killed part-way (walltime, ``scancel``, OOM killer) still returns the frames of every trajectory it finished
as ``structures`` and ends with 320 ``ERROR_PARTIAL_TRAJECTORIES``; the ``report`` then lists the finished trajectory
ids. :class:`aiida_gaprss.workflows.relax.RelaxBatchBaseWorkChain` relaxes the rest again.
"""

from __future__ import annotations

from aiida_gaprss.calculations.structure_job import StructureJob
from aiida_gaprss.common import checks
from aiida_gaprss.rss.pressure import check_uniform

__all__ = ('RelaxBatch', 'validate_relax_parameters')

KEYS = {'seed', 'fmax', 'steps', 'processes', 'pressure', 'iteration', 'trajectory_offset', 'trajectory_ids'}
#: Largest pressure scale accepted (GPa): a value above it is almost certainly in the wrong unit.
MAX_PRESSURE_GPA = 1000.0


def validate_relax_parameters(parameters: dict) -> None:
    """Raise ``ValueError`` naming the field for bad relaxation parameters."""
    unknown = sorted(set(parameters) - KEYS)
    if unknown:
        raise ValueError(f'field `parameters.{unknown[0]}`: unknown key; known: {sorted(KEYS)}')
    for key, minimum, required in (('seed', 0, True), ('steps', 1, False), ('processes', 1, False),
                                   ('iteration', 0, False), ('trajectory_offset', 0, False)):  # fmt: skip
        if key not in parameters:
            if required:
                raise ValueError(f'field `parameters.{key}`: required')
            continue
        checks.integer(parameters[key], checks.field(f'parameters.{key}'), minimum=minimum)
    fmax = parameters.get('fmax', 0.01)
    checks.positive_number(fmax, checks.field('parameters.fmax'), expected='a positive force (eV/Å)')
    if 'trajectory_ids' in parameters:
        ids = parameters['trajectory_ids']
        if (
            not isinstance(ids, (list, tuple))
            or not ids
            or any(not checks.is_integer(value) or value < 0 for value in ids)
        ):
            raise ValueError(
                f'field `parameters.trajectory_ids`: expected a non-empty list of integers >= 0, got {ids!r}'
            )
        if len(set(ids)) != len(ids):
            raise ValueError('field `parameters.trajectory_ids`: ids must be distinct')
    pressure = parameters.get('pressure', {})
    if not isinstance(pressure, dict) or set(pressure) - {'p0', 'beta', 'uniform'}:
        raise ValueError("field `parameters.pressure`: expected a dict with keys 'p0' (GPa), 'beta' and 'uniform'")
    try:
        check_uniform(pressure.get('uniform'))
    except ValueError as exception:
        field, message = str(exception).split(': ', 1)
        raise ValueError(f'field `parameters.pressure.{field}`: {message}') from None
    for key, value in pressure.items():
        if key == 'uniform':
            continue
        checks.positive_number(value, checks.field(f'parameters.pressure.{key}'))
    if pressure.get('p0', 1.0) > MAX_PRESSURE_GPA:
        raise ValueError(
            f'field `parameters.pressure.p0`: {pressure["p0"]} GPa is beyond {MAX_PRESSURE_GPA} GPa '
            '(pressures are in GPa)'
        )


class RelaxBatch(StructureJob):
    """Relax a StructureSet with a GapPotential at sampled pressures (``aiida_gaprss.jobs.relax_batch``)."""

    TASK = 'relax_batch'
    NEEDS_POTENTIAL = True
    PARAMETER_VALIDATOR = staticmethod(validate_relax_parameters)
    #: A killed batch returns the trajectories it finished (see the parser).
    PARTIAL_TRAJECTORIES = True

    @classmethod
    def define(cls, spec):
        """Add ``ERROR_PARTIAL_TRAJECTORIES``."""
        super().define(spec)
        spec.exit_code(
            320,
            'ERROR_PARTIAL_TRAJECTORIES',
            message='The job stopped after {finished} of {total} trajectories; their frames are attached ({reason}).',
        )

    @classmethod
    def _validate_all_inputs(cls, value, ctx):
        message = super()._validate_all_inputs(value, ctx)
        if message is None and 'parameters' in value and 'structures' in value:
            ids = value['parameters'].get_dict().get('trajectory_ids')
            if ids is not None and len(ids) != value['structures'].num_structures:
                return (
                    f'field `parameters.trajectory_ids`: {len(ids)} ids for the '
                    f'{value["structures"].num_structures} cells of `structures`'
                )
        return message
