"""``GapRssWorkChain`` (``gaprss.rss``): GAP-RSS from nothing (or from an earlier run) to a potential.

Runs :class:`~aiida_gaprss.workflows.iteration.GapRssIterationWorkChain` children (``iteration_00``, ``01``, ...)
until the reference budget is used, ``max_iterations`` is reached, or the energy error of the previous potential on
the newly labelled structures falls below ``convergence_tolerance``. Outputs the final ``potential`` and
``database``, every iteration's potential, the ``learning_curve``, the ``exclusions`` and PNG ``plots``.

**Validation** (optional, ``validation.enabled``): after each fit a
:class:`~aiida_gaprss.workflows.validation.ValidationWorkChain` (``validation_XX``) relaxes the known phases and
scans E(V) beside the next iteration; the reference side is computed once per run (a phase whose reference
relaxation failed is computed by the next validation) and reused. The run then outputs the last ``phase_errors``,
``energy_volume`` (``formation_energies`` for several elements), ``validation_reference`` and, unless
``validation.structure_map`` is False, the KPCA ``structure_map`` of the final database.

**Several elements**: ``composition`` instead of ``element`` (:mod:`aiida_gaprss.workflows.chemical_system`).
**Continuing a run**: ``restart.*`` (:mod:`aiida_gaprss.workflows.rss_restart`). The calcfunctions are in
:mod:`aiida_gaprss.workflows.rss_functions`, the input checks in :mod:`aiida_gaprss.workflows.rss_checks`.
"""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain, if_, while_

from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.rss.validation import retry_phases
from aiida_gaprss.workflows import chemical_system, compound_iteration
from aiida_gaprss.workflows.fit import GapFitWorkChain
from aiida_gaprss.workflows.iteration import GapRssIterationWorkChain
from aiida_gaprss.workflows.python_job import StructureMapBaseWorkChain
from aiida_gaprss.workflows.rss_checks import validate_rss_inputs, validation_enabled
from aiida_gaprss.workflows.rss_functions import (  # noqa: F401
    build_learning_curve,
    collect_exclusions,
    energy_scatter_data,
    plot_energy_scatter_of_run,
    plot_run_learning_curve,
    plot_run_structure_map,
    prediction_errors,
    structure_map_colours,
    structure_map_title,
)
from aiida_gaprss.workflows.rss_restart import restart_builder, restart_inputs  # noqa: F401
from aiida_gaprss.workflows.validation import QE_KEYS, VASP_KEYS, ValidationWorkChain

#: The calcfunctions, checks and restart helpers imported above are re-exported (their old import path).
__all__ = ('GapRssWorkChain',)


