"""``get_builder_from_protocol`` of the GAP-RSS loop: one call from (element, engine, protocol, codes) to a builder.

The element may be a chemical system of several elements instead ('SiC', 'Si-C', ['Si', 'C'], ...): the parts that
differ are in :mod:`aiida_gaprss.workflows.compound_builder`.

The protocol (``aiida_gaprss/protocols/gaprss.yaml``) gives the budget, the selection sizes, the iteration
parameters, the Table-1 fit overrides and the reference protocol of each engine; ``overrides`` deep-merges on top.
Every value is validated before the builder is returned, so bad input fails here, with the field named, and
nothing is submitted.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping

from aiida import orm

from aiida_gaprss.common import checks
from aiida_gaprss.common.merge import deep_merge
from aiida_gaprss.protocols import load_gaprss_protocol
from aiida_gaprss.rss.elements import validate_element
from aiida_gaprss.rss.gap_parameters import table1_parameters

__all__ = ('ENGINES', 'ENGINE_CODES', 'fill_engine', 'get_gaprss_builder')

LOGGER = logging.getLogger(__name__)

#: Reference engines the loop can use.
ENGINES = ('qe', 'vasp', 'ase')
#: The entry of ``codes`` each engine runs.
ENGINE_CODES = {'qe': 'pw', 'vasp': 'vasp', 'ase': 'python'}

#: Keys ``overrides`` may hold.
OVERRIDE_KEYS = ('budget', 'max_iterations', 'num_select_initial', 'num_select', 'parameters', 'fit', 'reference',
                 'convergence_tolerance', 'max_concurrent', 'gap_fit_options', 'validation')  # fmt: skip


def get_gaprss_builder(
    process_class,
    element,
    *,
    codes: Mapping[str, orm.AbstractCode],
    engine: str = 'qe',
    protocol: str | None = None,
    overrides: Mapping | None = None,
    gap_fit_threads: int = 2,
):
    """Return a builder of ``process_class`` (the GapRssWorkChain) filled from a protocol.

    Parameters
    ----------
    element
        Chemical symbol (any element; B, C, Si and Ti have the paper's radii), or a chemical system of several
        elements: a list of symbols (['Si', 'C']: every composition), a formula ('SiC'), a system ('Si-C'), a list
        of formulas or a mapping (see :func:`aiida_gaprss.workflows.chemical_system.normalise_system`).
    codes
        ``python`` (the job Python) and ``gap_fit`` always; ``pw`` for engine 'qe', ``vasp`` for engine 'vasp'.
    engine
        'qe', 'vasp' or 'ase'. For 'ase' the calculator comes from ``overrides['reference']['ase']['calculator']``
        (default for Si: Stillinger-Weber; for C: Tersoff's carbon, as in the Si–C system; none for others).
    protocol
        'fast', 'moderate', 'precise' or 'tiny' (tests, benchmarks) (default: the file's default).
    overrides
        Deep-merged into the protocol: ``budget``, ``max_iterations``, ``num_select_initial``, ``num_select``,
        ``parameters``, ``fit`` (Table-1 overrides), ``reference`` (per engine: protocol name or inputs),
        ``convergence_tolerance``, ``max_concurrent`` (reference calculations at once), ``gap_fit_options``,
        ``validation`` (validate every iteration's potential on the element's known phases — for a chemical system
        its elements' ground states and known compounds, with formation energies; not with VASP yet).

    Raises
    ------
    ValueError
        Naming the field, for an unknown element, engine, protocol, override, a missing code or a bad number; for a
        composition also one the protocol's cells cannot hold, a species without a pseudopotential in the QE family
        (checked when the builder is submitted, by the work chain's validator) and impossible radii.
    """
    from aiida_gaprss.workflows import compound_builder
    from aiida_gaprss.workflows.chemical_system import normalise_system

    element, composition = normalise_system(element)
    if engine not in ENGINES:
        raise ValueError(f'field `engine`: expected one of {ENGINES}, got {engine!r}')
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(OVERRIDE_KEYS))
    if unknown:
        raise ValueError(f'field `overrides.{unknown[0]}`: unknown key; known: {list(OVERRIDE_KEYS)}')
    settings = deep_merge(load_gaprss_protocol(protocol), overrides)
    needed = {'python', 'gap_fit', ENGINE_CODES[engine]}
    missing = sorted(name for name in needed if name not in codes)
    if missing:
        raise ValueError(f'field `codes.{missing[0]}`: a code is needed for engine {engine!r}')

    builder = process_class.get_builder()
    builder.code = codes['python']
    for key in ('budget', 'max_iterations', 'num_select_initial', 'num_select'):
        setattr(builder, key, orm.Int(checks.positive_integer(settings[key], checks.field(key))))
    if settings.get('convergence_tolerance') is not None:
        builder.convergence_tolerance = orm.Float(float(settings['convergence_tolerance']))
    if composition is not None:
        elements = compound_builder.fill_compound_parts(
            builder, composition, settings, overrides.get('parameters') or {}
        )
        _fill_fit_options(builder, codes, settings, gap_fit_threads)
        _fill_reference(builder, engine, settings, codes, lambda: compound_builder.compound_ase_default(elements))
        compound_builder.set_compound_validation(
            builder, elements, protocol, settings.get('validation'), asked=overrides.get('validation') is True
        )
        compound_builder.check_compound_builder(builder)
        return builder
    builder.element = orm.Str(validate_element(element))
    pool = settings['parameters'].get('pool', {})
    user_box = ((overrides.get('parameters') or {}).get('pool') or {}).get('dimer_box')
    if 'dimer_box' in pool and user_box is None:
        # the protocol's box (12 Å) holds dimers up to 5.5 Å; every element needs one above twice its longest (5 r)
        from aiida_gaprss.rss.elements import characteristic_radius
        from aiida_gaprss.rss.generation import DIMER_RANGE

        minimum = 4 * DIMER_RANGE[1] * characteristic_radius(element)
        pool['dimer_box'] = max(float(pool['dimer_box']), round(minimum + 1.0, 1))
    builder.parameters = orm.Dict(settings['parameters'])

    builder.fit.parameters = orm.Dict(table1_parameters(element, overrides=settings.get('fit') or {}))
    _fill_fit_options(builder, codes, settings, gap_fit_threads)
    _fill_reference(builder, engine, settings, codes, lambda: _element_ase_default(element))
    _set_validation(builder, element, engine, protocol, settings.get('validation'))
    return builder


#: Default ASE reference of one element (a calculator spec); other elements take that of the chemical systems
#: holding them (:data:`aiida_gaprss.workflows.compound_builder.ASE_DEFAULTS`: Tersoff's carbon for C), else none.
ELEMENT_ASE_DEFAULTS = {'Si': {'type': 'sw_si'}}


def _element_ase_default(element: str) -> dict:
    """The default ASE calculator spec of ``element``: Stillinger-Weber for Si, Tersoff for C; ValueError otherwise."""
    from aiida_gaprss.workflows.compound_builder import compound_ase_default

    if element in ELEMENT_ASE_DEFAULTS:
        return dict(ELEMENT_ASE_DEFAULTS[element])
    return compound_ase_default([element])


def _fill_fit_options(builder, codes, settings: dict, gap_fit_threads: int) -> None:
    """The gap_fit code, evaluation code and job options of the fit."""
    gap_fit = builder.fit.gap_fit.gap_fit
    gap_fit.code = codes['gap_fit']
    gap_fit.evaluation_code = codes['python']
    options = {'num_threads': int(gap_fit_threads), **copy.deepcopy(settings.get('gap_fit_options') or {})}
    for key, value in options.items():
        try:
            setattr(gap_fit.metadata.options, key, value)
        except (AttributeError, ValueError) as exception:
            raise ValueError(f'field `overrides.gap_fit_options.{key}`: {exception}') from exception


def _fill_reference(builder, engine: str, settings: dict, codes, ase_default) -> None:
    """The reference namespace: engine, concurrency and the engine's inputs (``ase_default()`` for a bare ASE)."""
    reference = builder.reference
    reference.engine = orm.Str(engine)
    if 'max_concurrent' in settings:
        concurrent = checks.positive_integer(settings['max_concurrent'], checks.field('max_concurrent'))
        reference.max_concurrent = orm.Int(concurrent)
    choice = settings['reference'].get(engine)
    if engine == 'ase':
        choice = dict(choice or {})
        if 'calculator' not in choice and 'potential' not in choice:
            choice['calculator'] = ase_default()
    fill_engine(reference, engine, choice, codes[ENGINE_CODES[engine]])


def _set_validation(builder, element: str, engine: str, protocol: str | None, enabled) -> None:
    """Validate every iteration's potential on the known phases (reference side computed once per run)."""
    from aiida_gaprss.rss.phases import PHASES
    from aiida_gaprss.workflows.validation import loop_validation_inputs

    checks.boolean(enabled, checks.field('overrides.validation'))
    if not enabled:
        return
    if element not in PHASES:
        LOGGER.warning('no known phases for %s: the run is not validated', element)
        return
    builder.validation = loop_validation_inputs(element, protocol or 'moderate')


def fill_engine(namespace, engine: str, choice, code) -> None:
    """Fill the ``engine`` inputs of a ReferenceWorkChain namespace (``builder.reference``) from a protocol's choice.

    Parameters
    ----------
    namespace
        The builder namespace holding the ``qe``, ``vasp`` and ``ase`` namespaces.
    engine : {'qe', 'vasp', 'ase'}
        The engine.
    choice : str or dict or None
        ``qe`` and ``vasp``: a protocol name of ``reference_<engine>.yaml`` or a dict of inputs (``vasp`` needs
        ``potential_family`` and ``potential_mapping``); ``ase``: a dict with ``calculator`` or ``potential``.
    code : orm.AbstractCode
        pw.x, VASP or the job Python.

    Raises
    ------
    ValueError
        Naming the field ``overrides.reference.<engine>.<key>`` of a missing or unusable value.
    """
    if engine == 'vasp':
        choice = {'protocol': choice} if isinstance(choice, str) else dict(choice or {})
        for key in ('potential_family', 'potential_mapping'):
            if key not in choice:
                raise ValueError(f'field `overrides.reference.vasp.{key}`: needed for engine vasp')
    inputs = getattr(namespace, engine)
    inputs.code = code
    if isinstance(choice, str):
        inputs.protocol = orm.Str(choice)
    elif isinstance(choice, Mapping):
        _fill(inputs, choice, f'reference.{engine}')


def _fill(namespace, values: Mapping, field: str) -> None:
    """Set plain values as AiiDA nodes on a builder namespace (str → Str, dict → Dict, int → Int, float → Float)."""
    for key, value in values.items():
        if isinstance(value, orm.Data):
            node = value
        elif isinstance(value, bool):
            node = orm.Bool(value)
        elif isinstance(value, str):
            node = orm.Str(value)
        elif isinstance(value, int):
            node = orm.Int(value)
        elif isinstance(value, float):
            node = orm.Float(value)
        elif isinstance(value, Mapping):
            node = orm.Dict(dict(value))
        else:
            raise ValueError(f'field `{field}.{key}`: cannot use a {type(value).__name__}')
        try:
            setattr(namespace, key, node)
        except (AttributeError, ValueError, TypeError) as exception:
            raise ValueError(f'field `{field}.{key}`: {exception}') from exception
