"""Cases of the QE input snapshots: what the QE builders make for a set of protocols, structures and inputs.

Each case builds one ``PwBaseWorkChain`` (a reference single point or an isolated atom, through the QE engine of the
ReferenceWorkChain) or one ``PwRelaxWorkChain`` (a reference relaxation of the ValidationWorkChain) and turns the
builder into plain JSON: every input the process receives, the spec's defaults filled in where the builder leaves a
port empty, nodes as their content (Dict as its dict, KpointsData as mesh and offset, UpfData as file name and md5,
a code as its label, a structure as its cell, sites and kinds).

``tests/workflows/test_qe_input_snapshots.py`` compares these with ``tests/fixtures/qe_input_snapshots.json``;
``GAPRSS_WRITE_QE_SNAPSHOTS=1`` writes that file instead (regenerate it knowingly: it pins every number).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from aiida import orm
from aiida.common import AttributeDict
from aiida.engine.processes.builder import ProcessBuilderNamespace
from aiida_pseudo.data.pseudo import PseudoPotentialData
from ase import Atoms
from ase.build import bulk
from plumpy.ports import PortNamespace

#: The ReferenceWorkChain's QE protocols (None: the file's default).
QE_PROTOCOLS = (None, 'fast', 'accurate', 'converged')
#: The validation presets whose relax / E(V) settings the relaxations take.
VALIDATION_PRESETS = ('fast', 'moderate', 'precise')


def structures() -> dict:
    """The structures of the cases: cubic, random, orthorhombic, two elements, every family element, a dimer."""
    rng = np.random.default_rng(7)
    cell = np.diag([4.9, 5.6, 6.3]) + rng.uniform(-0.8, 0.8, (3, 3))
    random6 = Atoms('Si6', cell=cell, scaled_positions=rng.uniform(0, 1, (6, 3)), pbc=True)
    ortho = Atoms(
        'Si4',
        cell=[3.9, 5.1, 6.7],
        scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.1], [0.25, 0.1, 0.5], [0.7, 0.6, 0.65]],
        pbc=True,
    )
    dimer = Atoms('Si2', positions=[[6.0, 6.0, 6.0], [6.0, 6.0, 8.3]], cell=[12.0] * 3, pbc=True)
    boron_carbon = Atoms('B2C', cell=[4.1, 4.3, 5.2], scaled_positions=[[0, 0, 0], [0.5, 0.5, 0], [0.3, 0.2, 0.5]])
    boron_carbon.pbc = True
    return {
        'si_diamond': bulk('Si', 'diamond', a=5.43),
        'si_random6': random6,
        'si_ortho': ortho,
        'sic': bulk('SiC', 'zincblende', a=4.36),
        'c_diamond': bulk('C', 'diamond', a=3.57),
        'ti_hcp': bulk('Ti', 'hcp', a=2.95, c=4.68),
        'b2c': boron_carbon,
        'si_dimer': dimer,
    }


def _plain(value):
    """JSON-able content of an input value (nodes by their content)."""
    if isinstance(value, orm.Dict):
        return value.get_dict()
    if isinstance(value, orm.KpointsData):
        try:
            mesh, offset = value.get_kpoints_mesh()
        except AttributeError:
            return {'kpoints': value.get_kpoints().tolist()}
        return {'mesh': [int(n) for n in mesh], 'offset': [float(x) for x in offset]}
    if isinstance(value, PseudoPotentialData):
        return {'element': value.element, 'filename': value.filename, 'md5': value.md5}
    if isinstance(value, orm.AbstractCode):
        return {'code': value.label}
    if isinstance(value, orm.StructureData):
        return {
            'cell': [list(map(float, row)) for row in value.cell],
            'pbc': list(value.pbc),
            'sites': [[site.kind_name, list(map(float, site.position))] for site in value.sites],
            'kinds': [[kind.name, list(kind.symbols), list(kind.weights), kind.mass] for kind in value.kinds],
        }
    if isinstance(value, orm.BaseType):
        return value.value
    if isinstance(value, orm.Data):
        raise TypeError(f'no plain form for {type(value).__name__}')
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _given(value) -> bool:
    if isinstance(value, ProcessBuilderNamespace):
        return any(_given(item) for item in value.values())
    return value is not None


def effective_inputs(builder, namespace: PortNamespace | None = None) -> dict:
    """Every input ``builder`` gives its process, the spec's defaults where the builder leaves a port empty."""
    namespace = builder._port_namespace if namespace is None else namespace
    result = {}
    for name, port in namespace.items():
        given = name in builder and _given(builder[name])
        if isinstance(port, PortNamespace):
            if given or port.populate_defaults:
                sub = effective_inputs(builder[name], port)
                if sub:
                    result[name] = sub
        elif given:
            result[name] = _plain(builder[name])
        elif port.has_default():
            default = port.default() if callable(port.default) else port.default
            result[name] = _plain(default)
    for name in builder:  # dynamic namespaces (pseudos)
        if name not in namespace and _given(builder[name]):
            result[name] = _plain(builder[name])
    return result


