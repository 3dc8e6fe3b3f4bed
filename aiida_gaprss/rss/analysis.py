"""Structural analysis for validation: coordination, bond angles, S(Q) and SOAP similarity.

These are the physically guided checks of the two papers:

* **Indirect learning** (Morrow & Deringer 2022, Table I and Fig. 4): the fraction of 3- and 5-fold coordinated atoms
  ``N3``, ``N5`` of melt-quenched amorphous Si, the inverse height ``H⁻¹`` of the first sharp diffraction peak (FSDP) of
  the static structure factor S(Q), mean and width of the bond-angle distribution, and the SOAP similarity of
  compression snapshots to (pressure-adjusted) simple-hexagonal Si (:func:`amorphous_metrics`,
  :func:`soap_similarity`).

The GAP-RSS structure map (Fig. 5) is :mod:`aiida_gaprss.rss.structure_map`.

Coordination cut-offs
---------------------
:data:`COORDINATION_CUTOFFS` gives one cut-off per element (Å), chosen in the first minimum of the radial
distribution between the first and second neighbour shells of the known phases: Si 2.85 Å (the usual a-Si value; it
counts β-Sn Si as 4 + 2 = 6-fold, since its two apical neighbours at c = 2.59 Å lie well below the next shell at
3.1 Å), C 1.85 Å, B 2.1 Å (includes the 2.01 Å three-centre bond between α-B12 icosahedra) and Ti 3.2 Å (hcp 12,
bcc 8, ω 11/14). Other elements: 1.3 × twice the covalent radius (ASE's table).

Units: Å, degrees, Å⁻¹. No aiida imports.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from ase import Atoms

from ..common import checks
from .neighbours import neighbour_list

logger = logging.getLogger(__name__)

__all__ = (
    'COORDINATION_CUTOFFS',
    'amorphous_metrics',
    'bond_angle_statistics',
    'bond_angles',
    'check_atoms',
    'coordination_cutoff',
    'coordination_fractions',
    'coordination_numbers',
    'first_sharp_diffraction_peak',
    'mean_coordination',
    'radial_distribution',
    'soap_similarity',
    'structure_factor',
)

#: Nearest-neighbour cut-off per element (Å); see the module docstring.
COORDINATION_CUTOFFS = {'Si': 2.85, 'C': 1.85, 'B': 2.1, 'Ti': 3.2}


# ------------------------------------------------------------------------------------------------------ helpers


def check_atoms(atoms, field: str = 'atoms') -> Atoms:
    """``atoms`` if it is a non-empty ase.Atoms with finite positions (and a cell volume if periodic), else ValueError
    naming ``field``."""
    if not isinstance(atoms, Atoms):
        raise ValueError(f'{field}: expected an ase.Atoms, got {type(atoms).__name__}')
    if len(atoms) == 0:
        raise ValueError(f'{field}: has no atoms')
    if not np.isfinite(atoms.positions).all():
        raise ValueError(f'{field}: has non-finite positions')
    if np.any(atoms.pbc) and abs(atoms.cell.volume) < 1e-8:
        raise ValueError(f'{field}: is periodic but its cell has zero volume')
    return atoms


def coordination_cutoff(element: str) -> float:
    """Default nearest-neighbour cut-off (Å) for ``element`` (:data:`COORDINATION_CUTOFFS`, else 2.6 × r_cov)."""
    from ase.data import atomic_numbers, covalent_radii

    if element in COORDINATION_CUTOFFS:
        return COORDINATION_CUTOFFS[element]
    if element not in atomic_numbers or element == 'X':
        raise ValueError(f'element: unknown chemical symbol {element!r}')
    return float(1.3 * 2.0 * covalent_radii[atomic_numbers[element]])


def _cutoff_for(atoms: Atoms, cutoff: float | None) -> float:
    if cutoff is not None:
        return checks.positive_number(cutoff, 'cutoff')
    elements = sorted(set(atoms.get_chemical_symbols()))
    return max(coordination_cutoff(symbol) for symbol in elements)


# ------------------------------------------------------------------------------------------------ coordination


def coordination_numbers(atoms: Atoms, cutoff: float | None = None) -> np.ndarray:
    """Number of neighbours of every atom within ``cutoff`` (Å; default: :func:`coordination_cutoff`)."""
    atoms = check_atoms(atoms)
    rc = _cutoff_for(atoms, cutoff)
    i = neighbour_list('i', atoms, rc)
    return np.bincount(i, minlength=len(atoms))


def mean_coordination(atoms: Atoms, cutoff: float | None = None) -> float:
    """Mean coordination number within ``cutoff`` (Å)."""
    return float(np.mean(coordination_numbers(atoms, cutoff)))


def coordination_fractions(
    atoms: Atoms, cutoff: float | None = None, numbers: Sequence[int] = (3, 4, 5)
) -> dict[int, float]:
    """Fraction (0–1) of atoms that are exactly N-fold coordinated, for each N in ``numbers`` (e.g. N3, N4, N5)."""
    cn = coordination_numbers(atoms, cutoff)
    return {int(n): float(np.mean(cn == n)) for n in numbers}


# ------------------------------------------------------------------------------------------------ bond angles


def bond_angles(atoms: Atoms, cutoff: float | None = None) -> np.ndarray:
    """All bond angles j–i–k (degrees) between pairs of neighbours j, k of each atom i within ``cutoff``.

    Each angle is counted once per central atom (pairs j < k).
    """
    atoms = check_atoms(atoms)
    rc = _cutoff_for(atoms, cutoff)
    i, vectors = neighbour_list('iD', atoms, rc)
    if len(i) == 0:
        return np.zeros(0)
    order = np.argsort(i, kind='stable')
    i, vectors = i[order], vectors[order]
    unit = vectors / np.linalg.norm(vectors, axis=1)[:, None]
    bounds = np.searchsorted(i, np.arange(len(atoms) + 1))
    angles = []
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        if stop - start < 2:
            continue
        u = unit[start:stop]
        cos = np.clip(u @ u.T, -1.0, 1.0)
        upper = np.triu_indices(stop - start, k=1)
        angles.append(np.degrees(np.arccos(cos[upper])))
    return np.concatenate(angles) if angles else np.zeros(0)


def bond_angle_statistics(atoms: Atoms, cutoff: float | None = None) -> tuple[float, float]:
    """Mean and width (standard deviation) of the bond-angle distribution, in degrees.

    Raises
    ------
    ValueError
        If no atom has two neighbours within the cut-off.
    """
    angles = bond_angles(atoms, cutoff)
    if angles.size == 0:
        raise ValueError('cutoff: no atom has two neighbours within the cut-off; no bond angles')
    return float(np.mean(angles)), float(np.std(angles))


# ------------------------------------------------------------------------------------------------ g(r) and S(Q)


def radial_distribution(atoms: Atoms, r_max: float = 10.0, n_bins: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Radial distribution function g(r) of a periodic (single- or multi-species, all pairs) structure.

    Parameters
    ----------
    atoms : ase.Atoms
        Fully periodic structure; ``r_max`` may exceed half the cell (periodic images are included).
    r_max : float
        Largest distance (Å).
    n_bins : int
        Number of histogram bins on [0, r_max].

    Returns
    -------
    r, g : ndarray
        Bin centres (Å) and g(r), normalised so that g → 1 at large r.
    """
    atoms = check_atoms(atoms)
    if not np.all(atoms.pbc):
        raise ValueError('atoms: g(r) needs a fully periodic structure')
    r_max = checks.positive_number(r_max, 'r_max')
    checks.integer(n_bins, 'n_bins', minimum=2)
    d = neighbour_list('d', atoms, r_max)
    edges = np.linspace(0.0, r_max, n_bins + 1)
    counts, _ = np.histogram(d, bins=edges)
    r = 0.5 * (edges[1:] + edges[:-1])
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    rho = len(atoms) / atoms.get_volume()
    g = counts / (len(atoms) * rho * shell)
    return r, g


