"""The input checks of the ``gaprss`` commands: click parameter types built on the checks of the Python API.

Every check runs while click reads the command line, before the command does any work, and a bad value is a
``click.BadParameter`` (one line naming the parameter, exit status 2), never a traceback:

* :class:`OutputFile` — a file or folder to write: its parent folder must exist and be writable;
* :class:`NodeParam` — a pk resolved to a node of the expected kind (``no node with pk 5``, ``node 5 is a Int, ...``);
* :class:`JsonObject` — a JSON option parsed and type-checked (an object; optionally of strings);
* :class:`StructureFile` — an extended-XYZ file read through the checks of ``StructureSet`` (every frame validated:
  unreadable or truncated files, unknown elements, non-finite numbers, overlapping atoms, unreadable labels).

The AiiDA commands need their profile loaded before a pk can be resolved: :func:`load_profile_option` loads it
eagerly, while the command line is read.
"""

from __future__ import annotations

import json
import os
import pathlib
import typing

import click

__all__ = (
    'JsonObject',
    'LoadedStructures',
    'NodeParam',
    'OutputFile',
    'StructureFile',
    'check_overwrite',
    'load_profile_option',
)

_JSON_KINDS = {list: 'an array', str: 'a string', int: 'a number', float: 'a number', bool: 'a boolean'}


def _load_profile(ctx, param, profile):
    """Callback of ``-p/--profile``: load that profile (or the default one) while the command line is read."""
    from aiida import load_profile
    from aiida.common.exceptions import ProfileConfigurationError

    if ctx.resilient_parsing:
        return
    try:
        load_profile(profile, allow_switch=True)
    except ProfileConfigurationError as exception:
        raise click.BadParameter(f'{exception} (run `gaprss setup` first)', ctx, param) from exception


def load_profile_option(function):
    """Add ``-p/--profile`` to a command; the profile (or the default one) is loaded before any other parameter."""
    return click.option(
        '-p',
        '--profile',
        default=None,
        is_eager=True,
        expose_value=False,
        callback=_load_profile,
        help='AiiDA profile (default: the default profile).',
    )(function)


class OutputFile(click.Path):
    """A path to write (a file, or with ``file_okay=False`` a folder): its parent folder must exist and be writable.

    Checked when the command line is read, so a typo in a folder name costs nothing (not hours of generation).
    """

    def __init__(self, *, file_okay: bool = True, dir_okay: bool = False):
        super().__init__(file_okay=file_okay, dir_okay=dir_okay, path_type=pathlib.Path)

    def convert(self, value, param, ctx) -> pathlib.Path:
        path = pathlib.Path(super().convert(value, param, ctx))
        if path.is_dir() and not self.dir_okay:
            self.fail(f'`{path}` is a folder, expected a file name', param, ctx)
        folder = path.absolute().parent
        if not folder.is_dir():
            self.fail(f'cannot write `{path}`: the folder `{folder}` does not exist', param, ctx)
        if not os.access(folder, os.W_OK | os.X_OK):
            self.fail(f'cannot write `{path}`: the folder `{folder}` is not writable', param, ctx)
        return path


def check_overwrite(path: pathlib.Path, force: bool, *inputs: pathlib.Path, param_hint: str = '--output') -> None:
    """Refuse to write over an input file (ever), or over an existing file without ``force``."""
    for source in inputs:
        if path.exists() and path.resolve() == pathlib.Path(source).resolve():
            raise click.BadParameter(f'`{path}` is the input file: writing would destroy it', param_hint=param_hint)
    if path.exists() and not force:
        raise click.BadParameter(f'{path} exists; use --force to overwrite', param_hint=param_hint)


class NodeParam(click.ParamType):
    """A pk resolved to a node of one of ``kinds`` (process labels, or names of node classes and their bases).

    Parameters
    ----------
    kinds
        Accepted kinds, e.g. ``('GapRssWorkChain',)`` or ``('GapPotential', 'WorkflowNode')``; empty: any node.
    description
        What the node must be, in words, for the message (``a GAP-RSS run``).
    """

    name = 'pk'

    def __init__(self, kinds: tuple[str, ...] = (), description: str = 'a node'):
        self.kinds = tuple(kinds)
        self.description = description

    def convert(self, value, param, ctx):
        from aiida import orm
        from aiida.common.exceptions import MultipleObjectsError, NotExistent

        if isinstance(value, orm.Node):
            return value
        try:
            pk = int(value)
        except (TypeError, ValueError):
            self.fail(f'expected a pk (an integer), got {value!r}', param, ctx)
        try:
            node = orm.load_node(pk)
        except (NotExistent, MultipleObjectsError):
            self.fail(f'no node with pk {pk}', param, ctx)
        kind = getattr(node, 'process_label', None) or type(node).__name__
        names = {kind, *(cls.__name__ for cls in type(node).__mro__)}
        if self.kinds and not names.intersection(self.kinds):
            article = 'an' if kind[0] in 'AEIOU' else 'a'
            self.fail(f'node {pk} is {article} {kind}, not {self.description}', param, ctx)
        return node


class JsonObject(click.ParamType):
    """A JSON object (``{"key": value}``), optionally with values of one type (``values=str``)."""

    name = 'json'

    def __init__(self, values: type | None = None):
        self.values = values

    def convert(self, value, param, ctx) -> dict:
        if isinstance(value, dict):
            data = value
        else:
            try:
                data = json.loads(value)
            except json.JSONDecodeError as exception:
                self.fail(f'not valid JSON: {exception}', param, ctx)
        if not isinstance(data, dict):
            kind = 'null' if data is None else _JSON_KINDS.get(type(data), type(data).__name__)
            self.fail(f'expected a JSON object ({{"key": value, ...}}), got {kind}: {value}', param, ctx)
        if self.values is not None:
            for key, item in data.items():
                if not isinstance(item, self.values):
                    expected = _JSON_KINDS.get(self.values, self.values.__name__)
                    self.fail(f'key {key!r}: expected {expected}, got {json.dumps(item)}', param, ctx)
        return data


class LoadedStructures(typing.NamedTuple):
    """An extended-XYZ file and its frames, every one checked."""

    path: pathlib.Path
    frames: list


class StructureFile(click.Path):
    """An extended-XYZ file read and checked frame by frame as ``StructureSet.from_file`` does (no AiiDA needed)."""

    def __init__(self):
        super().__init__(exists=True, dir_okay=False, path_type=pathlib.Path)

    def convert(self, value, param, ctx) -> LoadedStructures:
        from aiida_gaprss.data.extxyz import check_frames, read_structure_file

        if isinstance(value, LoadedStructures):
            return value
        path = pathlib.Path(super().convert(value, param, ctx))
        try:
            frames = read_structure_file(path)
            if not frames:
                raise ValueError(f'`{path}` holds no structure')
            check_frames(frames)
        except ValueError as exception:
            self.fail(str(exception), param, ctx)
        return LoadedStructures(path, frames)
