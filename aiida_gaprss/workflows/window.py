"""A window of child processes for WorkChains: at most N running, topped up whenever the oldest one ends.

Public ``WorkChain`` API only (``submit``, ``to_context``, a ``while_`` loop); see :class:`ChildWindowMixin`.
"""

from __future__ import annotations

import logging

from aiida import orm

__all__ = ('ChildWindowMixin', 'called_children', 'terminated')

LOGGER = logging.getLogger(__name__)


def called_children(node: orm.ProcessNode, labels: list[str]) -> dict:
    """``{label: child}`` of the processes ``node`` called with one of ``labels`` as call-link label (exact match).

    One query, whatever the number of children.
    """
    from aiida.common.links import LinkType

    if not labels:
        return {}
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


def terminated(pks: list[int]) -> set[int]:
    """The PKs of ``pks`` whose process has terminated, read fresh from the database in one query."""
    if not pks:
        return set()
    query = orm.QueryBuilder().append(
        orm.ProcessNode,
        filters={'id': {'in': list(pks)}, 'attributes.process_state': {'in': ['finished', 'excepted', 'killed']}},
        project='id',
    )
    return set(query.all(flat=True))


class ChildWindowMixin:
    """Keep at most ``window_size()`` children running; read each one once it has terminated.

    Use it in an outline as::

        cls.setup,  # a step that queues the work: self.window_open(tags)
        while_(cls.window_has_work)(cls.window_submit, cls.window_collect),

    and implement :meth:`window_size`, :meth:`window_launch` (build and submit the child of a tag) and
    :meth:`window_finished` (read its result); :meth:`window_label` is the call-link label of a tag's child.

    ``window_submit`` fills the free slots and waits (``to_context``) for the *oldest* running child; the next
    ``window_collect`` reads every child that has terminated by then, and the next ``window_submit`` refills every
    slot they freed. A WorkChain resumes only when everything it awaits has terminated, so this is what public API
    allows: a slot freed by a younger child stays empty until the oldest one ends (with children of similar cost,
    started in order, the oldest is the first to end and nothing is lost; one slow child holds back the refills of
    the others until it ends). Every child is read exactly once, failed or not.

    The queue lives in the context (checkpointed); a child submitted before a daemon crash, whose step is run again,
    is found by its call-link label rather than submitted twice.
    """

    # -- what a subclass provides ----------------------------------------------------------------------------------
    def window_size(self) -> int:
        """Children running at once."""
        raise NotImplementedError

    def window_launch(self, tag: str) -> orm.ProcessNode:
        """Build and submit the child of ``tag`` (its call-link label must be ``window_label(tag)``)."""
        raise NotImplementedError

    def window_finished(self, tag: str, node: orm.ProcessNode) -> None:
        """Read the result of the terminated child ``node`` of ``tag``."""
        raise NotImplementedError

    def window_label(self, tag: str) -> str:
        """Call-link label of the child of ``tag``."""
        return tag

    # -- the queue -------------------------------------------------------------------------------------------------
    def window_open(self, tags) -> None:
        """Queue ``tags`` (in this order) behind whatever the window holds already."""
        window = self.ctx.get('window') or {'pending': [], 'running': []}
        window['pending'] = list(window['pending']) + [str(tag) for tag in tags]
        self.ctx.window = window

    def window_has_work(self) -> bool:
        """Whether children remain to be submitted or to finish."""
        window = self.ctx.get('window') or {}
        return bool(window.get('pending') or window.get('running'))

    def window_submit(self) -> None:
        """Fill the window up to ``window_size()`` running children; wait for the oldest one still running."""
        window = self.ctx.window
        running = dict(window['running'])  # [[tag, pk], ...] in order of submission (a list survives checkpoints)
        take = window['pending'][: max(0, max(1, int(self.window_size())) - len(running))]
        if take:
            # a daemon worker that dies after submitting a child but before this step's checkpoint runs the step
            # again when the process is picked up: reuse what was submitted rather than run it twice
            submitted = called_children(self.node, [self.window_label(tag) for tag in take])
            for tag in take:
                node = submitted.get(self.window_label(tag))
                if node is None:
                    node = self.window_launch(tag)
                else:
                    self.report(f'{tag}: reusing {node.process_label}<{node.pk}>, submitted before an interruption')
                running[tag] = node.pk
            window['pending'] = window['pending'][len(take) :]
        window['running'] = [[tag, pk] for tag, pk in running.items()]
        self.ctx.window = window
        done = terminated(list(running.values()))
        oldest = next((tag for tag, pk in running.items() if pk not in done), None)
        if oldest is not None:
            self.to_context(window_oldest=orm.load_node(running[oldest]))

    def window_collect(self) -> None:
        """Hand every terminated child of the window to :meth:`window_finished`, in order of submission."""
        window = self.ctx.window
        running = dict(window['running'])
        done = terminated(list(running.values()))
        for tag, pk in list(running.items()):
            if pk in done:
                self.window_finished(tag, orm.load_node(pk))
                del running[tag]
        window['running'] = [[tag, pk] for tag, pk in running.items()]
        self.ctx.window = window
