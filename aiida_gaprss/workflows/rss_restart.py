"""Continuing a ``GapRssWorkChain`` run: the ``restart`` inputs from what it finished, and a builder that uses them.

``restart.database`` (and ``restart.potential``, ``restart.iteration``) start a run from what an earlier run
finished — to raise its budget or to recover from a failure — without repeating any reference calculation: the
finished labels are in the database.
"""

from __future__ import annotations

from aiida import orm

from aiida_gaprss.workflows import chemical_system, compound_iteration

__all__ = ('last_fitted_e0', 'restart_builder', 'restart_inputs')


def restart_builder(node: orm.WorkflowNode):
    """A builder that continues the run ``node``: its own inputs, with ``restart`` from :func:`restart_inputs`.

    ``ProcessNode.get_builder_restart`` cannot be used: it validates exposed namespaces without their metadata
    defaults. The inputs are the run's incoming links plus its non-database metadata inputs (e.g. the gap_fit
    options), merged.
    """
    from aiida.common.links import LinkType
    from aiida.plugins import WorkflowFactory

    from aiida_gaprss.common.merge import deep_merge

    inputs = node.base.links.get_incoming(link_type=(LinkType.INPUT_CALC, LinkType.INPUT_WORK)).nested()
    inputs = deep_merge(node.get_metadata_inputs() or {}, inputs) if hasattr(node, 'get_metadata_inputs') else inputs
    inputs.pop('restart', None)
    inputs.pop('metadata', None)
    builder = WorkflowFactory('gaprss.rss').get_builder()  # by entry point: workflows/rss.py imports this module
    _set_leaves(builder, inputs)
    builder.restart = restart_inputs(node)
    e0 = last_fitted_e0(node) if chemical_system.is_compound(node.inputs) else None
    if e0:  # a chemical system: the restart fit starts from the isolated-atom energies the run used
        builder.fit.parameters = orm.Dict({**builder.fit.parameters.get_dict(), 'e0': e0})
    return builder


def last_fitted_e0(node: orm.WorkflowNode) -> dict[str, float] | None:
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
