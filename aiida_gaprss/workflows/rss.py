"""``GapRssWorkChain`` (``gaprss.rss``): GAP-RSS from nothing (or from an earlier run) to a potential.

Runs :class:`~aiida_gaprss.workflows.iteration.GapRssIterationWorkChain` children, labelled ``iteration_00``,
``iteration_01``, ..., until the reference budget is used, ``max_iterations`` is reached, or (optionally) the
energy error of the previous potential on the newly labelled structures falls below ``convergence_tolerance``.

Outputs: the final ``potential`` and ``database``, every iteration's potential in ``potentials.iteration_XX``, the
``learning_curve`` (reference evaluations, database size, training errors and prediction errors per iteration) and
the run's ``exclusions``, and PNG plots (``plots.learning_curve`` always; ``plots.energy_scatter`` once an iteration
k >= 1 has run).

**Validation** (optional, off by default; ``validation.enabled``): after each iteration's fit, a
:class:`~aiida_gaprss.workflows.validation.ValidationWorkChain` (``validation_XX``) relaxes the known phases and scans
E(V) with the new potential; the reference side (engine ``ase`` or ``qe`` of the loop's ``reference`` inputs, or
``validation.reference_results``) is computed once per run, in the first validation, and reused by the later ones;
a phase whose reference relaxation failed there (e.g. a pw.x killed with its machine) is computed by the next one.
Nothing in the loop depends on a validation, so it runs beside the next iteration (which awaits it: the first
validation has finished before the second starts); the last one runs beside the structure map.
The learning curve then has each iteration's phase errors (``phase_errors``: phase -> eV/atom, each phase at its own
method's minimum), and the run outputs the last ``phase_errors`` and ``energy_volume``, the reference side
(``validation_reference``), ``plots.energy_volume`` and — unless ``validation.structure_map`` is False — the KPCA
``structure_map`` of the final database (a :class:`~aiida_gaprss.calculations.validate_potential.StructureMap` job)
and ``plots.structure_map``.

``plots.energy_scatter`` shows, for every iteration k >= 1, the energy of the structures labelled in iteration k as
predicted by the previous potential (the relaxation frames it produced) against the reference; iteration 0 has no
previous potential and is left out (its training errors are in the learning curve).

**Several elements.** ``composition`` instead of ``element`` (see :mod:`aiida_gaprss.workflows.chemical_system`):
iteration 0 has dimers of every species pair, every fit uses ``e0`` per element (the isolated-atom energies of the
first iteration, passed on to the later ones). The validation is that of the chemical system (``elements``, the
composition's elements in its order): the elements' ground states and their known compounds (Si–C: the SiC
polytypes), with the run's outputs ``formation_energies`` and ``plots.formation_energies`` of the last one; a system
without known compound phases is refused by name when its validation is asked for. The structure map marks no
phases and is coloured by composition.

**Continuing a run.** ``restart.database`` (and ``restart.potential``, ``restart.iteration``) start from what an
earlier run finished — to raise its budget or to recover from a failure — without repeating any reference
calculation: the finished labels are in the database. Without ``restart.potential`` the first iteration of the
continued run is fitted to the given database before anything else happens (:func:`restart_inputs` finds the inputs
from an earlier run's node).
"""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain, calcfunction, if_, while_

from aiida_gaprss.calculations.gap_fit import validate_training_set
from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.rss.validation import retry_phases
from aiida_gaprss.workflows import chemical_system, compound_iteration, rss_checks
from aiida_gaprss.workflows.fit import GapFitWorkChain
from aiida_gaprss.workflows.iteration import GapRssIterationWorkChain, validate_system_parameters
from aiida_gaprss.workflows.python_job import StructureMapBaseWorkChain
from aiida_gaprss.workflows.validation import QE_KEYS, VASP_KEYS, ValidationWorkChain

__all__ = (
    'GapRssWorkChain',
    'plot_energy_scatter_of_run',
    'plot_run_learning_curve',
    'restart_builder',
    'restart_inputs',
    'structure_map_colours',
    'structure_map_title',
)


