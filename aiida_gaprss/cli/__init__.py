"""The ``gaprss`` command line: set-up, science tools usable without AiiDA, and run management."""

import click


@click.group('gaprss', context_settings={'help_option_names': ['-h', '--help']})
@click.version_option(package_name='aiida-gaprss')
def cmd_root():
    """GAP-RSS and indirect learning of interatomic potentials, with AiiDA."""
    from .utils import put_own_bin_on_path

    put_own_bin_on_path()


# Sub-command modules attach themselves to ``cmd_root``; they import AiiDA lazily so the science commands
# (``generate``, ``select``) work without a profile.
from . import generate, indirect, potentials, provenance, report, run, select, setup  # noqa: E402,F401
