"""Helpers shared by the ``gaprss`` commands that need an AiiDA profile."""

from __future__ import annotations

import pathlib

import click

from .params import OutputFile, check_overwrite

__all__ = ('echo_table', 'output_options', 'output_path', 'put_own_bin_on_path', 'resolve_code')


def output_options(help_text: str):
    """Add ``-o/--output`` (a file; ``help_text`` says its default) and ``-f/--force`` to a command that writes one."""

    def decorator(function):
        function = click.option('-f', '--force', is_flag=True, help='Overwrite an existing file.')(function)
        return click.option('-o', '--output', type=OutputFile(), default=None, help=help_text)(function)

    return decorator


def output_path(output: str | None, default: str, force: bool) -> pathlib.Path:
    """The file to write: ``output`` or else ``default``; a usage error if it exists and ``force`` is not set."""
    path = pathlib.Path(output or default)
    check_overwrite(path, force)
    return path


def resolve_code(label: str, option: str):
    """Load a code by label (``label@computer``), or stop with a usage error naming the option."""
    from aiida import orm
    from aiida.common.exceptions import MultipleObjectsError, NotExistent

    try:
        return orm.load_code(label)
    except (NotExistent, MultipleObjectsError, ValueError) as exception:
        raise click.BadParameter(
            f'no unique code `{label}` ({exception}); see `verdi code list`', param_hint=option
        ) from exception


def echo_table(rows, headers, **options) -> None:
    """Print a plain table (``options`` go to :func:`tabulate.tabulate`, e.g. ``disable_numparse``, ``colalign``)."""
    from tabulate import tabulate

    click.echo(tabulate(rows, headers=headers, **options))


def put_own_bin_on_path() -> None:
    """Put the folder of this Python's scripts (``verdi``, ``gap_fit``) first on PATH if ``verdi`` is not on it.

    ``.venv/bin/gaprss ...`` run from a shell without the venv activated: aiida-core starts the daemon through the
    ``verdi`` it finds on PATH when it is first imported, and the daemon's jobs inherit this PATH.
    """
    import os
    import pathlib
    import shutil
    import sys

    folder = pathlib.Path(sys.executable).parent
    if shutil.which('verdi') is None and (folder / 'verdi').exists():
        os.environ['PATH'] = os.pathsep.join([str(folder), os.environ.get('PATH', '')])
