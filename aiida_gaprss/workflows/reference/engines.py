"""Engines of the reference WorkChain: how to split, build a child process, read its result or its failure.

* ``ase``: :class:`~aiida_gaprss.calculations.ase_batch.AseBatch` jobs on batches of ``ase.batch_size`` structures;
* ``qe``: one aiida-quantumespresso ``PwBaseWorkChain`` (with its restart handlers) per structure;
* ``vasp``: one aiida-vasp ``VaspWorkChain`` (``vasp.v2.vasp``) per structure.

Every engine returns, for a finished child, the result nodes that
:func:`~aiida_gaprss.workflows.reference.functions.gather_labels` reads, and one exclusion record per structure it
could not label: ``{'index', 'pk', 'uuid', 'exit_status', 'message'}`` (plus ``calculation_pk`` of the last
CalcJob for a workflow child).
"""

from __future__ import annotations

import logging

from aiida import orm
from aiida.plugins import WorkflowFactory

from aiida_gaprss.calculations.ase_batch import AseBatch
from aiida_gaprss.common.merge import deep_merge
from aiida_gaprss.workflows.python_job import AseBatchBaseWorkChain
from aiida_gaprss.workflows.reference.functions import (
    INDEX_KEY,
    split_batches,
    split_structures,
)
from aiida_gaprss.workflows.reference.inputs import UNHANDLED_FAILURE_ACTIONS
from aiida_gaprss.workflows.reference.protocols import load_protocol, settings_for_species
from aiida_gaprss.workflows.reference.qe_builders import (
    MOLECULE_VOLUME_PER_ATOM,
    is_molecule_in_a_box,
    pw_base_builder,
    pw_options,
    pw_parameters,
    upper_sections,
)
from aiida_gaprss.workflows.reference.vasp_builders import vasp_incar, vasp_workchain_builder

__all__ = (
    'ENGINES',
    'MOLECULE_VOLUME_PER_ATOM',
    'AseEngine',
    'QeEngine',
    'VASP_SETTINGS',
    'VaspEngine',
    'is_molecule_in_a_box',
    'pw_options',
    'upper_sections',
)

LOGGER = logging.getLogger(__name__)


def _record(index: int, node: orm.ProcessNode, message: str | None = None, exit_status: int | None = None) -> dict:
    record = {
        'index': int(index),
        'pk': node.pk,
        'uuid': node.uuid,
        'process': node.process_label,
        'exit_status': node.exit_status if exit_status is None else exit_status,
        'message': message if message is not None else (node.exit_message or f'process {node.process_state.value}'),
    }
    calculations = [child for child in node.called_descendants if isinstance(child, orm.CalcJobNode)]
    if calculations:
        last = max(calculations, key=lambda child: child.ctime)
        record['calculation_pk'] = last.pk
        record['calculation_exit_status'] = last.exit_status
        record['calculation_message'] = last.exit_message or ''
    return record


