"""Per-structure regularisation (gap_fit sigmas) from the distance above the lower (V, E) convex hull.

GAP-RSS (Methods, "Fitting"): ΔE is the per-atom energy of a structure above the lower convex hull of the
(volume per atom, energy per atom) points of the database. The kernel regularisation is piecewise linear in ΔE:

=====================  ==============  ==============
quantity               ΔE <= 0.1 eV    ΔE >= 1 eV
=====================  ==============  ==============
σ_E (energy)           1 meV/atom      100 meV/atom
σ_F (force component)  31.6 meV/Å      316 meV/Å
σ_V (virial component) 63.2 meV/atom   632 meV/atom
=====================  ==============  ==============

constant outside [0.1, 1] eV and linear in between (31.6 = √1 and 63.2 = 2√1 in units of √meV: σ_F = √σ_E and
σ_V = 2√σ_E at both ends, as in ``wfl.fit.modify_database.gap_rss_set_config_sigmas_from_convex_hull``).

Units written into ``atoms.info`` (what ``gap_fit`` reads)
------------------------------------------------------------
``gap_fit`` (QUIP ``gap_fit_module.f95``, ``fit_data_from_xyz``) uses a per-configuration ``energy_sigma`` and
``virial_sigma`` **as given**: an absolute error in eV on the *total* energy of that configuration and on each
virial component. Only the command-line ``default_sigma`` / ``config_type_sigma`` values are treated as per-atom
(multiplied by √N when ``sigma_per_atom=T``). ``force_sigma`` is per force component (eV/Å), independent of N.
The per-atom σ_E and σ_V above therefore have to be converted into per-configuration values. We follow the
paper's own code lineage (``wfl``, by the same authors), which writes ``energy_sigma = N σ_E`` and
``virial_sigma = N σ_V`` (``natoms_scaling='linear'``, the default): the total-energy error then corresponds to the
same per-atom error whatever the cell size. ``natoms_scaling='sqrt'`` gives gap_fit's own ``sigma_per_atom``
convention (``√N σ``) instead.

Structures that have no meaningful volume (not fully periodic, or ``config_type`` in ``SPECIAL_CONFIG_TYPES`` such
as dimers in a box, which would otherwise sit on the far right end of the hull) are left out of the hull and get
the ΔE >= 1 eV (loosest) sigmas, or per config_type the (σ_E, σ_F, σ_V) given as ``special_sigmas`` (e.g. tight
dimer sigmas, so that a fit whose ``e0`` is the isolated-atom energy reproduces the dimer curve: short-range wall).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np

logger = logging.getLogger(__name__)

__all__ = (
    'SIGMA_TABLE',
    'SPECIAL_CONFIG_TYPES',
    'check_special_sigmas',
    'enthalpy_above_hull',
    'lower_hull',
    'lower_hull_distance',
    'per_structure_sigmas',
    'set_sigmas',
    'sigmas_from_distance',
)

#: (ΔE in eV, σ_E eV/atom, σ_F eV/Å, σ_V eV/atom) at the two ends of the linear ramp.
SIGMA_TABLE = ((0.1, 0.001, 0.0316, 0.0632), (1.0, 0.100, 0.316, 0.632))
#: config_type values kept out of the hull and given the loosest sigmas.
SPECIAL_CONFIG_TYPES = ('dimer', 'isolated_atom')


def _as_vector(values, field: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f'{field} must be 1-d, got shape {array.shape}')
    bad = ~np.isfinite(array)
    if bad.any():
        raise ValueError(f'{field} has non-finite values at index(es) {np.flatnonzero(bad)[:10].tolist()}')
    return array


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def lower_hull(volumes_per_atom, energies_per_atom) -> np.ndarray:
    """Vertices (V, E) of the lower convex hull, sorted by V (Andrew's monotone chain, lower half).

    Collinear points are dropped from the vertex list (they lie on the hull: distance 0). At equal volume only the
    lowest energy can be on the lower hull.
    """
    V = _as_vector(volumes_per_atom, 'volumes_per_atom')
    E = _as_vector(energies_per_atom, 'energies_per_atom')
    if V.size != E.size:
        raise ValueError(f'volumes_per_atom ({V.size}) and energies_per_atom ({E.size}) differ in length')
    if V.size == 0:
        raise ValueError('volumes_per_atom is empty')
    order = np.lexsort((E, V))
    hull: list[tuple[float, float]] = []
    for i in order:
        point = (float(V[i]), float(E[i]))
        if hull and point[0] == hull[-1][0]:
            continue  # same volume, higher (or equal) energy
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], point) <= 0:
            hull.pop()
        hull.append(point)
    return np.asarray(hull)


def lower_hull_distance(volumes_per_atom, energies_per_atom) -> np.ndarray:
    """ΔE (eV/atom): vertical distance of each (V, E) point above the lower convex hull of all of them (>= 0)."""
    V = _as_vector(volumes_per_atom, 'volumes_per_atom')
    E = _as_vector(energies_per_atom, 'energies_per_atom')
    hull = lower_hull(V, E)
    if hull.shape[0] == 1:
        return E - hull[0, 1]
    distance = E - np.interp(V, hull[:, 0], hull[:, 1])
    return np.clip(distance, 0.0, None)  # round-off on hull points


#: 1 GPa·Å³ in eV.
GPA_A3_IN_EV = 1.0 / 160.21766208


def enthalpy_above_hull(volumes_per_atom, energies_per_atom, pressures) -> np.ndarray:
    """ΔH (eV/atom) of each point above the lowest enthalpy any of the points has at *that point's* pressure.

    ``ΔH_i = E_i + p_i V_i − min_j (E_j + p_i V_j)``: the distance of point *i* above the tangent of the lower
    (V, E) hull of slope ``−p_i`` (the minimum over *j* is taken on a hull vertex). Enthalpies of frames relaxed at
    different pressures are then comparable: at 20 GPa, ``p V`` alone is ~2 eV/atom for Si, so enthalpies per atom
    would rank every high-pressure frame far above every low-pressure one. For equal pressures ``p`` this is
    ``H_i − min_j H_j`` (the paper's Boltzmann bias is unchanged).

    Parameters
    ----------
    volumes_per_atom, energies_per_atom
        Å³/atom and eV/atom of each point.
    pressures
        GPa, one per point (the pressure its relaxation was run at).
    """
    V = _as_vector(volumes_per_atom, 'volumes_per_atom')
    E = _as_vector(energies_per_atom, 'energies_per_atom')
    p = _as_vector(pressures, 'pressures') * GPA_A3_IN_EV
    if not V.size == E.size == p.size:
        raise ValueError(f'volumes ({V.size}), energies ({E.size}) and pressures ({p.size}) differ in length')
    hull = lower_hull(V, E)
    lowest = np.min(hull[None, :, 1] + p[:, None] * hull[None, :, 0], axis=1)
    return np.clip(E + p * V - lowest, 0.0, None)


def sigmas_from_distance(distance) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-atom (σ_E eV/atom, σ_F eV/Å, σ_V eV/atom) for ΔE values (eV/atom), the paper's piecewise-linear ramp."""
    d = np.asarray(distance, dtype=float)
    if not np.all(np.isfinite(d)):
        raise ValueError('distance has non-finite values')
    (x0, *low), (x1, *high) = SIGMA_TABLE
    out = tuple(np.interp(d, [x0, x1], [lo, hi]) for lo, hi in zip(low, high, strict=True))
    return out  # type: ignore[return-value]


def check_special_sigmas(values) -> tuple[float, float, float]:
    """(σ_E, σ_F, σ_V) of one entry of ``special_sigmas``: three positive finite numbers, else ValueError (its message
    says what was expected; the caller names the field)."""
    try:
        triple = tuple(float(value) for value in values)
    except (TypeError, ValueError):
        triple = ()
    if len(triple) != 3 or not all(np.isfinite(value) and value > 0 for value in triple):
        raise ValueError(f'expected three positive numbers (σ_E eV/atom, σ_F eV/Å, σ_V eV/atom), got {values!r}')
    return triple  # type: ignore[return-value]


def _is_special(atoms, special_config_types) -> bool:
    return (not np.all(atoms.pbc)) or atoms.info.get('config_type') in special_config_types


def per_structure_sigmas(
    atoms_list: Sequence,
    *,
    energy_key: str = 'energy',
    natoms_scaling: str = 'linear',
    special_config_types: Sequence[str] = SPECIAL_CONFIG_TYPES,
    special_sigmas: Mapping[str, Sequence[float]] | None = None,
    hull_distance: Callable[[list, np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Compute ΔE above the (V, E) lower hull and the per-configuration gap_fit sigmas of each structure.

    Parameters
    ----------
    atoms_list : sequence of ase.Atoms
        Labelled structures, total energy (eV) in ``atoms.info[energy_key]``.
    natoms_scaling : {'linear', 'sqrt'}
        Per-atom → per-configuration factor for ``energy_sigma`` and ``virial_sigma``: ``N`` (paper's code, default)
        or ``√N`` (gap_fit's ``sigma_per_atom`` convention). See the module docstring.
    special_config_types : sequence of str
        ``config_type`` values left out of the hull (loosest sigmas); non-periodic structures always are.
    special_sigmas : mapping or None
        ``{config_type: (σ_E eV/atom, σ_F eV/Å, σ_V eV/atom)}`` for structures left out of the hull, instead of the
        loosest sigmas (scaled to the configuration like the others).
    hull_distance : callable or None
        ``f(structures, volumes_per_atom, energies_per_atom) -> ΔE`` for the structures in the hull, instead of
        :func:`lower_hull_distance` (e.g. the composition–volume hull of
        :func:`aiida_gaprss.rss.formation_hull.multicomponent_sigmas`).

    Returns
    -------
    dict
        ``'distance'`` (ΔE eV/atom, NaN for special structures), ``'energy_sigma'`` (eV), ``'force_sigma'`` (eV/Å),
        ``'virial_sigma'`` (eV) arrays, one value per structure.
    """
    if natoms_scaling not in ('linear', 'sqrt'):
        raise ValueError(f"natoms_scaling must be 'linear' or 'sqrt', got {natoms_scaling!r}")
    atoms_list = list(atoms_list)
    if not atoms_list:
        raise ValueError('atoms_list is empty')
    n_atoms = np.array([len(a) for a in atoms_list], dtype=float)
    special = np.array([_is_special(a, special_config_types) for a in atoms_list])
    volumes = np.full(len(atoms_list), np.nan)
    energies = np.full(len(atoms_list), np.nan)
    for index, atoms in enumerate(atoms_list):
        if len(atoms) == 0:
            raise ValueError(f'atoms_list[{index}] has no atoms')
        if energy_key not in atoms.info:
            raise ValueError(f"atoms_list[{index}] has no info['{energy_key}']")
        energy = float(atoms.info[energy_key])
        if not np.isfinite(energy):
            raise ValueError(f"atoms_list[{index}] has a non-finite info['{energy_key}']")
        energies[index] = energy / len(atoms)
        if not special[index]:
            volume = abs(atoms.cell.volume)
            if volume <= 0:
                raise ValueError(f'atoms_list[{index}] is periodic but has zero cell volume')
            volumes[index] = volume / len(atoms)
    distance = np.full(len(atoms_list), np.nan)
    regular = ~special
    if regular.any():
        if hull_distance is None:
            distance[regular] = lower_hull_distance(volumes[regular], energies[regular])
        else:
            members = [atoms for atoms, keep in zip(atoms_list, regular, strict=True) if keep]
            distance[regular] = hull_distance(members, volumes[regular], energies[regular])
    ramp = np.where(regular, distance, np.inf)
    sigma_e, sigma_f, sigma_v = sigmas_from_distance(np.where(np.isfinite(ramp), ramp, 1e9))
    for config_type, values in (special_sigmas or {}).items():
        chosen = special & np.array([atoms.info.get('config_type') == config_type for atoms in atoms_list])
        try:
            sigma_e[chosen], sigma_f[chosen], sigma_v[chosen] = check_special_sigmas(values)
        except ValueError as exception:
            raise ValueError(f'special_sigmas.{config_type}: {exception}') from None
    factor = n_atoms if natoms_scaling == 'linear' else np.sqrt(n_atoms)
    logger.debug('hull sigmas: %d regular, %d special structures', int(regular.sum()), int(special.sum()))
    return {
        'distance': distance,
        'energy_sigma': sigma_e * factor,
        'force_sigma': sigma_f,
        'virial_sigma': sigma_v * factor,
    }


def set_sigmas(atoms_list: Sequence, **kwargs) -> list:
    """Write ``info['energy_sigma']``, ``['force_sigma']``, ``['virial_sigma']`` (and ``['hull_distance']``, eV/atom,
    omitted for structures outside the hull) into each Atoms, in place; returns the list.

    Keyword arguments are passed to :func:`per_structure_sigmas`.
    """
    atoms_list = list(atoms_list)
    result = per_structure_sigmas(atoms_list, **kwargs)
    for index, atoms in enumerate(atoms_list):
        atoms.info['energy_sigma'] = float(result['energy_sigma'][index])
        atoms.info['force_sigma'] = float(result['force_sigma'][index])
        atoms.info['virial_sigma'] = float(result['virial_sigma'][index])
        if np.isfinite(result['distance'][index]):
            atoms.info['hull_distance'] = float(result['distance'][index])
        else:
            atoms.info.pop('hull_distance', None)
    return atoms_list
