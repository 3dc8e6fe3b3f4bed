"""VASP builders from aiida-vasp's protocols: ``VaspWorkChain`` single points, ``VaspRelaxWorkChain`` relaxations.

``VaspWorkChain.get_builder_from_protocol`` / ``VaspRelaxWorkChain.get_builder_from_protocol`` (``vasp.v2``) make
the inputs from aiida-vasp's protocol ``plugin_protocol``; the overrides carry what ``reference_vasp.yaml`` says
differs, ENCUT and ``kpoints_spacing`` of the structure's elements and the user's INCAR overrides.

Left hand-built, because the plugin would change the inputs:

* ``metadata.options``: the protocol's ``options`` updated key by key with the user's, then replacing the plugin's
  (``$!replace``): the plugin merges options recursively into its own (12 h wall-clock, ``withmpi`` true), which would
  add keys to a ``resources`` the user gives whole;
* ``potential_family`` / ``potential_mapping``: the user's nodes as given (the plugin keeps only the structure's
  kinds of the mapping, a new node per structure);
* the validation's relaxations: the relaxation's INCAR tags (``VASP_RELAX_TAGS``) removed, as aiida-vasp's own
  ``VaspRelaxInputGenerator`` does, the plugin's empty ``static_calc_*`` inputs left out, an explicit mesh set after
  the plugin (a mesh without a cell, as before).

aiida-vasp's input generators (``aiida_vasp.protocols.generator``) wrap the same ``get_builder_from_protocol`` with a
*preset* layer (``presets/default.yaml``: a 30 min wall-clock and ``tot_num_mpiprocs`` 1 on every job, a code
loaded by label, INCAR changes for a code named ``mock-vasp@localhost``: ENCUT 250, PREC normal); the builders call
``get_builder_from_protocol`` directly so that no preset changes the inputs.
"""

from __future__ import annotations

import copy
import math

from aiida import orm
from aiida.plugins import WorkflowFactory

from aiida_gaprss.common.merge import deep_merge
from aiida_gaprss.workflows.reference.protocols import settings_for_species

__all__ = (
    'VASP_RELAX_TAGS',
    'vasp_incar',
    'vasp_options',
    'vasp_overrides',
    'vasp_relax_workchain_builder',
    'vasp_workchain_builder',
)

#: INCAR tags of a relaxation that the validation sets itself (from its relax settings and the mode).
VASP_RELAX_TAGS = ('ibrion', 'nsw', 'isif', 'ediffg', 'pstress')


def vasp_overrides(protocol: dict, atoms, overrides: dict | None = None) -> dict:
    """Overrides of the plugin protocol ``protocol['plugin_protocol']`` for one structure.

    Parameters
    ----------
    protocol : dict
        A protocol of ``reference_vasp.yaml`` (:func:`~aiida_gaprss.workflows.reference.protocols.load_protocol`).
    atoms : ase.Atoms
        The structure.
    overrides : dict, optional
        INCAR overrides (any case) and ``kspacing`` (1/Å with 2π, as VASP's KSPACING).

    Returns
    -------
    dict
        The protocol's ``overrides`` with the structure's ENCUT, the INCAR overrides and ``kpoints_spacing``
        (aiida-vasp's convention: KSPACING / 2π).
    """
    species = sorted(set(atoms.get_chemical_symbols()))
    settings = settings_for_species(protocol, species, 'vasp')
    incar = {key.lower(): value for key, value in (overrides or {}).items()}
    kspacing = incar.pop('kspacing', settings['kspacing'])
    given = {'parameters': {'incar': {'encut': settings['ENCUT'], **incar}}}
    return deep_merge(protocol.get('overrides', {}), {**given, 'kpoints_spacing': kspacing / (2 * math.pi)})


def vasp_options(protocol: dict, options: dict | None = None) -> dict:
    """``metadata.options`` of every VASP job: the protocol's ``options`` updated key by key with ``options``."""
    result = copy.deepcopy(protocol.get('options', {}))
    result.update(options or {})
    return result


def _plugin_overrides(protocol: dict, atoms, family: orm.Str, mapping: orm.Dict, overrides, options) -> dict:
    inputs = vasp_overrides(protocol, atoms, overrides)
    inputs.update(potential_family=family.value, potential_mapping=mapping.get_dict())
    inputs['calc'] = {'metadata': {'options': {'$!replace': vasp_options(protocol, options)}}}
    return inputs


