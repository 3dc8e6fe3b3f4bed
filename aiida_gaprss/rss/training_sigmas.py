"""Per-structure gap_fit sigmas of a training set from its lower convex hull, and δ_2b from its energies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ('set_training_sigmas',)


def set_training_sigmas(
    frames: Sequence,
    *,
    elements: Sequence[str] | None = None,
    natoms_scaling: str = 'linear',
    special_sigmas: Mapping | None = None,
    e0: Mapping[str, float] | None = None,
    delta_2b_about: str = 'mean',
) -> float:
    """Write the hull sigmas into ``frames`` (in place, :func:`aiida_gaprss.rss.hull.set_sigmas`) and return δ_2b (eV).

    ``elements`` (several chemical symbols): the (composition, V, E) lower hull
    (:func:`aiida_gaprss.rss.formation_hull.composition_volume_hull_distance`) and δ_2b the spread of E/N after the best
    linear function of the composition (:func:`aiida_gaprss.rss.gap_multicomponent.delta_2b_multicomponent`); else the
    elemental (V, E) hull and :func:`aiida_gaprss.rss.gap_hyper.delta_2b` (``e0``, ``delta_2b_about``).
    """
    from aiida_gaprss.rss.formation_hull import composition_fractions, composition_volume_hull_distance
    from aiida_gaprss.rss.gap_hyper import delta_2b
    from aiida_gaprss.rss.gap_multicomponent import delta_2b_multicomponent
    from aiida_gaprss.rss.hull import set_sigmas

    frames = list(frames)
    energies = [atoms.info['energy'] for atoms in frames]
    sizes = [len(atoms) for atoms in frames]
    if elements:

        def distance(regular, volumes, per_atom):
            return composition_volume_hull_distance(composition_fractions(regular, elements), volumes, per_atom)

        set_sigmas(frames, natoms_scaling=natoms_scaling, special_sigmas=special_sigmas, hull_distance=distance)
        return delta_2b_multicomponent(energies, composition_fractions(frames, elements), sizes)
    set_sigmas(frames, natoms_scaling=natoms_scaling, special_sigmas=special_sigmas)
    symbols = [atoms.get_chemical_symbols() for atoms in frames] if e0 else None
    return delta_2b(energies, sizes, e0=e0, symbols=symbols, about=delta_2b_about)
