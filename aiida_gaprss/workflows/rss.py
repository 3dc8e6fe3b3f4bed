"""``GapRssWorkChain`` (``gaprss.rss``): GAP-RSS from nothing (or from an earlier run) to a potential.

Runs :class:`~aiida_gaprss.workflows.iteration.GapRssIterationWorkChain` children, labelled ``iteration_00``,
``iteration_01``, ..., until the reference budget is used, ``max_iterations`` is reached, or (optionally) the
energy error of the previous potential on the newly labelled structures falls below ``convergence_tolerance``.

Outputs: the final ``potential`` and ``database``, every iteration's potential in ``potentials.iteration_XX``, the
``learning_curve`` (reference evaluations, database size, training errors and prediction errors per iteration) and
the run's ``exclusions``.

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

from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.workflows.fit import GapFitWorkChain
from aiida_gaprss.workflows.iteration import GapRssIterationWorkChain, validate_iteration_parameters

__all__ = ('GapRssWorkChain', 'restart_inputs')


@calcfunction
def build_learning_curve(**nodes) -> orm.Dict:
    """Learning curve from each iteration's fit metrics, selection and labels (keys ``<kind>_<iteration>``)."""
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
        if f'prediction_{k:02d}' in nodes:
            row.update(nodes[f'prediction_{k:02d}'].get_dict())
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
    try:
        validate_iteration_parameters(value['parameters'].get_dict())
    except ValueError as exception:
        return str(exception)
    restart = value.get('restart', {})
    if 'potential' in restart and 'database' not in restart:
        return 'field `restart.database`: a restart potential needs the database it was fitted to'
    return None


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
        spec.inputs.validator = _validate_inputs
        spec.outline(
            cls.setup,
            if_(cls.needs_initial_fit)(cls.initial_fit, cls.inspect_initial_fit),
            while_(cls.should_run_iteration)(cls.run_iteration, cls.inspect_iteration),
            cls.results,
        )
        spec.output('potential', valid_type=GapPotential, help='The final potential.')
        spec.output('database', valid_type=StructureSet, help='The final labelled database.')
        spec.output_namespace('potentials', valid_type=GapPotential, dynamic=True, help="Every iteration's potential.")
        spec.output('learning_curve', valid_type=orm.Dict, help='Per-iteration evaluations, sizes and errors.')
        spec.output('exclusions', valid_type=orm.Dict, help='Reference calculations excluded in this run.')
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

    def needs_initial_fit(self):
        """A restart database without its potential is fitted first."""
        return self.ctx.database is not None and self.ctx.potential is None

    def initial_fit(self):
        """Fit the restart database."""
        inputs = AttributeDict(self.exposed_inputs(GapFitWorkChain, 'fit'))
        inputs.training_set = self.ctx.database
        inputs.metadata = {'call_link_label': 'restart_fit'}
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
        num_select = max(1, min(wanted, self.inputs.budget.value - self.ctx.used - dimers))
        inputs = AttributeDict(self.exposed_inputs(GapRssIterationWorkChain))
        inputs.iteration = orm.Int(self.ctx.k)
        inputs.num_select = orm.Int(num_select)
        if self.ctx.database is not None:
            inputs.database = self.ctx.database
        if self.ctx.potential is not None:
            inputs.potential = self.ctx.potential
        inputs.metadata = {'call_link_label': f'iteration_{self.ctx.k:02d}'}
        node = self.submit(GapRssIterationWorkChain, **inputs)
        self.report(
            f'iteration_{self.ctx.k:02d} <{node.pk}>: {num_select} new structures, '
            f'{self.ctx.used} of {self.inputs.budget.value} evaluations used'
        )
        return ToContext(iteration=node)

    def inspect_iteration(self):
        """Update database, potential, budget and learning curve; check convergence."""
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
        self.out(f'potentials.iteration_{k:02d}', node.outputs.potential)
        if previous is not None and k > 0:
            self._prediction_errors(previous, node, k)
        self.ctx.k += 1
        return None

    def _prediction_errors(self, previous: GapPotential, node, k: int) -> None:
        """Errors of the previous potential on this iteration's new labels, from the relaxation frames it made."""
        if 'trajectories' not in node.outputs or 'labelled' not in node.outputs:
            return
        errors = prediction_errors(node.outputs.trajectories, node.outputs.labelled)
        self.ctx.curve[f'prediction_{k:02d}'] = errors
        rmse = errors.get_dict().get('prediction_energy_rmse')
        tolerance = self.inputs.get('convergence_tolerance')
        if rmse is not None:
            self.report(
                f'iteration_{k:02d}: previous potential predicts the new structures to {rmse * 1000:.1f} meV/atom'
            )
            if tolerance is not None and rmse < tolerance.value:
                self.ctx.converged = True

    def results(self):
        """Final potential and database, learning curve and exclusions."""
        self.report(f'stopped ({self.ctx.stop_reason}) after {self.ctx.k - self.ctx.first_k} iteration(s), '
                    f'{self.ctx.used} reference evaluations')  # fmt: skip
        if self.ctx.potential is not None:
            self.out('potential', self.ctx.potential)
        if self.ctx.database is not None:
            self.out('database', self.ctx.database)
        if self.ctx.curve:
            self.out('learning_curve', build_learning_curve(**self.ctx.curve))
        self.out('exclusions', collect_exclusions(**self.ctx.exclusions))


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
