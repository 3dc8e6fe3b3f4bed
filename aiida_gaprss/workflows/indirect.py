"""``IndirectLearningWorkChain`` (``gaprss.indirect``): a teacher GAP makes and labels the data of cheaper students.

Indirect learning (seed 003; Morrow & Deringer, J. Chem. Phys. 157, 104105 (2022)): the teacher M1 — any
:class:`~aiida_gaprss.data.gap_potential.GapPotential`, typically the final potential of a GAP-RSS run — drives
compression and melt–quench MD, labels the snapshots and relabels its own training set; Moment Tensor Potential
students M2 of several levels are fitted to that data and validated against the teacher.

Steps (every heavy step is a CalcJob on the computer of the job Python ``code``, run inside its restart work chain of
:mod:`aiida_gaprss.workflows.python_job`; levels are fitted in parallel):

1. **Teacher MD** (:class:`~aiida_gaprss.calculations.teacher_md.TeacherMd`, one job per kind of run) for the
   training data; a separate compression run with another seed for test set (b); the RSS test-set cells
   (:class:`~aiida_gaprss.calculations.generate_pool.GeneratePool`: NATOM 1–16, ~20 Å³/atom and 2.0 Å minimum
   separation for Si, 1–4 symmetry operations); the teacher relabels its own training set
   (:class:`~aiida_gaprss.calculations.ase_batch.AseBatch`; the reference labels are removed first, never mixed).
2. **Selection** of ``dataset.size`` snapshots: kernel CUR on averaged SOAP
   (:class:`~aiida_gaprss.calculations.select_structures.SelectStructures`), or evenly spaced (``stride``), or at
   random; the RSS cells are relaxed by the teacher
   (:class:`~aiida_gaprss.calculations.relax_batch.RelaxBatch`) at pressures drawn from an exponential distribution
   (width ``p0 · beta`` = 5 GPa), and their final frames form test set (a).
3. **Teacher labelling** of the selected snapshots (AseBatch with the teacher); merged with the relabelled training
   set and passed through ``dataset.filter`` (structures with a pair closer than ``min_dist``, or more than
   ``max_above_hull`` above the convex hull, left out and recorded: ``training_exclusions``) into ``training_set``.
   Optionally, a random subset of the RSS test set is labelled by the reference engine (``reference`` namespace, a
   :class:`~aiida_gaprss.workflows.reference.workchain.ReferenceWorkChain`; by default the teacher's own GAP-RSS
   reference settings, see :func:`aiida_gaprss.workflows.teacher.reference_inputs_of`) for the
   students-versus-reference errors.
4. **Student fits**: one :class:`~aiida_gaprss.calculations.student_fit.StudentFit` job per level and fit seed,
   each tested on every test set; with ``student.direct`` the same levels and seeds are also fitted directly to the
   reference labels of the teacher's training set (filtered the same way): the directly-learned baseline of the
   paper's Fig. 3 (``direct_students``).
5. **Validation** (``run_validation``, default True): the ``gaprss.student_validation`` job (errors vs cost, SOAP
   similarity during compression, melt–quench metrics; plots).

Parameters (``parameters`` Dict, validated before submission by :func:`validate_indirect_parameters`): ``seed``;
``md`` (``protocol`` of :data:`aiida_gaprss.rss.md.PROTOCOLS`, ``overrides``, ``runs``, ``repeats``); ``dataset``
(``size``, ``method`` 'cur' / 'stride' / 'random', ``soap``, ``zeta``, ``filter``: ``min_dist``, ``max_above_hull``);
``student`` (``levels``, ``cutoff``, ``min_dist``, ``weights``, ``max_iter``, ``tolerance``, ``window``, ``seeds``,
``direct``); ``test_sets`` (``rss``: ``n``, ``natoms``, ``symmops``, ``pressure``,
``fmax``, ``steps``, ``processes``; ``compression``: ``size``, ``min_pressure``; ``relabel_extra``); ``validation``
(parameters of the validation job); ``job_options`` (``metadata.options`` of every job) and ``step_options`` (per
step: ``md``, ``generate``, ``relabel``, ``select``, ``relax``, ``label``, ``fit``, ``validation``).
"""

