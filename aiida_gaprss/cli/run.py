"""``gaprss run`` and ``gaprss status``: start a GAP-RSS run through the daemon and follow it."""

from __future__ import annotations

import click

from .params import JsonObject, NodeParam, load_profile_option
from .root import cmd_root
from .utils import echo_table, resolve_code

#: A pk argument that must be a GAP-RSS run.
RUN = NodeParam(('GapRssWorkChain',), 'a GAP-RSS run (GapRssWorkChain)')


@cmd_root.command('run')
@click.argument('element', metavar='SYSTEM')
@click.option('--engine', type=click.Choice(['qe', 'vasp', 'ase']), default='qe', show_default=True)
@click.option(
    '--protocol',
    default='fast',
    show_default=True,
    help='tiny (tests: seconds, ASE engine), fast (the demo), moderate or precise (the paper).',
)
@click.option('--budget', type=int, default=None, help="Reference evaluations (default: the protocol's).")
@click.option('--max-iterations', type=int, default=None, help="Iterations at most (default: the protocol's).")
@click.option('--seed', type=int, default=None, help="Random seed of the run (default: the protocol's).")
@click.option('--python-code', default='gaprss-python@localhost', show_default=True, help='Code of the job Python.')
@click.option('--gap-fit-code', default='gap_fit@localhost', show_default=True, help='Code of gap_fit.')
@click.option('--pw-code', default='pw@localhost', show_default=True, help='Code of pw.x (engine qe).')
@click.option('--vasp-code', default=None, help='Code of VASP (engine vasp).')
@click.option('--potential-family', default=None, help='POTCAR family (engine vasp).')
@click.option('--potential-mapping', type=JsonObject(values=str), default=None,
              help='JSON element -> POTCAR, e.g. \'{"Si": "Si"}\' (engine vasp).')  # fmt: skip
@click.option(
    '--overrides',
    type=JsonObject(),
    default=None,
    help='JSON overrides of the protocol (see get_builder_from_protocol).',
)
@click.option('--wait/--no-wait', default=False, show_default=True, help='Wait for the run to finish.')
@load_profile_option
def cmd_run(element, engine, protocol, budget, max_iterations, seed, python_code, gap_fit_code, pw_code, vasp_code,
            potential_family, potential_mapping, overrides, wait):  # fmt: skip
    """Submit a GAP-RSS run for SYSTEM to the daemon and print its pk.

    SYSTEM is one element (Si) or a chemical system of several: a formula (SiC, SiO2: whole formula units in every
    cell) or the elements joined by '-' (Si-C: every composition, the pure elements included); see
    docs/multicomponent.md.
    """
    from aiida_gaprss.common.merge import deep_merge
    from aiida_gaprss.workflows.rss import GapRssWorkChain

    extra = dict(overrides or {})
    if budget is not None:
        extra['budget'] = budget
    if max_iterations is not None:
        extra['max_iterations'] = max_iterations
    if seed is not None:
        extra = deep_merge(extra, {'parameters': {'seed': seed}})
    codes = {
        'python': resolve_code(python_code, '--python-code'),
        'gap_fit': resolve_code(gap_fit_code, '--gap-fit-code'),
    }
    if engine == 'qe':
        codes['pw'] = resolve_code(pw_code, '--pw-code')
    if engine == 'vasp':
        if not vasp_code:
            raise click.BadParameter('engine vasp needs a VASP code', param_hint='--vasp-code')
        codes['vasp'] = resolve_code(vasp_code, '--vasp-code')
        vasp = {'potential_family': potential_family, 'potential_mapping': potential_mapping}
        extra = deep_merge(extra, {'reference': {'vasp': {k: v for k, v in vasp.items() if v}}})
    try:
        builder = GapRssWorkChain.get_builder_from_protocol(
            element, codes=codes, engine=engine, protocol=protocol, overrides=extra
        )
    except ValueError as exception:
        raise click.UsageError(str(exception)) from exception
    node = _submit(builder, wait)
    click.echo(f'Submitted GapRssWorkChain<{node.pk}> ({element}, engine {engine}, protocol {protocol})')


@cmd_root.command('continue')
@click.argument('previous', metavar='PK', type=RUN)
@click.option('--budget', type=int, default=None, help='New total budget of reference evaluations (old ones count).')
@click.option('--max-iterations', type=int, default=None, help='Iterations at most in the continued run.')
@click.option('--wait/--no-wait', default=False, show_default=True, help='Wait for the run to finish.')
@load_profile_option
def cmd_continue(previous, budget, max_iterations, wait):
    """Continue the finished or failed GAP-RSS run PK from what it finished (no reference calculation repeated)."""
    from aiida import orm

    from aiida_gaprss.workflows.rss_restart import restart_builder

    pk = previous.pk
    builder = restart_builder(previous)
    if not builder.restart:
        raise click.UsageError(f'run {pk} finished no reference calculation: nothing to continue from')
    if budget is not None:
        builder.budget = orm.Int(budget)
    if max_iterations is not None:
        builder.max_iterations = orm.Int(max_iterations)
    node = _submit(builder, wait)
    click.echo(f'Submitted GapRssWorkChain<{node.pk}> continuing <{pk}> from iteration '
               f'{builder.restart["iteration"].value}')  # fmt: skip


