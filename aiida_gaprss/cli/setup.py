"""``gaprss setup``: the embedded default in one idempotent command."""

import click

from .root import cmd_root


@cmd_root.command('setup')
@click.option(
    '-p', '--profile', default=None, help='Profile to use or create (default: the default profile, else `gaprss`).'
)
@click.option('--daemon/--no-daemon', default=True, show_default=True, help='Start the daemon.')
@click.option('--pseudos/--no-pseudos', default=True, show_default=True, help='Install the QE pseudopotential family.')
@click.option('--threads', default=2, show_default=True, type=click.IntRange(1), help='OpenMP threads for gap_fit.')
@click.option(
    '--scheduler',
    type=click.Choice(['slurm']),
    default=None,
    help='Also create the core.slurm computer `localhost-slurm` (SLURM on this machine) with the same codes.',
)
def cmd_setup(profile, daemon, pseudos, threads, scheduler):
    """Create (if missing) a `verdi presto` profile, the localhost computer, the codes, and start the daemon.

    With `--scheduler slurm`, also a `core.slurm` computer `localhost-slurm` (transport core.local) and its codes
    (gap_fit, gaprss-python, pw). Running it twice changes nothing: everything that exists is kept as it is.
    """
    from aiida_gaprss.setup import setup

    report = setup(profile, daemon=daemon, pseudos=pseudos, threads=threads, scheduler=scheduler)
    click.echo(f'profile: {report.profile}')
    for item in report.created:
        click.echo(f'  created  {item}')
    for item in report.existing:
        click.echo(f'  exists   {item}')
    if not report.created:
        click.echo('nothing to do: everything was set up already')