def _namespace(**inputs) -> AttributeDict:
    return AttributeDict({key: value for key, value in inputs.items() if value is not None})


def reference_cases(codes: dict) -> list[tuple[str, dict]]:
    """(name, kwargs of :func:`build_reference`) of the single-point and isolated-atom cases."""
    cases = []
    for protocol in QE_PROTOCOLS:
        for name in structures():
            cases.append((f'scf/{protocol}/{name}', {'protocol': protocol, 'structure': name, 'code': 'plain'}))
        for element in ('Si', 'C', 'Ti', 'B'):
            cases.append((f'isolated/{protocol}/{element}', {'protocol': protocol, 'isolated': element}))
    everything = {
        'parameters': {
            'system': {'ecutwfc': 50.0},
            'ELECTRONS': {'mixing_beta': 0.2, 'conv_thr': 1e-8},
            'control': {'verbosity': 'high'},
        },
        'kpoints_spacing': 0.5,
        'options': {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}, 'max_wallclock_seconds': 3600},
        'settings': {'CMDLINE': ['-nk', '2']},
        'parallelization': {'npool': 2},
        'max_iterations': 4,
        'on_unhandled_failure': 'abort',
        'clean_workdir': False,
    }
    for protocol in ('fast', 'converged'):
        for name in ('si_random6', 'sic'):
            cases.append((f'scf-inputs/{protocol}/{name}', {'protocol': protocol, 'structure': name, **everything}))
    cases.append(
        (
            'scf-kpoints-in-parameters/fast/si_ortho',
            {'protocol': 'fast', 'structure': 'si_ortho', 'parameters': {'KPOINTS_SPACING': 0.2}},
        )
    )
    cases.append(
        (
            'scf-structure-overrides/accurate/si_diamond',
            {
                'protocol': 'accurate',
                'structure': 'si_diamond',
                'structure_overrides': {'0': {'electrons': {'mixing_beta': 0.1}, 'SYSTEM': {'degauss': 0.03}}},
            },
        )
    )
    cases.append(('scf-family/fast/sic', {'protocol': 'fast', 'structure': 'sic', 'pseudo_family': 'default'}))
    for mpi in codes:
        cases.append((f'scf-code-{mpi}/fast/si_diamond', {'protocol': 'fast', 'structure': 'si_diamond', 'code': mpi}))
    return cases


def build_reference(codes: dict, *, protocol=None, structure=None, isolated=None, code='plain', **inputs):
    """The QE engine's builder for one structure (``tag`` s000000) or isolated atom."""
    from aiida_gaprss.pseudos import DEFAULT_FAMILY_LABEL
    from aiida_gaprss.workflows.reference.engines import QeEngine
    from aiida_gaprss.workflows.reference.isolated import centred_atom

    if inputs.get('pseudo_family') == 'default':
        inputs['pseudo_family'] = DEFAULT_FAMILY_LABEL
    nodes = {}
    for key, value in inputs.items():
        if isinstance(value, dict):
            nodes[key] = orm.Dict(value)
        elif isinstance(value, bool):
            nodes[key] = orm.Bool(value)
        elif isinstance(value, int):
            nodes[key] = orm.Int(value)
        elif isinstance(value, float):
            nodes[key] = orm.Float(value)
        else:
            nodes[key] = orm.Str(value)
    qe = _namespace(code=codes[code], protocol=orm.Str(protocol) if protocol else None, **nodes)
    workchain = SimpleNamespace(inputs=AttributeDict({'qe': qe}))
    atoms = centred_atom(isolated, 12.0) if isolated else structures()[structure]
    _, builder = QeEngine.build(workchain, 's000000', orm.StructureData(ase=atoms), isolated=isolated)
    return builder