@calcfunction
def build_learning_curve(**nodes) -> orm.Dict:
    """Learning curve from each iteration's fit metrics, selection and labels (keys ``<kind>_<iteration>``).

    ``training_energy_rmse`` is over every training structure, ``training_energy_rmse_cells`` over the periodic cells
    only (no dimers: :func:`aiida_gaprss.jobs.gap_errors.energy_rmse_of_cells`).
    """
    from aiida_gaprss.jobs.gap_errors import energy_rmse_of_cells

    iterations = sorted({int(key.rsplit('_', 1)[1]) for key in nodes})
    rows = []
    evaluations = 0
    for k in iterations:
        row = {'iteration': k}
        if f'selected_{k:02d}' in nodes:
            evaluations += len(nodes[f'selected_{k:02d}'])
        row['reference_evaluations'] = evaluations
        if f'database_{k:02d}' in nodes:
            row['database_size'] = len(nodes[f'database_{k:02d}'])
        if f'fit_{k:02d}' in nodes:
            metrics = nodes[f'fit_{k:02d}'].get_dict()
            for key in ('energy_rmse', 'forces_rmse', 'virial_rmse'):
                row[f'training_{key}'] = metrics.get(key)
            row['training_energy_rmse_cells'] = energy_rmse_of_cells(metrics.get('training_errors') or {})
        if f'prediction_{k:02d}' in nodes:
            row.update(nodes[f'prediction_{k:02d}'].get_dict())
        if f'validation_{k:02d}' in nodes:
            errors = nodes[f'validation_{k:02d}'].get_dict()
            row['phase_errors'] = {name: entry['error'] for name, entry in errors['phases'].items()}
            row['phase_max_abs_error'] = errors['max_abs_error']
            row['phases_converged'] = errors['all_converged']
        rows.append(row)
    return orm.Dict({'iterations': rows, 'units': {'energy': 'eV/atom', 'forces': 'eV/Angstrom'}})


@calcfunction
def collect_exclusions(**exclusions) -> orm.Dict:
    """All excluded reference calculations of a run, tagged with their iteration."""
    rows = []
    for key in sorted(exclusions):
        for record in exclusions[key].get_dict().get('excluded', []):
            rows.append({'iteration': int(key.rsplit('_', 1)[1]), **record})
    return orm.Dict({'excluded': rows, 'num_excluded': len(rows)})


@calcfunction
def prediction_errors(potential_labels: StructureSet, reference: StructureSet) -> orm.Dict:
    """Energy and force errors of the previous potential on the newly labelled structures (matched by origin)."""
    import numpy as np

    predicted = {atoms.info.get('origin'): atoms for atoms in potential_labels.iter_atoms()}
    energy, forces = [], []
    for atoms in reference.iter_atoms():
        other = predicted.get(atoms.info.get('origin'))
        if other is None or 'energy' not in atoms.info:
            continue
        energy.append((other.info['energy'] - atoms.info['energy']) / len(atoms))
        if 'forces' in atoms.arrays and 'forces' in other.arrays:
            forces.append((other.arrays['forces'] - atoms.arrays['forces']).ravel())
    result = {'prediction_count': len(energy)}
    if energy:
        result['prediction_energy_rmse'] = float(np.sqrt(np.mean(np.square(energy))))
        result['prediction_energy_mae'] = float(np.mean(np.abs(energy)))
    if forces:
        result['prediction_forces_rmse'] = float(np.sqrt(np.mean(np.square(np.concatenate(forces)))))
    return orm.Dict(result)


@calcfunction
def plot_run_learning_curve(learning_curve: orm.Dict) -> orm.SinglefileData:
    """PNG of the learning curve: training and prediction RMSE and per-phase errors vs reference evaluations."""
    import io

    from aiida_gaprss.plots import plot_learning_curve

    rows = learning_curve['iterations']
    phase_errors = {}
    for row in rows:
        for name, error in (row.get('phase_errors') or {}).items():
            phase_errors.setdefault(name, []).append((row['reference_evaluations'], error))
    data = plot_learning_curve(rows, None, phase_errors=phase_errors or None)
    return orm.SinglefileData(io.BytesIO(data), filename='learning_curve.png')


