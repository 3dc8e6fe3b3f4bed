"""``cmd_root``: the ``gaprss`` command group every sub-command attaches to."""

import click


@click.group('gaprss', context_settings={'help_option_names': ['-h', '--help']})
@click.version_option(package_name='aiida-gaprss')
def cmd_root():
    """GAP-RSS and indirect learning of interatomic potentials, with AiiDA."""
    from .utils import put_own_bin_on_path

    put_own_bin_on_path()
