"""``ReferenceWorkChain`` (``gaprss.reference``): label a StructureSet with QE, VASP or an ASE calculator.

Outline: validate everything before anything runs (input validator) → split the set → submit children in waves of
at most ``max_concurrent`` → read each child's result or record its failure → gather into one labelled StructureSet
(+ ``exclusions``) → optional isolated-atom energies → exit 401 if more than ``max_failure_fraction`` failed.

Children are submitted in waves (AiiDA waits for every awaitable of a step): a wave of ``max_concurrent`` children
finishes before the next starts. On a 2-core ``core.direct`` computer ``max_concurrent`` 1–2 keeps pw.x from
flooding the machine; on SLURM it can be large.
"""

from __future__ import annotations

import logging

import numpy as np
from aiida import orm
from aiida.engine import WorkChain, if_, while_

from aiida_gaprss.calculations.ase_batch import AseBatch
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.workflows.reference.engines import ENGINES
from aiida_gaprss.workflows.reference.functions import gather_labels
from aiida_gaprss.workflows.reference.inputs import define_engine_inputs
from aiida_gaprss.workflows.reference.isolated import IsolatedAtomsMixin

__all__ = ('ReferenceWorkChain', 'called_children', 'validate_inputs')

LOGGER = logging.getLogger(__name__)


def _closest_pair(atoms, cutoff: float):
    """Return (i, j, distance) of the closest pair closer than ``cutoff``, or ``None``."""
    from ase.neighborlist import neighbor_list

    if len(atoms) < 2 and not any(atoms.pbc):
        return None
    first, second, distances = neighbor_list('ijd', atoms, cutoff)
    if len(distances) == 0:
        return None
    k = int(np.argmin(distances))
    return int(first[k]), int(second[k]), float(distances[k])


def called_children(node: orm.ProcessNode, labels: list[str]) -> dict:
    """``{label: child}`` of the processes ``node`` called with one of ``labels`` as call-link label (exact match).

    One query, whatever the number of children.
    """
    from aiida.common.links import LinkType

    query = orm.QueryBuilder().append(orm.ProcessNode, filters={'id': node.pk}, tag='caller')
    query.append(
        orm.ProcessNode,
        with_incoming='caller',
        edge_filters={'type': {'in': [LinkType.CALL_CALC.value, LinkType.CALL_WORK.value]}, 'label': {'in': labels}},
        edge_tag='call',
        edge_project='label',
        tag='child',
        project='*',
    )
    return {row['call']['label']: row['child']['*'] for row in query.dict()}


def validate_inputs(value, _):
    """Refuse bad input before anything is submitted; the message names the field and structure index."""
    engine = value['engine'].value
    if engine not in ENGINES:
        return f'field `engine`: expected one of {sorted(ENGINES)}, got {engine!r}'
    if value['max_concurrent'].value < 1:
        return f'field `max_concurrent`: must be >= 1, got {value["max_concurrent"].value}'
    fraction = value['max_failure_fraction'].value
    if not 0.0 <= fraction <= 1.0:
        return f'field `max_failure_fraction`: must be within [0, 1], got {fraction}'
    if 'structures' not in value:  # exposed in a parent workflow, which makes the structures later
        return ENGINES[engine].validate(value, [])
    structures = value['structures']
    if len(structures) == 0:
        return 'field `structures`: the set is empty'
    atoms_list = structures.get_atoms()
    min_distance = value['min_distance'].value
    for index, atoms in enumerate(atoms_list):
        pair = _closest_pair(atoms, min_distance)
        if pair is not None:
            i, j, distance = pair
            return (
                f'structure {index}: field `positions`: atoms {i} and {j} overlap, {distance:.3f} Å apart '
                f'(below `min_distance` {min_distance} Å)'
            )
    return ENGINES[engine].validate(value, atoms_list)