def energy_scatter_data(trajectories, labelled) -> tuple[list[float], list[float]]:
    """Reference and predicted energies per atom (eV/atom) of labelled structures matched to frames by origin."""
    predicted = {atoms.info.get('origin'): atoms for atoms in trajectories.iter_atoms()}
    reference, prediction = [], []
    for atoms in labelled.iter_atoms():
        other = predicted.get(atoms.info.get('origin'))
        if other is None or 'energy' not in atoms.info or 'energy' not in other.info:
            continue
        reference.append(float(atoms.info['energy']) / len(atoms))
        prediction.append(float(other.info['energy']) / len(other))
    return reference, prediction


@calcfunction
def plot_energy_scatter_of_run(**nodes) -> orm.SinglefileData:
    """PNG: predicted (previous potential) vs reference energy of the structures added in each iteration k >= 1.

    ``nodes``: ``trajectories_XX`` (the relaxation frames of iteration XX, energies of the previous potential) and
    ``labelled_XX`` (the same structures with reference labels), matched by ``info['origin']``.
    """
    import io

    from aiida_gaprss.plots import plot_energy_scatter

    per_iteration = {}
    for key in sorted(nodes):
        if not key.startswith('labelled_'):
            continue
        k = key.rsplit('_', 1)[1]
        reference, prediction = energy_scatter_data(nodes[f'trajectories_{k}'], nodes[key])
        if reference:
            per_iteration[int(k)] = (reference, prediction)
    data = plot_energy_scatter(per_iteration, None, title='previous potential vs reference')
    return orm.SinglefileData(io.BytesIO(data), filename='energy_scatter.png')


def structure_map_title(content: dict) -> str:
    """Title of the structure map: how many database structures it shows, and how many it leaves out.

    The map job leaves out dimers and non-periodic structures (``num_skipped``): a title counting only the others
    must say so, or a 54-structure database looks like 52.
    """
    shown, skipped = content['num_structures'], int(content.get('num_skipped') or 0)
    if not skipped:
        return f'{shown} database structures'
    return f'{shown} of {shown + skipped} database structures ({skipped} dimers and clusters left out)'


def structure_map_colours(content: dict) -> tuple[list[float], str | None]:
    """The colour of each point of the map and its label: the mean coordination for one element, the atomic
    fraction of the first species (alphabetically, e.g. C of Si–C) for a database of several."""
    n = content['num_structures']
    species = content.get('species') or []
    composition = content.get('composition') or {}
    if len(species) > 1 and species[0] in composition:
        return list(composition[species[0]][:n]), f'fraction of {species[0]}'
    return list(content['coordination'][:n]), None


@calcfunction
def plot_run_structure_map(structure_map: orm.Dict) -> orm.SinglefileData:
    """PNG of the KPCA structure map, coloured by mean coordination (by composition for several elements), known
    phases marked."""
    import io

    from aiida_gaprss.plots import plot_structure_map

    content = structure_map.get_dict()
    coordinates = content['coordinates']
    n = content['num_structures']
    marked = {name: coordinates[index] for name, index in content['phases'].items()}
    colours, label = structure_map_colours(content)
    data = plot_structure_map(
        coordinates[:n], colours, None, marked=marked, title=structure_map_title(content), colour_label=label
    )
    return orm.SinglefileData(io.BytesIO(data), filename='structure_map.png')


_validation_enabled = rss_checks.validation_enabled


def _validate_inputs(value, _):
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
    if _validation_enabled(value):
        error = rss_checks.validate_validation(value)
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
    return rss_checks.validate_reference_species(value)


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
        spec.inputs.validator = _validate_inputs
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
        return _validation_enabled(self.inputs) and self.ctx.validate_k is not None

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
        if not _validation_enabled(self.inputs) or self.ctx.database is None:
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
        if not chemical_system.is_compound(self.inputs):  # several elements: no phases marked, coloured by composition
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


