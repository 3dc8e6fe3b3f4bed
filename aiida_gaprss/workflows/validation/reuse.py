"""The QE/VASP reference side of a validation reused across runs: a fingerprint of its settings and the lookup.

The reference side (variable-cell relaxations of every phase and their E(V) points) costs hours at converged settings
and depends only on the reference settings, never on the potential. Each ``ValidationWorkChain`` with a QE or VASP
reference stores the fingerprint of those settings as the extra :data:`FINGERPRINT_EXTRA` on itself and on the
``reference_results`` it outputs; a later validation with the same fingerprint in the same profile reuses that side
(and relaxes only the phases it lacks) unless ``reference.reuse`` is False.

What the fingerprint holds: the engine, the system, the ``relax`` and ``eos`` settings of the jobs, the code (its
UUID: the same code node, as a user's runs share), the effective protocol (the YAML content, not only its name), the
pseudopotentials of the system's elements (md5 of each and the family's recommended cut-offs, QE) or the POTCAR
family and mapping (VASP), every other input of the engine namespace by content, and the versions of aiida-gaprss and
of the engine's plugin. Not in it: ``options``, ``parallelization``, ``max_iterations`` and ``max_concurrent`` (how
the jobs run, not what they compute).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence

from aiida import orm

__all__ = ('FINGERPRINT_EXTRA', 'IGNORED_KEYS', 'find_reference_side', 'reference_fingerprint')

LOGGER = logging.getLogger(__name__)

#: Extra holding the fingerprint on a ValidationWorkChain and on its ``reference_results``.
FINGERPRINT_EXTRA = 'gaprss_reference_fingerprint'
#: Inputs of the engine namespace that say how the jobs run, not what they compute.
IGNORED_KEYS = frozenset({'options', 'parallelization', 'max_iterations', 'max_concurrent'})
_PLUGINS = {'qe': 'aiida_quantumespresso', 'vasp': 'aiida_vasp'}


def _node_content(node):
    """A JSON-able value standing for ``node``: a code's UUID, a Data node's content, else its AiiDA hash."""
    if isinstance(node, orm.AbstractCode):
        return {'code': node.uuid}
    if isinstance(node, orm.Dict):
        return node.get_dict()
    if isinstance(node, orm.List):
        return node.get_list()
    if isinstance(node, orm.BaseType):
        return node.value
    return {'hash': node.base.caching.get_hash()}


def _plugin_version(engine: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(_PLUGINS[engine].replace('_', '-'))
    except importlib.metadata.PackageNotFoundError:
        return 'absent'


def _pseudos(engine: str, namespace: Mapping, protocol: dict, elements: Sequence[str]) -> dict:
    """md5 of each element's pseudopotential (QE); the POTCAR family and mapping are inputs already (VASP)."""
    if engine != 'qe':
        return {}
    label = namespace['pseudo_family'].value if 'pseudo_family' in namespace else protocol.get('pseudo_family')
    try:
        family = orm.load_group(label)
        pseudos = {element: family.get_pseudo(element).md5 for element in elements}
    except Exception as exception:  # noqa: BLE001 - a missing family is the input check's to refuse, not ours
        return {'family': label, 'unresolved': type(exception).__name__}
    try:  # the cut-offs the builders take from the family unless the protocol lists them
        pseudos['recommended_cutoffs'] = list(family.get_recommended_cutoffs(elements=tuple(elements), unit='Ry'))
    except Exception:  # noqa: BLE001 - a family without recommended cut-offs
        pseudos['recommended_cutoffs'] = None
    return pseudos


def reference_fingerprint(
    engine: str,
    namespace: Mapping,
    elements: Sequence[str],
    relax: Mapping,
    eos: Mapping | None,
) -> str:
    """SHA-256 of the settings a QE or VASP reference side depends on (see the module docstring).

    Parameters
    ----------
    engine : {'qe', 'vasp'}
        The reference engine.
    namespace : Mapping
        The engine's input namespace of the validation (``inputs.reference.qe`` or ``.vasp``): port name -> node.
    elements : sequence of str
        The element or the elements of the chemical system.
    relax, eos : Mapping
        The ``relax`` and ``eos`` settings of the validation's jobs (``eos`` None for no E(V) curves).

    Returns
    -------
    str
        A hex digest; equal for validations whose reference sides are interchangeable.
    """
    from aiida_gaprss import __version__
    from aiida_gaprss.workflows.reference.protocols import load_protocol

    if engine not in _PLUGINS:
        raise ValueError(f'field `reference.engine`: only qe and vasp reference sides are reused, got {engine!r}')
    protocol = load_protocol(engine, namespace['protocol'].value if 'protocol' in namespace else None)
    content = {
        'engine': engine,
        'elements': sorted(elements),
        'relax': dict(relax),
        'eos': dict(eos) if eos is not None else None,
        'protocol': protocol,
        'pseudos': _pseudos(engine, namespace, protocol, sorted(elements)),
        'inputs': {key: _node_content(node) for key, node in sorted(namespace.items()) if key not in IGNORED_KEYS},
        'versions': {'aiida-gaprss': __version__, engine: _plugin_version(engine)},
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def find_reference_side(fingerprint: str) -> orm.Dict | None:
    """The newest ``reference_results`` with this fingerprint in the profile, or None."""
    query = orm.QueryBuilder()
    query.append(orm.Dict, filters={f'extras.{FINGERPRINT_EXTRA}': fingerprint}, project='*')
    query.order_by({orm.Dict: {'ctime': 'desc'}})
    query.limit(1)
    found = query.first(flat=True)
    if found is not None:
        LOGGER.info('reference side %s found for fingerprint %s', found.pk, fingerprint[:12])
    return found
