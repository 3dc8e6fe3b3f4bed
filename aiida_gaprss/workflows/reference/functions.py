"""Calcfunctions of the reference WorkChain: split a StructureSet, gather labelled results back into one.

Labels are written as in every StructureSet: ``info['energy']`` (eV), ``arrays['forces']`` (eV/Å) and
``info['virial']`` (3×3, eV; virial = -stress × volume with ASE's stress sign, i.e. positive under compression).
Each labelled structure keeps its own ``info`` (origin, iteration, config_type, ...) and gains
``reference_engine``, ``reference_pk`` and ``reference_uuid``: the calculation whose outputs gave its labels.
"""

from __future__ import annotations

import logging

import numpy as np
from aiida import orm
from aiida.engine import calcfunction
from ase.units import create_units

from aiida_gaprss.data.structure_set import StructureSet

__all__ = (
    'INDEX_KEY',
    'batch_tag',
    'gather_labels',
    'labels_from_qe',
    'labels_from_vasp',
    'parse_tag',
    'split_batches',
    'split_structures',
    'structure_tag',
)

LOGGER = logging.getLogger(__name__)

#: ``info`` key holding a structure's position in the original set while it travels through a batch.
INDEX_KEY = 'reference_index'
#: Labels removed from a structure before new ones are written.
_OLD_LABELS = ('energy', 'free_energy', 'virial', 'stress')
#: Quantum ESPRESSO 6.x works in CODATA 2006 units; its labels are converted with those (as ASE's reader does).
_QE_UNITS = create_units('2006')


def structure_tag(index: int) -> str:
    """Link-label tag of one structure (``s000042``)."""
    return f's{index:06d}'


def batch_tag(index: int) -> str:
    """Link-label tag of one batch (``b0003``)."""
    return f'b{index:04d}'


def parse_tag(key: str) -> tuple[str, int, str]:
    """Split ``s000042_parameters`` into ``('s', 42, 'parameters')``."""
    tag, _, role = key.partition('_')
    return tag[0], int(tag[1:]), role


@calcfunction
def split_structures(structures: StructureSet) -> dict:
    """Return one ``StructureData`` per structure, labelled ``s000000``, ``s000001``, ... (input order)."""
    return {structure_tag(i): orm.StructureData(ase=atoms) for i, atoms in enumerate(structures.iter_atoms())}


@calcfunction
def split_batches(structures: StructureSet, batch_size: orm.Int) -> dict:
    """Return StructureSets of at most ``batch_size`` structures (``b0000``, ...), each frame tagged with its index."""
    size = int(batch_size.value)
    if size < 1:
        raise ValueError(f'field `batch_size`: must be >= 1, got {size}')
    frames = []
    for index, atoms in enumerate(structures.iter_atoms()):
        atoms.info[INDEX_KEY] = index
        frames.append(atoms)
    return {
        batch_tag(b): StructureSet.from_atoms(frames[start : start + size])
        for b, start in enumerate(range(0, len(frames), size))
    }


def labels_from_qe(parameters: orm.Dict, trajectory: orm.TrajectoryData, volume: float) -> dict:
    """Energy, forces and virial of a pw.x SCF from aiida-quantumespresso's outputs, in QE's own CODATA-2006 eV.

    aiida-quantumespresso converts with qe-tools' constants; the values are converted back to atomic units and
    into eV with QE's CODATA 2006 constants, so they equal those ASE's Espresso reader gives for the same run.
    ``energy`` is pw.x's ``!`` total energy, which with smearing is the force-consistent free energy.
    The stress (GPa, QE's sign: positive under compression) becomes virial = stress_QE × volume.
    """
    from qe_tools import CONSTANTS

    energy_ev = float(parameters['energy'])
    energy = energy_ev / CONSTANTS.hartree_to_ev * _QE_UNITS['Hartree']
    forces = np.array(trajectory.get_array('forces')[-1], dtype=float)
    forces *= (_QE_UNITS['Hartree'] / _QE_UNITS['Bohr']) / (CONSTANTS.hartree_to_ev / CONSTANTS.bohr_to_ang)
    labels = {'energy': energy, 'forces': forces}
    if 'stress' in trajectory.get_arraynames():
        stress_au = np.array(trajectory.get_array('stress')[-1], dtype=float) / CONSTANTS.au_gpa
        stress = stress_au * _QE_UNITS['Hartree'] / _QE_UNITS['Bohr'] ** 3  # eV/Å³, QE sign
        labels['virial'] = stress * volume
    return labels


