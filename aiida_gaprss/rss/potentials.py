"""Reference potentials and picklable calculator specifications.

Two things live here:

* :func:`stillinger_weber_si` -- a real, cheap Si potential (QUIP's ``IP SW``) used as a reference
  calculator in tests and benchmarks; :func:`tersoff_si_c` -- Tersoff's Si–C potential (QUIP's ``IP Tersoff``),
  the multi-element reference of the same kind (spec ``{'type': 'import', 'path':
  'aiida_gaprss.rss.potentials:tersoff_si_c'}``).
* :func:`calculator_from_spec` -- builds an ASE calculator from a small, picklable ``dict``. quippy
  ``Potential`` objects cannot be pickled, so worker processes receive the *spec* and build their own
  calculator from it.

Specs
-----
``{'type': 'sw_si'}``
    Stillinger--Weber silicon (:func:`stillinger_weber_si`).
``{'type': 'gap', 'xml': '/path/to/gap.xml'}``
    A GAP potential read by quippy (the sparseX companion files must sit next to the XML). An optional
    ``'args_str'`` is passed on to ``quippy.potential.Potential``.
``{'type': 'import', 'path': 'package.module:callable', 'kwargs': {...}}``
    Any importable callable returning an ASE calculator; ``kwargs`` (optional) are passed to it.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    'SW_SI_PARAM_XML',
    'SW_SI_LATTICE_CONSTANT',
    'SW_SI_COHESIVE_ENERGY',
    'stillinger_weber_si',
    'TERSOFF_SI_C_PARAM_XML',
    'tersoff_si_c',
    'calculator_from_spec',
    'validate_calculator_spec',
]

#: Stillinger--Weber parameters for Si, Phys. Rev. B 31, 5262 (1985), in QUIP's ``IP SW`` format (the parameter
#: set of QUIP's ``share/Parameters/ip.parms.SW.xml`` and of the quippy documentation). QUIP uses
#: eps = 2.1675 eV (the paper's 50 kcal/mol is 2.1683 eV), so diamond Si has E = -2 eps = -4.3350 eV/atom here
#: (-4.3366 eV/atom with the paper's eps) at a = 5.4310 Angstrom.
SW_SI_PARAM_XML = """<SW_params n_types="1">
<comment> Stillinger and Weber, Phys. Rev. B  31 p 5262 (1984)</comment>
<per_type_data type="1" atomic_num="14" />
<per_pair_data atnum_i="14" atnum_j="14" AA="7.049556277" BB="0.6022245584"
      p="4" q="0" a="1.80" sigma="2.0951" eps="2.1675" />
<per_triplet_data atnum_c="14" atnum_j="14" atnum_k="14"
      lambda="21.0" gamma="1.20" eps="2.1675" />
</SW_params>
"""

#: Equilibrium lattice constant (Angstrom) of diamond Si with :data:`SW_SI_PARAM_XML` (measured: 5.43095).
SW_SI_LATTICE_CONSTANT = 5.43095
#: Energy per atom (eV) of relaxed diamond Si with :data:`SW_SI_PARAM_XML` (= -2 eps).
SW_SI_COHESIVE_ENERGY = -4.3350

#: Tersoff's multi-component parameters for Si and C, J. Tersoff, Phys. Rev. B 39, 5566 (1989), Table I
#: (chi_Si-C = 0.9776), in QUIP's ``IP Tersoff`` format (per-type A, B, lambda, mu, beta, n, c, d, h, R, S; pair chi).
#: Diamond Si: -4.63 eV/atom, diamond C: -7.37 eV/atom, 3C-SiC: -6.17 eV/atom (checked in tests/rss).
TERSOFF_SI_C_PARAM_XML = """<Tersoff_params n_types="2" label="Tersoff_PRB_39_5566_SiC">
<comment> Tersoff, Phys. Rev. B 39, 5566 (1989): Si and C </comment>
<per_type_data type="1" atomic_num="14" A="1830.8" B="471.18" lambda="2.4799" mu="1.7322" beta="1.1e-6"
  n="0.78734" c="100390" d="16.217" h="-0.59825" R="2.7" S="3.0" />
<per_type_data type="2" atomic_num="6" A="1393.6" B="346.74" lambda="3.4879" mu="2.2119" beta="1.5724e-7"
  n="0.72751" c="38049" d="4.3484" h="-0.57058" R="1.8" S="2.1" />
