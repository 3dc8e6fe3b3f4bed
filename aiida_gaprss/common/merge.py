"""``deep_merge``: nested overrides of protocol and parameter dictionaries."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

__all__ = ('deep_merge',)


def deep_merge(base: Mapping, overrides: Mapping | None) -> dict:
    """Return a deep copy of ``base`` with ``overrides`` merged in (nested mappings merged key by key).

    ``descriptors`` is special: the override may be a list of the same length (merged element by element), a list of
    another length (replaces the list), or a mapping keyed by descriptor type (merged into every descriptor of that
    type; ``None`` removes them).
    """
    merged = copy.deepcopy(dict(base))
    for key, value in (overrides or {}).items():
        if key == 'descriptors' and isinstance(merged.get(key), list):
            merged[key] = _merge_descriptors(merged[key], value)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_descriptors(base: list, value) -> list:
    if isinstance(value, Mapping):
        result = []
        unknown = set(value) - {d.get('type') for d in base if isinstance(d, Mapping)}
        if unknown:
            raise ValueError(f'overrides.descriptors: no descriptor of type {sorted(unknown)} to override')
        for descriptor in base:
            change = value.get(descriptor.get('type'), {})
            if change is None:
                continue
            result.append(deep_merge(descriptor, change))
        return result
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) == len(base):
            return [
                deep_merge(old, new) if isinstance(new, Mapping) else copy.deepcopy(new)
                for old, new in zip(base, value, strict=True)
            ]
        return copy.deepcopy(list(value))
    raise ValueError(f'overrides.descriptors: expected a list or a mapping by descriptor type, got {type(value)}')