class AseEngine:
    """Batches of structures in :class:`AseBatch` jobs, each run again when stopped (``AseBatchBaseWorkChain``)."""

    name = 'ase'

    @staticmethod
    def validate(inputs, atoms_list) -> str | None:
        if 'ase' not in inputs or 'code' not in inputs['ase']:
            return 'field `ase.code`: engine `ase` needs the `ase` namespace with a Python code'
        batch_size = inputs['ase'].get('batch_size')
        if batch_size is not None and batch_size.value < 1:
            return f'field `ase.batch_size`: must be >= 1, got {batch_size.value}'
        return None

    @staticmethod
    def split(workchain) -> dict:
        structures = workchain.inputs.structures
        size = workchain.inputs.ase.get('batch_size', None)
        size = orm.Int(len(structures)) if size is None else size
        return split_batches(structures, size)

    @staticmethod
    def build(workchain, tag, node, isolated: str | None = None):
        inputs = workchain.exposed_inputs(AseBatch, namespace='ase')
        inputs['structures'] = node
        inputs['metadata'] = {**inputs.get('metadata', {}), 'call_link_label': tag}
        return AseBatchBaseWorkChain, AseBatchBaseWorkChain.inputs_from_job(inputs)

    @staticmethod
    def collect(workchain, tag, child) -> tuple[dict, list[dict]]:
        batch = child.inputs.job.structures if 'job' in child.inputs else child.inputs.structures  # or a bare AseBatch
        positions = [int(atoms.info[INDEX_KEY]) for atoms in batch.iter_atoms()]
        report = child.outputs.report.get_dict() if 'report' in child.outputs else None
        records = []
        if report is not None:
            for failure in report['failures']:
                records.append(_record(positions[failure['index']], child, failure['error'], exit_status=0))
        results = {}
        if child.is_finished_ok:
            results[f'{tag}_structures'] = child.outputs.structures
        elif report is None:
            records = [_record(position, child) for position in positions]
        return results, records


class _PerStructureEngine:
    """Shared shape of the DFT engines: one workflow child per structure, settings from a YAML protocol.

    Subclasses set ``name`` (also their input namespace and protocol kind), ``code_help``, ``pbc_help``,
    ``result_outputs`` (``{output label of the child: suffix of the result key}``, the first one required) and may
    extend the validation hooks.
    """

    name = ''
    code_help = ''
    pbc_help = ''
    result_outputs: dict = {}

    @classmethod
    def validate(cls, inputs, atoms_list) -> str | None:
        """Check the engine's namespace against the structures; return the first problem, naming its field."""
        if cls.name not in inputs or 'code' not in inputs[cls.name]:
            return f'field `{cls.name}.code`: engine `{cls.name}` needs the `{cls.name}` namespace with {cls.code_help}'
        namespace = inputs[cls.name]
        error = cls._check_namespace(namespace)
        if error:
            return error
        try:
            protocol = load_protocol(cls.name, namespace['protocol'].value if 'protocol' in namespace else None)
        except ValueError as exception:
            return str(exception)
        species = sorted({symbol for atoms in atoms_list for symbol in atoms.get_chemical_symbols()})
        error = cls._check_species(namespace, protocol, species)
        if error:
            return error
        try:
            settings_for_species(protocol, species, cls.name)
        except ValueError as exception:
            return str(exception)
        error = cls._check_parameters(namespace)
        if error:
            return error
        for index, atoms in enumerate(atoms_list):
            if not all(atoms.pbc):
                return f'structure {index}: field `pbc`: {cls.pbc_help}'
        return cls._check_structures(namespace, atoms_list)

    @staticmethod
    def _check_namespace(namespace) -> str | None:
        return None

    @staticmethod
    def _check_species(namespace, protocol: dict, species: list[str]) -> str | None:
        return None

    @staticmethod
    def _check_parameters(namespace) -> str | None:
        return None

    @staticmethod
    def _check_structures(namespace, atoms_list) -> str | None:
        return None

    @staticmethod
    def split(workchain) -> dict:
        return split_structures(workchain.inputs.structures)

    @classmethod
    def collect(cls, workchain, tag, child) -> tuple[dict, list[dict]]:
        """The child's result nodes (``{tag}_{suffix}``) if it finished with its required output, else an exclusion."""
        index = int(tag[1:])
        required = next(iter(cls.result_outputs))
        if child.is_finished_ok and required in child.outputs:
            return {
                f'{tag}_{suffix}': child.outputs[label]
                for label, suffix in cls.result_outputs.items()
                if label in child.outputs
            }, []
        return {}, [_record(index, child)]


