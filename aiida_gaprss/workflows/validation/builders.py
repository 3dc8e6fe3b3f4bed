"""Builders of the reference relaxations of known phases: QE's ``PwRelaxWorkChain``, VASP's ``VaspRelaxWorkChain``."""

from __future__ import annotations

from aiida import orm
from qe_tools import CONSTANTS

from aiida_gaprss.workflows.reference.protocols import load_protocol
from aiida_gaprss.workflows.reference.vasp_builders import VASP_RELAX_TAGS, vasp_relax_workchain_builder

__all__ = (
    'QE_KEYS',
    'VASP_KEYS',
    'VASP_RELAX_TAGS',
    'last_kpoints_mesh',
    'qe_kpoints_spacing',
    'qe_relax_builder',
    'vasp_relax_builder',
)

#: Inputs of the ``vasp`` namespace (those of the ReferenceWorkChain's VASP engine used here).
VASP_KEYS = ('code', 'protocol', 'potential_family', 'potential_mapping', 'parameters', 'options', 'max_iterations')
#: Degrees of freedom (positions, shape, volume) of a VASP relaxation per mode; ISIF 3, 4 and 2.
_VASP_MODES = {'vc-relax': (True, True, True), 'shape': (True, True, False), 'relax': (True, False, False)}


def vasp_relax_builder(vasp, atoms, mode: str, relax: dict, mesh=None):
    """A ``VaspRelaxWorkChain`` (``vasp.v2.relax``) builder for one phase.

    Parameters
    ----------
    vasp : mapping
        The ``reference.vasp`` inputs (``code``, ``potential_family``, ``potential_mapping``, optional ``protocol``,
        ``parameters``, ``options``, ``max_iterations``).
    atoms : ase.Atoms
        The starting structure.
    mode : {'vc-relax', 'shape', 'relax', 'none'}
        ``vc-relax``: positions, shape and volume at 0 GPa (ISIF 3); ``shape``: positions and shape at fixed volume
        (ISIF 4); ``relax``: positions only (ISIF 2); ``none``: a single point.
    relax : dict
        ``fmax`` (eV/Å, EDIFFG = -fmax) and ``steps`` (NSW of each VASP run).
    mesh : list of int, optional
        Explicit k-point mesh (the E(V) points use the mesh of their phase's relaxed single point); default: the
        protocol's KSPACING through aiida-vasp's ``kpoints_spacing`` (KSPACING / 2π).

    Returns
    -------
    ProcessBuilder
    """
    if mode not in (*_VASP_MODES, 'none'):
        raise ValueError(f'mode: expected one of {[*_VASP_MODES, "none"]}, got {mode!r}')
    protocol = load_protocol('vasp', vasp['protocol'].value if 'protocol' in vasp else None)
    positions, shape, volume = _VASP_MODES.get(mode, (False, False, False))
    relax_settings = {
        'perform': mode != 'none',
        'algo': 'cg',
        'force_cutoff': float(relax.get('fmax', 0.01)),
        'steps': int(relax.get('steps', 300)),
        'positions': positions,
        'shape': shape,
        'volume': volume,
        # variable cell: VASP relaxes with the plane-wave basis of the starting cell (Pulay stress), so aiida-vasp
        # restarts until one whole run changes the volume by < 1 % and the positions by < 0.1 Å ('inout'); at fixed
        # volume its default ('last': the last two ionic steps) suffices
        'convergence_mode': 'inout' if volume else 'last',
    }
    return vasp_relax_workchain_builder(
        vasp['code'],
        orm.StructureData(ase=atoms),
        protocol,
        vasp['potential_family'],
        vasp['potential_mapping'],
        vasp['parameters'].get_dict() if 'parameters' in vasp else {},
        relax_settings,
        options=vasp['options'].get_dict() if 'options' in vasp else None,
        max_iterations=vasp['max_iterations'] if 'max_iterations' in vasp else None,
        mesh=mesh,
    )


def last_kpoints_mesh(node: orm.ProcessNode) -> list[int] | None:
    """The k-point mesh of the last VASP calculation under ``node`` (that of the relaxed single point)."""
    calculations = [child for child in node.called_descendants if isinstance(child, orm.CalcJobNode)]
    if not calculations:
        return None
    last = max(calculations, key=lambda child: child.ctime)
    try:
        mesh, _ = last.inputs.kpoints.get_kpoints_mesh()
    except (AttributeError, KeyError):
        return None
    return [int(n) for n in mesh]


