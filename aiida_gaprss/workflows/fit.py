"""GAP fitting workflows: a restartable ``gap_fit`` run and the GAP-RSS fit with automatic δ and hull sigmas.

``GapFitBaseWorkChain`` (``gaprss.gap_fit_base``) runs one :class:`GapFitCalculation` and restarts it, at most
``max_iterations - 1`` times, when it runs out of memory (fewer sparse points), out of walltime (more time) or when
its job is killed before gap_fit finished (``scancel``, node failure, a signal: the same inputs again; after
``max_iterations`` killed jobs it ends with 311 ``ERROR_KILLED_TOO_OFTEN``).

``GapFitWorkChain`` (``gaprss.fit``) is the fit of the paper (Methods, "Fitting"):

1. per-structure sigmas from the lower (V, E) convex hull, δ_2b from the spread of the energies (calcfunction);
   with ``settings.elements`` (several elements) the hull is over (composition, V, E) and δ_2b is the spread after
   removing the best linear function of the composition (:mod:`aiida_gaprss.rss.gap_multicomponent`);
2. a 2b-only fit, whose energy RMSE per atom becomes δ_3b;
3. a 2b+3b fit, whose energy RMSE per atom becomes δ_SOAP;
4. the full 2b+3b+SOAP fit, which gives the potential.

Each fit is a ``GapFitBaseWorkChain``. With ``settings.automatic_deltas = False`` only the full fit runs, with the
δ values of ``parameters``.
"""

from __future__ import annotations

import copy

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import (
    ProcessHandlerReport,
    ToContext,
    WorkChain,
    append_,
    calcfunction,
    process_handler,
    while_,
)
from aiida.plugins import CalculationFactory

from aiida_gaprss.calculations.gap_fit import validate_training_set
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.rss.gap_hyper import delta_from_error
from aiida_gaprss.rss.gap_parameters import DESCRIPTOR_TYPES, select_descriptors, validate_gap_parameters
from aiida_gaprss.rss.hull import SPECIAL_CONFIG_TYPES, check_special_sigmas
from aiida_gaprss.workflows.functions import add_hull_sigmas
from aiida_gaprss.workflows.restart import JobRestartWorkChain

__all__ = ('GapFitBaseWorkChain', 'GapFitWorkChain')

GapFitCalculation = CalculationFactory('gaprss.gap_fit')

#: Settings of the fit workflow and their defaults.
FIT_SETTINGS = {
    'hull_sigmas': True,
    'automatic_deltas': True,
    'natoms_scaling': 'linear',
    'delta_2b_about': 'mean',
    'e0': None,
    'special_sigmas': None,
    'elements': None,
}


def validate_fit_settings(value, _):
    """Refuse unknown keys and bad values of ``settings`` before anything is submitted."""
    if value is None:
        return None
    settings = value.get_dict()
    unknown = sorted(set(settings) - set(FIT_SETTINGS))
    if unknown:
        return f'field `settings.{unknown[0]}`: unknown key; known: {sorted(FIT_SETTINGS)}'
    for key in ('hull_sigmas', 'automatic_deltas'):
        if key in settings and not isinstance(settings[key], bool):
            return f'field `settings.{key}`: expected true or false'
    if settings.get('natoms_scaling', 'linear') not in ('linear', 'sqrt'):
        return "field `settings.natoms_scaling`: expected 'linear' or 'sqrt'"
    if settings.get('delta_2b_about', 'mean') not in ('mean', 'e0'):
        return "field `settings.delta_2b_about`: expected 'mean' or 'e0'"
    if settings.get('delta_2b_about') == 'e0' and not isinstance(settings.get('e0'), dict):
        return 'field `settings.e0`: isolated-atom energies are needed for delta_2b_about = e0'
    elements = settings.get('elements')
    if elements is not None and (
        not isinstance(elements, list) or not elements or not all(isinstance(e, str) for e in elements)
    ):
        return 'field `settings.elements`: expected a list of chemical symbols'
    special = settings.get('special_sigmas')
    if special is not None:
        if not isinstance(special, dict):
            return 'field `settings.special_sigmas`: expected {config_type: [σ_E, σ_F, σ_V]}'
        for config_type, values in special.items():
            if config_type not in SPECIAL_CONFIG_TYPES:
                return (
                    f'field `settings.special_sigmas.{config_type}`: only structures left out of the hull '
                    f'{list(SPECIAL_CONFIG_TYPES)} take fixed sigmas'
                )
            try:
                check_special_sigmas(values)
            except ValueError as exception:
                return f'field `settings.special_sigmas.{config_type}`: {exception}'
    return None


