"""``JobRestartWorkChain``: the shape every restart work chain of one CalcJob shares (handlers in subclasses)."""

from __future__ import annotations

import logging
from typing import ClassVar

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import BaseRestartWorkChain, while_

__all__ = ('JobRestartWorkChain',)

LOGGER = logging.getLogger(__name__)


class JobRestartWorkChain(BaseRestartWorkChain):
    """aiida-core's ``BaseRestartWorkChain`` around ``_process_class``: its inputs exposed under ``_inputs_namespace``
    (kept in ``self.ctx.inputs``, where handlers change them), its outputs exposed, at most three jobs by default."""

    _process_class = None
    #: Namespace of the job's inputs.
    _inputs_namespace: ClassVar[str] = 'job'
    #: Outputs of the job not exposed as the work chain's.
    _outputs_excluded: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def define(cls, spec):
        """Expose the job's inputs and outputs; the restart loop of aiida-core's ``BaseRestartWorkChain``."""
        super().define(spec)
        spec.expose_inputs(cls._process_class, namespace=cls._inputs_namespace)
        spec.expose_outputs(cls._process_class, exclude=cls._outputs_excluded)
        spec.inputs['max_iterations'].default = lambda: orm.Int(3)
        spec.outline(
            cls.setup,
            while_(cls.should_run_process)(cls.run_process, cls.inspect_process),
            cls.results,
        )

    @classmethod
    def inputs_from_job(cls, job: dict, **inputs) -> dict:
        """Inputs of this work chain for the inputs ``job`` of a bare job: its call-link label becomes the work
        chain's, every other input (``metadata.options`` too) goes to the job; ``inputs`` are the work chain's own."""
        job = dict(job)
        metadata = dict(job.pop('metadata', {}))
        label = metadata.pop('call_link_label', None)
        if metadata:
            job['metadata'] = metadata
        result = {cls._inputs_namespace: job, **inputs}
        if label is not None:
            result['metadata'] = {'call_link_label': label}
        return result

    def setup(self):
        """The job's inputs go to the context, where the handlers change them."""
        super().setup()
        self.ctx.inputs = AttributeDict(self.exposed_inputs(self.process_class, self._inputs_namespace))
