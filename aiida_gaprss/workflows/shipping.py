"""Export a potential of a finished GAP-RSS run as a shipped-potential folder (``gaprss potentials export``).

Everything comes from the run's provenance, nothing is typed in:

* the GAP files and the exact gap_fit command line: the run's final ``potential`` (a :class:`GapPotential`);
* ``training.xyz``: the ``training_set`` input of the GapFitCalculation that made it — the run's ``database`` with the
  per-structure sigmas of the convex-hull rule, byte for byte what gap_fit read;
* ``reference.json``: the reference settings of the labels in that training set, read from their calculations
  (:func:`aiida_gaprss.workflows.reference_settings.reference_settings`);
* the run: uuid, inputs, the protocol of ``gaprss.yaml`` its settings are closest to, the learning curve, its own
  validation (phase errors, the reference side, plots).

The folder itself is written by the pure :func:`aiida_gaprss.potentials.build.write_potential`.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import tempfile
from collections.abc import Mapping

from aiida import orm

from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.workflows.reference_settings import reference_settings

__all__ = ('closest_protocol', 'export_potential', 'reference_settings', 'resolve_run')

LOGGER = logging.getLogger(__name__)


def resolve_run(node: orm.Node) -> tuple[orm.WorkflowNode, GapPotential]:
    """The GAP-RSS run and the potential to export for ``node``: a finished run (its final potential) or one of the
    potentials a run made.

    Raises
    ------
    ValueError
        Naming the field ``pk``: neither a GapRssWorkChain nor a GapPotential of one, or a run that did not finish.
    """
    from aiida_gaprss.provenance import lineage

    if isinstance(node, GapPotential):
        run = (lineage(node).get('run') or {}).get('pk')
        if run is None:
            raise ValueError(f'field `pk`: GapPotential<{node.pk}> was not made by a GAP-RSS run')
        return orm.load_node(run), node
    if not isinstance(node, orm.WorkflowNode) or node.process_label != 'GapRssWorkChain':
        kind = getattr(node, 'process_label', None) or type(node).__name__
        raise ValueError(f'field `pk`: node {node.pk} is a {kind}, not a GapRssWorkChain or a GapPotential')
    if not node.is_finished_ok or 'potential' not in node.outputs:
        state = node.process_state.value if node.process_state else 'unknown'
        raise ValueError(
            f'field `pk`: GapRssWorkChain<{node.pk}> has not finished ok ({state}, exit status {node.exit_status}); '
            'give the pk of one of its potentials (outputs potentials.iteration_XX) to export that one'
        )
    return node, node.outputs.potential


# -- the reference settings ------------------------------------------------------------------------------------------
def _flatten(value, prefix: str = '') -> dict:
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            result.update(_flatten(item, f'{prefix}.{key}' if prefix else str(key)))
        return result
    return {prefix: value}


def _protocol_elements(run) -> str | list[str]:
    """The element of a run, or the list of its elements (Table 1 then takes the first's length scale)."""
    from aiida_gaprss.provenance import run_elements

    elements = run_elements(run)
    return elements[0] if len(elements) == 1 else elements


def closest_protocol(element: str | list[str], inputs: Mapping) -> dict:
    """The protocol of ``gaprss.yaml`` whose settings differ least from a run's ``inputs`` (as
    :func:`aiida_gaprss.provenance.inputs_with_prefix` gives them), and the differences.

    The protocol is not stored with a run; this infers it from the settings (loop sizes, iteration parameters, fit
    parameters, the reference protocol), so the differences are the run's overrides of that protocol.
    """
    from aiida_gaprss.protocols import load_gaprss_protocol, protocol_names
    from aiida_gaprss.rss.gap_parameters import table1_parameters

    run = {key: inputs.get(key) for key in ('budget', 'max_iterations', 'num_select_initial', 'num_select')}
    run['parameters'] = inputs.get('parameters')
    run['fit'] = (inputs.get('fit') or {}).get('parameters')
    reference = inputs.get('reference') or {}
    engine = reference.get('engine')
    run['reference'] = (reference.get(engine) or {}).get('protocol') if engine in ('qe', 'vasp') else None
    best = None
    for name in protocol_names():
        settings = load_gaprss_protocol(name)
        expected = {key: settings.get(key) for key in ('budget', 'max_iterations', 'num_select_initial', 'num_select')}
        expected['parameters'] = settings.get('parameters')
        try:
            expected['fit'] = table1_parameters(element, overrides=settings.get('fit') or {})
        except ValueError:
            expected['fit'] = None
        choice = (settings.get('reference') or {}).get(engine)
        expected['reference'] = (choice.get('protocol') if isinstance(choice, Mapping) else choice) if engine in (
            'qe', 'vasp') else None  # fmt: skip
        mine, theirs = _flatten(run), _flatten(expected)
        differences = {
            key: {'protocol': theirs.get(key), 'run': mine.get(key)}
            for key in sorted(set(mine) | set(theirs))
            if json.dumps(mine.get(key), sort_keys=True) != json.dumps(theirs.get(key), sort_keys=True)
            and not key.startswith('fit.descriptors')  # δ of the fit input are placeholders; compared below
        }
        pairs = zip(
            (run['fit'] or {}).get('descriptors', []), (expected['fit'] or {}).get('descriptors', []), strict=False
        )
        for index, (ours, protocol) in enumerate(pairs):
            for key in sorted(set(ours) | set(protocol)):
                if ours.get(key) != protocol.get(key):
                    differences[f'fit.descriptors.{index}.{key}'] = {
                        'protocol': protocol.get(key),
                        'run': ours.get(key),
                    }
        if best is None or len(differences) < len(best['differences']):
            best = {'closest': name, 'differences': differences}
    best['note'] = 'inferred from the run inputs: the protocol name is not stored with a run'
    return best


def _run_block(run: orm.WorkflowNode, potential: GapPotential) -> dict:
    from aiida_gaprss.provenance import inputs_with_prefix, lineage, run_status, run_system

    info = lineage(potential)
    status = run_status(run)
    inputs = inputs_with_prefix(run, '')
    curve = run.outputs.learning_curve.get_dict().get('iterations', []) if 'learning_curve' in run.outputs else []
    block = {
        'run': {
            'uuid': run.uuid,
            'pk': run.pk,
            'process_label': run.process_label,
            'element': run_system(run),
            'state': status['state'],
            'exit_status': status['exit_status'],
            'exit_message': status['exit_message'],
            'budget': status['budget'],
            'reference_evaluations': status['reference_evaluations'],
            'iterations': len(status['iterations']),
            'ctime': run.ctime.isoformat(),
            'mtime': run.mtime.isoformat(),
        },
        'potential': info['potential'],
        'iteration': info.get('iteration'),
        'fit': info.get('fit'),
        'training_set': info.get('training_set'),
        'database': info.get('database'),
        'codes': info.get('codes'),
        'versions': info.get('versions'),
        'inputs': inputs,
        'protocol': closest_protocol(_protocol_elements(run), inputs),
        'learning_curve': curve,
    }
    creator = potential.creator
    if creator is not None and 'output_parameters' in creator.outputs:
        block['fit']['gap_fit_version'] = creator.outputs.output_parameters.get_dict().get('gap_fit_version')
    if 'phase_errors' in run.outputs:
        block['validation'] = {
            'phase_errors': run.outputs.phase_errors.get_dict(),
            'uuid': run.outputs.phase_errors.uuid,
        }
    return block


def export_potential(
    node: orm.Node,
    name: str,
    *,
    root: str | os.PathLike | None = None,
    evaluation: Mapping | str | os.PathLike | None = None,
    force: bool = False,
    phases=None,
    description: str = '',
) -> pathlib.Path:
    """Write the shipped-potential folder ``<root>/<name>/`` of a GAP-RSS run's final potential (or of ``node`` if it
    is one of the run's potentials) and return it.

    Parameters
    ----------
    node : orm.Node
        A finished GapRssWorkChain, or a GapPotential a GAP-RSS run made.
    name : str
        Name of the shipped potential (e.g. ``'si-pbe-gaprss'``).
    root : path, optional
        Folder of the potentials (default: ``$GAPRSS_POTENTIALS_ROOT`` or the package's ``aiida_gaprss/potentials``).
    evaluation : mapping or path, optional
        Validation over fit seeds (schema: :func:`aiida_gaprss.potentials.build.normalise_evaluation`).
    force : bool
        Replace an existing folder.
    phases : sequence of str, optional
        Known phases whose energies the metadata holds (default: all of the element's).
    description : str
        A paragraph for the model card.

    Raises
    ------
    ValueError
        Naming the field (``pk``, ``name``, ``evaluation...``, ``max_size``, ...).
    """
    from aiida_gaprss.potentials.build import write_potential

    run, potential = resolve_run(node)
    creator = potential.creator
    if creator is None or 'training_set' not in creator.inputs:
        raise ValueError(f'field `pk`: GapPotential<{potential.pk}> has no gap_fit calculation with a training set')
    training = creator.inputs.training_set
    provenance = _run_block(run, potential)
    reference = reference_settings(training)
    reference_phases, source = None, ''
    if 'validation_reference' in run.outputs:
        content = run.outputs.validation_reference.get_dict()
        reference_phases = {phase: row['energy_per_atom'] for phase, row in (content.get('phases') or {}).items()
                            if isinstance(row, Mapping) and row.get('energy_per_atom') is not None}  # fmt: skip
        uuid = run.outputs.validation_reference.uuid
        source = f"the run's own validation (output validation_reference, Dict uuid {uuid})"
    with tempfile.TemporaryDirectory(prefix='gaprss-export-') as folder:
        folder = pathlib.Path(folder)
        gap_folder = folder / 'gap'
        potential.write_folder(gap_folder)
        training_file = training.write(folder / 'training.xyz')
        plots = {}
        if 'plots' in run.outputs:
            for key in ('learning_curve', 'energy_volume'):
                if key in run.outputs.plots:
                    plots[key] = folder / f'{key}.png'
                    plots[key].write_bytes(run.outputs.plots[key].get_content(mode='rb'))
        return write_potential(
            root,
            name,
            gap_folder=gap_folder,
            gap_files=potential.filenames,
            command_line=potential.command_line,
            training=training_file,
            reference=reference,
            provenance=provenance,
            evaluation=evaluation,
            plots=plots,
            reference_phases=reference_phases or None,
            reference_phases_source=source,
            phases=phases,
            description=description,
            force=force,
        )