def vasp_workchain_builder(code, structure: orm.StructureData, protocol: dict, family: orm.Str, mapping: orm.Dict,
                           overrides: dict | None = None, *, options: dict | None = None,
                           max_iterations=None):  # fmt: skip
    """``VaspWorkChain.get_builder_from_protocol`` for one single point of a reference protocol.

    ``family`` and ``mapping`` are the user's nodes (set as given); ``max_iterations`` (the user's ``Int``, set as
    given) replaces the protocol's.

    Returns
    -------
    ProcessBuilder
    """
    VaspWorkChain = WorkflowFactory('vasp.v2.vasp')
    inputs = _plugin_overrides(protocol, structure.get_ase(), family, mapping, overrides, options)
    builder = VaspWorkChain.get_builder_from_protocol(code, structure, protocol['plugin_protocol'], overrides=inputs)
    builder.potential_family = family
    builder.potential_mapping = mapping
    if max_iterations is not None:
        builder.max_iterations = max_iterations
    return builder


def vasp_relax_workchain_builder(code, structure: orm.StructureData, protocol: dict, family: orm.Str,
                                 mapping: orm.Dict, overrides: dict | None, relax_settings: dict, *,
                                 options: dict | None = None, max_iterations=None, mesh=None):  # fmt: skip
    """``VaspRelaxWorkChain.get_builder_from_protocol`` for one relaxation (or, ``perform`` false, single point).

    ``relax_settings`` (aiida-vasp's ``RelaxOptions``) are merged onto the plugin's relax protocol; the INCAR tags of a
    relaxation (:data:`VASP_RELAX_TAGS`) are removed, the relax settings set them. ``mesh``: an explicit k-point mesh
    instead of the protocol's spacing.

    Returns
    -------
    ProcessBuilder
    """
    VaspRelaxWorkChain = WorkflowFactory('vasp.v2.relax')
    inputs = _plugin_overrides(protocol, structure.get_ase(), family, mapping, overrides, options)
    for key in VASP_RELAX_TAGS:
        inputs['parameters']['incar'].pop(key, None)
    inputs['clean_workdir'] = True
    builder = VaspRelaxWorkChain.get_builder_from_protocol(
        code,
        structure,
        protocol['plugin_protocol'],
        overrides={'vasp': inputs, 'relax_settings': relax_settings},
    )
    for key in ('static_calc_settings', 'static_calc_options', 'static_calc_parameters'):
        if not builder[key].get_dict():  # the plugin's empty defaults: no final static calculation settings
            builder.pop(key)
    incar = builder.vasp.parameters.get_dict()
    if any(key in incar['incar'] for key in VASP_RELAX_TAGS):  # a plugin protocol setting them: the relax's own
        incar['incar'] = {key: value for key, value in incar['incar'].items() if key not in VASP_RELAX_TAGS}
        builder.vasp.parameters = orm.Dict(incar)
    builder.vasp.potential_family = family
    builder.vasp.potential_mapping = mapping
    if max_iterations is not None:
        builder.vasp.max_iterations = max_iterations
    if mesh is not None:
        kpoints = orm.KpointsData()
        kpoints.set_kpoints_mesh([int(n) for n in mesh])
        builder.vasp.pop('kpoints_spacing', None)
        builder.vasp.kpoints = kpoints
    return builder


def vasp_incar(protocol: dict, atoms, overrides: dict | None = None) -> tuple[dict, float]:
    """INCAR tags and aiida-vasp ``kpoints_spacing`` (KSPACING / 2π) :func:`vasp_workchain_builder` gives one
    structure, without AiiDA processes: the plugin protocol's INCAR with the overrides merged as the plugin merges
    them (EDIFF per atom if the protocol gives none). ``tests/workflows/test_vasp_input_snapshots.py`` checks it
    against the builder."""
    VaspWorkChain = WorkflowFactory('vasp.v2.vasp')
    inputs = VaspWorkChain.get_protocol_inputs(protocol['plugin_protocol'], vasp_overrides(protocol, atoms, overrides))
    incar = inputs['parameters']['incar']
    if 'ediff' not in incar:
        incar['ediff'] = len(atoms) * float(inputs['meta_parameters']['ediff_per_atom'])
    return incar, inputs['kpoints_spacing']
