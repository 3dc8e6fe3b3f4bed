"""``GapRssIterationWorkChain`` (``gaprss.iteration``): one iteration of GAP-RSS.

Iteration 0: generate the initial pool (half narrow, half wide volumes) and dimers → kernel CUR on averaged SOAP
(dimers always kept) → reference → merge into the database → fit.

Iteration k >= 1: new random cells (narrow) → relaxation batches with the previous potential at random pressures,
every frame kept → Boltzmann-biased flat histogram (kT 0.3 / 0.2 / 0.1 eV) + kernel CUR over all frames →
reference → merge → fit. Each relaxation batch is a :class:`~aiida_gaprss.workflows.relax.RelaxBatchBaseWorkChain`:
a job killed part-way keeps its finished trajectories and the rest is relaxed again, at most
``relax.max_iterations`` (default 3) jobs per batch.

A chemical system of several elements (``composition`` instead of ``element``) changes the pool, the selection, the
reference and the fit as :mod:`aiida_gaprss.workflows.compound_iteration` says.

Pool generation, relaxation and selection run as CalcJobs on the computer of the ``code`` (the job Python); only
bookkeeping runs in the daemon. The merged ``database`` is an output as soon as the reference step is merged, so a
failed fit still leaves the new labels for a continued run.
"""

from __future__ import annotations

import contextlib

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain, append_, if_

from aiida_gaprss.calculations.generate_pool import validate_pool_parameters
from aiida_gaprss.calculations.relax_batch import validate_relax_parameters
from aiida_gaprss.calculations.select_structures import METHODS, validate_selection_parameters
from aiida_gaprss.common import checks
from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.rss.selection import flat_histogram_kt
from aiida_gaprss.workflows import chemical_system, compound_iteration
from aiida_gaprss.workflows.fit import GapFitWorkChain
from aiida_gaprss.workflows.functions import merge_structure_sets, split_structure_set
from aiida_gaprss.workflows.python_job import GeneratePoolBaseWorkChain, SelectStructuresBaseWorkChain
from aiida_gaprss.workflows.reference.workchain import ReferenceWorkChain
from aiida_gaprss.workflows.relax import RelaxBatchBaseWorkChain

__all__ = ('ITERATION_KEYS', 'GapRssIterationWorkChain', 'validate_iteration_parameters', 'validate_system_parameters')

#: Sections of the iteration parameters.
ITERATION_KEYS = ('pool', 'relax', 'selection', 'seed', 'job_options')


def validate_iteration_parameters(parameters: dict, element: str = 'Si', composition=None) -> None:
    """Raise ``ValueError`` naming the field for bad iteration parameters (checked before anything is submitted).

    With ``composition`` (a chemical system, plain value) the pool is checked for it instead of ``element``, in the
    initial pool's volume modes (the smallest volumes the loop draws).
    """
    unknown = sorted(set(parameters) - set(ITERATION_KEYS))
    if unknown:
        raise ValueError(f'field `parameters.{unknown[0]}`: unknown key; known: {list(ITERATION_KEYS)}')
    seed = checks.integer(parameters.get('seed', 0), checks.field('parameters.seed'), minimum=0)
    pool = dict(parameters.get('pool', {}))
    pool.setdefault('n', 1)
    checks.integer(pool.pop('n_relax', 1), checks.field('parameters.pool.n_relax'), minimum=1)
    with _section('pool'):
        if composition is None:
            validate_pool_parameters({**pool, 'element': element, 'seed': seed})
        else:
            validate_pool_parameters({'mode': 'initial', **pool, 'composition': composition, 'seed': seed})
    relax = {
        key: value for key, value in parameters.get('relax', {}).items() if key not in ('batches', 'max_iterations')
    }
    with _section('relax'):
        validate_relax_parameters({**relax, 'seed': seed})
    checks.integer(parameters.get('relax', {}).get('batches', 1), checks.field('parameters.relax.batches'), minimum=1)
    if 'trajectory_ids' in parameters.get('relax', {}):
        raise ValueError('field `parameters.relax.trajectory_ids`: set by the workflow on restarts, not an input')
    jobs = parameters.get('relax', {}).get('max_iterations', 3)
    checks.integer(jobs, checks.field('parameters.relax.max_iterations'), minimum=1)
    selection = dict(parameters.get('selection', {}))
    for key, default in (('initial_method', 'kernel_cur'), ('later_method', 'flat_histogram_cur')):
        method = selection.pop(key, default)
        if method not in METHODS:
            raise ValueError(f'field `parameters.selection.{key}`: expected one of {METHODS}, got {method!r}')
    selection.setdefault('method', 'flat_histogram_cur' if 'kT' in selection else 'kernel_cur')
    selection.setdefault('n', 1)
    with _section('selection'):
        validate_selection_parameters(selection)
    if not isinstance(parameters.get('job_options', {}), dict):
        raise ValueError('field `parameters.job_options`: expected a dict of metadata.options')


