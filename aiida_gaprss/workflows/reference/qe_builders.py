"""QE builders from aiida-quantumespresso's protocols: ``PwBaseWorkChain`` single points, ``PwRelaxWorkChain``.

``PwBaseWorkChain.get_builder_from_protocol`` / ``PwRelaxWorkChain.get_builder_from_protocol`` make the inputs
(pseudopotentials and recommended cut-offs from the family, ``conv_thr`` per atom, resources); the overrides carry
what ``reference_qe.yaml`` says differs, the user's inputs and an explicit k-point mesh (aiida-core's
``KpointsData.set_kpoints_mesh_from_density`` on the starting cell, so that a relaxation keeps it).
"""

from __future__ import annotations

import copy

from aiida import orm
from aiida.plugins import WorkflowFactory

from aiida_gaprss.common.merge import deep_merge
from aiida_gaprss.workflows.reference.protocols import (
    qe_cutoffs,
    qe_plugin_inputs,
    qe_unset_keys,
    settings_for_species,
)

__all__ = (
    'MOLECULE_VOLUME_PER_ATOM',
    'is_molecule_in_a_box',
    'pw_base_builder',
    'pw_options',
    'pw_overrides',
    'pw_parameters',
    'pw_relax_builder',
    'upper_sections',
)

#: Volume per atom (Å³) above which a structure is treated as a molecule in a box (dimers): Γ point only.
MOLECULE_VOLUME_PER_ATOM = 200.0


def is_molecule_in_a_box(atoms) -> bool:
    """Whether ``atoms`` is a small molecule (a dimer) in a large periodic box."""
    return len(atoms) <= 2 and atoms.get_volume() / len(atoms) > MOLECULE_VOLUME_PER_ATOM


def upper_sections(parameters: dict) -> dict:
    """pw.x namelists in upper case (``control`` -> ``CONTROL``), as aiida-quantumespresso writes them."""
    return {key.upper(): value for key, value in parameters.items()}


def pw_options(code, options: dict | None = None) -> dict:
    """``metadata.options`` of a PwCalculation: one machine, ``withmpi`` that of ``code`` when the code says, then
    ``options`` (which win).

    aiida-quantumespresso's PwCalculation defaults ``withmpi`` to True, which aiida-core refuses for a code marked
    serial (``with_mpi=False``); a code that does not say (``with_mpi`` None) runs as the plugin default.
    """
    result = {'resources': {'num_machines': 1}}
    if getattr(code, 'with_mpi', None) is not None:
        result['withmpi'] = bool(code.with_mpi)
    result.update(options or {})
    return result


def _mesh(atoms, spacing: float, gamma_for_molecules: bool) -> list[int]:
    if gamma_for_molecules and is_molecule_in_a_box(atoms):
        return [1, 1, 1]  # a dimer in vacuum has no dispersion: the Γ point is exact and far cheaper
    if spacing <= 0:
        raise ValueError(f'field `kpoints_spacing`: must be positive, got {spacing}')
    kpoints = orm.KpointsData()
    kpoints.set_cell(atoms.cell.array, pbc=atoms.pbc)
    kpoints.set_kpoints_mesh_from_density(spacing)
    return [int(n) for n in kpoints.get_kpoints_mesh()[0]]


def pw_overrides(protocol: dict, atoms, family_label: str, overrides: dict | None = None, *, mesh=None,
                 gamma_for_molecules: bool = True) -> tuple[dict, list[int]]:  # fmt: skip
    """Overrides of the plugin protocol ``protocol['plugin_protocol']`` for one structure, and its k-point mesh.

    Parameters
    ----------
    protocol : dict
        A protocol of ``reference_qe.yaml`` (:func:`~aiida_gaprss.workflows.reference.protocols.load_protocol`).
    atoms : ase.Atoms
        The structure.
    family_label : str
        The pseudopotential family.
    overrides : dict, optional
        pw.x namelist overrides (any case) and ``KPOINTS_SPACING`` (1/Å with 2π).
    mesh : list of int, optional
        An explicit k-point mesh instead of the spacing's.
    gamma_for_molecules : bool
        Whether a molecule in a box gets the Γ point only.
    """
    species = sorted(set(atoms.get_chemical_symbols()))
    settings = settings_for_species(protocol, species, 'qe')
    overrides = upper_sections(overrides or {})
    spacing = overrides.pop('KPOINTS_SPACING', settings['kpoints_spacing'])
    cutoffs = qe_cutoffs(protocol, species, family_label)  # empty: the plugin asks the family itself
    parameters = deep_merge({'SYSTEM': cutoffs} if cutoffs else {}, overrides)
    if mesh is None:
        mesh = _mesh(atoms, spacing, gamma_for_molecules)
    result = deep_merge(
        protocol.get('overrides', {}), {'pseudo_family': family_label, 'pw': {'parameters': parameters}}
    )
    return result, [int(n) for n in mesh]


def _kpoints(mesh) -> orm.KpointsData:
    kpoints = orm.KpointsData()
    kpoints.set_kpoints_mesh([int(n) for n in mesh])
    return kpoints