def structure_factor(
    atoms: Atoms,
    q: Sequence[float] | np.ndarray | None = None,
    *,
    r_max: float = 15.0,
    n_bins: int = 750,
    window: str | None = 'lorch',
) -> tuple[np.ndarray, np.ndarray]:
    """Static structure factor S(Q) from g(r) by the Fourier–sine transform.

    ``S(Q) = 1 + 4πρ ∫₀^{r_max} r² [g(r) − 1] sin(Qr)/(Qr) W(r) dr`` with the Lorch window
    ``W(r) = sin(πr/r_max)/(πr/r_max)`` (``window='lorch'``, default; ``None`` for none), which suppresses the
    truncation ripples of the finite r_max. For a crystal the Bragg reflections appear as peaks of width ~2π/r_max.

    Parameters
    ----------
    atoms : ase.Atoms
        Periodic structure (amorphous models: ideally ≥ 2 r_max across).
    q : array, optional
        Scattering vectors (Å⁻¹); default 0.5–12 Å⁻¹ in steps of 0.01.
    r_max, n_bins : float, int
        Range and resolution of g(r) (:func:`radial_distribution`).
    window : {'lorch', None}

    Returns
    -------
    q, S : ndarray
    """
    if window not in ('lorch', None):
        raise ValueError(f"window: expected 'lorch' or None, got {window!r}")
    q = np.arange(0.5, 12.0 + 1e-9, 0.01) if q is None else np.asarray(q, dtype=float)
    if q.ndim != 1 or q.size == 0 or not np.isfinite(q).all() or np.any(q <= 0):
        raise ValueError('q: expected a non-empty 1-D array of positive scattering vectors (1/Å)')
    r, g = radial_distribution(atoms, r_max=r_max, n_bins=n_bins)
    dr = r[1] - r[0]
    rho = len(atoms) / atoms.get_volume()
    weight = np.ones_like(r) if window is None else np.sinc(r / r_max)  # np.sinc(x) = sin(pi x)/(pi x)
    qr = np.outer(q, r)
    kernel = np.sinc(qr / np.pi)  # sin(Qr)/(Qr)
    s = 1.0 + 4.0 * np.pi * rho * (kernel * (r**2 * (g - 1.0) * weight)).sum(axis=1) * dr
    return q, s