@contextlib.contextmanager
def _section(name: str):
    """Re-raise a section validator's ``parameters.x`` error as ``parameters.<name>.x``."""
    try:
        yield
    except ValueError as exception:
        raise ValueError(str(exception).replace('parameters.', f'parameters.{name}.', 1)) from exception


def validate_system_parameters(value) -> str | None:
    """Exactly one of ``element`` / ``composition``; the iteration parameters for it; a composition's own needs.

    ``value``: the inputs of this work chain or of the GAP-RSS loop (which exposes them); the first error or None.
    """
    error = chemical_system.validate_system(value)
    if error:
        return error
    compound = chemical_system.is_compound(value)
    composition = chemical_system.composition_value(value['composition']) if compound else None
    try:
        validate_iteration_parameters(
            value['parameters'].get_dict(), None if compound else value['element'].value, composition
        )
    except ValueError as exception:
        return str(exception)
    if compound:
        return compound_iteration.validate_compound_iteration(value, chemical_system.system_elements(value))
    return None


def _validate_inputs(value, _):
    error = validate_system_parameters(value)
    if error:
        return error
    if value['iteration'].value < 0:
        return 'field `iteration`: must be >= 0'
    if value['iteration'].value > 0 and 'potential' not in value:
        return 'field `potential`: iterations >= 1 relax with the previous potential; none given'
    return None


