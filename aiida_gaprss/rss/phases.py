"""Known crystal phases of B, C, Si and Ti and of the compound SiC, built from crystallographic data (no downloads).

These are the validation structures of GAP-RSS (Bernstein, Csányi & Deringer, npj Comput. Mater. 5, 99 (2019),
Figs. 3–4): each phase is relaxed with the potential and with the reference method and the energies are compared
(:mod:`aiida_gaprss.rss.validation`), and energy–volume curves are fitted (:mod:`aiida_gaprss.rss.eos`).

Every structure is generated with :func:`ase.spacegroup.crystal` from its space group, lattice parameters and the
Wyckoff positions of its inequivalent atoms; the sources are cited in :data:`PHASES`. The starting lattice parameters
only set the initial geometry: the validation relaxes every phase with each method, so high-pressure phases (β-Sn,
Imma, sh, ω) are given at the pressure where they were measured.

Each returned :class:`ase.Atoms` has ``info['phase']`` (name), ``info['spacegroup']`` (expected international
number), ``info['element']``, ``info['pearson']`` (where meaningful) and ``info['config_type'] = 'known_phase'``.
By default the primitive cell is returned (``primitive=True``), which halves or quarters the cost of the reference
calculations for centred lattices (diamond 2 atoms, bc8 8, α-B12 12); ``primitive=False`` gives the conventional cell.

**oS24** is the open-framework Si24 allotrope (Kim, Stefanoski, Kurakevych & Strobel, Nat. Mater. 14, 169 (2015),
made by removing Na from Na4Si24): space group Cmcm (No. 63), 24 atoms in the conventional C-centred cell, 12 in the
primitive one, three 8f sites (0, y, z). Its cell and coordinates are those of the AFLOW prototype A_oC24_63_3f-001
(ICSD 291479), taken from the AFLOW prototype encyclopedia (github.com/aflow-org/aflow_prototype_encyclopedia,
``data/A_oC24_63_3f-001/aflow.cif`` and ``info.json``, which cite Kim et al.): all atoms four-fold, Si–Si bonds
2.30–2.38 Å, 2.17 g/cm^3 (diamond 2.33).

Checks against independent data: ST12 built here and the st12 cell of libAtoms' silicon-testing-framework
(``tests/bulk_st12/st12.extxyz``, the GAP-18 Si tests) relax with Stillinger–Weber to the same minimum
(-4.15736 eV/atom, 17.563 Å^3/atom, P4_3 2_1 2); bc8's x = 0.1003 agrees with that framework's bc8 cell (0.1001).
The Imma entry has not been checked against a second source (see its ``notes``).

Compounds (:data:`COMPOUND_PHASES`, keyed by formula) are validated as a chemical system together with the
elements' ground states (:data:`GROUND_STATES`): :func:`system_phase_names` names them ``<key>_<phase>``
(``'SiC_3C'``, ``'Si_diamond'``, ``'C_graphite'``) and :func:`build_system_phase` builds one by that name.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from ase import Atoms

from ..common import checks

logger = logging.getLogger(__name__)

__all__ = (
    'COMPOUND_PHASES',
    'foreign_system_phase',
    'GROUND_STATES',
    'PHASES',
    'PhaseSpec',
    'build_phase',
    'build_system_phase',
    'build_validation_phase',
    'cheapest_cell',
    'known_phases',
    'phase_names',
    'split_system_phase',
    'system_phase_names',
)


@dataclass(frozen=True)
class PhaseSpec:
    """Crystallographic description of one phase.

    Attributes
    ----------
    spacegroup : int
        International space-group number (also the number spglib must find).
    cellpar : tuple of 6 floats
        a, b, c (Å), α, β, γ (degrees) of the conventional cell (hexagonal axes for rhombohedral groups).
    basis : tuple of 3-tuples
        Fractional coordinates of the inequivalent atoms (one per Wyckoff orbit).
    setting : int
        ASE space-group setting (1 = origin choice 1 / hexagonal axes, ASE's default).
    pearson : str
        Pearson symbol of the conventional cell.
    source : str
        Literature reference of the lattice parameters and positions.
    species : tuple of str
        Chemical symbol of each basis site (compounds); empty for an element (every site that element).
    layered : bool
        Layers held together by dispersion (graphite): semi-local DFT without a dispersion correction (the PBE of
        the paper and of the embedded QE default) barely binds them, so the phase's energy hardly depends on the
        interlayer distance and its E(V) has no meaningful minimum or bulk modulus. The validation compares its
        energy at each method's own minimum but fits no E(V) to it (:func:`~aiida_gaprss.workflows.validation.
        validation_protocol`); ``benchmarks/graphite_interlayer.py`` measures what PBE gives.
    """

    spacegroup: int
    cellpar: tuple
    basis: tuple
    setting: int = 1
    pearson: str = ''
    source: str = ''
    notes: str = field(default='', compare=False)
    layered: bool = False
    species: tuple = ()


_SQ83 = math.sqrt(8.0 / 3.0)  # ideal c/a of hcp and of hexagonal diamond
_A_SI = 5.431  # diamond Si at ambient conditions (Å)
_A_C = 3.567  # diamond C at ambient conditions (Å)
_TI_HCP = (2.9506, 4.6835)  # α-Ti at ambient conditions (Å)


def _hexagonal(a: float, c: float) -> tuple:
    return (a, a, c, 90.0, 90.0, 120.0)


def _tetragonal(a: float, c: float) -> tuple:
    return (a, a, c, 90.0, 90.0, 90.0)


def _cubic(a: float) -> tuple:
    return (a, a, a, 90.0, 90.0, 90.0)


# ST12 positional parameters x1, x2, y2, z2 in P4_3 2_1 2: Ge-III, Bundy & Kasper, Science 139, 340 (1963), used for
# Si by Crain et al., Phys. Rev. B 50, 13043 (1994). Cell: Ge-III's a = 5.93, c = 6.98 Å scaled isotropically by
# 0.955 to Si bond lengths (2.37-2.38 Å, all atoms four-fold). The scaled cell is a starting geometry, not a measured
# Si-IX cell (every phase is relaxed before it is compared); it relaxes to the same SW minimum as an independent ST12
# cell (module docstring).
_ST12_SCALE = 0.955

# oS24 (Si24, Cmcm): a, b, c and the three 8f sites (0, y, z) of the AFLOW prototype A_oC24_63_3f-001 (ICSD 291479),
# github.com/aflow-org/aflow_prototype_encyclopedia, data/A_oC24_63_3f-001/aflow.cif (a = 3.82236, b = 10.7007,
# c = 12.6258 Å; info.json: a = 3.8224 Å, b/a = 2.79947, c/a = 3.30311), from Kim et al., Nat. Mater. 14, 169 (2015).
_OS24_CELL = (3.82236, 10.7007, 12.6258, 90.0, 90.0, 90.0)
_OS24_SITES = ((0.0, 0.0284, 0.5903), (0.0, 0.2435, 0.5551), (0.0, 0.5705, 0.3412))

#: Known phases per element. Lattice parameters and positions from the literature cited in ``source``.
PHASES: dict[str, dict[str, PhaseSpec]] = {
    'Si': {
        'diamond': PhaseSpec(
            227, _cubic(_A_SI), ((0.0, 0.0, 0.0),), pearson='cF8', source='a = 5.431 Å, experiment (ambient)'
        ),
        'lonsdaleite': PhaseSpec(
            194,
            _hexagonal(_A_SI / math.sqrt(2.0), _A_SI / math.sqrt(2.0) * _SQ83),
            ((1.0 / 3.0, 2.0 / 3.0, 1.0 / 16.0),),
            pearson='hP4',
            source='ideal hexagonal diamond (4f, z = 1/16, c/a = sqrt(8/3)) with the bond length of diamond Si',
        ),
        'beta_sn': PhaseSpec(
            141,
            _tetragonal(4.686, 2.585),
            ((0.0, 0.0, 0.0),),
            pearson='tI4',
            source='Si-II, 4a of I4_1/amd (origin choice 1); a = 4.686, c = 2.585 Å, Jamieson, Science 139, 762 (1963)',
        ),
        'imma': PhaseSpec(
            74,
            (4.502, 4.737, 2.550, 90.0, 90.0, 90.0),
            ((0.0, 0.25, -0.051),),
            pearson='oI4',
            source='Si-XI at 13.2 GPa, McMahon et al., Phys. Rev. B 50, 739 (1994): cell 4.737 x 4.502 x 2.550 Å',
            notes=(
                '4e (0, 1/4, z). Axes are assigned so that z = -1/8 with a = b is beta-Sn and z = 0 with a = sqrt(3) c '
                'is simple hexagonal (hexagonal axis along b, c_sh = b/2); z = -0.051 (= 0.199 with the origin '
                'shifted by c/4) gives 2 + 2 + 2 neighbours at 2.38, 2.47, 2.55 Å, between the two limits.'
            ),
        ),
        'sh': PhaseSpec(
            191,
            _hexagonal(2.547, 2.380),
            ((0.0, 0.0, 0.0),),
            pearson='hP1',
            source='Si-V at about 17-18 GPa, Anzellini et al., Sci. Rep. 9 (2019), '
            '"Quasi-hydrostatic equation of state of silicon up to 1 megabar", Table 6',
        ),
        'bc8': PhaseSpec(
            206,
            _cubic(6.636),
            ((0.1003, 0.1003, 0.1003),),
            pearson='cI16',
            source='Si-III, 16c (x, x, x): a = 6.636 Å, Kasper & Richards, Acta Cryst. 17, 752 (1964); '
            'x = 0.1003, Crain et al., Phys. Rev. B 50, 13043 (1994)',
        ),
        'st12': PhaseSpec(
            96,
            _tetragonal(5.93 * _ST12_SCALE, 6.98 * _ST12_SCALE),
            ((0.0912, 0.0912, 0.0), (0.1730, 0.3784, 0.2486)),
            pearson='tP12',
            source='4a (x1, x1, 0), 8b (x2, y2, z2) of P4_3 2_1 2: Bundy & Kasper, Science 139, 340 (1963); '
            'Crain et al., Phys. Rev. B 50, 13043 (1994); Ge-III cell scaled by 0.955 to Si',
        ),
        'oS24': PhaseSpec(
            63,
            _OS24_CELL,
            _OS24_SITES,
            pearson='oC24',
            source='Si24, three 8f (0, y, z) of Cmcm: Kim, Stefanoski, Kurakevych & Strobel, '
            'Nat. Mater. 14, 169 (2015), via the AFLOW prototype A_oC24_63_3f-001 (ICSD 291479), '
            'github.com/aflow-org/aflow_prototype_encyclopedia data/A_oC24_63_3f-001/aflow.cif',
        ),
    },
    'C': {
        'diamond': PhaseSpec(
            227, _cubic(_A_C), ((0.0, 0.0, 0.0),), pearson='cF8', source='a = 3.567 Å, experiment (ambient)'
        ),
        'graphite': PhaseSpec(
            194,
            _hexagonal(2.464, 6.711),
            ((0.0, 0.0, 0.25), (1.0 / 3.0, 2.0 / 3.0, 0.25)),
            pearson='hP4',
            source='AB (Bernal) graphite, 2b + 2c; a = 2.464, c = 6.711 Å, Trucano & Chen, Nature 258, 136 (1975)',
            layered=True,
        ),
        'lonsdaleite': PhaseSpec(
            194,
            _hexagonal(_A_C / math.sqrt(2.0), _A_C / math.sqrt(2.0) * _SQ83),
            ((1.0 / 3.0, 2.0 / 3.0, 1.0 / 16.0),),
            pearson='hP4',
            source='ideal hexagonal diamond (4f, z = 1/16, c/a = sqrt(8/3)) with the bond length of diamond C; '
            'cf. a = 2.52, c = 4.12 Å, Bundy & Kasper, J. Chem. Phys. 46, 3437 (1967)',
        ),
    },
    'B': {
        'alpha_b12': PhaseSpec(
            166,
            _hexagonal(4.9179, 12.5805),
            ((0.11886, -0.11886, 0.89133), (0.19686, -0.19686, 0.02432)),
            pearson='hR12',
            source='alpha-rhombohedral boron, two 18h sites (x, -x, z) in hexagonal axes; '
            'Will & Kiefer, Z. Anorg. Allg. Chem. 627, 2100 (2001)',
        ),
    },
    'Ti': {
        'hcp': PhaseSpec(
            194,
            _hexagonal(*_TI_HCP),
            ((1.0 / 3.0, 2.0 / 3.0, 0.25),),
            pearson='hP2',
            source='alpha-Ti, 2c; a = 2.9506, c = 4.6835 Å, experiment (ambient)',
        ),
        'bcc': PhaseSpec(
            229,
            _cubic(3.3065),
            ((0.0, 0.0, 0.0),),
            pearson='cI2',
            source='beta-Ti, a = 3.3065 Å at 900 °C (as tabulated in Wyckoff, Crystal Structures, Vol. 1 (1963))',
        ),
        'fcc': PhaseSpec(
            225,
            _cubic((4.0 * math.sqrt(3.0) / 4.0 * _TI_HCP[0] ** 2 * _TI_HCP[1]) ** (1.0 / 3.0)),
            ((0.0, 0.0, 0.0),),
            pearson='cF4',
            source='hypothetical fcc Ti at the volume per atom of alpha-Ti',
        ),
        'omega': PhaseSpec(
            191,
            _hexagonal(4.625, 2.813),
            ((0.0, 0.0, 0.0), (1.0 / 3.0, 2.0 / 3.0, 0.5)),
            pearson='hP3',
            source='omega-Ti, 1a + 2d; a = 4.625, c = 2.813 Å, Jamieson, Science 140, 72 (1963)',
        ),
    },
}


# SiC polytypes (P6_3mc): Si–C bilayers stacked along c, stacking A (0, 0), B (1/3, 2/3), C (2/3, 1/3); each C sits
# 3/4 of a layer spacing above its Si (ideal tetrahedra, wurtzite u = 3/8). 2H: AB (Si 2b z = 0); 4H: ABAC = ABCB
# (Si 2a z = 0, 2b z = 1/4); 6H: ABCACB (Si 2a z = 0, 2b z = 1/6, 2b z = 5/6). Lattice constants at ambient
# conditions: 3C a = 4.3596 Å (the usual room-temperature value); 2H a = 3.0763, c = 5.0480 Å (Adamsky & Merz,
# Z. Kristallogr. 111, 350 (1959)); 4H a = 3.080, c = 10.081 Å (Lundqvist, Acta Chem. Scand. 2, 177 (1948), as in
# Landolt-Börnstein III/43A4); 6H a = 3.0806, c = 15.1173 Å (the usual room-temperature values). Rock-salt SiC is
# made above ~100 GPa (Yoshida et al., Phys. Rev. B 48, 8705 (1993)); a = 4.00 Å is a starting geometry near the
# DFT equilibrium at 0 GPa. Every phase is relaxed before it is compared, so these set only the starting geometry.
_SIC_UP = 3.0 / 4.0  # C above Si, in layer spacings

#: Known phases of compounds, keyed by formula (species per basis site in ``PhaseSpec.species``).
COMPOUND_PHASES: dict[str, dict[str, PhaseSpec]] = {
    'SiC': {
        '3C': PhaseSpec(
            216,
            _cubic(4.3596),
            ((0.0, 0.0, 0.0), (0.25, 0.25, 0.25)),
            pearson='cF8',
            source='3C (zinc blende, beta-SiC), Si 4a + C 4c of F-43m; a = 4.3596 Å, experiment (ambient)',
            species=('Si', 'C'),
        ),
        '2H': PhaseSpec(
            186,
            _hexagonal(3.0763, 5.0480),
            ((1.0 / 3.0, 2.0 / 3.0, 0.0), (1.0 / 3.0, 2.0 / 3.0, _SIC_UP / 2.0)),
            pearson='hP4',
            source='2H (wurtzite), Si 2b + C 2b (u = 3/8) of P6_3mc; a = 3.0763, c = 5.0480 Å, Adamsky & Merz (1959)',
            species=('Si', 'C'),
        ),
        '4H': PhaseSpec(
            186,
            _hexagonal(3.080, 10.081),
            (
                (0.0, 0.0, 0.0),
                (1.0 / 3.0, 2.0 / 3.0, 0.25),
                (0.0, 0.0, _SIC_UP / 4.0),
                (1.0 / 3.0, 2.0 / 3.0, 0.25 + _SIC_UP / 4.0),
            ),
            pearson='hP8',
            source='4H (ABCB), Si 2a + 2b, C 2a + 2b of P6_3mc; a = 3.080, c = 10.081 Å, Lundqvist (1948)',
            species=('Si', 'Si', 'C', 'C'),
        ),
        '6H': PhaseSpec(
            186,
            _hexagonal(3.0806, 15.1173),
            (
                (0.0, 0.0, 0.0),
                (1.0 / 3.0, 2.0 / 3.0, 1.0 / 6.0),
                (1.0 / 3.0, 2.0 / 3.0, 5.0 / 6.0),
                (0.0, 0.0, _SIC_UP / 6.0),
                (1.0 / 3.0, 2.0 / 3.0, 1.0 / 6.0 + _SIC_UP / 6.0),
                (1.0 / 3.0, 2.0 / 3.0, 5.0 / 6.0 + _SIC_UP / 6.0),
            ),
            pearson='hP12',
            source='6H (ABCACB), Si 2a + 2b + 2b, C 2a + 2b + 2b of P6_3mc; a = 3.0806, c = 15.1173 Å, experiment',
            species=('Si', 'Si', 'Si', 'C', 'C', 'C'),
        ),
        'rocksalt': PhaseSpec(
            225,
            _cubic(4.00),
            ((0.0, 0.0, 0.0), (0.5, 0.5, 0.5)),
            pearson='cF8',
            source='rock-salt SiC (stable above ~100 GPa, Yoshida et al. 1993), Si 4a + C 4b of Fm-3m; a = 4.00 Å '
            'starting geometry',
            species=('Si', 'C'),
        ),
    },
}

#: The phases of each element that compete for its ground state, the end members of a chemical system's validation.
GROUND_STATES = {'Si': ('diamond',), 'C': ('diamond', 'graphite'), 'B': ('alpha_b12',), 'Ti': ('hcp',)}


def _check_element(element) -> str:
    if not isinstance(element, str) or element not in PHASES:
        raise ValueError(f'element: no known phases for {element!r}; available: {sorted(PHASES)}')
    return element


def phase_names(element: str) -> list[str]:
    """Names of the known phases of ``element`` (the first one is the usual ground state)."""
    return list(PHASES[_check_element(element)])


def build_phase(element: str, name: str, *, scale: float | None = None, primitive: bool = True) -> Atoms:
    """Build one known phase from its crystallographic data.

    Parameters
    ----------
    element : str
        'B', 'C', 'Si' or 'Ti', or a compound of :data:`COMPOUND_PHASES` ('SiC').
    name : str
        Phase name, one of :func:`phase_names` (e.g. ``'diamond'``, ``'beta_sn'``, ``'alpha_b12'``, ``'omega'``; for
        SiC ``'3C'``, ``'2H'``, ``'4H'``, ``'6H'``, ``'rocksalt'``).
    scale : float, optional
        Isotropic **linear** scale factor applied to the cell (volume changes by ``scale**3``).
    primitive : bool
        Return the primitive cell (default) instead of the conventional one.

    Returns
    -------
    ase.Atoms
        Periodic structure with ``info['phase']``, ``info['spacegroup']``, ``info['element']`` (a compound:
        ``info['formula']``), ``info['pearson']``, ``info['config_type'] = 'known_phase'``.
    """
    from ase.spacegroup import crystal

    table = COMPOUND_PHASES if element in COMPOUND_PHASES else PHASES
    element = element if table is COMPOUND_PHASES else _check_element(element)
    if name not in table[element]:
        raise ValueError(f'name: unknown phase {name!r} of {element}; available: {list(table[element])}')
    if scale is not None:
        checks.positive_number(scale, 'scale')
    spec = table[element][name]
    atoms = crystal(
        list(spec.species) or [element] * len(spec.basis),
        basis=[tuple(float(x) for x in site) for site in spec.basis],
        spacegroup=spec.spacegroup,
        setting=spec.setting,
        cellpar=list(spec.cellpar),
        primitive_cell=bool(primitive),
    )
    atoms.wrap()
    atoms.info.clear()  # ase.spacegroup stores a Spacegroup object, which does not serialise to extxyz
    if scale is not None:
        atoms.set_cell(atoms.cell.array * float(scale), scale_atoms=True)
    atoms.info.update(
        phase=name,
        spacegroup=int(spec.spacegroup),
        **({'formula': element} if spec.species else {'element': element}),
        pearson=spec.pearson,
        config_type='known_phase',
    )
    return atoms


def cheapest_cell(element, name: str, kpoints_spacing: float) -> Atoms:
    """The cell of a known phase that a k-point-sampled reference (QE, VASP) computes fastest at that spacing.

    ``element`` is a chemical symbol or, for a phase of a chemical system (``'SiC_3C'``), the list of its elements.

    The primitive cell or the conventional one, whichever has the smaller ``irreducible k-points × atoms²`` for the
    Γ-centred mesh of ``kpoints_spacing`` (1/Å with 2π, :func:`aiida_gaprss.rss.kpoints.kpoint_mesh`). The two are
    the same crystal (same energy per atom at converged sampling); ASE's primitive cells of body-centred
    non-cubic lattices take meshes that break their symmetry (Si β-Sn: 509 points at 0.2 1/Å for 2 atoms, the
    conventional cell 70 for 4). ``info['cell_choice']`` says which was taken.
    """
    from .kpoints import irreducible_kpoints, kpoint_mesh

    best = None
    for primitive in (True, False):
        atoms = build_validation_phase(element, name, primitive=primitive)
        cost = irreducible_kpoints(atoms, kpoint_mesh(atoms.cell, kpoints_spacing)) * len(atoms) ** 2
        if best is None or cost < best[0]:
            atoms.info['cell_choice'] = 'primitive' if primitive else 'conventional'
            best = (cost, atoms)
    return best[1]


def known_phases(element: str, *, primitive: bool = True) -> dict[str, Atoms]:
    """All known phases of ``element``, name -> :class:`ase.Atoms` (see :func:`build_phase`)."""
    return {name: build_phase(element, name, primitive=primitive) for name in phase_names(element)}


def system_phase_names(elements) -> list[str]:
    """Validation phases of the chemical system of ``elements``: each element's :data:`GROUND_STATES`, then every
    compound of :data:`COMPOUND_PHASES` made of those elements only, named ``<element or formula>_<phase>``.

    ValueError naming ``elements`` for an element without known phases.
    """
    from .composition import formula_counts

    names = []
    for element in elements:
        if element not in GROUND_STATES:
            raise ValueError(f'elements: no known phases for {element!r}; available: {sorted(GROUND_STATES)}')
        names.extend(f'{element}_{name}' for name in GROUND_STATES[element])
    for formula, phases in COMPOUND_PHASES.items():
        if set(formula_counts(formula)) <= set(elements):
            names.extend(f'{formula}_{name}' for name in phases)
    return names


def split_system_phase(name: str) -> tuple[str, str]:
    """``'SiC_3C'`` -> ``('SiC', '3C')``, ``'Si_beta_sn'`` -> ``('Si', 'beta_sn')``; ValueError naming the phase."""
    key, _, phase = str(name).partition('_')
    table = COMPOUND_PHASES if key in COMPOUND_PHASES else PHASES
    if key not in table or phase not in table[key]:
        raise ValueError(f'phase: unknown phase {name!r}; expected <element or compound>_<phase>, e.g. SiC_3C')
    return key, phase


def build_system_phase(name: str, *, primitive: bool = True) -> Atoms:
    """A phase of a chemical system by its :func:`system_phase_names` name, ``info['phase']`` set to that name."""
    key, phase = split_system_phase(name)
    atoms = build_phase(key, phase, primitive=primitive)
    atoms.info['phase'] = name
    return atoms


def build_validation_phase(system, name: str, *, primitive: bool = True) -> Atoms:
    """A validation phase: ``system`` a chemical symbol (:func:`build_phase`) or a list of symbols, whose phases are
    named as by :func:`system_phase_names` (:func:`build_system_phase`)."""
    if isinstance(system, str):
        return build_phase(system, name, primitive=primitive)
    return build_system_phase(name, primitive=primitive)


def foreign_system_phase(names, elements) -> str | None:
    """What is wrong with the first of ``names`` that is not a phase of the chemical system of ``elements`` (a name
    :func:`split_system_phase` refuses, or one holding another element), or None; the caller adds its field."""
    from aiida_gaprss.rss.composition import formula_counts

    for name in names:
        try:
            key, _ = split_system_phase(name)
        except ValueError as exception:
            return str(exception)
        outside = sorted(set(formula_counts(key)) - set(elements))
        if outside:
            return f'{name!r} holds {outside[0]}, not one of the elements {list(elements)}'
    return None
