"""Cases of the VASP input snapshots: what the VASP builders make for the protocols, structures and inputs.

Each case builds one aiida-vasp ``VaspWorkChain`` (``vasp.v2.vasp``: a reference single point or an isolated atom,
through the VASP engine of the ReferenceWorkChain) or one ``VaspRelaxWorkChain`` (``vasp.v2.relax``: a reference
relaxation of the ValidationWorkChain, every mode) and turns the builder into plain JSON with
:func:`tests.workflows.qe_input_cases.effective_inputs` (every input the process receives, the spec's defaults filled
in where the builder leaves a port empty: INCAR, ``kpoints_spacing`` or mesh, potential family and mapping,
``settings`` with the parser settings, ``metadata.options``, ``max_iterations``, ``clean_workdir``,
``relax_settings``). Where the builder gives ``kpoints_spacing`` the case also holds the mesh aiida-vasp makes of it
(``KpointsData.set_kpoints_mesh_from_density(kpoints_spacing * 2π)`` on the structure, as ``VaspWorkChain`` does).

``tests/workflows/test_vasp_input_snapshots.py`` compares these with ``tests/fixtures/vasp_input_snapshots.json``;
``GAPRSS_WRITE_VASP_SNAPSHOTS=1`` writes that file instead (regenerate it knowingly: it pins every number).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

from aiida import orm
from aiida.common import AttributeDict

from tests.fake_vasp import FAMILY
from tests.workflows.qe_input_cases import VALIDATION_PRESETS, effective_inputs, structures

#: The VASP protocols of reference_vasp.yaml (None: the file's default).
VASP_PROTOCOLS = (None, 'paper')
#: POTCAR of each element of the fake family.
FULL_MAPPING = {'Si': 'Si', 'C': 'C', 'B': 'B', 'Ti': 'Ti'}


def _nodes(inputs: dict) -> dict:
    nodes = {}
    for key, value in inputs.items():
        if isinstance(value, orm.Data):
            nodes[key] = value
        elif isinstance(value, dict):
            nodes[key] = orm.Dict(value)
        elif isinstance(value, bool):
            nodes[key] = orm.Bool(value)
        elif isinstance(value, int):
            nodes[key] = orm.Int(value)
        elif isinstance(value, float):
            nodes[key] = orm.Float(value)
        else:
            nodes[key] = orm.Str(value)
    return nodes


def vasp_namespace(code, *, protocol=None, mapping=None, **inputs) -> AttributeDict:
    """The ``vasp`` inputs: ``code``, the fake family, ``mapping`` (default: every element), then ``inputs``."""
    namespace = {
        'code': code,
        'potential_family': orm.Str(FAMILY),
        'potential_mapping': orm.Dict(FULL_MAPPING if mapping is None else mapping),
    }
    if protocol:
        namespace['protocol'] = orm.Str(protocol)
    namespace.update(_nodes(inputs))
    return AttributeDict(namespace)


def reference_cases() -> list[tuple[str, dict]]:
    """(name, kwargs of :func:`build_reference`) of the single-point and isolated-atom cases."""
    cases = []
    for protocol in VASP_PROTOCOLS:
        for name in structures():
            cases.append((f'scf/{protocol}/{name}', {'protocol': protocol, 'structure': name}))
        for element in FULL_MAPPING:
            cases.append((f'isolated/{protocol}/{element}', {'protocol': protocol, 'isolated': element}))
    everything = {
        'parameters': {'ENCUT': 520.0, 'algo': 'Fast', 'NELM': 60, 'kspacing': 0.3, 'lreal': 'Auto'},
        'options': {'resources': {'num_machines': 1, 'tot_num_mpiprocs': 2}, 'max_wallclock_seconds': 3600},
        'max_iterations': 4,
        'on_unhandled_failure': 'abort',
    }
    for name in ('si_random6', 'sic'):
        cases.append((f'scf-inputs/paper/{name}', {'protocol': 'paper', 'structure': name, **everything}))
    cases.append(('scf-options-withmpi/paper/si_diamond', {'structure': 'si_diamond', 'options': {'withmpi': False}}))
    cases.append(
        (
            'isolated-inputs/paper/Si',
            {'isolated': 'Si', 'parameters': {'ISPIN': 1, 'SIGMA': 0.01, 'kspacing': 0.5}, 'max_iterations': 1},
        )
    )
    cases.append(('scf-mapping-own/paper/si_diamond', {'structure': 'si_diamond', 'mapping': {'Si': 'Si'}}))
    return cases


def build_reference(code, *, protocol=None, structure=None, isolated=None, mapping=None, **inputs):
    """The VASP engine's builder for one structure (``tag`` s000000) or isolated atom."""
    from aiida_gaprss.workflows.reference.engines import VaspEngine
    from aiida_gaprss.workflows.reference.isolated import centred_atom

    vasp = vasp_namespace(code, protocol=protocol, mapping=mapping, **inputs)
    workchain = SimpleNamespace(inputs=AttributeDict({'vasp': vasp}))
    atoms = centred_atom(isolated, 12.0) if isolated else structures()[structure]
    _, builder = VaspEngine.build(workchain, 's000000', orm.StructureData(ase=atoms), isolated=isolated)
    return builder