from __future__ import annotations

import copy
import logging
import math

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain, if_

from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.data.student_potential import StudentPotential
from aiida_gaprss.students.mtp import level_key
from aiida_gaprss.workflows.functions import merge_structure_sets
from aiida_gaprss.workflows.indirect_checks import (
    SELECTION_METHODS,
    fit_seeds,
    validate_indirect_inputs,
    validate_indirect_parameters,
    validation_job_parameters,
)
from aiida_gaprss.workflows.indirect_functions import (
    collect_fit_reports,
    filter_training_set,
    final_relaxed_frames,
    indirect_html_report,
    random_subset,
    stride_subset,
)
from aiida_gaprss.workflows.python_job import (
    AseBatchBaseWorkChain,
    GeneratePoolBaseWorkChain,
    SelectStructuresBaseWorkChain,
    StudentFitBaseWorkChain,
    StudentValidationBaseWorkChain,
    TeacherMdBaseWorkChain,
)
from aiida_gaprss.workflows.reference.workchain import ReferenceWorkChain
from aiida_gaprss.workflows.relax import RelaxBatchBaseWorkChain
from aiida_gaprss.workflows.teacher import teacher_from_node

__all__ = (
    'IndirectLearningWorkChain',
    'final_relaxed_frames',
    'random_subset',
    'stride_subset',
    'student_key',
    'teacher_from_node',
    'validate_indirect_parameters',
    'validation_job_parameters',
)

LOGGER = logging.getLogger(__name__)

#: Seed offsets: the test MD must never repeat the training MD.
TEST_MD_SEED_OFFSET = 7919
#: The two families of students: fitted to teacher labels (indirect) or to the reference labels (direct).
FAMILIES = ('indirect', 'direct')


def student_key(level: int, seed: int, *, seeds: list[int], family: str = 'indirect') -> str:
    """Name of a student: ``level_16`` for the first fit seed, ``level_16_seed_2`` for another, ``direct_`` before
    the directly-learned ones."""
    key = level_key(level) if seed == seeds[0] else f'{level_key(level)}_seed_{seed}'
    return key if family == 'indirect' else f'direct_{key}'