class GapFitBaseWorkChain(JobRestartWorkChain):
    """Run a ``gaprss.gap_fit`` CalcJob; restart it with fewer sparse points or more walltime when it runs out."""

    _process_class = GapFitCalculation
    _inputs_namespace = 'gap_fit'

    #: Factor applied to every descriptor's ``n_sparse`` after running out of memory.
    SPARSE_FACTOR = 0.5
    #: Factor applied to the walltime after running out of it.
    WALLTIME_FACTOR = 2.0

    @classmethod
    def define(cls, spec):
        """The CalcJob's inputs under ``gap_fit``, its outputs; at most two restarts by default."""
        super().define(spec)
        spec.exit_code(
            310, 'ERROR_UNRECOVERABLE_FAILURE', message='The gap_fit calculation failed in a way no handler can fix.'
        )
        spec.exit_code(
            311,
            'ERROR_KILLED_TOO_OFTEN',
            message='The gap_fit job was killed {count} time(s) before it finished (max_iterations = {count}); '
            'last: {message}',
        )

    @process_handler(priority=500, exit_codes=[GapFitCalculation.exit_codes.ERROR_OUT_OF_MEMORY])
    def handle_out_of_memory(self, node):
        """Halve the sparse points of every descriptor (never below 10) and run again."""
        parameters = copy.deepcopy(self.ctx.inputs.parameters.get_dict())
        for descriptor in parameters['descriptors']:
            descriptor['n_sparse'] = max(10, int(descriptor['n_sparse'] * self.SPARSE_FACTOR))
        self.ctx.inputs.parameters = orm.Dict(parameters)
        counts = [d['n_sparse'] for d in parameters['descriptors']]
        self.report(f'{node.process_label}<{node.pk}> ran out of memory: restarting with sparse points {counts}')
        return ProcessHandlerReport(do_break=True)

    @process_handler(priority=400, exit_codes=[GapFitCalculation.exit_codes.ERROR_OUT_OF_WALLTIME])
    def handle_out_of_walltime(self, node):
        """Double the walltime (if one was set) and run again."""
        options = dict(self.ctx.inputs.metadata.get('options', {}))
        walltime = options.get('max_wallclock_seconds')
        if walltime:
            options['max_wallclock_seconds'] = int(walltime * self.WALLTIME_FACTOR)
            self.ctx.inputs.metadata['options'] = options
        self.report(
            f'{node.process_label}<{node.pk}> ran out of walltime: restarting with '
            f'max_wallclock_seconds = {options.get("max_wallclock_seconds")}'
        )
        return ProcessHandlerReport(do_break=True)

    @process_handler(
        priority=300,
        exit_codes=[
            GapFitCalculation.exit_codes.ERROR_JOB_KILLED,
            GapFitCalculation.exit_codes.ERROR_SCHEDULER_NODE_FAILURE,
        ],
    )
    def handle_killed(self, node):
        """The job was killed before gap_fit finished: run it again unchanged, or stop with 311 after the last try."""
        if self.ctx.iteration >= self.inputs.max_iterations.value:
            self.ctx.is_finished = True
            exit_code = self.exit_codes.ERROR_KILLED_TOO_OFTEN.format(
                count=self.ctx.iteration, message=node.exit_message
            )
            self.report(exit_code.message)
            return ProcessHandlerReport(do_break=True, exit_code=exit_code)
        self.report(f'{node.process_label}<{node.pk}> was killed [{node.exit_status}]: {node.exit_message}; restarting')
        return ProcessHandlerReport(do_break=True)

    @process_handler(priority=0)
    def handle_unrecoverable(self, node):
        """Any other failure: stop with the CalcJob's own exit code message in the report."""
        if node.is_failed:
            self.report(
                f'{node.process_label}<{node.pk}> failed with exit status {node.exit_status}: {node.exit_message}'
            )
            return ProcessHandlerReport(do_break=True, exit_code=self.exit_codes.ERROR_UNRECOVERABLE_FAILURE)
        return None


