"""Export a potential of a finished GAP-RSS run as a shipped-potential folder (``gaprss potentials export``).

Everything comes from the run's provenance, nothing is typed in:

* the GAP files and the exact gap_fit command line: the run's final ``potential`` (a :class:`GapPotential`);
* ``training.xyz``: the ``training_set`` input of the GapFitCalculation that made it — the run's ``database`` with the
  per-structure sigmas of the convex-hull rule, byte for byte what gap_fit read;
* ``reference.json``: the calculations whose labels are in that training set (CalcJob ancestors of it) and the
  ReferenceWorkChains that ran them — for QE the pw.x parameters, k-point meshes, pseudopotentials (file names, md5
  sums, functional) and pw.x version of every PwCalculation, the k-point spacing (1/Å, 2π included) checked against
  every mesh;
* the run: uuid, inputs, the protocol of ``gaprss.yaml`` its settings are closest to, the learning curve, its own
  validation (phase errors, the reference side, plots).

The folder itself is written by the pure :func:`aiida_gaprss.potentials.build.write_potential`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pathlib
import re
import tempfile
from collections import defaultdict
from collections.abc import Mapping

from aiida import orm

from aiida_gaprss.data.gap_potential import GapPotential

__all__ = ('closest_protocol', 'export_potential', 'reference_settings', 'resolve_run')

LOGGER = logging.getLogger(__name__)

_PW = 'aiida.calculations:quantumespresso.pw'
#: pw.x settings the card and ``reference.json['settings']`` summarise (section, key).
_SUMMARY_KEYS = (
    ('SYSTEM', 'ecutwfc'),
    ('SYSTEM', 'ecutrho'),
    ('SYSTEM', 'occupations'),
    ('SYSTEM', 'smearing'),
    ('SYSTEM', 'degauss'),
    ('SYSTEM', 'input_dft'),
    ('ELECTRONS', 'mixing_beta'),
)
_UNITS = {
    'ecutwfc': 'Ry',
    'ecutrho': 'Ry',
    'degauss': 'Ry',
    'conv_thr_per_atom': 'Ry per atom (pw.x conv_thr divided by the number of atoms)',
    'kpoints_spacing': '1/Å with the 2π factor (aiida-quantumespresso kpoints_distance, VASP KSPACING)',
}


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
def _label_calculations(training: orm.Data) -> list[orm.CalcJobNode]:
    """The CalcJobs whose results are in ``training`` (its CalcJob ancestors), oldest first."""
    query = orm.QueryBuilder().append(orm.Node, filters={'id': training.pk}, tag='training')
    query.append(orm.CalcJobNode, with_descendants='training', project='*')
    return sorted(query.all(flat=True), key=lambda node: node.ctime)


def _reference_workchains(calculations) -> list[orm.WorkflowNode]:
    found = {}
    for node in calculations:
        caller = node.caller
        while caller is not None and caller.process_label != 'ReferenceWorkChain':
            caller = caller.caller
        if caller is not None:
            found[caller.pk] = caller
    return [found[pk] for pk in sorted(found)]


def _distinct(values: list) -> object:
    """One value if all are equal, else the sorted distinct values (as a list)."""
    unique = {json.dumps(value, sort_keys=True): value for value in values}
    if len(unique) == 1:
        return next(iter(unique.values()))
    return [unique[key] for key in sorted(unique)]


def _functional(pseudo) -> str | None:
    try:
        text = pseudo.get_content()
    except (OSError, AttributeError, UnicodeDecodeError):
        return None
    match = re.search(r'functional\s*=\s*"\s*([^"]*?)\s*"', text)
    return ' '.join(match.group(1).split()) if match else None


def _kpoints_block(calculations: list, declared: float | None, source: str) -> dict:
    """The k-point spacing interval every mesh allows, and whether ``declared`` reproduces every mesh."""
    import numpy as np

    from aiida_gaprss.rss.kpoints import kpoint_mesh
    from aiida_gaprss.workflows.reference.engines import is_molecule_in_a_box

    lower, upper, checked, mismatches = 0.0, math.inf, 0, []
    for node, atoms, mesh in calculations:
        if is_molecule_in_a_box(atoms):
            continue
        checked += 1
        lengths = np.linalg.norm(2 * np.pi * np.linalg.inv(atoms.cell.array).T, axis=1)
        for length, count, periodic in zip(lengths, mesh, atoms.pbc, strict=True):
            if not periodic:
                continue
            lower = max(lower, length / count)
            if count > 1:
                upper = min(upper, length / (count - 1))
        if declared is not None and list(kpoint_mesh(atoms.cell, declared, atoms.pbc)) != list(mesh):
            mismatches.append(node.pk)
    return {
        'spacing': declared,
        'source': source,
        'interval': [lower, upper if math.isfinite(upper) else None],
        'meshes_checked': checked,
        'consistent': not mismatches if declared is not None else None,
        'mismatched_calculations': mismatches[:10],
        'unit': _UNITS['kpoints_spacing'],
    }


def _declared_spacing(workchains: list, species: list[str]) -> tuple[float | None, str]:
    from aiida_gaprss.workflows.reference.protocols import load_protocol, settings_for_species

    spacings, sources = [], []
    for node in workchains:
        if 'qe' not in node.inputs:
            continue
        qe = node.inputs.qe
        overrides = {
            key.upper(): value for key, value in (qe.parameters.get_dict() if 'parameters' in qe else {}).items()
        }
        if 'kpoints_spacing' in qe:  # the QE engine lets it win over a KPOINTS_SPACING of qe.parameters
            spacings.append(qe.kpoints_spacing.value)
            sources.append('ReferenceWorkChain input qe.kpoints_spacing')
            continue
        if 'KPOINTS_SPACING' in overrides:
            spacings.append(float(overrides['KPOINTS_SPACING']))
            sources.append('ReferenceWorkChain input qe.parameters.KPOINTS_SPACING')
            continue
        name = qe.protocol.value if 'protocol' in qe else None
        protocol = load_protocol('qe', name)
        spacings.append(settings_for_species(protocol, species, 'qe')['kpoints_spacing'])
        sources.append(f'protocol {name or "(default)"!r} of reference_qe.yaml (checked against every mesh)')
    if not spacings:
        return None, 'not declared'
    if len(set(spacings)) > 1:
        LOGGER.warning('the reference calculations used several k-point spacings: %s', sorted(set(spacings)))
        return None, f'several: {sorted(set(spacings))}'
    return spacings[0], sources[0]


def _qe_settings(calculations: list, workchains: list) -> dict:
    periodic, isolated = [], []
    parameters, per_atom, pseudos, versions = defaultdict(list), [], {}, []
    isolated_parameters = []
    species: set = set()
    for node in calculations:
        atoms = node.inputs.structure.get_ase()
        content = node.inputs.parameters.get_dict()
        system = {key.lower(): value for key, value in (content.get('SYSTEM') or {}).items()}
        if len(atoms) == 1 and system.get('nspin') == 2:
            isolated.append(node)
            isolated_parameters.append(content)
        else:
            mesh, _ = node.inputs.kpoints.get_kpoints_mesh()
            periodic.append((node, atoms, list(mesh)))
            for section, values in content.items():
                for key, value in values.items():
                    if key == 'conv_thr':
                        per_atom.append(value / len(atoms))
                    else:
                        parameters[(section.upper(), key)].append(value)
        species.update(atoms.get_chemical_symbols())
        for pseudo in node.inputs.pseudos.values():
            if pseudo.uuid not in pseudos:
                pseudos[pseudo.uuid] = {'element': pseudo.element, 'filename': pseudo.filename, 'md5': pseudo.md5,
                                        'uuid': pseudo.uuid, 'functional': _functional(pseudo)}  # fmt: skip
        if 'output_parameters' in node.outputs:
            output = node.outputs.output_parameters.get_dict()
            versions.append(f'{output.get("creator_name", "pwscf")} {output.get("creator_version")}')
    by_element = defaultdict(list)
    for entry in pseudos.values():
        by_element[entry['element']].append(entry)
    common: dict = {}
    varying = []
    for (section, key), values in sorted(parameters.items()):
        value = _distinct(values)
        if isinstance(value, list) and len({json.dumps(v) for v in values}) > 1:
            varying.append(f'{section}.{key}')
        common.setdefault(section, {})[key] = value
    declared, source = _declared_spacing(workchains, sorted(species))
    settings = {key: common.get(section, {}).get(key) for section, key in _SUMMARY_KEYS
                if key in common.get(section, {})}  # fmt: skip
    settings['conv_thr_per_atom'] = _distinct(per_atom) if per_atom else None
    kpoints = _kpoints_block(periodic, declared, source)
    # a spacing that does not reproduce the meshes is not the run's: the card then gives the interval the meshes allow
    settings['kpoints_spacing'] = declared if kpoints['consistent'] else None
    functionals = sorted({entry['functional'] for entry in pseudos.values() if entry['functional']})
    code = workchains[0].inputs.qe.code if workchains and 'qe' in workchains[0].inputs else None
    return {
        'engine': 'qe',
        'code': {
            'name': 'Quantum ESPRESSO pw.x',
            'version': _distinct(versions) if versions else None,
            'label': code.full_label if code is not None else None,
            'executable': str(code.filepath_executable) if isinstance(code, orm.InstalledCode) else None,
        },
        'functional': ', '.join(functionals) if functionals else None,
        'settings': settings,
        'units': _UNITS,
        'parameters': common,
        'varying': varying,
        'kpoints': kpoints,
        'pseudopotentials': {element: _distinct(entries) for element, entries in sorted(by_element.items())},
        'calculations': len(periodic),
        'isolated_atoms': {'calculations': len(isolated), 'parameters': _distinct(isolated_parameters)}
        if isolated
        else None,
    }


def reference_settings(training: orm.Data) -> dict:
    """How the labels of ``training`` were computed, read from the calculations that made them.

    Returns
    -------
    dict
        ``engine``; ``reference_workchains`` (the distinct inputs of the engine's namespace of the ReferenceWorkChains,
        with how many used each); for QE also ``code`` (with the pw.x version of the outputs), ``functional`` (from the
        pseudopotential files), ``settings`` (cut-offs, smearing, degauss, conv_thr per atom, k-point spacing),
        ``units``, ``parameters`` (every pw.x parameter; a list where calculations differ, named in ``varying``),
        ``kpoints`` (spacing, its source, the interval the meshes allow, whether it reproduces every mesh),
        ``pseudopotentials`` (file name, md5, functional per element) and the counts.

    Raises
    ------
    ValueError
        If no reference calculation is an ancestor of ``training``.
    """
    from aiida_gaprss.provenance import inputs_with_prefix

    calculations = _label_calculations(training)
    workchains = _reference_workchains(calculations)
    if not workchains:
        raise ValueError(f'field `training_set`: no ReferenceWorkChain labelled StructureSet<{training.pk}>')
    engines = sorted({node.inputs.engine.value for node in workchains})
    if len(engines) > 1:
        raise ValueError(f'field `training_set`: labelled by several reference engines {engines}; not one reference')
    engine = engines[0]
    inputs = defaultdict(int)
    for node in workchains:
        inputs[json.dumps(inputs_with_prefix(node, f'{engine}__'), sort_keys=True, default=str)] += 1
    if engine == 'qe':
        result = _qe_settings([node for node in calculations if node.process_type == _PW], workchains)
    else:
        result = {'engine': engine}
    result['reference_workchains'] = [{'inputs': json.loads(key), 'count': count} for key, count in inputs.items()]
    return result


# -- the run ---------------------------------------------------------------------------------------------------------
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
