"""GAP-RSS Fig. 5: the kernel-PCA structure map of configuration-averaged SOAP vectors (n = l = 16, σ = 0.1 r0,
r_cut = 2.5 r0) of cells rescaled so that their shortest bond is r0 = 1 Å, coloured by the mean coordination counted up
to 1.2 r0 (:func:`kpca_map`, :func:`rescale_to_shortest_bond`). Units: Å. No aiida imports.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from ase import Atoms

from ..common import checks
from .analysis import check_atoms, mean_coordination
from .neighbours import neighbour_list

logger = logging.getLogger(__name__)

__all__ = ('KPCA_SOAP', 'kpca_map', 'rescale_to_shortest_bond', 'shortest_bond')

#: SOAP parameters of the KPCA map, in units of the shortest bond r0 (GAP-RSS Methods). quippy's SOAP is used, as
#: in the paper (dscribe's GTO basis cannot be orthonormalised for n_max = 16 within r_cut = 2.5 Å).
KPCA_SOAP = {'n_max': 16, 'l_max': 16, 'sigma': 0.1, 'r_cut': 2.5, 'backend': 'quippy'}


def shortest_bond(atoms: Atoms) -> float:
    """Shortest interatomic distance (Å), periodic images included."""
    atoms = check_atoms(atoms)
    if len(atoms) == 1 and not np.any(atoms.pbc):
        raise ValueError('atoms: a single non-periodic atom has no bonds')
    cutoff = 3.0
    for _ in range(8):
        d = neighbour_list('d', atoms, cutoff)
        if d.size:
            return float(d.min())
        cutoff *= 2.0
    raise ValueError(f'atoms: no two atoms closer than {cutoff / 2:.0f} Å')


def rescale_to_shortest_bond(atoms: Atoms, r0: float = 1.0) -> Atoms:
    """A copy of ``atoms`` scaled isotropically so that its shortest bond is ``r0`` (Å)."""
    atoms = check_atoms(atoms)
    r0 = checks.positive_number(r0, 'r0')
    factor = r0 / shortest_bond(atoms)
    scaled = atoms.copy()
    scaled.calc = None
    if np.any(scaled.pbc):
        scaled.set_cell(scaled.cell.array * factor, scale_atoms=True)
    else:
        scaled.positions = scaled.positions * factor
    return scaled


def kpca_map(
    atoms_list: Sequence[Atoms],
    *,
    n_components: int = 2,
    zeta: float = 4.0,
    soap: dict | None = None,
    coordination_factor: float = 1.2,
    ignore_species: bool = True,
    processes: int = 1,
    return_kernel: bool = False,
) -> dict:
    """GAP-RSS Fig. 5 structure map: kernel PCA of averaged SOAP of cells rescaled to a shortest bond of 1 Å.

    Every cell is rescaled so that its shortest bond r0 = 1 Å and, by default, all its atoms are given the same
    species (``ignore_species=True``): the map compares topologies across elements, as the paper's Fig. 5 places B,
    C, Si and Ti structures on one plane. The configuration-averaged SOAP (:data:`KPCA_SOAP`: n = l = 16, σ = 0.1,
    r_cut = 2.5, in units of r0; quippy backend with its 0.5 Å cut-off transition) of each cell is computed, the
    kernel ``K = (P Pᵀ)^ζ`` built and projected with :class:`sklearn.decomposition.KernelPCA` (precomputed kernel,
    centred by sklearn). The colour of each point in the paper is the mean coordination counted up to
    ``coordination_factor`` × r0 (1.2).

    Parameters
    ----------
    atoms_list : sequence of ase.Atoms
        At least two structures (one or more species).
    n_components : int
        Dimension of the embedding (2 for the map).
    zeta : float
        Kernel exponent (4, as for the selection kernel).
    soap : dict, optional
        Overrides of :data:`KPCA_SOAP` (lengths in units of r0 = 1 Å).
    ignore_species : bool
        Treat every atom as the same species (default True); False compares species too (needs the same species
        set in all cells to be meaningful).
    coordination_factor : float
        Neighbour cut-off in units of r0 for ``coordination``.
    return_kernel : bool
        Also return the kernel matrix under ``'kernel'``.

    Returns
    -------
    dict
        ``coordinates`` ((N, n_components) ndarray), ``coordination`` (mean coordination per structure),
        ``shortest_bond`` (r0 of each input, Å) and optionally ``kernel``.
    """
    from sklearn.decomposition import KernelPCA

    from .soap import averaged_soap

    atoms_list = list(atoms_list)
    if len(atoms_list) < 2:
        raise ValueError(f'atoms_list: need at least 2 structures for a map, got {len(atoms_list)}')
    checks.positive_integer(n_components, 'n_components')
    zeta = checks.positive_number(zeta, 'zeta')
    coordination_factor = checks.positive_number(coordination_factor, 'coordination_factor')
    params = dict(KPCA_SOAP)
    if soap:
        unknown = set(soap) - set(KPCA_SOAP)
        if unknown:
            raise ValueError(f'soap: unknown parameter {sorted(unknown)[0]!r}; allowed: {sorted(KPCA_SOAP)}')
        params.update(soap)
    r0s, scaled = [], []
    for index, atoms in enumerate(atoms_list):
        check_atoms(atoms, f'atoms_list[{index}]')
        r0s.append(shortest_bond(atoms))
        cell = rescale_to_shortest_bond(atoms, 1.0)
        if ignore_species:
            cell.set_chemical_symbols(['Si'] * len(cell))
        scaled.append(cell)
    p = averaged_soap(scaled, processes=processes, **params)
    kernel = np.clip(p @ p.T, 0.0, None) ** zeta
    kernel = 0.5 * (kernel + kernel.T)
    n_components = min(int(n_components), len(atoms_list))
    kpca = KernelPCA(n_components=n_components, kernel='precomputed', eigen_solver='dense')
    coordinates = kpca.fit_transform(kernel)
    if coordinates.shape[1] < n_components:  # zero-variance components are dropped by sklearn
        coordinates = np.hstack([coordinates, np.zeros((len(atoms_list), n_components - coordinates.shape[1]))])
    coordination = np.array([mean_coordination(atoms, coordination_factor) for atoms in scaled])
    out = {'coordinates': coordinates, 'coordination': coordination, 'shortest_bond': np.array(r0s)}
    if return_kernel:
        out['kernel'] = kernel
    return out