class IndirectLearningWorkChain(WorkChain):
    """Teacher MD → snapshot selection → teacher labels → one student fit per level → validation."""

    @classmethod
    def define(cls, spec):
        """Inputs, outline, outputs and exit codes."""
        super().define(spec)
        spec.input('teacher', valid_type=GapPotential, help='The teacher M1 (e.g. the final GAP of a GAP-RSS run).')
        spec.input('code', valid_type=orm.AbstractCode, help='The job Python (runs aiida_gaprss.jobs.*).')
        spec.input('parameters', valid_type=orm.Dict, help='seed, md, dataset, student, test_sets, validation, ...')
        spec.input(
            'teacher_training_set',
            valid_type=StructureSet,
            required=False,
            help="The teacher's training set: relabelled by the teacher (its reference labels dropped) and added.",
        )
        spec.input_namespace(
            'test_sets',
            valid_type=StructureSet,
            dynamic=True,
            required=False,
            help='Extra test sets (relabelled by the teacher unless parameters.test_sets.relabel_extra is false).',
        )
        spec.input(
            'run_validation',
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            help='Validate the students with the gaprss.student_validation job.',
        )
        spec.expose_inputs(
            ReferenceWorkChain,
            namespace='reference',
            exclude=('structures',),
            namespace_options={
                'required': False,
                'populate_defaults': False,
                'help': 'Label a random subset of the RSS test set with a reference engine (students vs reference).',
            },
        )
        spec.input(
            'reference_subset_size',
            valid_type=orm.Int,
            required=False,
            help='Structures of the RSS test set labelled by the reference (default 10).',
        )
        spec.inputs.validator = validate_indirect_inputs
        spec.outline(
            cls.setup,
            cls.generate,
            cls.inspect_generate,
            cls.select,
            cls.inspect_select,
            cls.label,
            cls.inspect_label,
            cls.fit,
            cls.inspect_fit,
            if_(cls.should_validate)(cls.validate, cls.inspect_validation),
            cls.results,
        )
        spec.output('snapshots', valid_type=StructureSet, help='Every teacher MD snapshot of the training runs.')
        spec.output('training_set', valid_type=StructureSet, help='Teacher-labelled training set of the students.')
        spec.output(
            'training_exclusions',
            valid_type=orm.Dict,
            required=False,
            help='Structures left out of the training set by parameters.dataset.filter, and why.',
        )
        spec.output(
            'direct_training_set',
            valid_type=StructureSet,
            required=False,
            help="The direct baseline's training set: the teacher's training set with its reference labels, filtered.",
        )
        spec.output(
            'direct_training_exclusions',
            valid_type=orm.Dict,
            required=False,
            help='Structures left out of the direct training set, and why.',
        )
        spec.output_namespace(
            'students',
            valid_type=StudentPotential,
            dynamic=True,
            help='Indirectly-learned students: level_XX (first fit seed), level_XX_seed_N (other seeds).',
        )
        spec.output_namespace(
            'direct_students',
            valid_type=StudentPotential,
            dynamic=True,
            required=False,
            help='Directly-learned students (parameters.student.direct): fitted to the reference labels.',
        )
        spec.output_namespace('test_sets', valid_type=StructureSet, dynamic=True, help='Teacher-labelled test sets.')
        spec.output('fit_report', valid_type=orm.Dict, help='Per level: training and test errors, fit time.')
        spec.output('validation_report', valid_type=orm.Dict, required=False, help='Report of the validation job.')
        spec.output_namespace('plots', valid_type=orm.SinglefileData, dynamic=True, help='Figures of the validation.')
        spec.output('quenched', valid_type=StructureSet, required=False, help='Melt-quenched cells of the validation.')
        spec.output('report', valid_type=orm.SinglefileData, required=False, help='HTML report of the run.')
        spec.exit_code(450, 'ERROR_TEACHER_MD_FAILED', message='The teacher MD for the training data failed: {message}')
        spec.exit_code(
            451, 'ERROR_TEST_MD_FAILED', message='The teacher MD of the compression test set failed: {message}'
        )
        spec.exit_code(452, 'ERROR_RSS_GENERATION_FAILED', message='The RSS test cells could not be made: {message}')
        spec.exit_code(453, 'ERROR_RELABEL_FAILED', message='The teacher could not relabel {name}: {message}')
        spec.exit_code(454, 'ERROR_SELECTION_FAILED', message='The snapshot selection failed: {message}')
        spec.exit_code(
            455, 'ERROR_RSS_RELAXATION_FAILED', message='The teacher relaxation of the RSS test failed: {message}'
        )
        spec.exit_code(
            456, 'ERROR_LABELLING_FAILED', message='The teacher labelling of the snapshots failed: {message}'
        )
        spec.exit_code(457, 'ERROR_STUDENT_FIT_FAILED', message='Student fit(s) failed: {message}')
        spec.exit_code(458, 'ERROR_VALIDATION_FAILED', message='The validation of the students failed: {message}')

    @classmethod
    def get_builder_from_protocol(cls, teacher, *, codes, protocol: str | None = None, overrides=None, **kwargs):
        """Return a builder filled from ``protocols/indirect.yaml`` ('fast' or 'precise'); see
        :func:`aiida_gaprss.workflows.indirect_builder.get_indirect_builder`."""
        from aiida_gaprss.workflows.indirect_builder import get_indirect_builder

        return get_indirect_builder(cls, teacher, codes=codes, protocol=protocol, overrides=overrides, **kwargs)

    # -- helpers ----------------------------------------------------------------------------------------------------
    def _job(self, step: str, label: str, parameters: dict | None = None, **inputs) -> AttributeDict:
        """Inputs of one job: the code, its parameters and metadata (job_options with the step's options on top)."""
        options = copy.deepcopy(self.ctx.parameters.get('job_options', {}))
        options.update(copy.deepcopy(self.ctx.parameters.get('step_options', {}).get(step, {})))
        result = AttributeDict({'code': self.inputs.code, 'metadata': {'call_link_label': label, 'options': options}})
        if parameters is not None:
            result.parameters = orm.Dict(parameters)
        result.update(inputs)
        return result

    def _submit_job(self, workchain, step: str, label: str, parameters: dict | None = None, **inputs):
        """Submit a job through its restart work chain ``workchain`` (call-link label ``label``)."""
        return self.submit(workchain, **workchain.inputs_from_job(self._job(step, label, parameters, **inputs)))

    def _relabel(self, structures: StructureSet, label: str):
        return self._submit_job(
            AseBatchBaseWorkChain, 'relabel', label, potential=self.inputs.teacher, structures=structures
        )

    def _filtered(self, structures: StructureSet, name: str) -> StructureSet:
        """``structures`` through ``parameters.dataset.filter`` (a calcfunction; the exclusions are an output)."""
        settings = self.ctx.parameters['dataset'].get('filter') or {}
        if all(value is None for value in settings.values()):
            return structures
        result = filter_training_set(structures, orm.Dict(settings), metadata={'call_link_label': f'filter_{name}'})
        self.out(f'{name}_exclusions', result['excluded'])
        excluded = result['excluded'].get_dict()['excluded']
        if excluded:
            reasons = sorted({row['reason'] for row in excluded})
            self.report(f'{len(excluded)} of {len(structures)} structures left out of the {name.replace("_", " ")} '
                        f'set ({", ".join(reasons)})')  # fmt: skip
        return result['structures']

    @staticmethod
    def _failed(node) -> str:
        if not node.is_finished:
            return 'excepted or killed'
        return node.exit_message or f'exit status {node.exit_status}'

    # -- steps ------------------------------------------------------------------------------------------------------
    def setup(self):
        """Read the parameters; the element is the teacher's."""
        self.ctx.parameters = self.inputs.parameters.get_dict()
        self.ctx.seed = int(self.ctx.parameters.get('seed', 1))
        self.ctx.element = self.inputs.teacher.elements[0]
        self.ctx.test_sets = {}
        self.ctx.students = {}

    def generate(self):
        """Submit the training MD (one job per kind of run), the test MD, the RSS test cells and the relabelling."""
        md = dict(self.ctx.parameters.get('md', {}))
        runs = md.pop('runs', ['compression'])
        for index, kind in enumerate(runs):
            parameters = {**md, 'runs': [kind], 'seed': self.ctx.seed + 100 * index, 'element': self.ctx.element}
            node = self._submit_job(
                TeacherMdBaseWorkChain, 'md', f'teacher_md_{kind}', parameters, teacher=self.inputs.teacher
            )
            self.to_context(**{f'md_{kind}': node})
            self.report(f'teacher MD ({kind}) <{node.pk}>')
        self.ctx.md_kinds = runs

        test_sets = self.ctx.parameters.get('test_sets', {})
        if test_sets.get('compression', {}).get('size', 0) > 0:
            parameters = {**md, 'runs': ['compression'], 'repeats': 1, 'element': self.ctx.element,
                          'seed': self.ctx.seed + TEST_MD_SEED_OFFSET}  # fmt: skip
            node = self._submit_job(
                TeacherMdBaseWorkChain, 'md', 'teacher_md_test', parameters, teacher=self.inputs.teacher
            )
            self.to_context(md_test=node)
        rss = test_sets.get('rss', {})
        if rss.get('n', 0) > 0:
            parameters = {key: rss[key] for key in ('natoms', 'symmops', 'processes') if key in rss}
            parameters.setdefault('natoms', [1, 16])
            parameters.setdefault('symmops', [1, 4])
            parameters.update(element=self.ctx.element, n=rss['n'], seed=self.ctx.seed, mode='narrow', iteration=0)
            self.to_context(
                rss_pool=self._submit_job(GeneratePoolBaseWorkChain, 'generate', 'generate_rss_test', parameters)
            )
        if 'teacher_training_set' in self.inputs:
            self.to_context(relabel_training=self._relabel(self.inputs.teacher_training_set, 'relabel_training_set'))
        extra = self.inputs.get('test_sets') or {}
        relabel_extra = test_sets.get('relabel_extra', True)
        for name in sorted(extra):
            if relabel_extra:
                self.to_context(**{f'relabel_extra_{name}': self._relabel(extra[name], f'relabel_test_{name}')})
            else:
                self.ctx.test_sets[name] = extra[name]

    def inspect_generate(self):
        """Gather the snapshots and the relabelled sets."""
        parts = {}
        for kind in self.ctx.md_kinds:
            node = self.ctx[f'md_{kind}']
            if not node.is_finished_ok:
                return self.exit_codes.ERROR_TEACHER_MD_FAILED.format(message=f'{kind}: {self._failed(node)}')
            parts[f'{kind}'] = node.outputs.snapshots
        snapshots = parts[self.ctx.md_kinds[0]] if len(parts) == 1 else merge_structure_sets(**parts)
        self.ctx.snapshots = snapshots
        self.out('snapshots', snapshots)
        if 'md_test' in self.ctx:
            node = self.ctx.md_test
            if not node.is_finished_ok:
                return self.exit_codes.ERROR_TEST_MD_FAILED.format(message=self._failed(node))
        if 'rss_pool' in self.ctx and not self.ctx.rss_pool.is_finished_ok:
            return self.exit_codes.ERROR_RSS_GENERATION_FAILED.format(message=self._failed(self.ctx.rss_pool))
        if 'relabel_training' in self.ctx:
            node = self.ctx.relabel_training
            if not node.is_finished_ok:
                return self.exit_codes.ERROR_RELABEL_FAILED.format(name='its training set', message=self._failed(node))
            failed = node.outputs.report.get_dict().get('failures', [])
            if failed:
                self.report(f'{len(failed)} structure(s) of the teacher training set could not be relabelled: left out')
        for name in sorted(self.inputs.get('test_sets') or {}):
            node = self.ctx.get(f'relabel_extra_{name}')
            if node is None:
                continue
            if not node.is_finished_ok:
                return self.exit_codes.ERROR_RELABEL_FAILED.format(name=f'test set {name}', message=self._failed(node))
            self.ctx.test_sets[name] = node.outputs.structures
        return None

    def select(self):
        """Select the training snapshots; relax the RSS test cells with the teacher; pick compression test frames."""
        dataset = self.ctx.parameters['dataset']
        size = int(dataset['size'])
        method = dataset.get('method', 'cur')
        snapshots = self.ctx.snapshots
        if size >= len(snapshots):
            self.report(f'{len(snapshots)} snapshots, {size} wanted: all are used')
            self.ctx.selected = snapshots
        elif method == 'stride':
            self.ctx.selected = stride_subset(snapshots, orm.Dict({'n': size}), metadata={'call_link_label': 'stride'})
        else:
            parameters = {key: dataset[key] for key in ('soap', 'zeta', 'processes') if key in dataset}
            parameters.update(method=SELECTION_METHODS[method], n=size, seed=self.ctx.seed)
            node = self._submit_job(SelectStructuresBaseWorkChain, 'select', 'select', parameters, structures=snapshots)
            self.report(f'selecting {size} of {len(snapshots)} snapshots by {parameters["method"]} <{node.pk}>')
            self.to_context(selection=node)

        test_sets = self.ctx.parameters.get('test_sets', {})
        if 'md_test' in self.ctx:
            compression = test_sets['compression']
            settings = {'n': int(compression['size']), 'min_pressure': compression.get('min_pressure', 5.0)}
            frames = self.ctx.md_test.outputs.snapshots
            pressures = [atoms.info.get('pressure_target', -math.inf) for atoms in frames.iter_atoms()]
            if any(p >= settings['min_pressure'] for p in pressures):
                self.ctx.test_sets['compression'] = stride_subset(
                    frames, orm.Dict(settings), metadata={'call_link_label': 'compression_test'}
                )
            else:
                self.report(f'no compression test set: no snapshot at or above {settings["min_pressure"]} GPa')
        if 'rss_pool' in self.ctx:
            rss = test_sets['rss']
            parameters = {key: rss[key] for key in ('pressure', 'fmax', 'steps', 'processes') if key in rss}
            parameters.setdefault('pressure', {'p0': 5.0, 'beta': 1.0})
            parameters['seed'] = self.ctx.seed
            pool = self.ctx.rss_pool.outputs.structures
            node = self._submit_job(RelaxBatchBaseWorkChain, 'relax', 'relax_rss_test', parameters, structures=pool,
                                    potential=self.inputs.teacher)  # fmt: skip
            self.to_context(rss_relax=node)

    def inspect_select(self):
        """Keep the selection and the RSS test set (final relaxed frames, labelled by the teacher that relaxed them)."""
        if 'selection' in self.ctx:
            node = self.ctx.selection
            if not node.is_finished_ok:
                return self.exit_codes.ERROR_SELECTION_FAILED.format(message=self._failed(node))
            self.ctx.selected = node.outputs.structures
        if 'rss_relax' in self.ctx:
            node = self.ctx.rss_relax
            if not node.is_finished_ok:
                return self.exit_codes.ERROR_RSS_RELAXATION_FAILED.format(message=self._failed(node))
            try:
                self.ctx.test_sets['rss'] = final_relaxed_frames(
                    node.outputs.structures, metadata={'call_link_label': 'rss_test'}
                )
            except ValueError as exception:
                return self.exit_codes.ERROR_RSS_RELAXATION_FAILED.format(message=str(exception))
        return None

    def label(self):
        """Label the selected snapshots with the teacher; a random RSS subset with the reference engine (optional)."""
        node = self._submit_job(AseBatchBaseWorkChain, 'label', 'label_snapshots', potential=self.inputs.teacher,
                                structures=self.ctx.selected)  # fmt: skip
        self.to_context(labelling=node)
        if self.inputs.get('reference') and 'rss' in self.ctx.test_sets:
            size = self.inputs.reference_subset_size.value if 'reference_subset_size' in self.inputs else 10
            subset = random_subset(
                self.ctx.test_sets['rss'],
                orm.Dict({'n': size, 'seed': self.ctx.seed}),
                metadata={'call_link_label': 'reference_subset'},
            )
            inputs = AttributeDict(self.exposed_inputs(ReferenceWorkChain, 'reference'))
            inputs.structures = subset
            inputs.metadata = {'call_link_label': 'reference'}
            node = self.submit(ReferenceWorkChain, **inputs)
            self.report(f'labelling {len(subset)} RSS test cells with the reference engine <{node.pk}>')
            self.to_context(reference=node)

    def inspect_label(self):
        """Merge the teacher labels with the relabelled training set; keep the reference subset if it worked."""
        node = self.ctx.labelling
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_LABELLING_FAILED.format(message=self._failed(node))
        labelled = node.outputs.structures
        if 'relabel_training' in self.ctx:
            training = merge_structure_sets(
                a_snapshots=labelled,
                b_teacher_training_set=self.ctx.relabel_training.outputs.structures,
                metadata={'call_link_label': 'merge_training_set'},
            )
        else:
            training = labelled
        self.ctx.training_set = self._filtered(training, 'training')
        self.out('training_set', self.ctx.training_set)
        if self.ctx.parameters['student'].get('direct'):
            self.ctx.direct_training_set = self._filtered(self.inputs.teacher_training_set, 'direct_training')
            self.out('direct_training_set', self.ctx.direct_training_set)
        if 'reference' in self.ctx:
            reference = self.ctx.reference
            if reference.is_finished_ok and 'structures' in reference.outputs:
                self.ctx.test_sets['rss_reference'] = reference.outputs.structures
            else:
                self.report(f'reference labelling failed ({self._failed(reference)}): no students-vs-reference errors')
        for name, structures in sorted(self.ctx.test_sets.items()):
            self.out(f'test_sets.{name}', structures)
        return None

    def fit(self):
        """One StudentFit job per family, level and fit seed (a cluster runs them in parallel), each tested on every
        test set."""
        student = dict(self.ctx.parameters['student'])
        levels = student.pop('levels')
        seeds = fit_seeds(self.ctx.parameters)
        direct = student.pop('direct', False)
        student.pop('seeds', None)
        families = {'indirect': self.ctx.training_set}
        if direct:
            families['direct'] = self.ctx.direct_training_set
        self.ctx.fits = []
        for family, training_set in families.items():
            for level in levels:
                for seed in seeds:
                    key = student_key(level, seed, seeds=seeds, family=family)
                    parameters = {**student, 'levels': [int(level)], 'seed': int(seed)}
                    extra = {'test_sets': dict(self.ctx.test_sets)} if self.ctx.test_sets else {}
                    node = self._submit_job(StudentFitBaseWorkChain, 'fit', f'fit_{key}', parameters,
                                            training_set=training_set, **extra)  # fmt: skip
                    self.to_context(**{f'fit_{key}': node})
                    self.ctx.fits.append([family, key])
        sizes = ', '.join(f'{family} {len(training)}' for family, training in families.items())
        self.report(f'fitting {len(self.ctx.fits)} student(s): levels {levels}, seeds {seeds}, training sets: {sizes}')

    def inspect_fit(self):
        """Output every fitted student; fail if any fit failed."""
        failed, reports = [], {}
        for family, key in self.ctx.fits:
            node = self.ctx[f'fit_{key}']
            if 'report' in node.outputs:
                reports[key] = node.outputs.report
            if not node.is_finished_ok:
                failed.append(f'{key}: {self._failed(node)}')
                continue
            for student in node.outputs.students.values():
                self.ctx.students[key] = student
                namespace = 'students' if family == 'indirect' else 'direct_students'
                self.out(f'{namespace}.{key.removeprefix("direct_")}', student)
        if reports:
            self.out('fit_report', collect_fit_reports(**reports, metadata={'call_link_label': 'fit_report'}))
        if failed:
            return self.exit_codes.ERROR_STUDENT_FIT_FAILED.format(message='; '.join(failed))
        return None

    def should_validate(self):
        """``run_validation`` and students to validate."""
        return self.inputs.run_validation.value and bool(self.ctx.students)

    def validate(self):
        """Submit the ``gaprss.student_validation`` job on every student and test set."""
        node = self._submit_job(
            StudentValidationBaseWorkChain,
            'validation',
            'validation',
            validation_job_parameters(self.ctx.parameters, self.ctx.element),
            teacher=self.inputs.teacher,
            students=dict(self.ctx.students),
            test_sets=dict(self.ctx.test_sets),
        )
        self.report(f'validating {len(self.ctx.students)} student(s) against the teacher <{node.pk}>')
        return ToContext(validation=node)

    def inspect_validation(self):
        """Attach the validation report, plots and quenched cells."""
        node = self.ctx.validation
        if 'report' in node.outputs:
            self.out('validation_report', node.outputs.report)
        if 'plots' in node.outputs:
            for name, plot in node.outputs.plots.items():
                self.out(f'plots.{name}', plot)
        if 'quenched' in node.outputs:
            self.out('quenched', node.outputs.quenched)
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_VALIDATION_FAILED.format(message=self._failed(node))
        return None

    def results(self):
        """The HTML report (when the validation ran) and a summary."""
        if 'validation_report' in self.outputs and 'fit_report' in self.outputs:
            nodes = {f'plot_{name}': plot for name, plot in self.outputs.get('plots', {}).items()}
            nodes.update({f'student_{key}': student for key, student in self.ctx.students.items()})
            try:
                report = indirect_html_report(
                    self.inputs.teacher,
                    self.outputs['validation_report'],
                    self.outputs['fit_report'],
                    run_info=orm.Dict(
                        {
                            'pk': self.node.pk,
                            'uuid': self.node.uuid,
                            'process': self.node.process_label,
                            'state': 'finishing',
                            'created': self.node.ctime.isoformat(timespec='seconds'),
                        }
                    ),  # fmt: skip
                    **nodes,
                    metadata={'call_link_label': 'html_report'},
                )
            except Exception as exception:  # noqa: BLE001 - the report is a convenience: never fail the run for it
                self.report(f'no HTML report: {type(exception).__name__}: {exception}')
            else:
                self.out('report', report)
        errors = []
        for key, student in sorted(self.ctx.students.items()):
            rmse = student.training_errors.get('energy_rmse')
            errors.append(f'{key} {rmse * 1000:.1f}' if rmse is not None else key)
        self.report(f'{len(self.ctx.students)} student(s) fitted; training energy RMSE (meV/atom): {", ".join(errors)}')