class GapRssIterationWorkChain(WorkChain):
    """One GAP-RSS iteration (see the module docstring)."""

    @classmethod
    def define(cls, spec):
        """Inputs, outline, outputs and exit codes."""
        super().define(spec)
        spec.input('element', valid_type=orm.Str, required=False, help='Chemical symbol (one element).')
        spec.input(
            'composition',
            valid_type=chemical_system.COMPOSITION_TYPES,
            required=False,
            help="Several elements instead of `element`: 'SiC', 'Si-C', {'Si': [0.25, 0.75], 'C': [0.25, 0.75]}, ...",
        )
        spec.input('iteration', valid_type=orm.Int, help='Iteration number (0 = initial random cells).')
        spec.input('num_select', valid_type=orm.Int, help='Structures to send to the reference (dimers excluded).')
        spec.input('parameters', valid_type=orm.Dict, help='pool, relax, selection, seed, job_options.')
        spec.input('code', valid_type=orm.AbstractCode, help='The job Python (runs aiida_gaprss.jobs.*).')
        spec.input('database', valid_type=StructureSet, required=False, help='The labelled database so far.')
        spec.input('potential', valid_type=GapPotential, required=False, help='The previous potential (k >= 1).')
        spec.expose_inputs(ReferenceWorkChain, namespace='reference', exclude=('structures',))
        spec.expose_inputs(GapFitWorkChain, namespace='fit', exclude=('training_set',))
        spec.inputs.validator = _validate_inputs
        spec.outline(
            cls.setup,
            cls.generate,
            cls.inspect_generate,
            if_(cls.should_relax)(cls.relax, cls.inspect_relax),
            cls.select,
            cls.inspect_select,
            cls.run_reference,
            cls.inspect_reference,
            cls.fit,
            cls.results,
        )
        spec.output('pool', valid_type=StructureSet, help='The random cells of this iteration.')
        spec.output('trajectories', valid_type=StructureSet, required=False, help='All relaxation frames (k >= 1).')
        spec.output('selected', valid_type=StructureSet, help='The structures sent to the reference.')
        spec.output('labelled', valid_type=StructureSet, help='The selected structures with reference labels.')
        spec.output('exclusions', valid_type=orm.Dict, help='Reference calculations that failed.')
        spec.output('database', valid_type=StructureSet, help='The database with this iteration merged in.')
        spec.output('potential', valid_type=GapPotential, required=False, help='The potential fitted to it.')
        spec.output('fit_parameters', valid_type=orm.Dict, required=False, help='Errors and δ of the fit.')
        spec.exit_code(410, 'ERROR_GENERATION_FAILED', message='Pool generation failed: {message}')
        spec.exit_code(411, 'ERROR_RELAXATION_FAILED', message='Every relaxation batch failed: {message}')
        spec.exit_code(412, 'ERROR_SELECTION_FAILED', message='Selection failed: {message}')
        spec.exit_code(413, 'ERROR_REFERENCE_FAILED', message='The reference calculations failed: {message}')
        spec.exit_code(414, 'ERROR_FIT_FAILED', message='The fit failed: {message}')

    # -- helpers ----------------------------------------------------------------------------------------------------
    def _submit_job(self, workchain, parameters: dict, label: str, max_iterations: int | None = None, **inputs):
        """Submit a job through its restart work chain ``workchain`` (call-link label ``label``)."""
        options = dict(self.ctx.parameters.get('job_options', {}))
        metadata = {'call_link_label': label, 'options': options}
        job = {'code': self.inputs.code, 'parameters': orm.Dict(parameters), 'metadata': metadata, **inputs}
        extra = {'max_iterations': orm.Int(max_iterations)} if max_iterations is not None else {}
        return self.submit(workchain, **workchain.inputs_from_job(job, **extra))

    # -- steps ------------------------------------------------------------------------------------------------------
    def setup(self):
        """Seeds of this iteration: the run's seed and the iteration number, so every iteration draws anew."""
        self.ctx.parameters = self.inputs.parameters.get_dict()
        self.ctx.k = self.inputs.iteration.value
        self.ctx.seed = int(self.ctx.parameters.get('seed', 0)) * 1000 + self.ctx.k
        self.ctx.compound = chemical_system.is_compound(self.inputs)
        self.ctx.e0 = {}

    def generate(self):
        """Submit the pool generation (initial split and dimers in iteration 0, narrow cells later)."""
        pool = dict(self.ctx.parameters.get('pool', {}))
        dimers = int(pool.pop('dimers', 0)) if self.ctx.k == 0 else 0
        n_relax = pool.pop('n_relax', pool.get('n', 1))
        if self.ctx.k > 0:
            pool['n'] = n_relax
        if self.ctx.compound:
            pool = compound_iteration.compound_pool(pool, chemical_system.composition_value(self.inputs.composition))
        else:
            pool['element'] = self.inputs.element.value
        pool.update(
            seed=self.ctx.seed,
            iteration=self.ctx.k,
            mode='initial' if self.ctx.k == 0 else 'narrow',
            dimers=dimers,
        )
        node = self._submit_job(GeneratePoolBaseWorkChain, pool, 'generate_pool')
        self.report(f'iteration {self.ctx.k}: generating {pool["n"]} random cells (+{dimers} dimers) <{node.pk}>')
        return ToContext(generate=node)

    def inspect_generate(self):
        """Keep the pool."""
        node = self.ctx.generate
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_GENERATION_FAILED.format(message=node.exit_message or 'excepted')
        self.out('pool', node.outputs.structures)
        return None

    def should_relax(self):
        """Iterations >= 1 relax the pool with the previous potential."""
        return self.ctx.k > 0

    def relax(self):
        """Split the pool into batches and submit one relaxation job per batch."""
        relax = dict(self.ctx.parameters.get('relax', {}))
        batches = int(relax.pop('batches', 1))
        max_iterations = int(relax.pop('max_iterations', 3))
        pool = self.ctx.generate.outputs.structures
        parts = {'part_000': pool} if batches == 1 else split_structure_set(pool, orm.Int(batches))
        offset = 0
        for index, (name, part) in enumerate(sorted(parts.items())):
            parameters = {**relax, 'seed': self.ctx.seed * 100 + index, 'iteration': self.ctx.k,
                          'trajectory_offset': offset}  # fmt: skip
            offset += len(part)
            node = self._submit_job(RelaxBatchBaseWorkChain, parameters, f'relax_{name}', max_iterations,
                                    structures=part, potential=self.inputs.potential)  # fmt: skip
            self.to_context(relaxations=append_(node))
        self.report(f'iteration {self.ctx.k}: relaxing {len(pool)} cells in {len(parts)} batch(es)')

    def inspect_relax(self):
        """Merge the frames of every batch; a failed batch is reported, not fatal, and its finished frames are kept."""
        finished = {}
        for index, node in enumerate(self.ctx.relaxations):
            if not node.is_finished_ok:
                self.report(f'relaxation batch <{node.pk}> failed [{node.exit_status}]: {node.exit_message}')
            if 'structures' in node.outputs:
                finished[f'batch_{index:03d}'] = node.outputs.structures
        if not finished:
            return self.exit_codes.ERROR_RELAXATION_FAILED.format(message=self.ctx.relaxations[-1].exit_message)
        trajectories = finished['batch_000'] if len(finished) == 1 else merge_structure_sets(**finished)
        self.ctx.candidates = trajectories
        self.out('trajectories', trajectories)
        return None

    def select(self):
        """Kernel CUR on the pool (iteration 0, dimers kept), flat histogram + kernel CUR on the frames (k >= 1)."""
        selection = dict(self.ctx.parameters.get('selection', {}))
        selection['n'] = self.inputs.num_select.value
        selection['seed'] = self.ctx.seed
        initial_method = selection.pop('initial_method', 'kernel_cur')
        later_method = selection.pop('later_method', 'flat_histogram_cur')
        if self.ctx.k == 0:
            candidates = self.ctx.generate.outputs.structures
            selection['method'] = initial_method
            selection['always_include'] = ['dimer']
            for key in ('kT', 'strained', 'enthalpy'):  # what only the relaxation frames of later iterations have
                selection.pop(key, None)
        else:
            candidates = self.ctx.candidates
            selection['method'] = later_method
            selection.setdefault('kT', flat_histogram_kt(self.ctx.k))
        if 'kT' in selection and selection['method'] != 'flat_histogram_cur':
            selection.pop('kT')
        if self.ctx.compound:
            selection = compound_iteration.compound_selection(selection, chemical_system.system_elements(self.inputs))
        node = self._submit_job(SelectStructuresBaseWorkChain, selection, 'select', structures=candidates)
        self.report(f'iteration {self.ctx.k}: selecting {selection["n"]} by {selection["method"]} <{node.pk}>')
        return ToContext(selection=node)

    def inspect_select(self):
        """Keep the selected structures."""
        node = self.ctx.selection
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_SELECTION_FAILED.format(message=node.exit_message or 'excepted')
        self.out('selected', node.outputs.structures)
        return None

    def run_reference(self):
        """Label the selection with the reference engine."""
        inputs = AttributeDict(self.exposed_inputs(ReferenceWorkChain, 'reference'))
        inputs.structures = self.ctx.selection.outputs.structures
        inputs.metadata = {'call_link_label': 'reference'}
        node = self.submit(ReferenceWorkChain, **inputs)
        return ToContext(reference=node)

    def inspect_reference(self):
        """Merge the new labels into the database (output at once, before the fit)."""
        node = self.ctx.reference
        if 'exclusions' in node.outputs:
            self.out('exclusions', node.outputs.exclusions)
        if not node.is_finished_ok or 'structures' not in node.outputs:
            return self.exit_codes.ERROR_REFERENCE_FAILED.format(message=node.exit_message or 'excepted')
        labelled = node.outputs.structures
        self.out('labelled', labelled)
        if self.ctx.compound:
            self.ctx.e0 = compound_iteration.isolated_energies(node)
        if 'database' in self.inputs:
            database = merge_structure_sets(
                a_database=self.inputs.database, b_new=labelled, metadata={'call_link_label': 'merge'}
            )
        else:
            database = labelled
        self.ctx.database = database
        self.out('database', database)
        return None

    def fit(self):
        """Fit a GAP to the merged database."""
        inputs = AttributeDict(self.exposed_inputs(GapFitWorkChain, 'fit'))
        inputs.training_set = self.ctx.database
        inputs.metadata = {'call_link_label': 'fit'}
        if self.ctx.compound:
            elements = chemical_system.system_elements(self.inputs)
            inputs.parameters, inputs.settings = compound_iteration.compound_fit_inputs(inputs, elements, self.ctx.e0)
        node = self.submit(GapFitWorkChain, **inputs)
        self.report(f'iteration {self.ctx.k}: fitting to {len(self.ctx.database)} structures <{node.pk}>')
        return ToContext(fit=node)

    def results(self):
        """Attach the potential and its fit metrics."""
        node = self.ctx.fit
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_FIT_FAILED.format(message=node.exit_message or 'excepted')
        self.out('potential', node.outputs.potential)
        self.out('fit_parameters', node.outputs.output_parameters)
        metrics = node.outputs.output_parameters.get_dict()
        rmse = metrics.get('energy_rmse')
        self.report(
            f'iteration {self.ctx.k} done: {len(self.ctx.database)} structures, '
            f'training energy RMSE {rmse * 1000:.1f} meV/atom'
            if rmse is not None
            else f'iteration {self.ctx.k} done'
        )
        return None