def restart_builder(node: orm.WorkflowNode):
    """A builder that continues the run ``node``: its own inputs, with ``restart`` from :func:`restart_inputs`.

    ``ProcessNode.get_builder_restart`` cannot be used: it validates exposed namespaces without their metadata
    defaults. The inputs are the run's incoming links plus its non-database metadata inputs (e.g. the gap_fit
    options), merged.
    """
    from aiida.common.links import LinkType

    from aiida_gaprss.common.merge import deep_merge

    inputs = node.base.links.get_incoming(link_type=(LinkType.INPUT_CALC, LinkType.INPUT_WORK)).nested()
    inputs = deep_merge(node.get_metadata_inputs() or {}, inputs) if hasattr(node, 'get_metadata_inputs') else inputs
    inputs.pop('restart', None)
    inputs.pop('metadata', None)
    builder = GapRssWorkChain.get_builder()
    _set_leaves(builder, inputs)
    builder.restart = restart_inputs(node)
    e0 = _last_fitted_e0(node) if chemical_system.is_compound(node.inputs) else None
    if e0:  # a chemical system: the restart fit starts from the isolated-atom energies the run used
        builder.fit.parameters = orm.Dict({**builder.fit.parameters.get_dict(), 'e0': e0})
    return builder


def _last_fitted_e0(node: orm.WorkflowNode) -> dict[str, float] | None:
    """The per-element ``e0`` of the run's last iteration that fitted one (``None`` if none did)."""
    links = node.base.links.get_outgoing(link_label_filter='iteration_%').all()
    for link in sorted(links, key=lambda link: link.link_label, reverse=True):
        e0 = compound_iteration.fitted_e0(link.node)
        if e0:
            return e0
    return None


def _set_leaves(namespace, values: dict) -> None:
    """Set ``values`` on a builder namespace leaf by leaf.

    ``ProcessBuilder._update`` validates each namespace as a whole, which refuses a partial ``metadata.options`` (e.g.
    only ``num_threads``, whose ``resources`` the CalcJob fills in from the computer's defaults at submission).
    """
    from aiida.engine.processes.builder import ProcessBuilderNamespace

    for key, value in values.items():
        current = namespace[key] if key in namespace else None
        if isinstance(value, dict) and isinstance(current, ProcessBuilderNamespace):
            _set_leaves(current, value)
        else:
            namespace[key] = value


def restart_inputs(node: orm.WorkflowNode) -> dict:
    """Inputs of ``restart`` that continue the run ``node`` (finished or failed) from what it finished.

    The database is the last one any iteration produced (a failed fit still leaves its merged database); the
    potential is the last one fitted to that database, if any.
    """
    from aiida.orm import QueryBuilder, WorkChainNode

    iterations = (
        QueryBuilder()
        .append(WorkChainNode, filters={'id': node.pk}, tag='run')
        .append(
            WorkChainNode,
            with_incoming='run',
            edge_filters={'label': {'like': 'iteration_%'}},
            edge_project='label',
            project='*',
        )  # fmt: skip
        .all()
    )
    iterations = sorted(iterations, key=lambda row: row[1])
    database = potential = None
    next_k = 0
    evaluations = 0
    for child, label in iterations:
        k = int(label.split('_')[1])
        if 'selected' in child.outputs:
            evaluations += len(child.outputs.selected)
        if 'database' in child.outputs:
            database = child.outputs.database
            potential = child.outputs.potential if 'potential' in child.outputs else None
            next_k = k + 1
    restart = {}
    for link in node.base.links.get_incoming(link_label_filter='restart__%').all():
        restart[link.link_label.split('__', 1)[1]] = link.node
    if database is None:
        database = restart.get('database')
        potential = restart.get('potential')
        next_k = restart['iteration'].value if 'iteration' in restart else 0
    result = {}
    if database is not None:
        result = {'database': database, 'iteration': orm.Int(next_k)}
        if potential is not None:
            result['potential'] = potential
        if 'reference_evaluations' in restart:
            previous = restart['reference_evaluations'].value
        else:
            previous = len(restart['database']) if 'database' in restart else 0
        result['reference_evaluations'] = orm.Int(previous + evaluations)
    return result