def _submit(builder, wait: bool):
    """Submit to the daemon (bad input becomes a usage error); optionally wait and print the final status."""
    import time

    from aiida.engine import submit

    try:
        node = submit(builder)
    except ValueError as exception:
        raise click.UsageError(str(exception)) from exception
    click.echo(f'follow it with: gaprss status {node.pk}')
    if wait:
        while not node.is_terminated:
            time.sleep(5)
        print_status(node)
    return node


def print_status(node) -> None:
    """Print the state, the reference budget used and one line per iteration of the GAP-RSS run ``node``."""
    from aiida_gaprss.provenance import run_status

    status = run_status(node)
    click.echo(
        f'GapRssWorkChain<{status["pk"]}>: {status["state"]}'
        + (f' [{status["exit_status"]}] {status["exit_message"] or ""}' if status['exit_status'] is not None else '')
    )
    click.echo(f'reference evaluations: {status["reference_evaluations"]} of {status["budget"]}')
    rows = []
    for row in status['iterations']:
        energy = row.get('energy_rmse')
        cells = row.get('energy_rmse_cells')
        forces = row.get('forces_rmse')
        state = _state_text(row['state'], row['exit_status'])
        rows.append([
            row['label'], row['pk'], state,
            row['reference_evaluations'], row.get('database_size', ''),
            f'{energy * 1000:.1f}' if energy is not None else '', f'{cells * 1000:.1f}' if cells is not None else '',
            f'{forces:.3f}' if forces is not None else '',
            row.get('last_message', ''),
        ])  # fmt: skip
    headers = ['iteration', 'pk', 'state', 'evaluations', 'database', 'E rmse meV/at', 'cells only', 'F rmse eV/Å']
    echo_table(rows, [*headers, 'now'])
    config_types = sorted({key for row in status['iterations'] for key in row.get('energy_rmse_per_config_type', {})})
    if config_types:
        click.echo('\ntraining energy RMSE per config_type (meV/atom):')
        table = []
        for row in status['iterations']:
            per_type = row.get('energy_rmse_per_config_type') or {}
            if not per_type:
                continue
            table.append(
                [
                    row['label'],
                    *(f'{per_type[key] * 1000:.1f}' if per_type.get(key) is not None else '' for key in config_types),
                ]
            )
        echo_table(table, ['iteration', *config_types])
    _print_phase_errors(status['iterations'])


def _state_text(state, exit_status) -> str:
    """A process state with its exit status when that is not 0 (``finished [402]``)."""
    return state if exit_status in (None, 0) else f'{state} [{exit_status}]'


def _print_phase_errors(iterations: list) -> None:
    """Known-phase energy errors of every validated iteration, and the bulk moduli of the last one."""
    validated = [row for row in iterations if 'validation' in row]
    if not validated:
        return
    phases = []
    for row in validated:
        for name in row['validation'].get('phase_errors', {}):
            if name not in phases:
                phases.append(name)
    click.echo('\nknown phases, potential minus reference, each relaxed with its own method (meV/atom):')
    table = []
    for row in validated:
        validation = row['validation']
        errors = validation.get('phase_errors', {})
        state = _state_text(validation['state'], validation['exit_status'])
        table.append(
            [row['label'], validation['pk'], state]
            + [f'{errors[name] * 1000:.1f}' if errors.get(name) is not None else '' for name in phases]
        )
    # cells as formatted here ('0.0' stays 0.0), numbers right-aligned
    align = ('left', 'right', 'left', *('right',) * len(phases))
    echo_table(table, ['iteration', 'validation', 'state', *phases], disable_numparse=True, colalign=align)
    last = next((row['validation'] for row in reversed(validated) if row['validation'].get('phase_b0')), None)
    if last:
        moduli = ', '.join(f'{name} {pot:.0f} / {ref:.0f}' for name, (pot, ref) in last['phase_b0'].items())
        click.echo(f'bulk moduli of validation <{last["pk"]}>, potential / reference (GPa): {moduli}')


@cmd_root.command('status')
@click.argument('run', metavar='PK', type=RUN)
@load_profile_option
def cmd_status(run):
    """Progress of the GAP-RSS run PK: iterations, budget used, current errors."""
    print_status(run)