def first_sharp_diffraction_peak(
    q: np.ndarray, s: np.ndarray, q_range: tuple[float, float] = (1.5, 2.6)
) -> tuple[float, float]:
    """Position Q₁ (Å⁻¹) and height H = S(Q₁) of the largest peak of S(Q) in ``q_range``.

    The default range brackets the FSDP of amorphous Si (≈ 2.0 Å⁻¹, the (111) reflection of diamond Si);
    ``H⁻¹ = 1/H`` is the metric of Morrow & Deringer's Table I.
    """
    q = np.asarray(q, dtype=float)
    s = np.asarray(s, dtype=float)
    if q.shape != s.shape or q.ndim != 1 or q.size == 0:
        raise ValueError('q: q and s must be 1-D arrays of the same, non-zero length')
    lo, hi = q_range
    mask = (q >= lo) & (q <= hi)
    if not mask.any():
        raise ValueError(f'q_range: no Q values in {q_range}')
    index = np.flatnonzero(mask)[np.argmax(s[mask])]
    return float(q[index]), float(s[index])


# ------------------------------------------------------------------------------------------------ summary


def amorphous_metrics(
    atoms: Atoms,
    *,
    cutoff: float | None = None,
    reference_energy_per_atom: float | None = None,
    r_max: float = 15.0,
    q_range: tuple[float, float] = (1.5, 2.6),
) -> dict:
    """Morrow & Deringer's Table I metrics of one (amorphous) structure.

    Returns
    -------
    dict
        ``mean_coordination``, ``N3``, ``N4``, ``N5`` (fractions 0–1), ``bond_angle_mean``, ``bond_angle_width``
        (degrees), ``fsdp_position`` (Å⁻¹), ``fsdp_height`` and ``H_inv`` (1/height), ``cutoff`` (Å); plus
        ``delta_e`` (eV/atom, ``info['energy']/N − reference_energy_per_atom``) when both are available.
    """
    atoms = check_atoms(atoms)
    rc = _cutoff_for(atoms, cutoff)
    fractions = coordination_fractions(atoms, rc, (3, 4, 5))
    mean, width = bond_angle_statistics(atoms, rc)
    q, s = structure_factor(atoms, r_max=r_max)
    q1, height = first_sharp_diffraction_peak(q, s, q_range)
    out = {
        'cutoff': rc,
        'mean_coordination': mean_coordination(atoms, rc),
        'N3': fractions[3],
        'N4': fractions[4],
        'N5': fractions[5],
        'bond_angle_mean': mean,
        'bond_angle_width': width,
        'fsdp_position': q1,
        'fsdp_height': height,
        'H_inv': 1.0 / height if height > 0 else float('inf'),
    }
    if reference_energy_per_atom is not None and 'energy' in atoms.info:
        out['delta_e'] = float(atoms.info['energy']) / len(atoms) - float(reference_energy_per_atom)
    return out