def _unset(namespace, overrides: dict, options: dict) -> None:
    """Remove the plugin protocol's keys of ``qe_unset_keys()`` from ``namespace`` (a PwBaseWorkChain builder
    namespace) unless ``overrides`` or ``options`` (the ``metadata.options`` given) have them."""
    given = {**overrides, 'pw': {'parameters': overrides.get('pw', {}).get('parameters', {}),
                                 'metadata': {'options': options}}}  # fmt: skip
    for path in qe_unset_keys():
        parts = path.split('.')
        found = given
        for part in parts:
            found = found.get(part) if isinstance(found, dict) else None
        if found is not None:
            continue
        if len(parts) == 1:
            namespace.pop(parts[0], None)
        elif parts[:2] == ['pw', 'parameters'] and len(parts) == 4:
            parameters = namespace.pw.parameters.get_dict()
            parameters.get(parts[2], {}).pop(parts[3], None)
            namespace.pw.parameters = orm.Dict(parameters)
        elif parts[:3] == ['pw', 'metadata', 'options'] and len(parts) == 4:
            namespace.pw.metadata.options.pop(parts[3], None)
        else:
            raise ValueError(f'unset: {path!r} is not a top-level, pw.parameters or pw.metadata.options key')


def pw_base_builder(code, structure: orm.StructureData, protocol: dict, family_label: str, overrides=None, *,
                    options: dict | None = None, max_iterations: int = 3, clean_workdir: bool = True):  # fmt: skip
    """``PwBaseWorkChain.get_builder_from_protocol`` for one single point of a reference protocol.

    Returns
    -------
    ProcessBuilder
    """
    PwBaseWorkChain = WorkflowFactory('quantumespresso.pw.base')
    inputs, mesh = pw_overrides(protocol, structure.get_ase(), family_label, overrides)
    inputs.update(max_iterations=max_iterations, clean_workdir=clean_workdir, kpoints=_kpoints(mesh))
    options = pw_options(code, options)
    builder = PwBaseWorkChain.get_builder_from_protocol(
        code, structure, protocol['plugin_protocol'], overrides=inputs, options=options
    )
    _unset(builder, inputs, options)
    return builder


#: Relax type of aiida-quantumespresso per mode of a reference relaxation.
_RELAX_TYPES = {'vc-relax': 'POSITIONS_CELL', 'shape': 'POSITIONS_SHAPE', 'relax': 'POSITIONS'}


def pw_relax_builder(code, structure: orm.StructureData, protocol: dict, family_label: str, overrides: dict,
                     relax_parameters: dict, mode: str, *, options: dict | None = None, mesh=None):  # fmt: skip
    """``PwRelaxWorkChain.get_builder_from_protocol`` for one relaxation (``base_relax`` only, no initial relax).

    ``relax_parameters`` (pw.x namelists of the relaxation thresholds) win over ``overrides``; ``mode`` is
    'vc-relax', 'shape' (positions and shape at fixed volume) or 'relax' (positions).

    Returns
    -------
    tuple
        (builder, k-point mesh used).
    """
    from aiida_quantumespresso.common.types import RelaxType

    if mode not in _RELAX_TYPES:
        raise ValueError(f'mode: expected one of {sorted(_RELAX_TYPES)}, got {mode!r}')
    PwRelaxWorkChain = WorkflowFactory('quantumespresso.pw.relax')
    inputs, used = pw_overrides(protocol, structure.get_ase(), family_label, overrides, mesh=mesh,
                                gamma_for_molecules=False)  # fmt: skip
    inputs = deep_merge(inputs, {'pw': {'parameters': relax_parameters}})
    options = pw_options(code, options)
    # the options in each namespace's overrides (own copies): the plugin's `options` would share one resources dict
    inputs = deep_merge(inputs, {'pw': {'metadata': {'options': options}}})
    inputs['kpoints'] = _kpoints(used)
    builder = PwRelaxWorkChain.get_builder_from_protocol(
        code,
        structure,
        protocol['plugin_protocol'],
        # base_init_relax is built by the plugin (with the family, so that it can be) and then dropped: no initial relax
        overrides={
            'base_relax': inputs,
            'base_init_relax': dict(inputs),
            'clean_workdir': True,
            'meta_convergence': mode == 'vc-relax',
        },
        relax_type=getattr(RelaxType, _RELAX_TYPES[mode]),
    )
    builder.pop('base_init_relax', None)
    # assigning base_relax ran aiida-core's resources validator, which fills in the computer's default MPI processes
    # per machine in place; the launch does the same: keep the resources as given
    builder.base_relax.pw.metadata.options.resources = copy.deepcopy(options['resources'])
    _unset(builder.base_relax, inputs, options)
    return builder, used


def pw_parameters(protocol: dict, atoms, family_label: str, overrides: dict | None = None) -> tuple[dict, list[int]]:
    """The pw.x parameters and k-point mesh :func:`pw_base_builder` gives one structure, without AiiDA processes.

    For runs outside AiiDA (benchmarks, comparisons with ASE): the plugin protocol's parameters, the cut-offs (the
    default family's table when no profile is loaded), ``conv_thr`` per atom as the plugin computes it, the
    overrides, the unset keys removed. ``tests/workflows/test_qe_input_snapshots.py`` checks it against the builder.
    """
    inputs, mesh = pw_overrides(protocol, atoms, family_label, overrides)
    plugin = qe_plugin_inputs(protocol)
    species = sorted(set(atoms.get_chemical_symbols()))
    parameters = deep_merge(plugin['pw']['parameters'], {'SYSTEM': qe_cutoffs(protocol, species, family_label,
                                                                                 always=True)})  # fmt: skip
    meta = plugin['meta_parameters']
    parameters['CONTROL']['etot_conv_thr'] = len(atoms) * meta['etot_conv_thr_per_atom']
    parameters['ELECTRONS']['conv_thr'] = len(atoms) * meta['conv_thr_per_atom']
    parameters = deep_merge(parameters, inputs['pw']['parameters'])
    given = inputs['pw']['parameters']
    for path in qe_unset_keys():
        parts = path.split('.')
        if parts[:2] == ['pw', 'parameters'] and parts[3] not in given.get(parts[2], {}):
            parameters.get(parts[2], {}).pop(parts[3], None)
    return parameters, mesh