def relax_cases() -> list[tuple[str, dict]]:
    """(name, kwargs of :func:`build_relax`) of the validation's reference relaxations (every mode)."""
    cases = []
    for protocol in VASP_PROTOCOLS:
        for preset in VALIDATION_PRESETS:
            common = {'protocol': protocol, 'preset': preset}
            for name in ('si_diamond', 'si_ortho', 'sic', 'ti_hcp'):
                cases.append((f'vc-relax/{protocol}/{preset}/{name}', {**common, 'structure': name}))
            for mode in ('relax', 'shape', 'none'):
                kwargs = {**common, 'structure': 'si_diamond', 'mode': mode, 'mesh': [5, 5, 5]}
                cases.append((f'eos-{mode}/{protocol}/{preset}/si_diamond', kwargs))
    everything = {
        'parameters': {'ENCUT': 450.0, 'ediff': 1e-7, 'kspacing': 0.2, 'NSW': 7, 'isif': 3},
        'options': {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}, 'withmpi': True},
        'max_iterations': 3,
    }
    cases.append(('vc-relax-inputs/paper/moderate/sic', {'preset': 'moderate', 'structure': 'sic', **everything}))
    kwargs = {'preset': 'fast', 'structure': 'sic', 'mode': 'shape', 'mesh': [4, 4, 4], **everything}
    cases.append(('eos-shape-inputs/paper/fast/sic', kwargs))
    cases.append(
        ('vc-relax-mapping-own/paper/fast/si_diamond', {'preset': 'fast', 'structure': 'si_diamond',
                                                         'mapping': {'Si': 'Si'}})
    )  # fmt: skip
    return cases


def build_relax(code, *, protocol=None, preset='moderate', structure='si_diamond', mode='vc-relax', mesh=None,
                mapping=None, **inputs):  # fmt: skip
    """The validation's VaspRelaxWorkChain builder for one phase (the relax / E(V) settings of ``preset``)."""
    from aiida_gaprss.workflows.validation import vasp_relax_builder
    from aiida_gaprss.workflows.validation.presets import job_parameters, validation_protocol

    parameters = job_parameters('Si', ['diamond'], validation_protocol('Si', preset)['parameters'])
    settings = parameters['relax'] if mode == 'vc-relax' else {**parameters['relax'], **parameters['eos']}
    vasp = vasp_namespace(code, protocol=protocol, mapping=mapping, **inputs)
    return vasp_relax_builder(vasp, structures()[structure], mode, settings, mesh)


def spacing_mesh(structure: dict, spacing: float) -> list[int]:
    """The mesh ``VaspWorkChain`` makes of ``kpoints_spacing`` for a structure (its plain form)."""
    kpoints = orm.KpointsData()
    kpoints.set_cell(structure['cell'], pbc=structure['pbc'])
    kpoints.set_kpoints_mesh_from_density(spacing * 2 * math.pi)
    return [int(n) for n in kpoints.get_kpoints_mesh()[0]]


def snapshot(code) -> dict:
    """Every case's effective inputs (and the mesh of its ``kpoints_spacing``)."""
    result = {}
    for name, kwargs in reference_cases():
        inputs = effective_inputs(build_reference(code, **kwargs))
        if 'kpoints_spacing' in inputs:
            inputs['kpoints_spacing_mesh'] = spacing_mesh(inputs['structure'], inputs['kpoints_spacing'])
        result[name] = inputs
    for name, kwargs in relax_cases():
        inputs = effective_inputs(build_relax(code, **kwargs))
        if 'kpoints_spacing' in inputs['vasp']:
            inputs['kpoints_spacing_mesh'] = spacing_mesh(inputs['structure'], inputs['vasp']['kpoints_spacing'])
        result[name] = inputs
    return result