class GapFitWorkChain(WorkChain):
    """The GAP-RSS fit: hull sigmas, then δ set from the errors of the lower-body fits, then the full fit."""

    @classmethod
    def define(cls, spec):
        """Inputs: the training set, the Table-1 parameters, settings and the gap_fit run options."""
        super().define(spec)
        spec.input(
            'training_set',
            valid_type=StructureSet,
            validator=validate_training_set,
            help='Labelled training database (energies required).',
        )
        spec.input(
            'parameters',
            valid_type=orm.Dict,
            validator=lambda value, _: _validate_parameters(value),
            help='Full fit parameters (e.g. from table1_parameters); δ of 3b/SOAP are replaced when automatic.',
        )
        spec.input(
            'settings',
            valid_type=orm.Dict,
            required=False,
            validator=validate_fit_settings,
            help=f'Fit settings, defaults {FIT_SETTINGS}.',
        )
        spec.expose_inputs(
            GapFitBaseWorkChain, namespace='gap_fit', exclude=('gap_fit.training_set', 'gap_fit.parameters')
        )
        spec.outline(
            cls.setup,
            cls.prepare_training_set,
            while_(cls.has_next_stage)(cls.run_stage, cls.inspect_stage),
            cls.results,
        )
        spec.output('potential', help='The fitted GAP (the full fit).')
        spec.output('output_parameters', valid_type=orm.Dict, help='Errors, δ of every stage and hull statistics.')
        spec.output('training_set', valid_type=StructureSet, help='The training set with per-structure sigmas.')
        spec.exit_code(401, 'ERROR_FIT_FAILED', message='The gap_fit stage `{stage}` failed: {message}')
        spec.exit_code(402, 'ERROR_NO_TRAINING_ERROR', message='Stage `{stage}` reported no training error for δ.')

    def setup(self):
        """Work out the stages: cumulative descriptor sets in the order 2b, 3b, SOAP."""
        self.ctx.settings = {**FIT_SETTINGS, **(self.inputs.settings.get_dict() if 'settings' in self.inputs else {})}
        self.ctx.parameters = validate_gap_parameters(self.inputs.parameters.get_dict())
        present = [t for t in DESCRIPTOR_TYPES if any(d['type'] == t for d in self.ctx.parameters['descriptors'])]
        if self.ctx.settings['automatic_deltas']:
            self.ctx.stages = [present[: i + 1] for i in range(len(present))]
        else:
            self.ctx.stages = [present]
        self.ctx.stage = 0
        self.ctx.deltas = {}
        self.ctx.fits = []
        self.ctx.hull_report = None

    def prepare_training_set(self):
        """Hull sigmas and δ_2b, or the training set as it is."""
        if self.ctx.settings['hull_sigmas'] or self.ctx.settings['automatic_deltas']:
            options = {key: self.ctx.settings[key] for key in ('natoms_scaling', 'delta_2b_about', 'e0')}
            if self.ctx.settings['elements'] is not None:  # several elements: the composition hull
                options['elements'] = self.ctx.settings['elements']
            result = add_hull_sigmas(self.inputs.training_set, orm.Dict(options))
            self.ctx.hull_report = result['report']
            self.ctx.training_set = (
                result['structures'] if self.ctx.settings['hull_sigmas'] else self.inputs.training_set
            )
            if self.ctx.settings['automatic_deltas']:
                self.ctx.deltas['distance_2b'] = result['report']['delta_2b']
        else:
            self.ctx.training_set = self.inputs.training_set

    def has_next_stage(self):
        """Whether a fit stage is left."""
        return self.ctx.stage < len(self.ctx.stages)

    def _stage_parameters(self, types) -> dict:
        parameters = select_descriptors(self.ctx.parameters, types)
        for descriptor in parameters['descriptors']:
            if descriptor['type'] in self.ctx.deltas:
                descriptor['delta'] = float(self.ctx.deltas[descriptor['type']])
        return parameters

    def run_stage(self):
        """Submit the fit of the current stage."""
        types = self.ctx.stages[self.ctx.stage]
        inputs = AttributeDict(self.exposed_inputs(GapFitBaseWorkChain, 'gap_fit'))
        inputs.gap_fit.training_set = self.ctx.training_set
        inputs.gap_fit.parameters = orm.Dict(self._stage_parameters(types))
        inputs.metadata = {'call_link_label': 'fit_' + '_'.join(t.split('_')[0] for t in types)}
        node = self.submit(GapFitBaseWorkChain, **inputs)
        self.report(f'stage {self.ctx.stage + 1}/{len(self.ctx.stages)}: fitting {"+".join(types)} <{node.pk}>')
        return ToContext(fits=append_(node))

    def inspect_stage(self):
        """Record the stage's errors and set δ of the next descriptor from its energy RMSE per atom."""
        node = self.ctx.fits[-1]
        types = self.ctx.stages[self.ctx.stage]
        stage = '+'.join(types)
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_FIT_FAILED.format(stage=stage, message=node.exit_message or 'excepted')
        output = node.outputs.output_parameters.get_dict()
        self.ctx.stage += 1
        if self.ctx.stage < len(self.ctx.stages):
            rmse = output.get('energy_rmse')
            if rmse is None:
                return self.exit_codes.ERROR_NO_TRAINING_ERROR.format(stage=stage)
            following = self.ctx.stages[self.ctx.stage][-1]
            self.ctx.deltas[following] = delta_from_error(rmse)
            self.report(
                f'{stage} energy RMSE {rmse * 1000:.2f} meV/atom: '
                f'δ of {following} = {self.ctx.deltas[following]:.4g} eV'
            )
        return None

    def results(self):
        """Attach the final potential, the training set with sigmas and every stage's metrics."""
        stages = {}
        for index, node in enumerate(self.ctx.fits):
            stages[f'stage_{index}_metrics'] = node.outputs.output_parameters
            stages[f'stage_{index}_potential'] = node.outputs.potential
        if self.ctx.hull_report is not None:
            stages['hull'] = self.ctx.hull_report
        self.out('potential', self.ctx.fits[-1].outputs.potential)
        self.out('training_set', self.ctx.training_set)
        self.out('output_parameters', collect_fit_metrics(**stages))


@calcfunction
def collect_fit_metrics(**nodes) -> orm.Dict:
    """The final fit's metrics plus, per stage, its descriptors, their δ (read from the potential) and its errors."""
    count = len([key for key in nodes if key.endswith('_metrics')])
    stages = []
    for index in range(count):
        metrics = nodes[f'stage_{index}_metrics'].get_dict()
        descriptors = nodes[f'stage_{index}_potential'].descriptors
        stages.append(
            {
                'descriptors': [d['type'] for d in descriptors],
                'deltas': {d['type']: d.get('delta') for d in descriptors},
                'energy_rmse': metrics.get('energy_rmse'),
                'forces_rmse': metrics.get('forces_rmse'),
                'virial_rmse': metrics.get('virial_rmse'),
            }
        )
    result = nodes[f'stage_{count - 1}_metrics'].get_dict()
    result['stages'] = stages
    result['deltas'] = stages[-1]['deltas']
    result['hull'] = nodes['hull'].get_dict() if 'hull' in nodes else {}
    return orm.Dict(result)


def _validate_parameters(value) -> str | None:
    try:
        validate_gap_parameters(value.get_dict())
    except ValueError as exception:
        return f'field `parameters`: {exception}'
    return None
