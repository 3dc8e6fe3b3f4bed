"""The teacher of indirect learning from a node: its potential, its training set and its reference settings.

A teacher is given as a :class:`~aiida_gaprss.data.gap_potential.GapPotential` or as the finished GAP-RSS run that
made it. :func:`teacher_from_node` finds the potential and the labelled database it was fitted to;
:func:`reference_inputs_of` finds the reference-engine inputs (engine, code, DFT settings) the run labelled that
database with, so that the students-versus-DFT test set is labelled with the same settings as the teacher's
training data.
"""

from __future__ import annotations

import logging

from aiida import orm

from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet

__all__ = ('reference_inputs_of', 'teacher_from_node')

LOGGER = logging.getLogger(__name__)


def teacher_from_node(node: orm.Node) -> tuple[GapPotential, StructureSet | None]:
    """The teacher and its training set from a GapPotential or a finished GAP-RSS run.

    A ``GapRssWorkChain`` gives its final ``potential`` and ``database``; a GapPotential gives itself and the labelled
    database it was fitted to, found by provenance (None for a potential made outside a fit workflow).

    Raises
    ------
    ValueError
        If ``node`` is neither a GapPotential nor a GAP-RSS run with a potential.
    """
    if isinstance(node, GapPotential):
        from aiida_gaprss.provenance import lineage

        origin = lineage(node)
        database = origin.get('database') or origin.get('training_set')
        return node, orm.load_node(database['pk']) if database else None
    if isinstance(node, orm.WorkflowNode) and node.process_label == 'GapRssWorkChain':
        if 'potential' not in node.outputs:
            raise ValueError(f'field `teacher`: the GAP-RSS run <{node.pk}> has no potential output')
        database = node.outputs.database if 'database' in node.outputs else None
        return node.outputs.potential, database
    raise ValueError(
        f'field `teacher`: node <{node.pk}> is a {getattr(node, "process_label", None) or type(node).__name__}, '
        'not a GapPotential or a GapRssWorkChain'
    )


def _gaprss_run(node: orm.Node) -> orm.WorkflowNode | None:
    if isinstance(node, orm.WorkflowNode) and node.process_label == 'GapRssWorkChain':
        return node
    if isinstance(node, GapPotential):
        from aiida_gaprss.provenance import lineage

        run = lineage(node).get('run')
        return orm.load_node(run['pk']) if run else None
    return None


def reference_inputs_of(node: orm.Node) -> dict | None:
    """The ReferenceWorkChain inputs (nested dict of stored nodes) of the GAP-RSS run that made the teacher.

    Parameters
    ----------
    node : orm.Node
        A ``GapRssWorkChain`` or a GapPotential made by one (found by provenance).

    Returns
    -------
    dict or None
        The run's ``reference`` input namespace (``engine``, ``max_concurrent``, ``qe`` / ``vasp`` / ``ase``
        inputs: code, protocol, options, ...; not its isolated-atom settings), ready for the ``reference`` namespace of
        :class:`~aiida_gaprss.workflows.indirect.IndirectLearningWorkChain`; None for a potential made outside a
        GAP-RSS run (a shipped or imported potential: give the reference explicitly).
    """
    from aiida.common.links import LinkType

    run = _gaprss_run(node)
    if run is None:
        return None
    nested = run.base.links.get_incoming(link_type=LinkType.INPUT_WORK).nested()
    reference = nested.get('reference')
    if not reference:
        return None
    reference = dict(reference)
    for key in ('structures', 'isolated_atoms', 'isolated_atoms_box'):  # the subset needs no isolated-atom energies
        reference.pop(key, None)
    return reference