class ReferenceWorkChain(IsolatedAtomsMixin, WorkChain):
    """Label every structure of a StructureSet with energy, forces and virial; failures excluded and recorded."""

    @classmethod
    def define(cls, spec):
        """Inputs, outline, outputs and exit codes."""
        super().define(spec)
        spec.input('structures', valid_type=StructureSet, help='The structures to label.')
        spec.input('engine', valid_type=orm.Str, default=lambda: orm.Str('qe'), help="'qe' (default), 'vasp' or 'ase'.")
        spec.input(
            'max_concurrent',
            valid_type=orm.Int,
            default=lambda: orm.Int(2),
            help='Children running at once (waves of this size).',
        )
        spec.input(
            'max_failure_fraction',
            valid_type=orm.Float,
            default=lambda: orm.Float(0.1),
            help='Finish with ERROR_TOO_MANY_FAILURES if a larger fraction of structures is excluded.',
        )
        spec.input(
            'min_distance',
            valid_type=orm.Float,
            default=lambda: orm.Float(0.5),
            help='Refuse a structure with two atoms closer than this (Å).',
        )
        spec.expose_inputs(
            AseBatch,
            namespace='ase',
            exclude=('structures',),
            namespace_options={'required': False, 'populate_defaults': False, 'help': 'Inputs of the ASE engine.'},
        )
        spec.input('ase.batch_size', valid_type=orm.Int, required=False, help='Structures per job (default: all).')

        define_engine_inputs(spec, 'qe')
        define_engine_inputs(spec, 'vasp')
        spec.inputs.validator = validate_inputs

        spec.outline(
            cls.setup,
            while_(cls.has_pending)(cls.submit_wave, cls.inspect_wave),
            cls.gather,
            if_(cls.should_compute_isolated_atoms)(
                cls.submit_isolated_atoms,
                cls.inspect_isolated_atoms,
            ),
            cls.finalize,
        )
        spec.output('structures', valid_type=StructureSet, required=False, help='The labelled structures.')
        spec.output('exclusions', valid_type=orm.Dict, help='Excluded structures: index, pk, exit status, message.')
        spec.exit_code(401, 'ERROR_TOO_MANY_FAILURES', message='{excluded} of {total} structures failed (> {limit}).')
        spec.exit_code(402, 'ERROR_ALL_FAILED', message='No structure could be labelled.')

    # -- steps ------------------------------------------------------------------------------------------------------
    def setup(self):
        """Split the set into the engine's units of work."""
        self.ctx.engine = ENGINES[self.inputs.engine.value]
        units = self.ctx.engine.split(self)
        self.ctx.units = {tag: node.pk for tag, node in sorted(units.items())}
        self.ctx.pending = sorted(units)
        self.ctx.results = {}
        self.ctx.records = []
        self.ctx.wave = []
        self.report(f'{len(self.inputs.structures)} structures in {len(units)} unit(s), engine {self.ctx.engine.name}')

    def has_pending(self):
        """Whether units remain to be submitted."""
        return bool(self.ctx.pending)

    def submit_wave(self):
        """Submit at most ``max_concurrent`` children."""
        size = self.inputs.max_concurrent.value
        wave, self.ctx.pending = self.ctx.pending[:size], self.ctx.pending[size:]
        # A daemon worker that dies after submitting a child but before this step's checkpoint is saved re-runs the
        # step when the process is picked up again: reuse what was submitted rather than label those units twice.
        submitted = called_children(self.node, wave)
        for tag in wave:
            node = submitted.get(tag)
            if node is None:
                process, inputs = self.ctx.engine.build(self, tag, orm.load_node(self.ctx.units[tag]))
                node = self.submit(process, inputs)
            else:
                self.report(f'unit {tag}: reusing {node.process_label}<{node.pk}>, submitted before an interruption')
            self.to_context(**{f'child_{tag}': node})
        self.ctx.wave = wave

    def inspect_wave(self):
        """Keep the results of finished children; record the structures that failed."""
        for tag in self.ctx.wave:
            child = self.ctx[f'child_{tag}']
            results, records = self.ctx.engine.collect(self, tag, child)
            self.ctx.results.update({key: node.pk for key, node in results.items()})
            for record in records:
                self.report(f'structure {record["index"]} excluded: {record["message"]} (pk {record["pk"]})')
            self.ctx.records.extend(records)

    def gather(self):
        """Gather the labels into one StructureSet and the exclusion records into a Dict."""
        results = {key: orm.load_node(pk) for key, pk in self.ctx.results.items()}
        outputs = gather_labels(
            self.inputs.structures,
            orm.Str(self.ctx.engine.name),
            orm.Dict({'excluded': self.ctx.records}),
            **results,
            metadata={'call_link_label': 'gather'},
        )
        self.out('exclusions', outputs['exclusions'])
        if 'structures' in outputs:
            self.out('structures', outputs['structures'])
        self.ctx.summary = outputs['exclusions'].get_dict()

    def finalize(self):
        """Exit codes on failures beyond the allowed fraction."""
        summary = self.ctx.summary
        if summary['num_labelled'] == 0:
            return self.exit_codes.ERROR_ALL_FAILED
        limit = self.inputs.max_failure_fraction.value
        if summary['excluded_fraction'] > limit:
            return self.exit_codes.ERROR_TOO_MANY_FAILURES.format(
                excluded=summary['num_excluded'], total=summary['num_structures'], limit=limit
            )
        self.report(f'labelled {summary["num_labelled"]} / {summary["num_structures"]} structures')
        return None
