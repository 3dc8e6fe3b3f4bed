"""The reference settings of a training set, read from the calculations that labelled it (``reference.json``).

:func:`reference_settings` walks from a training set to the CalcJobs whose labels are in it (its CalcJob ancestors)
and the ReferenceWorkChains that ran them: for QE the pw.x parameters, k-point meshes, pseudopotentials (file names,
md5 sums, functional) and pw.x version of every PwCalculation, and the k-point spacing (1/Å, 2π included) checked
against every mesh. Used by :mod:`aiida_gaprss.workflows.shipping` to export a potential.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import defaultdict

from aiida import orm

__all__ = ('reference_settings',)

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