def relax_cases() -> list[tuple[str, dict]]:
    """(name, kwargs of :func:`build_relax`) of the validation's reference relaxations."""
    cases = []
    for protocol in QE_PROTOCOLS:
        for preset in VALIDATION_PRESETS:
            common = {'protocol': protocol, 'preset': preset}
            for name in ('si_diamond', 'sic', 'si_ortho', 'ti_hcp', 'c_diamond'):
                cases.append(
                    (f'vc-relax/{protocol}/{preset}/{name}', {**common, 'structure': name, 'mode': 'vc-relax'})
                )
            for mode in ('relax', 'shape'):
                kwargs = {**common, 'structure': 'sic', 'mode': mode, 'mesh': [5, 5, 5]}
                cases.append((f'eos-{mode}/{protocol}/{preset}/sic', kwargs))
    everything = {
        'kpoints_spacing': 0.35,
        'parameters': {'SYSTEM': {'ecutrho': 200.0}, 'electrons': {'mixing_beta': 0.25}},
        'options': {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 2}, 'withmpi': True},
        'settings': {'CMDLINE': ['-nk', '2']},
        'parallelization': {'npool': 2},
    }
    kwargs = {'protocol': 'fast', 'preset': 'moderate', 'structure': 'si_ortho', 'mode': 'vc-relax', **everything}
    cases.append(('vc-relax-inputs/fast/moderate/si_ortho', kwargs))
    kwargs = {'protocol': 'accurate', 'preset': 'fast', 'structure': 'sic', 'mode': 'vc-relax',
              'parameters': {'kpoints_spacing': 0.5}}  # fmt: skip
    cases.append(('vc-relax-kpoints-in-parameters/accurate/fast/sic', kwargs))
    return cases


def build_relax(codes: dict, *, protocol=None, preset='moderate', structure='si_diamond', mode='vc-relax', mesh=None,
                **inputs):  # fmt: skip
    """The validation's PwRelaxWorkChain builder for one phase, the k-point mesh it returns and the spacing used."""
    from aiida_gaprss.workflows.validation import qe_kpoints_spacing, qe_relax_builder
    from aiida_gaprss.workflows.validation.presets import job_parameters, validation_protocol

    parameters = job_parameters('Si', ['diamond'], validation_protocol('Si', preset)['parameters'])
    settings = parameters['relax'] if mode == 'vc-relax' else {**parameters['relax'], **parameters['eos']}
    nodes = {key: orm.Float(value) if isinstance(value, float) else orm.Dict(value) for key, value in inputs.items()}
    qe = _namespace(code=codes['plain'], protocol=orm.Str(protocol) if protocol else None, **nodes)
    atoms = structures()[structure]
    builder, used = qe_relax_builder(qe, atoms, mode, settings, mesh)
    spacing = qe_kpoints_spacing(qe, sorted(set(atoms.get_chemical_symbols())))
    return builder, used, spacing


def snapshot(codes: dict) -> dict:
    """Every case's effective inputs (and, for relaxations, the mesh returned and the k-point spacing)."""
    result = {}
    for name, kwargs in reference_cases(codes):
        result[name] = effective_inputs(build_reference(codes, **kwargs))
    for name, kwargs in relax_cases():
        builder, used, spacing = build_relax(codes, **kwargs)
        result[name] = {'inputs': effective_inputs(builder), 'mesh': [int(n) for n in used], 'spacing': spacing}
    return result
