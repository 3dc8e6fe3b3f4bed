"""The numbers of a gap.xml, checked before quippy can read them (no AiiDA imports).

quippy reads gap.xml with Fortran list-directed reads: one corrupted number (``1.0.0``, ``2582.26x1``, an empty
attribute, ``Z1=1x4`` in a descriptor) is a Fortran runtime error that aborts the whole Python process — a daemon
worker or a notebook dies with it. :func:`check_gap_numbers` reads every number the way Fortran must be able to and
raises a ``ValueError`` naming the element and attribute instead; non-finite numbers (``NaN``, ``Infinity``, ``1e400``),
which quippy reads without complaint and turns into NaN energies, are refused too.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

__all__ = ('KEY_VALUE', 'check_descriptor_numbers', 'check_gap_numbers', 'check_sparse_numbers')

#: ``key=value`` pairs of a descriptor string (a value may be ``{...}`` or ``"..."``).
KEY_VALUE = re.compile(r'(\w+)=(\{[^}]*\}|"[^"]*"|\S+)')

#: Fortran literals: reals (``1.5``, ``.5E+001``, ``1.0d0``), integers, logicals.
_REAL = re.compile(r'[+-]?(?:\d+\.?\d*|\.\d+)(?:[eEdD][+-]?\d+)?')
_INTEGER = re.compile(r'[+-]?\d+')
_LOGICAL = re.compile(r'(?i)\.?(?:t|f|true|false)\.?')

#: Attributes that hold text, not numbers.
TEXT_ATTRIBUTES = frozenset({'label', 'init_args', 'sparseX_filename', 'sparseX_md5sum'})
#: Attributes that hold Fortran logicals (``T``/``F``).
LOGICAL_ATTRIBUTES = frozenset({'do_core', 'sparsified', 'fitted'})
#: Attributes that hold integers; every other attribute holds real numbers.
INTEGER_ATTRIBUTES = frozenset(
    {'Z', 'i', 'n_sparseX', 'dimensions', 'n_permutations', 'covariance_type', 'n_coordinate', 'gap_version'}
)
#: Elements whose text is a list of numbers (reals, or integers).
REAL_TEXTS = frozenset({'theta'})
INTEGER_TEXTS = frozenset({'permutation'})
#: Elements whose content is not numbers read by quippy here (the descriptor string is checked on its own).
SKIPPED_ELEMENTS = frozenset({'XYZ_data', 'command_line', 'descriptor'})

#: Descriptor keys (``key=value`` in a ``<descriptor>`` string) whose values are integers or reals.
DESCRIPTOR_INTEGERS = frozenset({'n_sparse', 'n_max', 'l_max', 'order', 'Z', 'Z1', 'Z2', 'species_Z', 'n_species'})
DESCRIPTOR_REALS = frozenset(
    {'cutoff', 'delta', 'atom_sigma', 'zeta', 'theta_uniform', 'cutoff_transition_width', 'theta_fac', 'f0'}
)


#: Words Fortran reads as non-finite reals.
_NON_FINITE = ('nan', 'inf', 'infinity')
#: What each kind of word must match, and how a message names it.
_KINDS = {'reals': (_REAL, 'a real number'), 'integers': (_INTEGER, 'an integer'), 'logicals': (_LOGICAL, 'T or F')}


def _check_words(words: Iterable[str], kind: str, where: str) -> None:
    """Refuse a list of numbers quippy could not read (``kind``: 'reals', 'integers' or 'logicals'), or non-finite."""
    abort = '(quippy would abort the Python process reading it)'
    pattern, noun = _KINDS[kind]
    words = list(words)
    if not words:
        raise ValueError(f'{where}: empty, expected {noun} {abort}')
    for word in words:
        if kind == 'reals' and word.lstrip('+-').lower() in _NON_FINITE:
            raise ValueError(f'{where}: {word!r} is not a finite number (quippy would give NaN energies)')
        if not pattern.fullmatch(word):
            raise ValueError(f'{where}: {word!r} is not {noun} {abort}')
        if kind == 'reals' and not math.isfinite(float(word.replace('d', 'e').replace('D', 'e'))):
            raise ValueError(f'{where}: {word!r} is not a finite number (quippy would give NaN energies)')


def _kind_of_attribute(name: str) -> str:
    if name in LOGICAL_ATTRIBUTES:
        return 'logicals'
    return 'integers' if name in INTEGER_ATTRIBUTES else 'reals'


def check_descriptor_numbers(text: str, where: str) -> None:
    """Refuse a ``<descriptor>`` string whose numeric keys (cutoff, n_sparse, Z, ...) hold something else."""
    for key, value in KEY_VALUE.findall(text):
        if key in DESCRIPTOR_INTEGERS or key in DESCRIPTOR_REALS:
            kind = 'integers' if key in DESCRIPTOR_INTEGERS else 'reals'
            _check_words(value.strip('{}"').split(), kind, f'{where} key `{key}`')


def check_gap_numbers(params: ET.Element) -> None:
    """Check every number under ``<GAP_params>`` of a gap.xml the way quippy's Fortran reads it.

    Raises
    ------
    ValueError
        ``field `gap.xml`: <sparseX i="1"> attribute `alpha`: '1.0.0' is not a number (...)``: a number quippy
        cannot read, or one that is not finite.
    """
    for element in params.iter():
        if element.tag in SKIPPED_ELEMENTS:
            if element.tag == 'descriptor':
                check_descriptor_numbers(element.text or '', 'field `gap.xml`: <descriptor>')
            continue
        name = element.tag + (f' i="{element.get("i")}"' if element.get('i') is not None else '')
        for attribute, value in element.attrib.items():
            if attribute not in TEXT_ATTRIBUTES:
                where = f'field `gap.xml`: <{name}> attribute `{attribute}`'
                _check_words(value.split(), _kind_of_attribute(attribute), where)
        if element.tag in REAL_TEXTS or element.tag in INTEGER_TEXTS:
            kind = 'reals' if element.tag in REAL_TEXTS else 'integers'
            _check_words((element.text or '').split(), kind, f'field `gap.xml`: <{name}> text')


def check_sparse_numbers(content: bytes, filename: str) -> None:
    """Refuse a sparseX file that holds anything but finite real numbers."""
    try:
        words = content.decode('ascii').split()
    except UnicodeDecodeError:
        raise ValueError(f'field `folder`: sparseX file `{filename}` is not text') from None
    _check_words(words, 'reals', f'field `folder`: sparseX file `{filename}`')
