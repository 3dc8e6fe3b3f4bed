"""What the folder of a shipped potential records about it: the known phases at their minima, the check structure
and the training set's counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ('PHASE_RELAX', 'check_structure', 'phase_energies', 'training_summary')

#: How the known phases are relaxed for ``metadata.json`` (and by a refit): variable cell, GPa, eV/Å, steps.
PHASE_RELAX = {'pressure': 0.0, 'fmax': 0.01, 'smax': 0.01, 'steps': 500}


def phase_energies(calculator, element: str, phases: Sequence[str] | None = None, relax: Mapping | None = None) -> dict:
    """Energy and volume per atom of known phases of ``element`` at their minima, relaxed with ``calculator``.

    Parameters
    ----------
    calculator
        An ASE calculator or a calculator spec.
    element : str
        Its chemical symbol (the phases come from :func:`aiida_gaprss.rss.phases.build_phase`).
    phases : sequence of str, optional
        Phase names (default: every known phase of the element).
    relax : mapping, optional
        :data:`PHASE_RELAX` keys ``pressure`` (GPa), ``fmax``, ``smax``, ``steps`` (default: :data:`PHASE_RELAX`).

    Returns
    -------
    dict
        ``{name: {'energy_per_atom', 'volume_per_atom', 'natoms', 'converged'}}``.
    """
    from aiida_gaprss.rss.phases import build_phase, phase_names
    from aiida_gaprss.rss.potentials import calculator_from_spec
    from aiida_gaprss.rss.validation import relax_phase

    if isinstance(calculator, dict):
        calculator = calculator_from_spec(calculator)
    settings = {**PHASE_RELAX, **(relax or {})}
    names = phase_names(element) if phases is None else list(phases)
    result = {}
    for name in names:
        final = relax_phase(build_phase(element, name), calculator, **settings)
        result[name] = {
            'energy_per_atom': float(final.info['energy_per_atom']),
            'volume_per_atom': float(final.info['volume_per_atom']),
            'natoms': len(final),
            'converged': bool(final.info.get('converged', False)),
        }
    return result


def check_structure(elements: Sequence[str], frames: Sequence):
    """The structure whose energy and forces ``metadata.json`` stores: for a one-element potential with known phases
    its first phase (diamond for Si) in the conventional cell, rattled by 0.05 Å (seed 1); else the first periodic
    training structure."""
    from aiida_gaprss.rss.phases import PHASES, build_phase, phase_names

    if len(elements) == 1 and elements[0] in PHASES:
        atoms = build_phase(elements[0], phase_names(elements[0])[0], primitive=False)
        atoms.rattle(0.05, seed=1)
        atoms.info = {'description': f'{atoms.info["phase"]} (conventional cell, rattled 0.05 Å, seed 1)'}
        return atoms
    for atoms in frames:
        if all(atoms.pbc):
            result = atoms.copy()
            result.info = {'description': 'the first periodic training structure'}
            return result
    result = frames[0].copy()
    result.info = {'description': 'the first training structure'}
    return result


def training_summary(frames: Sequence) -> dict:
    """Counts of a training set: structures, atoms, species, config types, labels and per-structure sigmas."""
    from collections import Counter

    config_types: Counter = Counter()
    labels: Counter = Counter()
    sigmas: Counter = Counter()
    species: set = set()
    for atoms in frames:
        config_types[str(atoms.info.get('config_type', 'none'))] += 1
        species.update(atoms.get_chemical_symbols())
        labels.update(key for key in ('energy', 'virial') if key in atoms.info)
        labels.update(['forces'] if 'forces' in atoms.arrays else [])
        sigmas.update(key for key in ('energy_sigma', 'force_sigma', 'virial_sigma') if key in atoms.info)
    return {
        'num_structures': len(frames),
        'num_atoms': int(sum(len(atoms) for atoms in frames)),
        'species': sorted(species),
        'config_types': dict(sorted(config_types.items())),
        'labels': {key: labels[key] for key in ('energy', 'forces', 'virial')},
        'sigmas': {key: sigmas[key] for key in ('energy_sigma', 'force_sigma', 'virial_sigma')},
    }
