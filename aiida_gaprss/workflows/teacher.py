"""The teacher of indirect learning from a node: its potential, its training set and its reference settings.

A teacher is given as a :class:`~aiida_gaprss.data.gap_potential.GapPotential`, as the finished GAP-RSS run that
made it, or as a potential that ships with the package (:func:`teacher_from_shipped`: reproducible from the
repository alone). :func:`teacher_from_node` finds the potential and the labelled database it was fitted to;
:func:`reference_inputs_of` finds the reference-engine inputs (engine, code, DFT settings) the run labelled that
database with, so that the students-versus-DFT test set is labelled with the same settings as the teacher's
training data.
"""

from __future__ import annotations

import logging

from aiida import orm

from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet

__all__ = ('SHIPPED_EXTRA', 'reference_inputs_of', 'teacher_from_node', 'teacher_from_shipped')

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


#: Extra set on the nodes made from a shipped potential (its name), so a second call finds them again.
SHIPPED_EXTRA = 'shipped_potential'


def teacher_from_shipped(name: str, root=None) -> tuple[GapPotential, StructureSet, dict | None]:
    """A shipped potential as a teacher: its GapPotential, its training database and its reference choice.

    The nodes are made (and stored) once per profile: a later call with the same potential (same file checksums)
    returns the stored ones, found by the extra :data:`SHIPPED_EXTRA`.

    Parameters
    ----------
    name : str
        A shipped potential (:func:`aiida_gaprss.potentials.available`), e.g. ``'si-pbe-gaprss'``.
    root : path, optional
        Folder of the potentials (default: the package's or ``$GAPRSS_POTENTIALS_ROOT``).

    Returns
    -------
    (GapPotential, StructureSet, dict or None)
        The potential, its training database with the reference labels (``training.xyz``, as gap_fit read it), and
        the ``reference`` override of :func:`aiida_gaprss.workflows.indirect_builder.get_indirect_builder` that
        labels with the same engine and protocol (``{'engine': 'qe', 'qe': 'converged'}``), or None when
        ``reference.json`` names no protocol.

    Raises
    ------
    ValueError
        For an unknown name (listing what ships) or a file that does not match its checksum.
    """
    import hashlib
    import json

    from aiida_gaprss.potentials import store

    folder = store.gap_folder(name, root)  # checked against metadata.json
    shipped = store.path(name, root)
    info = store.metadata(name, root)
    digest = hashlib.sha256(json.dumps(info.get('files') or {}, sort_keys=True).encode('utf-8')).hexdigest()
    found = {}
    for cls in (GapPotential, StructureSet):
        query = orm.QueryBuilder().append(
            cls, filters={f'extras.{SHIPPED_EXTRA}': name, 'extras.shipped_digest': str(digest)}
        )
        nodes = query.all(flat=True)
        found[cls] = nodes[0] if nodes else None
    potential, database = found[GapPotential], found[StructureSet]
    if potential is None:
        command = (shipped / 'gap_fit_command.txt').read_text(encoding='utf-8').strip()
        xml_name = (info.get('gap') or {}).get('xml', 'gap.xml')
        potential = GapPotential.from_folder(folder, command_line=command, xml_name=xml_name).store()
        potential.base.extras.set_many({SHIPPED_EXTRA: name, 'shipped_digest': str(digest)})
    if database is None:
        database = StructureSet.from_file(shipped / 'training.xyz').store()
        database.base.extras.set_many({SHIPPED_EXTRA: name, 'shipped_digest': str(digest)})
    reference = json.loads((shipped / 'reference.json').read_text(encoding='utf-8'))
    engine = reference.get('engine')
    protocols = {
        (entry.get('inputs') or {}).get('protocol') for entry in reference.get('reference_workchains') or []
    } - {None}
    choice = {'engine': engine, engine: protocols.pop()} if engine in ('qe', 'vasp') and len(protocols) == 1 else None
    LOGGER.info('teacher %s: GapPotential<%d>, training set StructureSet<%d>', name, potential.pk, database.pk)
    return potential, database, choice
