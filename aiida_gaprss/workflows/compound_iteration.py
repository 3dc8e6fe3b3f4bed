"""What one GAP-RSS iteration does differently for a chemical system of several elements (``composition``).

Used by :class:`~aiida_gaprss.workflows.iteration.GapRssIterationWorkChain` only when its ``composition`` input is
set (see :mod:`aiida_gaprss.workflows.chemical_system`); the elemental iteration never calls these functions.

* pool: ``composition`` in the pool parameters (random cells of the system, dimers of every species pair);
* selection: the averaged SOAP over every species of the system (fixed, so that descriptors of any subset of cells
  have the same length), the flat histogram on the enthalpy above the formation hull;
* reference: the isolated-atom energy of every element (``isolated_atoms``; computed once per element and settings,
  then reused by the reference work chain);
* fit: ``e0`` per element from those energies, ``settings.elements`` (δ_2b over composition, the composition–volume
  hull report) and, unless the settings say otherwise, ``hull_sigmas`` as
  :data:`~aiida_gaprss.rss.gap_multicomponent.COMPOUND_HULL_SIGMAS` (on: the ramp above the (composition, V, E) hull;
  docs/multicomponent.md says why).
"""

from __future__ import annotations

from aiida import orm

from aiida_gaprss.rss.gap_multicomponent import COMPOUND_HULL_SIGMAS
from aiida_gaprss.workflows.chemical_system import COMPOUND_ENTHALPY

__all__ = (
    'compound_fit_inputs',
    'compound_pool',
    'compound_selection',
    'fitted_e0',
    'isolated_energies',
    'validate_compound_iteration',
)


def compound_pool(pool: dict, composition) -> dict:
    """Pool parameters of a chemical system: ``composition`` (plain value) instead of ``element``."""
    return {**pool, 'composition': composition}


def compound_selection(selection: dict, elements: list[str]) -> dict:
    """Selection parameters with every species in the SOAP (unless given)."""
    from ase.data import atomic_numbers

    soap = dict(selection.get('soap', {}))
    soap.setdefault('species', sorted(elements, key=lambda symbol: atomic_numbers[symbol]))
    return {**selection, 'soap': soap}


def fitted_e0(iteration_node) -> dict[str, float] | None:
    """The per-element ``e0`` the fit of a finished iteration used (``None`` if it used a method such as 'average')."""
    for link in iteration_node.base.links.get_outgoing(link_label_filter='fit').all():
        e0 = link.node.inputs.parameters.get_dict().get('e0')
        return dict(e0) if isinstance(e0, dict) else None
    return None


def isolated_energies(reference_node) -> dict[str, float]:
    """``{element: energy (eV)}`` of the isolated atoms a ReferenceWorkChain gave (empty if none)."""
    if 'isolated_atom_energies' not in reference_node.outputs:
        return {}
    namespace = reference_node.outputs.isolated_atom_energies
    return {element: float(namespace[element]['energy']) for element in namespace}


def compound_fit_inputs(fit_inputs, elements: list[str], e0: dict[str, float]) -> tuple[orm.Dict, orm.Dict]:
    """``parameters`` and ``settings`` (``elements``) of the fit.

    ``e0`` per element: the energies of this iteration's isolated atoms over those the given parameters hold already
    (the loop passes on the e0 of earlier iterations, as a later selection may lack an element); set only when every
    element has one (else the parameters' own ``e0``, e.g. 'average').
    """
    parameters = fit_inputs['parameters'].get_dict()
    known = dict(parameters['e0']) if isinstance(parameters.get('e0'), dict) else {}
    known.update(e0)
    if all(element in known for element in elements):
        parameters['e0'] = {element: float(known[element]) for element in elements}
    settings = fit_inputs['settings'].get_dict() if 'settings' in fit_inputs else {}
    settings['elements'] = list(elements)
    settings.setdefault('hull_sigmas', COMPOUND_HULL_SIGMAS)
    return orm.Dict(parameters), orm.Dict(settings)


def validate_compound_iteration(value, elements: list[str]) -> str | None:
    """Errors of an iteration of several elements not caught by the parameter validators (``None`` if fine)."""
    selection = value['parameters'].get_dict().get('selection', {})
    enthalpy = selection.get('enthalpy', 'own')
    if enthalpy != COMPOUND_ENTHALPY:
        return (
            f'field `parameters.selection.enthalpy`: several elements need {COMPOUND_ENTHALPY!r} (energies per atom of '
            f'different compositions are not comparable), got {enthalpy!r}'
        )
    fit = value.get('fit', {})
    if 'parameters' in fit:
        species = fit['parameters'].get_dict().get('species', [])
        missing = [element for element in elements if element not in species]
        if missing:
            return f'field `fit.parameters.species`: {missing} missing (the composition has {elements})'
    return None
