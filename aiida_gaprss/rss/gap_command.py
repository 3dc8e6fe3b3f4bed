"""The gap_fit command line of a validated GAP parameter set (one token per argument; nothing unchecked goes in)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from .gap_schema import DESCRIPTOR_FIELDS, SIGMA_COMPONENTS, validate_gap_parameters

__all__ = ('build_gap_fit_command', 'descriptor_string', 'gap_fit_command_line')

_FILENAME = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$')


def _format(value) -> str:
    """Format a validated number for gap_fit (shortest exact repr; integers without a decimal point)."""
    if isinstance(value, bool):
        return 'T' if value else 'F'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):  # only inside gap={...}, whose parser strips one level of braces
        return '{{' + ' '.join(_format(v) for v in value) + '}}'
    return repr(float(value))


def descriptor_string(descriptor: Mapping) -> str:
    """The gap_fit string of one validated descriptor, e.g. ``distance_2b cutoff=9.99 ... sparse_method=uniform``."""
    kind = descriptor['type']
    words = [kind]
    for name in DESCRIPTOR_FIELDS[kind]:
        if name in descriptor:
            value = descriptor[name]
            words.append(f'{name}={value if isinstance(value, str) else _format(value)}')
    return ' '.join(words)


def _sigma_words(sigma: Mapping) -> list[str]:
    return [_format(sigma[name]) for name in SIGMA_COMPONENTS]


def build_gap_fit_command(params: Mapping, *, at_file: str, gp_file: str = 'gap.xml') -> list[str]:
    """The gap_fit argument list (argv without the executable); every argument is one token.

    Parameters
    ----------
    params
        A parameter set; it is validated first.
    at_file, gp_file
        Names of the training file and of the potential file to write (plain file names).

    Returns
    -------
    list[str]
        e.g. ``['at_file=train.xyz', 'gp_file=gap.xml', 'gap={distance_2b ... : angle_3b ... : soap ...}',
        'default_sigma={0.001 0.0316 0.0632 0.0}', 'e0_method=average', ...]``.
    """
    for name, value in (('at_file', at_file), ('gp_file', gp_file)):
        if not isinstance(value, str) or not _FILENAME.match(value):
            raise ValueError(f'{name}: must be a plain file name ([A-Za-z0-9_.-]), got {value!r}')
    params = validate_gap_parameters(params)
    gap = ' : '.join(descriptor_string(d) for d in params['descriptors'])
    argv = [
        f'at_file={at_file}',
        f'gp_file={gp_file}',
        f'gap={{{gap}}}',
        f'default_sigma={{{" ".join(_sigma_words(params["default_sigma"]))}}}',
    ]
    if params['config_type_sigma']:
        entries = [
            ':'.join([name, *_sigma_words(sigma)]) for name, sigma in sorted(params['config_type_sigma'].items())
        ]
        argv.append(f'config_type_sigma={{{":".join(entries)}}}')
    e0 = params['e0']
    if isinstance(e0, Mapping):
        argv.append(f'e0={{{":".join(f"{symbol}:{_format(value)}" for symbol, value in e0.items())}}}')
    else:
        argv.append(f'e0_method={e0}')
    argv += [
        'energy_parameter_name=energy',
        'force_parameter_name=forces',
        'virial_parameter_name=virial',
        'config_type_parameter_name=config_type',
        f'sigma_parameter_name={params["sigma_parameter_name"]}',
        f'sparse_jitter={_format(params["sparse_jitter"])}',
        f'rnd_seed={params["seed"]}',
        f'do_copy_at_file={_format(params["do_copy_at_file"])}',
        f'sparse_separate_file={_format(params["sparse_separate_file"])}',
    ]
    return argv


def gap_fit_command_line(argv: list[str]) -> str:
    """The shell command line (program name ``gap_fit``) for the argument list ``argv``."""
    return shlex.join(['gap_fit', *argv])
