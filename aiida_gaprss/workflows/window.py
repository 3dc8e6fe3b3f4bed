"""A rolling window of child processes for WorkChains, public aiida-core API only: at most N running, the next
submitted as soon as any one of them ends.

A work chain step waits for *every* child it puts in the context, so "submit N, wait" runs in waves (the slowest
child of a wave holds back the next one). The window waits instead for one small extra child, :class:`WaitForAny`,
which finishes as soon as *any* of the running children has terminated; the window then reads every child that has
ended and tops the window up. When nothing is left to submit (or one child runs), the children are awaited directly.

Use it in an outline as::

    cls.setup,  # a step that queues the work: self.window_open(tags)
    while_(cls.window_has_work)(cls.window_submit, cls.window_collect),

and implement ``window_launch(tag) -> ProcessNode`` (build and submit one child) and
``window_finished(tag, node)`` (read its result). The queue and the children's pks live in the context
(checkpointed); a child submitted before a daemon crash is found again by its call-link label (``window_label``)
rather than submitted twice.
"""

from __future__ import annotations

import functools

from aiida import orm
from aiida.engine import Process
from plumpy.process_states import ProcessState, Wait

__all__ = ('ChildWindowMixin', 'WaitForAny', 'called_children')


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


class WaitForAny(Process):
    """A process that finishes (exit status 0, no outputs) as soon as any one of the processes ``pks`` has terminated
    (at once if one has already).

    Built from the public hooks every aiida-core process has: ``run`` returns plumpy's ``Wait``, the runner's
    ``call_on_process_finish`` resumes it; after a daemon restart the callbacks are registered again.
    """

    _node_class = orm.WorkflowNode

    @classmethod
    def define(cls, spec):
        """One input: the pks of the processes to watch (not stored: the watched processes are the caller's)."""
        super().define(spec)
        spec.input('pks', valid_type=list, non_db=True, help='PKs of the processes to watch.')

    def run(self):
        """Wait until one of ``pks`` has terminated."""
        pks = [int(pk) for pk in self.inputs.pks]
        if not pks:
            return None
        return Wait(self.any_ended, f'Waiting for any of the processes {", ".join(map(str, pks))}')

    def on_wait(self, awaitables):
        """Entering the wait: ask the runner to call back when each process terminates."""
        super().on_wait(awaitables)
        self._watch()

    def load_instance_state(self, saved_state, load_context):
        """Reloaded from a checkpoint (a daemon restart) while waiting: register the callbacks again."""
        super().load_instance_state(saved_state, load_context)
        if self.state == ProcessState.WAITING:
            self._watch()

    def _watch(self) -> None:
        for pk in self.inputs.pks:
            self.runner.call_on_process_finish(int(pk), functools.partial(self.call_soon, self._resume_if_waiting))

    def _resume_if_waiting(self) -> None:
        if not self.has_terminated() and self.state == ProcessState.WAITING:
            self.resume()

    def any_ended(self, *_) -> None:
        """One of the watched processes has terminated: finish."""
        return None


class ChildWindowMixin:
    """Keep at most ``window_size()`` children running; refill as soon as any of them has terminated.

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
        window.setdefault('pks', {})
        self.ctx.window = window

    def window_defer(self, **nodes: orm.ProcessNode) -> None:
        """Put ``nodes`` in the context (as ``to_context`` does) once the window is empty, not before.

        A step that starts other children beside the window (and calls :meth:`window_submit` itself) defers them
        this way: awaited in the same step, they would hold back every refill of the window until they end.
        """
        if not self.window_has_work():
            self.to_context(**nodes)
            return
        window = self.ctx.window
        window['deferred'] = {**window.get('deferred', {}), **{key: node.pk for key, node in nodes.items()}}
        self.ctx.window = window

    def window_has_work(self) -> bool:
        """Whether children remain to be submitted or to finish."""
        window = self.ctx.get('window') or {}
        return bool(window.get('pending') or window.get('running'))

    def window_submit(self) -> None:
        """Fill the window up to ``window_size()`` running children, then wait for any one of them to end."""
        window = self.ctx.window
        pks = dict(window.get('pks', {}))
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
                pks[tag] = node.pk
            window['pending'] = window['pending'][len(take) :]
            window['running'] = window['running'] + take
        window['pks'] = pks
        running = {tag: node for tag in window['running'] if (node := self._window_child(tag)) is not None}
        if len(running) > 1 and window['pending']:
            # resume as soon as any one ends (the others run on; the next pass reads every child that has ended)
            window['waits'] = window.get('waits', 0) + 1
            label = f'window_wait_{window["waits"]}'
            self.to_context(window_wait=self.submit(WaitForAny, pks=[node.pk for node in running.values()],
                                                    metadata={'call_link_label': label}))  # fmt: skip
        else:
            # nothing else to submit (or one child running): waiting for them all loses nothing
            self.to_context(**{self._window_key(tag): node for tag, node in running.items()})
        self.ctx.window = window

    def window_collect(self) -> None:
        """Hand every terminated child of the window to :meth:`window_finished`."""
        window = self.ctx.window
        still = []
        for tag in window['running']:
            node = self._window_child(tag)
            if node is None or not node.is_terminated:
                still.append(tag)
            else:
                self.window_finished(tag, node)
        window['running'] = still
        deferred = window.pop('deferred', {}) if not self.window_has_work() else {}
        self.ctx.window = window
        if deferred:  # the window is empty: the next step waits for the children deferred beside it
            self.to_context(**{key: orm.load_node(pk) for key, pk in deferred.items()})

    def _window_child(self, tag: str) -> orm.ProcessNode | None:
        pk = self.ctx.window.get('pks', {}).get(tag)
        if pk is None:  # a window checkpointed by the earlier version of this module: the child or its placeholder
            pk = getattr(self.ctx.get(self._window_key(tag)), 'pk', None)
        return None if pk is None else orm.load_node(pk)

    @staticmethod
    def _window_key(tag: str) -> str:
        return f'window_child_{tag}'
