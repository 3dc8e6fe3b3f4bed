"""Input checks of ``GapRssWorkChain`` about its chemical system (one ``element`` or a ``composition``).

Run by the work chain's spec validator before anything is submitted; each returns the first problem, naming its
field, or ``None``.
"""

from __future__ import annotations

from aiida_gaprss.workflows import chemical_system

__all__ = ('validate_reference_species', 'validation_enabled')


def validate_reference_species(value) -> str | None:
    """Check every element against the reference engine now (e.g. a pseudopotential for each in the QE family)."""
    from aiida_gaprss.workflows.reference.engines import ENGINES

    reference = value.get('reference', {})
    engine = reference['engine'].value if 'engine' in reference else 'qe'
    if engine not in ENGINES:
        return None  # the reference namespace's own validator names the field
    error = ENGINES[engine].validate(reference, [chemical_system.probe_atoms(value)])
    if not error:
        return None
    if chemical_system.is_compound(value):
        return f'composition {chemical_system.system_label(value)}: {error}'
    return f'element {value["element"].value}: {error}'


def validation_enabled(inputs) -> bool:
    """Whether the known-phase validation runs: asked for, and one element (several are not wired yet)."""
    validation = inputs.get('validation', {})
    asked = bool(validation) and bool(validation['enabled'].value if 'enabled' in validation else True)
    return asked and not chemical_system.is_compound(inputs)