<per_pair_data type1="1" type2="1" chi="1.0" />
<per_pair_data type1="2" type2="2" chi="1.0" />
<per_pair_data type1="1" type2="2" chi="0.9776" />
</Tersoff_params>
"""

_SPEC_TYPES = ('sw_si', 'gap', 'import')


def stillinger_weber_si():
    """Return a quippy ``Potential`` for Stillinger--Weber silicon.

    Returns
    -------
    quippy.potential.Potential
        An ASE calculator (energy, forces, stress) with cut-off a * sigma = 3.771 Angstrom.
    """
    from quippy.potential import Potential

    return Potential('IP SW', param_str=SW_SI_PARAM_XML)


def tersoff_si_c():
    """Return a quippy ``Potential`` for Tersoff's Si–C potential (:data:`TERSOFF_SI_C_PARAM_XML`).

    Returns
    -------
    quippy.potential.Potential
        An ASE calculator (energy, forces, stress); cut-offs S = 3.0 Å (Si), 2.1 Å (C), sqrt(S_i S_j) for a pair.
    """
    from quippy.potential import Potential

    return Potential('IP Tersoff', param_str=TERSOFF_SI_C_PARAM_XML)


def validate_calculator_spec(spec: Any) -> dict:
    """Check a calculator spec and return a normalised copy.

    Parameters
    ----------
    spec : dict
        See the module docstring.

    Returns
    -------
    dict
        A new dict with the same content (``kwargs`` defaulted to ``{}`` for ``'import'``).

    Raises
    ------
    ValueError
        If the spec is malformed; the message names the offending field.
    """
    if not isinstance(spec, dict):
        raise ValueError(f'calculator_spec: expected a dict, got {type(spec).__name__}')
    kind = spec.get('type')
    if kind not in _SPEC_TYPES:
        raise ValueError(f"calculator_spec['type']: expected one of {_SPEC_TYPES}, got {kind!r}")
    allowed = {'sw_si': {'type'}, 'gap': {'type', 'xml', 'args_str'}, 'import': {'type', 'path', 'kwargs'}}[kind]
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(f'calculator_spec[{unknown[0]!r}]: unknown field for type {kind!r}')
    out = dict(spec)
    if kind == 'gap':
        xml = spec.get('xml')
        if not isinstance(xml, (str, Path)) or not str(xml):
            raise ValueError(f"calculator_spec['xml']: expected a path to a GAP XML file, got {xml!r}")
        if not Path(xml).is_file():
            raise ValueError(f"calculator_spec['xml']: file not found: {xml}")
        out['xml'] = str(xml)
        if 'args_str' in spec and not isinstance(spec['args_str'], str):
            raise ValueError("calculator_spec['args_str']: expected a string")
    elif kind == 'import':
        path = spec.get('path')
        if not isinstance(path, str) or path.count(':') != 1 or not all(path.split(':')):
            raise ValueError(f"calculator_spec['path']: expected 'package.module:callable', got {path!r}")
        kwargs = spec.get('kwargs', {})
        if kwargs is None:
            kwargs = {}
        if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            raise ValueError("calculator_spec['kwargs']: expected a dict with string keys")
        out['kwargs'] = dict(kwargs)
        check_calculator_factory(path)
    return out


#: Packages whose callables may be used as calculator factories even when they are not Calculator classes.
FACTORY_PACKAGES = ('aiida_gaprss', 'quippy')


def check_calculator_factory(path: str) -> None:
    """Refuse an ``import`` path that is not an ASE calculator class or a factory of an allowed package.

    A spec is run by a job with its ``kwargs``; accepting any callable (``os:system``, ``subprocess:getoutput``)
    would let a parameter run a shell command. Allowed: subclasses of ASE's ``BaseCalculator`` (any package), and
    callables of :data:`FACTORY_PACKAGES`.

    Raises
    ------
    ValueError
        Naming ``calculator_spec['path']``.
    """
    import importlib
    import inspect

    from ase.calculators.calculator import BaseCalculator

    module_name, _, attribute = path.partition(':')
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError, TypeError) as exception:
        raise ValueError(f"calculator_spec['path']: cannot import {path!r}: {exception}") from exception
    if inspect.isclass(target) and issubclass(target, BaseCalculator):
        return
    if callable(target) and module_name.split('.')[0] in FACTORY_PACKAGES:
        return
    raise ValueError(
        f"calculator_spec['path']: {path!r} is not an ASE calculator class (nor a factory of {FACTORY_PACKAGES})"
    )


def calculator_from_spec(spec: dict):
    """Build an ASE calculator from a picklable spec.

    Parameters
    ----------
    spec : dict
        ``{'type': 'sw_si'}``, ``{'type': 'gap', 'xml': path}`` or
        ``{'type': 'import', 'path': 'module:callable', 'kwargs': {...}}``.

    Returns
    -------
    ase.calculators.calculator.Calculator
        A fresh calculator (build one per process; quippy objects are not picklable).

    Raises
    ------
    ValueError
        If the spec is malformed, the callable cannot be imported, or it does not return a calculator.
    """
    spec = validate_calculator_spec(spec)
    kind = spec['type']
    if kind == 'sw_si':
        return stillinger_weber_si()
    if kind == 'gap':
        from quippy.potential import Potential

        return Potential(spec.get('args_str', ''), param_filename=spec['xml'])
    module_name, attr = spec['path'].split(':')
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"calculator_spec['path']: cannot import module {module_name!r}: {exc}") from exc
    factory = module
    for part in attr.split('.'):
        try:
            factory = getattr(factory, part)
        except AttributeError as exc:
            raise ValueError(f"calculator_spec['path']: {module_name!r} has no attribute {attr!r}") from exc
    if not callable(factory):
        raise ValueError(f"calculator_spec['path']: {spec['path']!r} is not callable")
    calc = factory(**spec['kwargs'])
    if not (hasattr(calc, 'get_potential_energy') or hasattr(calc, 'get_property')):
        raise ValueError(f"calculator_spec['path']: {spec['path']!r} returned {type(calc).__name__}, not a calculator")
    return calc
