"""Provenance queries: where a potential came from, and the progress of a run.

Everything here walks links (``creator``, ``caller``, incoming links) and filters in Python, so it works the same on
SQLite and PostgreSQL profiles (no JSON-contains filters).
"""

from __future__ import annotations

import logging

from aiida import orm

__all__ = ('inputs_with_prefix', 'lineage', 'run_elements', 'run_status', 'run_system')

LOGGER = logging.getLogger(__name__)


def run_system(run: orm.ProcessNode) -> str:
    """The chemical system of a GAP-RSS run: its ``element`` ('Si') or its ``composition`` as given ('SiC', 'Si-C')."""
    if 'element' in run.inputs:
        return run.inputs.element.value
    composition = run.inputs.composition
    if isinstance(composition, orm.Str):
        return composition.value
    if isinstance(composition, orm.List):
        return ','.join(str(item) for item in composition.get_list())
    return '-'.join(composition.get_dict())


def run_elements(run: orm.ProcessNode) -> list[str]:
    """The chemical symbols of a GAP-RSS run (one for an elemental run)."""
    from aiida_gaprss.rss.composition import parse_composition

    if 'element' in run.inputs:
        return [run.inputs.element.value]
    composition = run.inputs.composition
    value = composition.get_dict() if isinstance(composition, orm.Dict) else (
        composition.get_list() if isinstance(composition, orm.List) else composition.value)  # fmt: skip
    return list(parse_composition(value).elements)


def _callers(node: orm.ProcessNode) -> list[orm.ProcessNode]:
    """The chain of callers of ``node``, innermost first."""
    chain = []
    caller = node.caller
    while caller is not None:
        chain.append(caller)
        caller = caller.caller
    return chain


def _code_summary(code: orm.AbstractCode) -> dict:
    summary = {'label': code.full_label, 'uuid': code.uuid, 'plugin': code.default_calc_job_plugin}
    if isinstance(code, orm.InstalledCode):
        summary['executable'] = str(code.filepath_executable)
        summary['computer'] = code.computer.label
    return summary


def inputs_with_prefix(node: orm.ProcessNode, prefix: str) -> dict:
    """The inputs of ``node`` in namespace ``prefix`` as nested plain values (``a__b`` becomes ``{'a': {'b':}}``)."""
    result: dict = {}
    for link in node.base.links.get_incoming(link_label_filter=f'{prefix}%').all():
        *parents, label = link.link_label[len(prefix) :].split('__')
        target = result
        for parent in parents:
            target = target.setdefault(parent, {})
        value = link.node
        if isinstance(value, orm.Dict):
            target[label] = value.get_dict()
        elif isinstance(value, (orm.Str, orm.Int, orm.Float, orm.Bool)):
            target[label] = value.value
        elif isinstance(value, orm.AbstractCode):
            target[label] = _code_summary(value)
        else:
            target[label] = f'{type(value).__name__}<{value.pk}>'
    return result


def lineage(potential: orm.Data) -> dict:
    """Describe where a GapPotential came from.

    Returns
    -------
    dict
        ``potential`` (pk, uuid, sha256, elements, command line), ``fit`` (the gap_fit calculation: pk, code, its
        exit status), ``training_set`` (the file gap_fit read: pk, uuid, size, sha256, labels, config types),
        ``database`` (the labelled database it was made from, before the per-structure sigmas), ``run`` and
        ``iteration`` (the GAP-RSS run and iteration, if any), ``reference`` (engine and its inputs of that
        iteration), ``codes`` and ``versions`` (aiida-core and aiida-gaprss recorded by the calculation).
    """
    creator = potential.creator
    result: dict = {
        'potential': {
            'pk': potential.pk,
            'uuid': potential.uuid,
            'sha256': potential.base.attributes.get('sha256', None),
            'elements': potential.base.attributes.get('elements', None),
            'command_line': potential.base.attributes.get('command_line', None),
        }
    }
    if creator is None:
        result['fit'] = None
        return result
    training = creator.inputs.training_set if 'training_set' in creator.inputs else None
    result['fit'] = {
        'pk': creator.pk,
        'process': creator.process_label,
        'exit_status': creator.exit_status,
        'code': _code_summary(creator.inputs.code) if 'code' in creator.inputs else None,
    }
    result['versions'] = dict(creator.base.attributes.get('version', {}))
    if training is not None:
        result['training_set'] = {
            'pk': training.pk,
            'uuid': training.uuid,
            'num_structures': training.base.attributes.get('num_structures', None),
            'num_atoms': training.base.attributes.get('num_atoms', None),
            'sha256': training.base.attributes.get('sha256', None),
            'labels': training.base.attributes.get('labels', None),
            'config_types': training.base.attributes.get('config_types', None),
        }
    callers = _callers(creator)
    fit_workflow = next((node for node in callers if node.process_label == 'GapFitWorkChain'), None)
    if fit_workflow is not None:
        database = fit_workflow.inputs.training_set
        result['database'] = {
            'pk': database.pk,
            'uuid': database.uuid,
            'num_structures': database.base.attributes.get('num_structures', None),
            'sha256': database.base.attributes.get('sha256', None),
        }
    iteration = next((node for node in callers if node.process_label == 'GapRssIterationWorkChain'), None)
    run = next((node for node in callers if node.process_label == 'GapRssWorkChain'), None)
    if iteration is not None:
        from aiida.common.links import LinkType

        calls = iteration.base.links.get_incoming(link_type=LinkType.CALL_WORK).all()
        label = calls[0].link_label if calls else None
        result['iteration'] = {'pk': iteration.pk, 'label': label, 'number': iteration.inputs.iteration.value}
        result['reference'] = inputs_with_prefix(iteration, 'reference__')
        codes = {'gap_fit': result['fit']['code'], 'job_python': _code_summary(iteration.inputs.code)}
        for key, value in result['reference'].items():
            if isinstance(value, dict) and isinstance(value.get('code'), dict):
                codes[f'reference_{key}'] = value['code']
        result['codes'] = codes
    if run is not None:
        result['run'] = {'pk': run.pk, 'uuid': run.uuid, 'element': run_system(run),
                         'state': run.process_state.value if run.process_state else None}  # fmt: skip
    return result


