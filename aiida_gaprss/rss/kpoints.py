"""Monkhorst–Pack meshes from a k-point spacing, and their irreducible size (pure numpy and spglib).

Convention: the spacing is in 1/Å **with** the 2π factor, ``n_i = max(1, ceil(|b_i| / spacing))`` with
``b = 2π (cell⁻¹)ᵀ`` — VASP's KSPACING and aiida-quantumespresso's ``kpoints_distance``. aiida-vasp's
``kpoints_spacing`` and ASE's Espresso ``kspacing`` (``ase.io.espresso.kspacing_to_grid``) omit the 2π: their number
is ``spacing / 2π``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ('irreducible_kpoints', 'kpoint_mesh')


def kpoint_mesh(cell, spacing: float, pbc=(True, True, True)) -> list[int]:
    """Monkhorst-Pack mesh with at most ``spacing`` (1/Å, 2π included) between k-points; 1 along non-periodic axes."""
    if spacing <= 0:
        raise ValueError(f'field `kpoints_spacing`: must be positive, got {spacing}')
    reciprocal = 2 * np.pi * np.linalg.inv(np.asarray(cell, dtype=float)).T
    mesh = []
    for vector, periodic in zip(reciprocal, pbc, strict=True):
        mesh.append(max(1, math.ceil(np.linalg.norm(vector) / spacing - 1e-8)) if periodic else 1)
    return mesh


def irreducible_kpoints(atoms, mesh) -> int:
    """Number of k-points of the Γ-centred ``mesh`` left by the symmetry of ``atoms`` (spglib; time reversal on).

    A mesh whose divisions differ along directions that the crystal's symmetry maps onto each other breaks that
    symmetry, and a DFT code then keeps many more points (e.g. the primitive cell ASE builds for body-centred
    orthorhombic Imma Si: 1,052 points at 0.2 1/Å, the conventional cell 112).
    """
    import spglib

    cell = (np.asarray(atoms.cell), atoms.get_scaled_positions(), atoms.numbers)
    mapping, _ = spglib.get_ir_reciprocal_mesh([int(n) for n in mesh], cell, is_shift=[0, 0, 0])
    return int(np.unique(mapping).size)