class QeEngine(_PerStructureEngine):
    """One ``PwBaseWorkChain`` per structure, parameters from ``reference_qe.yaml``."""

    name = 'qe'
    code_help = 'a pw.x code'
    pbc_help = 'pw.x needs a fully periodic cell (put molecules in a box)'
    result_outputs = {'output_trajectory': 'trajectory', 'output_parameters': 'parameters'}

    @staticmethod
    def _check_species(namespace, protocol: dict, species: list[str]) -> str | None:
        from aiida_gaprss.pseudos import check_family_elements

        family = namespace['pseudo_family'].value if 'pseudo_family' in namespace else protocol['pseudo_family']
        return check_family_elements(family, species) or QeEngine._check_cutoffs(namespace, protocol, family, species)

    @staticmethod
    def _check_cutoffs(namespace, protocol: dict, family: str, species: list[str]) -> str | None:
        """The cut-offs must come from somewhere: the parameters, the protocol or the family's recommendation."""
        from aiida_gaprss.workflows.reference.protocols import qe_cutoffs

        overrides = upper_sections(namespace['parameters'].get_dict() if 'parameters' in namespace else {})
        if {'ecutwfc', 'ecutrho'} <= {key.lower() for key in overrides.get('SYSTEM', {})}:
            return None
        try:
            qe_cutoffs(protocol, species, family, always=True)
        except Exception:  # noqa: BLE001 - aiida-pseudo's own errors do not name our field
            return (
                f'field `qe.pseudo_family`: family `{family}` recommends no cut-offs and the protocol lists none for '
                f'{", ".join(species)}: give qe.parameters.SYSTEM.ecutwfc and ecutrho (Ry)'
            )
        return None

    @staticmethod
    def _check_parameters(namespace) -> str | None:
        overrides = upper_sections(namespace['parameters'].get_dict() if 'parameters' in namespace else {})
        control = {key.lower(): value for key, value in overrides.get('CONTROL', {}).items()}
        system = {key.lower(): value for key, value in overrides.get('SYSTEM', {}).items()}
        if control.get('calculation', 'scf') != 'scf':
            return 'field `qe.parameters.CONTROL.calculation`: reference labels are single points (scf)'
        if control.get('tprnfor', True) is not True or control.get('tstress', True) is not True:
            return 'field `qe.parameters.CONTROL`: tprnfor and tstress must stay True (forces and virials are labels)'
        if system.get('occupations', 'smearing') != 'smearing':
            return 'field `qe.parameters.SYSTEM.occupations`: must be `smearing` (random cells are often metallic)'
        return None

    @staticmethod
    def _check_structures(namespace, atoms_list) -> str | None:
        if 'structure_overrides' in namespace:
            for key in namespace['structure_overrides'].get_dict():
                if not key.isdigit() or int(key) >= len(atoms_list):
                    return f'field `qe.structure_overrides`: key {key!r} is not a structure index'
        return None

    @staticmethod
    def parameters(protocol: dict, atoms, overrides: dict | None = None) -> tuple[dict, list[int]]:
        """pw.x parameters and k-point mesh for one structure, as :meth:`build` gives them (for runs outside AiiDA:
        tests and benchmarks; the protocol's family, its cut-offs the default family's table without a profile)."""
        return pw_parameters(protocol, atoms, protocol['pseudo_family'], overrides)

    @classmethod
    def build(cls, workchain, tag, node, isolated: str | None = None):
        """``PwBaseWorkChain.get_builder_from_protocol`` with the protocol's differences and the ``qe`` inputs."""
        PwBaseWorkChain = WorkflowFactory('quantumespresso.pw.base')
        qe = workchain.inputs.qe
        protocol = load_protocol('qe', qe.protocol.value if 'protocol' in qe else None)
        family_label = qe.pseudo_family.value if 'pseudo_family' in qe else protocol['pseudo_family']
        overrides = upper_sections(qe.parameters.get_dict() if 'parameters' in qe else {})
        if 'kpoints_spacing' in qe:
            overrides['KPOINTS_SPACING'] = qe.kpoints_spacing.value
        if isolated:
            spin = {'SYSTEM': {'nspin': 2, 'starting_magnetization': {isolated: 0.5}}, 'KPOINTS_SPACING': 1e3}
            overrides = deep_merge(overrides, spin)
        elif 'structure_overrides' in qe:
            extra = qe.structure_overrides.get_dict().get(str(int(tag[1:])), {})
            overrides = deep_merge(overrides, upper_sections(extra))
        builder = pw_base_builder(
            qe.code,
            node,
            protocol,
            family_label,
            overrides,
            options=qe.options.get_dict() if 'options' in qe else None,
            max_iterations=qe.max_iterations.value if 'max_iterations' in qe else 3,
            clean_workdir=qe.clean_workdir.value if 'clean_workdir' in qe else True,
        )
        for key in ('settings', 'parallelization'):  # the input nodes themselves
            if key in qe:
                builder.pw[key] = qe[key]
        builder.on_unhandled_failure = qe.get('on_unhandled_failure', orm.Str(UNHANDLED_FAILURE_ACTIONS[0]))
        builder.metadata.call_link_label = tag
        return PwBaseWorkChain, builder


