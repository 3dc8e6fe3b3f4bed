"""``ReferenceWorkChain`` (``gaprss.reference``): label a StructureSet with QE, VASP or an ASE calculator.

Outline: validate everything before anything runs (input validator) → split the set → keep at most
``max_concurrent`` children running (a rolling window: the next is submitted as soon as one ends) → read each
child's result or record its failure → gather into one labelled StructureSet (+ ``exclusions``) → optional
isolated-atom energies → exit 401 if more than ``max_failure_fraction`` failed.

``max_concurrent`` is how many labels the computer runs at once (docs/workflows.md: one per core with one MPI rank
each on a ``core.direct`` workstation, many on a SLURM cluster).
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
from aiida_gaprss.workflows.reference.inputs import UNHANDLED_FAILURE_ACTIONS, define_engine_inputs
from aiida_gaprss.workflows.reference.isolated import IsolatedAtomsMixin
from aiida_gaprss.workflows.window import ChildWindowMixin, called_children

__all__ = ('ReferenceWorkChain', 'called_children', 'validate_inputs')

LOGGER = logging.getLogger(__name__)


def _closest_pair(atoms, cutoff: float):
    """Return (i, j, distance) of the closest pair closer than ``cutoff``, or ``None``."""
    from aiida_gaprss.rss.neighbours import neighbour_list

    if len(atoms) < 2 and not any(atoms.pbc):
        return None
    first, second, distances = neighbour_list('ijd', atoms, cutoff)
    if len(distances) == 0:
        return None
    k = int(np.argmin(distances))
    return int(first[k]), int(second[k]), float(distances[k])


def validate_inputs(value, _):
    """Refuse bad input before anything is submitted; the message names the field and structure index."""
    engine = value['engine'].value
    if engine not in ENGINES:
        return f'field `engine`: expected one of {sorted(ENGINES)}, got {engine!r}'
    if value['max_concurrent'].value < 1:
        return f'field `max_concurrent`: must be >= 1, got {value["max_concurrent"].value}'
    for name in ('qe', 'vasp'):
        action = value.get(name, {}).get('on_unhandled_failure')
        if action is not None and action.value not in UNHANDLED_FAILURE_ACTIONS:
            choices = list(UNHANDLED_FAILURE_ACTIONS)
            return f'field `{name}.on_unhandled_failure`: expected one of {choices}, got {action.value!r}'
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


class ReferenceWorkChain(ChildWindowMixin, IsolatedAtomsMixin, WorkChain):
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
            help='Children running at once (a rolling window: the next starts as soon as one ends).',
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
            while_(cls.window_has_work)(cls.window_submit, cls.window_collect),
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
        self.ctx.results = {}
        self.ctx.records = []
        self.window_open(sorted(units))
        self.report(f'{len(self.inputs.structures)} structures in {len(units)} unit(s), engine {self.ctx.engine.name}')

    def window_size(self) -> int:
        """``max_concurrent``."""
        return self.inputs.max_concurrent.value

    def window_launch(self, tag: str) -> orm.ProcessNode:
        """Submit the engine's child for unit ``tag`` (call-link label ``tag``)."""
        process, inputs = self.ctx.engine.build(self, tag, orm.load_node(self.ctx.units[tag]))
        return self.submit(process, inputs)

    def window_finished(self, tag: str, node: orm.ProcessNode) -> None:
        """Keep the results of a finished child; record the structures that failed."""
        results, records = self.ctx.engine.collect(self, tag, node)
        self.ctx.results.update({key: value.pk for key, value in results.items()})
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