# ------------------------------------------------------------------------------------------------ SOAP


def soap_similarity(
    structures: Sequence[Atoms] | Atoms,
    reference: Atoms | Sequence[Atoms],
    *,
    zeta: float = 1.0,
    n_max: int = 8,
    l_max: int = 8,
    sigma: float = 0.5,
    r_cut: float = 5.0,
    backend: str = 'numpy',
    processes: int = 1,
) -> np.ndarray:
    """Configuration-averaged SOAP similarity ``k = (p̄_A · p̄_ref)^ζ`` of structures to a reference (0–1).

    Parameters
    ----------
    structures : ase.Atoms or sequence of ase.Atoms
    reference : ase.Atoms or sequence of ase.Atoms
        One reference for all structures, or one per structure (e.g. the pressure-adjusted sh Si cell matching each
        compression snapshot's pressure).
    zeta : float
        Kernel exponent (1: the plain normalised dot product).
    n_max, l_max, sigma, r_cut
        SOAP parameters (Å); defaults: a 5 Å, σ = 0.5 Å descriptor like the GAP SOAP of Si.
    backend : {'numpy', 'dscribe', 'quippy'}
        See :func:`aiida_gaprss.rss.soap.averaged_soap` ('numpy' and 'dscribe' give the same numbers).

    Returns
    -------
    ndarray
        One similarity per structure.
    """
    from .soap import averaged_soap, soap_species

    structures = [structures] if isinstance(structures, Atoms) else list(structures)
    if not structures:
        raise ValueError('structures: empty')
    single = isinstance(reference, Atoms)
    references = [reference] if single else list(reference)
    if not references:
        raise ValueError('reference: empty')
    if not single and len(references) != len(structures):
        raise ValueError(f'reference: expected 1 or {len(structures)} structures, got {len(references)}')
    for index, atoms in enumerate(structures):
        check_atoms(atoms, f'structures[{index}]')
    for index, atoms in enumerate(references):
        check_atoms(atoms, f'reference[{index}]')
    zeta = checks.positive_number(zeta, 'zeta')
    species = soap_species(structures + references)
    p = averaged_soap(
        structures + references,
        n_max=n_max,
        l_max=l_max,
        sigma=sigma,
        r_cut=r_cut,
        species=species,
        backend=backend,
        processes=processes,
    )
    pa, pr = p[: len(structures)], p[len(structures) :]
    dots = (pa @ pr[0]) if single else np.einsum('ij,ij->i', pa, pr)
    return np.clip(dots, 0.0, 1.0) ** zeta