class GapRssWorkChain(WorkChain):
    """The GAP-RSS loop (see the module docstring)."""

    @classmethod
    def define(cls, spec):
        """Inputs, outline, outputs and exit codes."""
        super().define(spec)
        spec.expose_inputs(
            GapRssIterationWorkChain,
            exclude=('iteration', 'num_select', 'database', 'potential'),
        )
        spec.input('budget', valid_type=orm.Int, default=lambda: orm.Int(2500), help='Reference evaluations allowed.')
        spec.input('max_iterations', valid_type=orm.Int, default=lambda: orm.Int(50), help='Iterations at most.')
        spec.input('num_select_initial', valid_type=orm.Int, help='Structures selected in iteration 0 (+ dimers).')
        spec.input('num_select', valid_type=orm.Int, help='Structures selected in each later iteration.')
        spec.input(
            'convergence_tolerance',
            valid_type=orm.Float,
            required=False,
            help='Stop when the previous potential predicts the new structures within this energy RMSE (eV/atom).',
        )
        spec.input_namespace('restart', required=False, populate_defaults=False, help='Continue an earlier run.')
        spec.input('restart.database', valid_type=StructureSet, required=False, help='Its labelled database.')
        spec.input('restart.potential', valid_type=GapPotential, required=False, help='Its last potential.')
        spec.input('restart.iteration', valid_type=orm.Int, required=False, help='Number of its next iteration.')
        spec.input(
            'restart.reference_evaluations',
            valid_type=orm.Int,
            required=False,
            help='Reference evaluations it used (default: the database size).',
        )
        spec.input_namespace(
            'validation', required=False, populate_defaults=False, help='Validate each potential on known phases.'
        )
        spec.input('validation.enabled', valid_type=orm.Bool, required=False, help='Default True if given.')
        spec.input('validation.phases', valid_type=orm.List, required=False, help='Phase names (default: all).')
        spec.input(
            'validation.parameters',
            valid_type=orm.Dict,
            required=False,
            help='relax, eos, processes, job_options of the ValidationWorkChain.',
        )
        spec.input(
            'validation.reference_results',
            valid_type=orm.Dict,
            required=False,
            help="Reference side computed elsewhere (default: computed once with the loop's ASE reference).",
        )
        spec.input(
            'validation.structure_map',
            valid_type=orm.Bool,
            required=False,
            help='Compute the KPCA structure map of the final database (default True).',
        )
        spec.input('validation.map_parameters', valid_type=orm.Dict, required=False, help='soap overrides, processes.')
        spec.input(
            'validation.reuse_reference',
            valid_type=orm.Bool,
            required=False,
            help='QE/VASP: reuse the reference side of an earlier run with the same settings in this profile (default '
            'True; ValidationWorkChain `reference.reuse`). False computes it again in the first validation.',
        )
        spec.inputs.validator = validate_rss_inputs
        spec.outline(
            cls.setup,
            if_(cls.needs_initial_fit)(cls.initial_fit, cls.inspect_initial_fit),
            while_(cls.should_run_iteration)(
                cls.run_iteration,
                cls.inspect_iteration,
                if_(cls.should_validate)(cls.validate),
            ),
            cls.run_final_jobs,
            cls.inspect_final_jobs,
            cls.results,
        )
        spec.output('potential', valid_type=GapPotential, help='The final potential.')
        spec.output('database', valid_type=StructureSet, help='The final labelled database.')
        spec.output_namespace('potentials', valid_type=GapPotential, dynamic=True, help="Every iteration's potential.")
        spec.output('learning_curve', valid_type=orm.Dict, help='Per-iteration evaluations, sizes and errors.')
        spec.output('exclusions', valid_type=orm.Dict, help='Reference calculations excluded in this run.')
        spec.output_namespace('plots', valid_type=orm.SinglefileData, dynamic=True, help='PNG figures of the run.')
        spec.output('phase_errors', valid_type=orm.Dict, required=False, help='Phase errors of the last validation.')
        spec.output('energy_volume', valid_type=orm.Dict, required=False, help='E–V curves of the last validation.')
        spec.output(
            'formation_energies',
            valid_type=orm.Dict,
            required=False,
            help='Several elements: formation energies and hull of the known phases in the last validation.',
        )
        spec.output(
            'validation_reference', valid_type=orm.Dict, required=False, help='Reference side of the validation.'
        )
        spec.output('structure_map', valid_type=orm.Dict, required=False, help='KPCA map of the final database.')
        spec.exit_code(420, 'ERROR_ITERATION_FAILED', message='Iteration {iteration} failed: {message}')
        spec.exit_code(421, 'ERROR_INITIAL_FIT_FAILED', message='The fit to the restart database failed: {message}')

    @classmethod
    def get_builder_from_protocol(cls, element: str, *, codes, engine: str = 'qe', protocol: str | None = None,
                                  overrides=None, **kwargs):  # fmt: skip
        """Return a builder filled from a protocol ('fast', 'moderate', 'precise'); see
        :func:`aiida_gaprss.workflows.builders.get_gaprss_builder`."""
        from aiida_gaprss.workflows.builders import get_gaprss_builder

        return get_gaprss_builder(
            cls, element, codes=codes, engine=engine, protocol=protocol, overrides=overrides, **kwargs
        )

    # -- steps ------------------------------------------------------------------------------------------------------
    def setup(self):
        """Start from scratch or from the restart inputs."""
        restart = self.inputs.get('restart', {})
        self.ctx.database = restart.get('database')
        self.ctx.potential = restart.get('potential')
        if self.ctx.database is not None:
            default_k = max(int(a.info.get('iteration', 0)) for a in self.ctx.database.iter_atoms()) + 1
            self.ctx.k = restart['iteration'].value if 'iteration' in restart else default_k
            used = restart.get('reference_evaluations')
            self.ctx.used = used.value if used is not None else len(self.ctx.database)
            self.report(f'continuing from a database of {len(self.ctx.database)} structures at iteration {self.ctx.k}')
        else:
            self.ctx.k = 0
            self.ctx.used = 0
        self.ctx.first_k = self.ctx.k
        self.ctx.converged = False
        self.ctx.curve = {}
        self.ctx.exclusions = {}
        self.ctx.stop_reason = None
        self.ctx.scatter = {}
        self.ctx.validate_k = None
        self.ctx.validation_in_flight = None  # {'k', 'pk'} of a validation running beside the next iteration
        self.ctx.validation_reference = None
        self.ctx.last_validation = None
        self.ctx.e0 = None  # several elements: the per-element e0 of the last fit, passed on

    def needs_initial_fit(self):
        """A restart database without its potential is fitted first."""
        return self.ctx.database is not None and self.ctx.potential is None

    def initial_fit(self):
        """Fit the restart database (a chemical system's as its iterations do: composition hull, e0 per element)."""
        inputs = AttributeDict(self.exposed_inputs(GapFitWorkChain, 'fit'))
        inputs.training_set = self.ctx.database
        inputs.metadata = {'call_link_label': 'restart_fit'}
        if chemical_system.is_compound(self.inputs):
            elements = chemical_system.system_elements(self.inputs)
            inputs.parameters, inputs.settings = compound_iteration.compound_fit_inputs(inputs, elements, {})
            e0 = inputs.parameters.get_dict()['e0']
            if isinstance(e0, dict):
                self.ctx.e0 = e0
            else:
                self.report(
                    f'restart fit with e0 {e0!r}: fit.parameters has no isolated-atom energy of every element '
                    '(restart_builder takes them from the earlier run)'
                )
        return ToContext(restart_fit=self.submit(GapFitWorkChain, **inputs))

    def inspect_initial_fit(self):
        """Keep the potential of the restart database."""
        node = self.ctx.restart_fit
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_INITIAL_FIT_FAILED.format(message=node.exit_message or 'excepted')
        self.ctx.potential = node.outputs.potential
        return None

    def should_run_iteration(self):
        """Budget left, iterations left and not converged."""
        if self.ctx.converged:
            self.ctx.stop_reason = 'converged'
            return False
        if self.ctx.used >= self.inputs.budget.value:
            self.ctx.stop_reason = 'budget'
            return False
        if self.ctx.k - self.ctx.first_k >= self.inputs.max_iterations.value:
            self.ctx.stop_reason = 'max_iterations'
            return False
        return True

    def run_iteration(self):
        """Submit the next iteration with what is left of the budget."""
        wanted = self.inputs.num_select_initial.value if self.ctx.k == 0 else self.inputs.num_select.value
        dimers = self.inputs.parameters.get_dict().get('pool', {}).get('dimers', 0) if self.ctx.k == 0 else 0
        dimers *= chemical_system.dimer_pairs(self.inputs)
        num_select = max(1, min(wanted, self.inputs.budget.value - self.ctx.used - dimers))
        inputs = AttributeDict(self.exposed_inputs(GapRssIterationWorkChain))
        inputs.iteration = orm.Int(self.ctx.k)
        inputs.num_select = orm.Int(num_select)
        if self.ctx.database is not None:
            inputs.database = self.ctx.database
        if self.ctx.potential is not None:
            inputs.potential = self.ctx.potential
        if self.ctx.e0:
            inputs['fit']['parameters'] = orm.Dict({**inputs['fit']['parameters'].get_dict(), 'e0': self.ctx.e0})
        inputs.metadata = {'call_link_label': f'iteration_{self.ctx.k:02d}'}
        node = self.submit(GapRssIterationWorkChain, **inputs)
        self.report(
            f'iteration_{self.ctx.k:02d} <{node.pk}>: {num_select} new structures, '
            f'{self.ctx.used} of {self.inputs.budget.value} evaluations used'
        )
        self._await_validation()
        return ToContext(iteration=node)

    def inspect_iteration(self):
        """Update database, potential, budget and learning curve; check convergence."""
        self._collect_validation()
        node = self.ctx.iteration
        k = self.ctx.k
        if 'exclusions' in node.outputs:
            self.ctx.exclusions[f'iteration_{k:02d}'] = node.outputs.exclusions
        if 'selected' in node.outputs:
            self.ctx.used += len(node.outputs.selected)
            self.ctx.curve[f'selected_{k:02d}'] = node.outputs.selected
        if 'database' in node.outputs:
            self.ctx.database = node.outputs.database
            self.ctx.curve[f'database_{k:02d}'] = node.outputs.database
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_ITERATION_FAILED.format(iteration=k, message=node.exit_message or 'excepted')
        previous = self.ctx.potential
        self.ctx.potential = node.outputs.potential
        self.ctx.curve[f'fit_{k:02d}'] = node.outputs.fit_parameters
        if chemical_system.is_compound(self.inputs):
            self.ctx.e0 = compound_iteration.fitted_e0(node) or self.ctx.e0
        self.out(f'potentials.iteration_{k:02d}', node.outputs.potential)
        if previous is not None and k > 0:
            self._prediction_errors(previous, node, k)
        self.ctx.validate_k = k
        self.ctx.k += 1
        return None

    def _prediction_errors(self, previous: GapPotential, node, k: int) -> None:
        """Errors of the previous potential on this iteration's new labels, from the relaxation frames it made."""
        if 'trajectories' not in node.outputs or 'labelled' not in node.outputs:
            return
        errors = prediction_errors(node.outputs.trajectories, node.outputs.labelled)
        self.ctx.scatter[f'trajectories_{k:02d}'] = node.outputs.trajectories
        self.ctx.scatter[f'labelled_{k:02d}'] = node.outputs.labelled
        self.ctx.curve[f'prediction_{k:02d}'] = errors
        rmse = errors.get_dict().get('prediction_energy_rmse')
        tolerance = self.inputs.get('convergence_tolerance')
        if rmse is not None:
            self.report(
                f'iteration_{k:02d}: previous potential predicts the new structures to {rmse * 1000:.1f} meV/atom'
            )
            if tolerance is not None and rmse < tolerance.value:
                self.ctx.converged = True

    def should_validate(self):
        """Validation enabled and a new potential to validate."""
        return validation_enabled(self.inputs) and self.ctx.validate_k is not None

    def validate(self):
        """Validate this iteration's potential beside the next iteration (nothing in the loop waits for it).

        The reference side is computed once per run and then reused: the first validation finishes before the
        second is submitted, because every iteration awaits the validation running beside it.
        """
        k = self.ctx.validate_k
        validation = self.inputs.validation
        parameters = validation['parameters'].get_dict() if 'parameters' in validation else {}
        job_options = self.inputs.parameters.get_dict().get('job_options')
        if job_options and 'job_options' not in parameters:
            parameters['job_options'] = job_options
        inputs = AttributeDict(
            {
                'potential': self.ctx.potential,
                'code': self.inputs.code,
                'parameters': orm.Dict(parameters),
                'metadata': {'call_link_label': f'validation_{k:02d}'},
            }
        )
        if chemical_system.is_compound(self.inputs):  # the elements' ground states, the compounds, formation energies
            inputs.elements = orm.List(chemical_system.system_elements(self.inputs))
        else:
            inputs.element = self.inputs.element
        if 'phases' in validation:
            inputs.phases = validation['phases']
        reused = self.ctx.validation_reference
        if reused is None and 'reference_results' in validation:
            reused = validation['reference_results']
        engine = self.inputs.reference.engine.value
        if reused is not None:
            inputs.reference_results = reused
        if engine in ('qe', 'vasp') and (reused is None or retry_phases(reused.get_dict())):
            # the first validation computes the reference side; a later one only the phases whose relaxation failed
            side = self.inputs.reference[engine]
            keys = QE_KEYS if engine == 'qe' else VASP_KEYS
            inputs.reference = {
                'engine': orm.Str(engine),
                'max_concurrent': self.inputs.reference.max_concurrent,
                engine: {key: side[key] for key in keys if key in side},
            }
            if 'reuse_reference' in validation:
                inputs.reference['reuse'] = validation['reuse_reference']
        elif reused is None:
            ase = self.inputs.reference.get('ase', {})
            side = {'calculator': ase['calculator']} if 'calculator' in ase else {'potential': ase['potential']}
            inputs.reference = {'engine': orm.Str('ase'), 'ase': side}
        node = self.submit(ValidationWorkChain, **inputs)
        self.report(f'validation_{k:02d} <{node.pk}> of the potential of iteration {k}')
        self.ctx.validation_in_flight = {'k': k, 'pk': node.pk}
        self.ctx.validate_k = None

    def _await_validation(self) -> None:
        """Await the validation in flight (if any) together with what the current step submitted."""
        if self.ctx.validation_in_flight is not None:
            self.to_context(validation=orm.load_node(self.ctx.validation_in_flight['pk']))

    def _collect_validation(self) -> None:
        """Keep the phase errors of the validation that was in flight (a failed validation is reported, not fatal)."""
        flight = self.ctx.validation_in_flight
        if flight is None:
            return
        self.ctx.validation_in_flight = None
        node, k = self.ctx.validation, flight['k']
        if not node.is_finished_ok:
            self.report(f'validation_{k:02d} <{node.pk}> failed: {node.exit_message or "excepted"}')
            return
        self.ctx.last_validation = node
        if 'reference_results' in node.outputs:  # the first one, or the reused one completed with failed phases
            self.ctx.validation_reference = node.outputs.reference_results
        if 'phase_errors' in node.outputs:
            self.ctx.curve[f'validation_{k:02d}'] = node.outputs.phase_errors

    def should_map(self):
        """The KPCA map of the final database, when validation is enabled (and the map not switched off)."""
        if not validation_enabled(self.inputs) or self.ctx.database is None:
            return False
        flag = self.inputs.validation.get('structure_map')
        return flag is None or flag.value

    def run_final_jobs(self):
        """The last validation (in flight) and the KPCA map of the final database, side by side."""
        self._await_validation()
        if not self.should_map():
            return None
        # a job: averaged SOAP n = l = 16 of many cells
        validation = self.inputs.validation
        parameters = validation['map_parameters'].get_dict() if 'map_parameters' in validation else {}
        if chemical_system.is_compound(self.inputs):  # the system's phases marked, points coloured by composition
            parameters.setdefault('elements', chemical_system.system_elements(self.inputs))
        else:
            parameters.setdefault('element', self.inputs.element.value)
        options = dict(self.inputs.parameters.get_dict().get('job_options', {}))
        job = {
            'code': self.inputs.code,
            'structures': self.ctx.database,
            'parameters': orm.Dict(parameters),
            'metadata': {'call_link_label': 'structure_map', 'options': options},
        }
        node = self.submit(StructureMapBaseWorkChain, **StructureMapBaseWorkChain.inputs_from_job(job))
        return ToContext(structure_map=node)

    def inspect_final_jobs(self):
        """Keep the last validation and the map (failures are reported, not fatal)."""
        self._collect_validation()
        if 'structure_map' in self.ctx and not self.ctx.structure_map.is_finished_ok:
            node = self.ctx.structure_map
            self.report(f'structure map <{node.pk}> failed: {node.exit_message or "excepted"}')

    def _plots(self, curve) -> None:
        """PNG outputs (calcfunctions: each plot has its data as input)."""
        try:
            self.out('plots.learning_curve', plot_run_learning_curve(curve))
        except ValueError as exception:  # e.g. no fit metrics and no phase errors: nothing to plot
            self.report(f'no learning-curve plot: {exception}')
        if self.ctx.scatter:
            try:
                self.out('plots.energy_scatter', plot_energy_scatter_of_run(**self.ctx.scatter))
            except ValueError as exception:
                self.report(f'no energy scatter plot: {exception}')
        node = self.ctx.last_validation
        if node is not None:
            for key in ('phase_errors', 'energy_volume', 'formation_energies'):
                if key in node.outputs:
                    self.out(key, node.outputs[key])
            for key in ('energy_volume', 'formation_energies'):
                if key in node.outputs.plots:
                    self.out(f'plots.{key}', node.outputs.plots[key])
        if self.ctx.validation_reference is not None:
            self.out('validation_reference', self.ctx.validation_reference)
        if 'structure_map' in self.ctx and self.ctx.structure_map.is_finished_ok:
            structure_map = self.ctx.structure_map.outputs.structure_map
            self.out('structure_map', structure_map)
            self.out('plots.structure_map', plot_run_structure_map(structure_map))

    def results(self):
        """Final potential and database, learning curve and exclusions."""
        self.report(f'stopped ({self.ctx.stop_reason}) after {self.ctx.k - self.ctx.first_k} iteration(s), '
                    f'{self.ctx.used} reference evaluations')  # fmt: skip
        if self.ctx.potential is not None:
            self.out('potential', self.ctx.potential)
        if self.ctx.database is not None:
            self.out('database', self.ctx.database)
        if self.ctx.curve:
            curve = build_learning_curve(**self.ctx.curve)
            self.out('learning_curve', curve)
            self._plots(curve)
        self.out('exclusions', collect_exclusions(**self.ctx.exclusions))