def labels_from_vasp(misc: orm.Dict, arrays: orm.ArrayData | None, volume: float) -> dict:
    """Energy, forces and virial of a VASP single point from aiida-vasp's ``misc`` (and optional ``arrays``) output.

    The energy is ``energy_free`` (TOTEN, the force-consistent free energy), never the σ→0 extrapolation, so energy
    and forces agree. VASP's stress is in kbar, positive under compression (minus ASE's): virial = stress × V.
    """
    from ase.units import GPa

    content = misc.get_dict()
    energies = content.get('total_energies', {})
    if 'energy_free' not in energies:
        raise KeyError('misc.total_energies.energy_free: missing (set parser_settings.energy_type)')
    energy = float(energies['energy_free'])
    forces = content.get('forces')
    if forces is None and arrays is not None and 'forces' in arrays.get_arraynames():
        forces = arrays.get_array('forces')
    if forces is None:
        raise KeyError('misc.forces: missing (request forces through parser_settings)')
    forces = np.array(forces, dtype=float)
    if forces.ndim == 3:
        forces = forces[-1]
    labels = {'energy': energy, 'forces': forces}
    stress = content.get('stress')
    if stress is not None:
        stress = np.array(stress, dtype=float).reshape(3, 3) * 0.1 * GPa  # kbar -> eV/Å³, VASP sign
        labels['virial'] = stress * volume
    return labels


def _set_labels(atoms, labels: dict, engine: str, node: orm.Node) -> None:
    for key in _OLD_LABELS:
        atoms.info.pop(key, None)
    atoms.info.pop(INDEX_KEY, None)
    atoms.info['energy'] = float(labels['energy'])
    atoms.arrays['forces'] = np.asarray(labels['forces'], dtype=float).reshape(len(atoms), 3)
    if labels.get('virial') is not None:
        atoms.info['virial'] = np.asarray(labels['virial'], dtype=float).reshape(3, 3)
    creator = node.creator if node.creator is not None else node
    atoms.info['reference_engine'] = engine
    atoms.info['reference_pk'] = int(creator.pk)
    atoms.info['reference_uuid'] = str(creator.uuid)


@calcfunction
def gather_labels(structures: StructureSet, engine: orm.Str, exclusions: orm.Dict, **results) -> dict:
    """Gather labelled results into one StructureSet, in the order of ``structures``, excluded ones left out.

    Parameters
    ----------
    structures
        The set that was split.
    engine
        ``ase``, ``qe`` or ``vasp``: how to read ``results``.
    exclusions
        ``{'excluded': [{'index', 'pk', 'uuid', 'exit_status', 'message'}, ...]}`` built by the WorkChain.
    results
        ``ase``: ``b0000_structures`` (labelled batch StructureSets whose frames carry ``reference_index``);
        ``qe``: ``s000003_parameters`` and ``s000003_trajectory``; ``vasp``: ``s000003_misc`` and ``s000003_arrays``.

    Returns
    -------
    dict
        ``structures`` (labelled StructureSet, absent if nothing was labelled) and ``exclusions`` (the records plus
        ``num_structures``, ``num_labelled``, ``num_excluded``, ``excluded_fraction``).
    """
    kind = engine.value
    originals = structures.get_atoms()
    labelled: dict[int, object] = {}
    grouped: dict[tuple[str, int], dict[str, orm.Node]] = {}
    for key, node in results.items():
        prefix, index, role = parse_tag(key)
        grouped.setdefault((prefix, index), {})[role] = node

    for (_, index), nodes in sorted(grouped.items()):
        if kind == 'ase':
            batch = nodes['structures']
            for frame in batch.iter_atoms():
                position = int(frame.info[INDEX_KEY])
                atoms = originals[position]
                labels = {'energy': frame.info['energy'], 'forces': frame.arrays['forces']}
                labels['virial'] = frame.info.get('virial')
                _set_labels(atoms, labels, kind, batch)
                labelled[position] = atoms
            continue
        atoms = originals[index]
        volume = atoms.get_volume()
        if kind == 'qe':
            labels = labels_from_qe(nodes['parameters'], nodes['trajectory'], volume)
            source = nodes['parameters']
        elif kind == 'vasp':
            labels = labels_from_vasp(nodes['misc'], nodes.get('arrays'), volume)
            source = nodes['misc']
        else:
            raise ValueError(f'field `engine`: unknown engine {kind!r}')
        _set_labels(atoms, labels, kind, source)
        labelled[index] = atoms

    records = list(exclusions.get_dict().get('excluded', []))
    excluded_indices = {int(record['index']) for record in records}
    overlap = excluded_indices & set(labelled)
    if overlap:
        raise ValueError(f'structures {sorted(overlap)}: both labelled and excluded')
    summary = {
        'num_structures': len(originals),
        'num_labelled': len(labelled),
        'num_excluded': len(excluded_indices),
        'excluded_fraction': len(excluded_indices) / len(originals),
        'excluded': sorted(records, key=lambda record: int(record['index'])),
    }
    missing = sorted(set(range(len(originals))) - set(labelled) - excluded_indices)
    if missing:
        raise ValueError(f'structures {missing}: neither labelled nor excluded')
    outputs = {'exclusions': orm.Dict(summary)}
    if labelled:
        outputs['structures'] = StructureSet.from_atoms([labelled[i] for i in sorted(labelled)])
    return outputs
