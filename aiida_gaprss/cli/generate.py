"""``gaprss generate``: buildcell-style random cells (and dimers) written to an extxyz file, without AiiDA."""

from __future__ import annotations

import pathlib
import shutil

import click

from .params import OutputFile, check_overwrite
from .root import cmd_root

#: At most this many cells in one command (more is a usage error); above CONFIRM_ABOVE the command asks first.
MAX_CELLS = 100_000_000
CONFIRM_ABOVE = 100_000
#: Size of a written cell in the output (bytes): the header, and each atom line (full-precision extxyz).
FRAME_BYTES = 800
ATOM_BYTES = 70


@cmd_root.command('generate')
@click.argument('element')
@click.option(
    '-n', '--count', type=click.IntRange(min=0, max=MAX_CELLS), default=100, show_default=True, help='Number of cells.'
)
@click.option('--seed', type=click.IntRange(min=0), required=True, help='Random seed (same seed, same cells).')
@click.option(
    '--mode',
    type=click.Choice(['narrow', 'wide', 'initial']),
    default='narrow',
    show_default=True,
    help="Volume range: 'narrow' (V0 ± 5 %), 'wide' (V0 ± 25 %) or 'initial' (the paper's first-iteration mix: "
    'half narrow with 80 %/20 % even/odd atom counts, half wide with even counts).',
)
@click.option(
    '--parity',
    type=click.Choice(['any', 'even', 'odd']),
    default='any',
    show_default=True,
    help="Atom-count parity for 'narrow'/'wide' (ignored by 'initial').",
)
@click.option('--natoms', default='6-24', show_default=True, help='Atom-count range LO-HI.')
@click.option('--symmops', default='1-8', show_default=True, help='Range of the number of symmetry operations.')
@click.option('--radius', type=float, default=None, help='Override the characteristic radius r (Å).')
@click.option('--bonding', type=click.Choice(['covalent', 'metallic']), default=None, help='Override bonding type.')
@click.option(
    '--dimers', type=click.IntRange(min=0, max=CONFIRM_ABOVE), default=0, show_default=True, help='Also write N dimers.'
)
@click.option('--processes', type=click.IntRange(min=1), default=2, show_default=True, help='Worker processes.')
@click.option('-o', '--output', type=OutputFile(), required=True, help='extxyz file (written as the cells are made).')
@click.option('-f', '--force', is_flag=True, help='Overwrite an existing file.')
@click.option('--progress/--no-progress', default=True, show_default=True, help='Show a progress bar.')
@click.option('-y', '--yes', is_flag=True, help=f'Do not ask before writing more than {CONFIRM_ABOVE:,} cells.')
def cmd_generate(
    element,
    count,
    seed,
    mode,
    parity,
    natoms,
    symmops,
    radius,
    bonding,
    dimers,
    processes,
    output,
    force,
    progress,
    yes,
):
    """Write COUNT random cells of ELEMENT (AIRSS buildcell style, GAP-RSS settings) to OUTPUT (extxyz).

    The cells are written as they are made (memory stays bounded): an interrupted run keeps the cells it made.
    """
    from aiida_gaprss.data.extxyz import write_frames
    from aiida_gaprss.rss.generation import generate_dimers, iter_initial_pool, iter_random_cells

    check_overwrite(output, force)
    common = dict(seed=seed, natoms=natoms, symmops=symmops, radius=radius, bonding=bonding, processes=processes)
    bar = click.progressbar(  # shown from `with bar` on
        length=count, label='random cells', show_pos=True, hidden=not progress, file=click.get_text_stream('stderr')
    )
    try:  # every input is checked here, before the first cell is made and before the file is opened
        if mode == 'initial':
            cells = iter_initial_pool(element, count, progress=bar.update, **common)
        else:
            cells = iter_random_cells(count, element, volume_mode=mode, parity=parity, progress=bar.update, **common)
        extra = generate_dimers(element, dimers, radius=radius, bonding=bonding) if dimers else []
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    _confirm_size(count + len(extra), natoms, output, yes)
    written = 0
    with bar, open(output, 'w', encoding='utf-8') as handle:
        try:
            for cell in cells:
                write_frames(handle, [cell])
                written += 1
        except KeyboardInterrupt:
            handle.flush()
            raise click.ClickException(f'interrupted: {output} holds the {written} cells made so far') from None
        write_frames(handle, extra)
    click.echo(f'wrote {written} random cells and {len(extra)} dimers of {element} to {output}')


def _confirm_size(count: int, natoms: str, output: pathlib.Path, yes: bool) -> None:
    """Refuse a file that cannot fit on its disk; ask (unless ``yes``) before more than :data:`CONFIRM_ABOVE` cells."""
    from aiida_gaprss.rss.generation import parse_range

    low, high = parse_range(natoms, 'natoms')
    size = count * (FRAME_BYTES + ATOM_BYTES * (low + high) / 2)
    free = shutil.disk_usage(output.absolute().parent).free
    if size > free:
        raise click.BadParameter(
            f'{count:,} cells need about {size / 1e9:.1f} GB; {free / 1e9:.1f} GB are free where {output} goes',
            param_hint='--count',
        )
    if count > CONFIRM_ABOVE and not yes:
        try:
            confirmed = click.confirm(f'write {count:,} cells (about {size / 1e9:.2f} GB) to {output}?', err=True)
        except click.Abort:
            confirmed = False
        if not confirmed:
            raise click.BadParameter(
                f'{count:,} cells (about {size / 1e9:.2f} GB) not confirmed; give --yes to write them',
                param_hint='--count',
            )