#: ``settings`` of every VASP job (single points and the validation's relaxations): forces and stress parsed, and
#: the free energy (TOTEN, the label energy) besides the extrapolated one (``reference_vasp.yaml``'s overrides).
VASP_SETTINGS = load_protocol('vasp')['overrides']['settings']


class VaspEngine(_PerStructureEngine):
    """One aiida-vasp ``VaspWorkChain`` per structure, the paper's settings from ``reference_vasp.yaml``."""

    name = 'vasp'
    code_help = 'a VASP code'
    pbc_help = 'VASP needs a fully periodic cell'
    result_outputs = {'misc': 'misc', 'arrays': 'arrays'}

    @staticmethod
    def _check_namespace(namespace) -> str | None:
        for name in ('potential_family', 'potential_mapping'):
            if name not in namespace:
                return f'field `vasp.{name}`: required for engine `vasp`'
        return None

    @staticmethod
    def _check_species(namespace, protocol: dict, species: list[str]) -> str | None:
        mapping = namespace['potential_mapping'].get_dict()
        for symbol in species:
            if symbol not in mapping:
                return f'element {symbol}: missing from `vasp.potential_mapping`'
        return None

    @staticmethod
    def incar(protocol: dict, atoms, overrides: dict | None = None) -> tuple[dict, float]:
        """INCAR tags and aiida-vasp ``kpoints_spacing`` (KSPACING / 2π) for one structure, as :meth:`build` gives
        them (for runs outside AiiDA)."""
        return vasp_incar(protocol, atoms, overrides)

    @classmethod
    def build(cls, workchain, tag, node, isolated: str | None = None):
        """``VaspWorkChain.get_builder_from_protocol`` with the protocol's differences and the ``vasp`` inputs."""
        VaspWorkChain = WorkflowFactory('vasp.v2.vasp')
        vasp = workchain.inputs.vasp
        protocol = load_protocol('vasp', vasp.protocol.value if 'protocol' in vasp else None)
        overrides = vasp.parameters.get_dict() if 'parameters' in vasp else {}
        if isolated:
            overrides = {**overrides, 'ispin': 2, 'kspacing': 1e3}
        builder = vasp_workchain_builder(
            vasp.code,
            node,
            protocol,
            vasp.potential_family,
            vasp.potential_mapping,
            overrides,
            options=vasp.options.get_dict() if 'options' in vasp else None,
            max_iterations=vasp.get('max_iterations', None),
        )
        builder.on_unhandled_failure = vasp.get('on_unhandled_failure', orm.Str(UNHANDLED_FAILURE_ACTIONS[0]))
        builder.metadata.call_link_label = tag
        return VaspWorkChain, builder


ENGINES = {engine.name: engine for engine in (AseEngine, QeEngine, VaspEngine)}