#: Inputs of the ``qe`` namespace (those of the ReferenceWorkChain's QE engine used here).
QE_KEYS = ('code', 'protocol', 'pseudo_family', 'kpoints_spacing', 'parameters', 'options', 'settings',
           'parallelization')  # fmt: skip
#: Ry/Bohr per eV/Å (qe-tools' constants, those aiida-quantumespresso converts pw.x's output with).
RY_BOHR_PER_EV_A = CONSTANTS.bohr_to_ang / CONSTANTS.ry_to_ev
#: kbar per GPa (by definition).
KBAR_PER_GPA = 10.0


def qe_kpoints_spacing(qe, element) -> float:
    """The k-point spacing (1/Å with 2π) the QE reference of ``element`` (a symbol or a list) uses: the input's or
    its protocol's."""
    from aiida_gaprss.workflows.reference.protocols import load_protocol, settings_for_species

    if 'kpoints_spacing' in qe:
        return float(qe['kpoints_spacing'].value)
    overrides = qe['parameters'].get_dict() if 'parameters' in qe else {}
    if 'KPOINTS_SPACING' in {key.upper() for key in overrides}:
        return float(next(value for key, value in overrides.items() if key.upper() == 'KPOINTS_SPACING'))
    protocol = load_protocol('qe', qe['protocol'].value if 'protocol' in qe else None)
    species = [element] if isinstance(element, str) else list(element)
    return float(settings_for_species(protocol, species, 'qe')['kpoints_spacing'])


def qe_relax_builder(qe, atoms, mode: str, relax: dict, mesh=None):
    """A ``PwRelaxWorkChain`` builder for one phase: ``mode`` 'vc-relax' (0 GPa), 'relax' or 'shape' (fixed volume).

    aiida-quantumespresso's ``PwRelaxWorkChain.get_builder_from_protocol`` with the QE protocol's differences
    (:func:`~aiida_gaprss.workflows.reference.qe_builders.pw_relax_builder`) and the thresholds of ``relax``: ``fmax``
    (eV/Å), ``smax`` (GPa), ``steps``.

    Returns
    -------
    tuple
        (builder, k-point mesh used).
    """
    from aiida_gaprss.workflows.reference.protocols import load_protocol
    from aiida_gaprss.workflows.reference.qe_builders import pw_relax_builder, upper_sections

    protocol = load_protocol('qe', qe['protocol'].value if 'protocol' in qe else None)
    family_label = qe['pseudo_family'].value if 'pseudo_family' in qe else protocol['pseudo_family']
    overrides = upper_sections(qe['parameters'].get_dict() if 'parameters' in qe else {})
    if 'kpoints_spacing' in qe:
        overrides['KPOINTS_SPACING'] = qe['kpoints_spacing'].value
    calculation = 'relax' if mode == 'relax' else 'vc-relax'
    relax_parameters = {
        'CONTROL': {'forc_conv_thr': float(relax.get('fmax', 0.01)) * RY_BOHR_PER_EV_A,
                    'etot_conv_thr': 1e-5 * len(atoms), 'nstep': int(relax.get('steps', 300))},
        'IONS': {'ion_dynamics': 'bfgs'},
    }  # fmt: skip
    if calculation == 'vc-relax':
        relax_parameters['CELL'] = {
            'cell_dynamics': 'bfgs',
            'press': 0.0,
            'press_conv_thr': float(relax.get('smax', 0.01)) * KBAR_PER_GPA,
        }
    builder, used = pw_relax_builder(
        qe['code'],
        orm.StructureData(ase=atoms),
        protocol,
        family_label,
        overrides,
        relax_parameters,
        mode if mode in ('relax', 'shape') else 'vc-relax',
        options=qe['options'].get_dict() if 'options' in qe else None,
        mesh=mesh,
    )
    for key in ('settings', 'parallelization'):  # the input nodes themselves
        if key in qe:
            builder.base_relax.pw[key] = qe[key]
    return builder, used
