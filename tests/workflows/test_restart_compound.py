"""Continuing a run of a chemical system: the restart fit starts from the isolated-atom energies the run used."""

from aiida import orm
from aiida.common.links import LinkType


def _workflow(parent=None, label=None, parameters=None):
    node = orm.WorkflowNode()
    if parameters is not None:
        node.base.links.add_incoming(orm.Dict(parameters).store(), LinkType.INPUT_WORK, 'parameters')
    if parent is not None:
        node.base.links.add_incoming(parent, LinkType.CALL_WORK, label)
    return node.store()


def testlast_fitted_e0_is_that_of_the_last_iteration_with_a_fit(aiida_profile_clean):
    from aiida_gaprss.workflows.rss_restart import last_fitted_e0

    run = _workflow()
    assert last_fitted_e0(run) is None
    first = _workflow(run, 'iteration_00')
    _workflow(first, 'fit', {'e0': {'Si': -1.0, 'C': -2.0}})
    second = _workflow(run, 'iteration_01')
    _workflow(second, 'fit', {'e0': {'Si': -1.5, 'C': -2.5}})
    _workflow(run, 'iteration_02')  # failed before its fit
    assert last_fitted_e0(run) == {'Si': -1.5, 'C': -2.5}
    average = _workflow()
    _workflow(_workflow(average, 'iteration_00'), 'fit', {'e0': 'average'})
    assert last_fitted_e0(average) is None
