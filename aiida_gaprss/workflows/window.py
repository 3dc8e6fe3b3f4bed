"""A rolling window of child processes for WorkChains: at most N running, the next submitted as soon as one ends.

AiiDA's WorkChain resumes only when *every* awaited child has terminated, so a loop of "submit N, wait" runs in
waves: the slowest child of a wave holds back the next wave, and every wave pays the launch and completion
latency of the daemon (upload, scheduler poll, retrieval, parsing, the workchain steps around it) with nothing
running beside it. :class:`ChildWindowMixin` resumes the work chain as soon as *any* child of the window
terminates, which keeps N children running until the queue is empty: on a 2-core machine two one-rank pw.x SCFs
side by side hide each other's daemon latency; on a cluster N jobs stay queued.

Use it in an outline as::

    cls.setup,  # a step that queues the work: self.window_open(tags)
    while_(cls.window_has_work)(cls.window_submit, cls.window_collect),

and implement ``window_launch(tag) -> ProcessNode`` (build and submit one child) and
``window_finished(tag, node)`` (read its result). The queue lives in the context (checkpointed); a child submitted
before a daemon crash is found again by its call-link label (``window_label``) rather than submitted twice.

Only the window's own steps resume early: every other step waits for all its children as usual.
"""

from __future__ import annotations

import functools

from aiida import orm
from aiida.common import exceptions
from aiida.engine.processes.workchains.awaitable import Awaitable, AwaitableAction, AwaitableTarget
from plumpy.process_states import ProcessState

__all__ = ('ChildWindowMixin', 'called_children')

_RESUME_ON_ANY = 'window_resume_on_any'


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


class ChildWindowMixin:
    """Keep at most ``window_size()`` children running; resume the work chain when any of them terminates.

    Subclasses implement :meth:`window_launch`, :meth:`window_finished` and :meth:`window_size`, and may override
    :meth:`window_label` (the call-link label of a tag's child, by default the tag).
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
        """Fill the window up to ``window_size()`` running children."""
        window = self.ctx.window
        size = max(1, int(self.window_size()))
        take = window['pending'][: max(0, size - len(window['running']))]
        if take:
            # a daemon worker that dies after submitting a child but before this step's checkpoint re-runs the
            # step when the process is picked up again: reuse what was submitted rather than run it twice
            submitted = called_children(self.node, [self.window_label(tag) for tag in take])
            for tag in take:
                node = submitted.get(self.window_label(tag))
                if node is None:
                    node = self.window_launch(tag)
                else:
                    self.report(f'{tag}: reusing {node.process_label}<{node.pk}>, submitted before an interruption')
                self.to_context(**{self._window_key(tag): node})
            window['pending'] = window['pending'][len(take) :]
            window['running'] = window['running'] + take
        self.ctx.window = window
        self.ctx[_RESUME_ON_ANY] = True
        self._keep_awaiting()

    def window_collect(self) -> None:
        """Hand every terminated child of the window to :meth:`window_finished`."""
        window = self.ctx.window
        still = []
        for tag in window['running']:
            value = self.ctx.get(self._window_key(tag))
            if isinstance(value, Awaitable):
                still.append(tag)
            else:
                self.window_finished(tag, value)
        window['running'] = still
        self.ctx.window = window
        if not self.window_has_work():
            # the steps after the loop wait for everything else they awaited, as usual
            self.ctx[_RESUME_ON_ANY] = False
            self._keep_awaiting()

    @staticmethod
    def _window_key(tag: str) -> str:
        return f'window_child_{tag}'

    # -- resuming on the first terminated child ---------------------------------------------------------------------
    # ``WorkChain._do_step`` empties ``_awaitables`` before every step (it expects all of them resolved by then), so
    # the window puts the placeholders that are still unresolved back at the end of its steps (they are checkpointed
    # with it, and a reloaded process registers their callbacks again), and a callback resolves its context
    # placeholder whether or not it is listed at that moment.
    def _unresolved_placeholders(self) -> list:
        """Unresolved placeholders of the context's top level (the keys these work chains await under)."""
        found = []
        for value in self.ctx.values():
            if isinstance(value, Awaitable):
                found.append(value)
            elif isinstance(value, list):
                found.extend(item for item in value if isinstance(item, Awaitable))
        return found

    def _keep_awaiting(self) -> None:
        """List every unresolved context placeholder as an awaitable again."""
        listed = {awaitable.pk for awaitable in self._awaitables}
        for placeholder in self._unresolved_placeholders():
            if placeholder.pk not in listed:
                self._awaitables.append(placeholder)
                listed.add(placeholder.pk)
        self._update_process_status()

    def _window_registered(self) -> set:
        """PKs whose termination callback is registered in this Python process (not persisted: a reloaded process
        registers every awaitable again)."""
        registered = self.__dict__.get('_window_callbacks')
        if registered is None:
            registered = self.__dict__['_window_callbacks'] = set()
        return registered

    def _action_awaitables(self) -> None:
        """Register one termination callback per awaitable (the base class would register again at every wait)."""
        registered = self._window_registered()
        for awaitable in self._awaitables:
            if awaitable.pk in registered:
                continue
            if awaitable.target != AwaitableTarget.PROCESS:
                raise AssertionError(f"invalid awaitable target '{awaitable.target}'")
            callback = functools.partial(self.call_soon, self._on_awaitable_finished, awaitable)
            self.runner.call_on_process_finish(awaitable.pk, callback)
            registered.add(awaitable.pk)

    def _on_awaitable_finished(self, awaitable: Awaitable) -> None:
        """Resolve the context placeholder; resume when nothing is left to await or, inside the window loop, at once."""
        self._window_registered().discard(awaitable.pk)
        ctx, key = self._resolve_nested_context(awaitable.key)
        current = ctx.get(key)
        if awaitable.action == AwaitableAction.ASSIGN:
            waiting = isinstance(current, Awaitable) and current.pk == awaitable.pk
        else:
            waiting = any(isinstance(item, Awaitable) and item.pk == awaitable.pk for item in current or [])
        if not waiting:  # resolved already
            return
        self.logger.info('received callback that awaitable %d has terminated', awaitable.pk)
        try:
            node = orm.load_node(awaitable.pk)
        except (exceptions.MultipleObjectsError, exceptions.NotExistent) as exception:
            message = f'provided pk<{awaitable.pk}> could not be resolved to a valid Node instance'
            raise ValueError(message) from exception
        value = node
        if awaitable.outputs:
            value = {entry.link_label: entry.node for entry in node.base.links.get_outgoing()}
        if awaitable.action == AwaitableAction.ASSIGN:
            ctx[key] = value
        else:
            ctx[key] = [value if isinstance(item, Awaitable) and item.pk == awaitable.pk else item for item in current]
        awaitable.resolved = True
        self._awaitables[:] = [item for item in self._awaitables if item.pk != awaitable.pk]
        if not self.has_terminated():
            self._update_process_status()
        if self.state == ProcessState.WAITING and (not self._awaitables or self.ctx.get(_RESUME_ON_ANY)):
            self.resume()
