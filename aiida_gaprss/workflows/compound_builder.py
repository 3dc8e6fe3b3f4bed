"""The parts of ``get_builder_from_protocol`` that differ for a chemical system of several elements.

:func:`aiida_gaprss.workflows.builders.get_gaprss_builder` calls these when it is given a composition ('SiC',
'Si-C', ['Si', 'C'], ...) instead of one element; the elemental builder never does. What changes (see
:mod:`aiida_gaprss.workflows.chemical_system` for how the composition then flows through the loop):

* ``composition`` is set instead of ``element``;
* the dimer box is at least twice the longest dimer of any species pair plus 1 Å;
* the selection bins the enthalpy above the formation hull;
* the fit parameters are :func:`~aiida_gaprss.rss.gap_multicomponent.multicomponent_parameters` (2b per pair, 3b per
  centre and pair, SOAP per centre) with the protocol's ``fit`` overrides applied to every descriptor of a type;
* the reference computes the isolated-atom energy of every element (``e0``);
* the ASE engine's default reference is Tersoff's Si–C potential for systems of Si and C;
* the known-phase validation is that of the chemical system (:func:`set_compound_validation`): the elements'
  ground states and their known compounds, formation energies included; a system without known compounds is not
  validated (logged), or refused if ``overrides.validation`` asked for it.
"""

from __future__ import annotations

import logging

from aiida import orm

__all__ = (
    'ASE_DEFAULTS',
    'check_compound_builder',
    'compound_ase_default',
    'compound_dimer_box',
    'fill_compound_parts',
    'set_compound_validation',
)

LOGGER = logging.getLogger(__name__)

#: Default ASE reference of a chemical system, by the set of its elements: a calculator spec.
ASE_DEFAULTS = {
    frozenset({'Si', 'C'}): {'type': 'import', 'path': 'aiida_gaprss.rss.potentials:tersoff_si_c'},
}


def compound_ase_default(elements: list[str]) -> dict:
    """The default ASE calculator spec for ``elements`` (Tersoff for Si–C); ValueError naming the field otherwise."""
    for covered, spec in ASE_DEFAULTS.items():
        if set(elements) <= covered:
            return dict(spec)
    raise ValueError(
        f'field `overrides.reference.ase.calculator`: no default ASE reference for {"-".join(elements)}; give one'
    )


def compound_dimer_box(pool: dict, elements: list[str]) -> float:
    """The protocol's dimer box, raised above twice the longest dimer of any pair of ``elements`` (+1 Å)."""
    from aiida_gaprss.rss.dimers import DIMER_RANGE
    from aiida_gaprss.rss.species import species_scales

    scales = species_scales(elements, radii=pool.get('radii'), bonding=pool.get('bonding'))
    r_pair = max(0.5 * (a + b) for a in scales.radii for b in scales.radii)
    minimum = 4 * DIMER_RANGE[1] * r_pair
    return max(float(pool['dimer_box']), round(minimum + 1.0, 1))


def fill_compound_parts(builder, composition, settings: dict, user_parameters: dict) -> list[str]:
    """Set ``composition``, the iteration parameters and the fit parameters of a chemical system; its elements.

    Raises
    ------
    ValueError
        Naming the field, for a composition the protocol's pool cannot generate or fit overrides that do not apply.
    """
    from aiida_gaprss.rss.composition import parse_composition
    from aiida_gaprss.rss.gap_multicomponent import multicomponent_parameters
    from aiida_gaprss.workflows.chemical_system import COMPOUND_ENTHALPY

    elements = list(parse_composition(composition).elements)
    if isinstance(composition, str):
        builder.composition = orm.Str(composition)
    elif isinstance(composition, dict):
        builder.composition = orm.Dict({key: list(v) if isinstance(v, tuple) else v for key, v in composition.items()})
    else:
        builder.composition = orm.List(list(composition))
    parameters = settings['parameters']
    pool = parameters.setdefault('pool', {})
    user_box = (user_parameters.get('pool') or {}).get('dimer_box')
    if 'dimer_box' in pool and user_box is None:
        pool['dimer_box'] = compound_dimer_box(pool, elements)
    selection = parameters.setdefault('selection', {})
    user_enthalpy = (user_parameters.get('selection') or {}).get('enthalpy')
    if user_enthalpy is None:
        selection['enthalpy'] = COMPOUND_ENTHALPY
    builder.parameters = orm.Dict(parameters)
    try:
        fit = multicomponent_parameters(
            elements, radii=pool.get('radii'), bonding=pool.get('bonding'), overrides=settings.get('fit') or {}
        )
    except ValueError as exception:
        raise ValueError(f'field `overrides.fit`: {exception}') from exception
    builder.fit.parameters = orm.Dict(fit)
    builder.reference.isolated_atoms = orm.Bool(True)
    return elements


def set_compound_validation(builder, elements: list[str], protocol: str | None, enabled, asked: bool) -> None:
    """Validate every iteration's potential on the chemical system's known phases, when ``enabled``.

    The reference side is the loop's own reference (Tersoff for Si–C on the ASE engine), as for one element.

    Parameters
    ----------
    enabled
        The protocol's ``validation`` after the overrides (True or False).
    asked
        Whether ``overrides`` set ``validation`` to True (a system without known compounds is then refused).

    Raises
    ------
    ValueError
        ``field `overrides.validation``` for a value that is not a bool, or a system without known compound phases
        whose validation was asked for.
    """
    from aiida_gaprss.workflows.rss_checks import system_phases_error
    from aiida_gaprss.workflows.validation import loop_validation_inputs

    if not isinstance(enabled, bool):
        raise ValueError(f'field `overrides.validation`: expected true or false, got {enabled!r}')
    if not enabled:
        return
    error = system_phases_error(elements)
    if error:
        if asked:
            raise ValueError(f'field `overrides.validation`: {error}; set it to false')
        LOGGER.warning('%s: the run is not validated', error)
        return
    builder.validation = loop_validation_inputs(elements, protocol or 'moderate')


def check_compound_builder(builder) -> None:
    """Run the work chain's checks of the chemical system on the filled builder now: ValueError naming the field.

    The iteration parameters for the composition (cell sizes that hold it, separations that fit the volumes), the
    selection's enthalpy, the fit's species and the reference engine for every element (e.g. a pseudopotential of
    each in the QE family).
    """
    from aiida_gaprss.workflows.iteration import validate_system_parameters
    from aiida_gaprss.workflows.rss_checks import validate_reference_species

    error = validate_system_parameters(builder) or validate_reference_species(builder)
    if error:
        raise ValueError(error)