def _validation_status(node: orm.WorkflowNode) -> dict:
    """State of one iteration's ValidationWorkChain and, once it finished, its energy error per known phase.

    ``phase_errors``: GAP minus reference (eV/atom), each phase relaxed with its own method; ``phase_b0``: the bulk
    moduli of both sides (GPa, ``[potential, reference]``) where E–V curves were fitted.
    """
    result = {'pk': node.pk, 'state': node.process_state.value if node.process_state else None,
              'exit_status': node.exit_status}  # fmt: skip
    if node.is_finished_ok and 'phase_errors' in node.outputs:
        phases = node.outputs.phase_errors.get_dict().get('phases', {})
        result['phase_errors'] = {name: entry.get('error') for name, entry in phases.items()}
        result['phase_b0'] = {
            name: [entry.get('potential_b0'), entry.get('reference_b0')]
            for name, entry in phases.items()
            if entry.get('potential_b0') is not None and entry.get('reference_b0') is not None
        }
    return result


def run_status(run: orm.WorkflowNode) -> dict:
    """Progress of a GAP-RSS run: iterations, reference evaluations used of the budget, current errors."""
    from aiida_gaprss.jobs.gap_errors import energy_rmse_of_cells

    budget = run.inputs.budget.value
    rows = []
    used = 0
    restart = {link.link_label: link.node for link in run.base.links.get_incoming(link_label_filter='restart__%').all()}
    if 'restart__reference_evaluations' in restart:
        used = restart['restart__reference_evaluations'].value
    elif 'restart__database' in restart:
        used = len(restart['restart__database'])
    called = [(link.link_label, link.node) for link in run.base.links.get_outgoing().all()]
    children = sorted((label, node) for label, node in called if label.startswith('iteration_'))
    validations = {label: node for label, node in called if label.startswith('validation_')}
    for label, child in children:
        row = {'label': label, 'pk': child.pk, 'state': child.process_state.value if child.process_state else None,
               'exit_status': child.exit_status}  # fmt: skip
        validation = validations.get(label.replace('iteration_', 'validation_'))
        if validation is not None:
            row['validation'] = _validation_status(validation)
        outputs = child.outputs
        if 'selected' in outputs:
            used += len(outputs.selected)
        row['reference_evaluations'] = used
        if 'database' in outputs:
            row['database_size'] = len(outputs.database)
        if 'fit_parameters' in outputs:
            metrics = outputs.fit_parameters.get_dict()
            row['energy_rmse'] = metrics.get('energy_rmse')
            row['energy_rmse_cells'] = energy_rmse_of_cells(metrics.get('training_errors') or {})
            row['forces_rmse'] = metrics.get('forces_rmse')
            per_type = (metrics.get('training_errors') or {}).get('per_config_type') or {}
            row['energy_rmse_per_config_type'] = {
                config_type: values.get('energy_rmse') for config_type, values in sorted(per_type.items())
            }
        if not child.is_terminated:
            messages = orm.Log.collection.get_logs_for(child)
            descendants = [child, *[n for n in child.called_descendants if not n.is_terminated]]
            for node in descendants[1:]:
                messages.extend(orm.Log.collection.get_logs_for(node))
            if messages:
                row['last_message'] = sorted(messages, key=lambda log: log.time)[-1].message
        rows.append(row)
    return {
        'pk': run.pk,
        'state': run.process_state.value if run.process_state else None,
        'exit_status': run.exit_status,
        'exit_message': run.exit_message,
        'budget': budget,
        'reference_evaluations': used,
        'iterations': rows,
    }
