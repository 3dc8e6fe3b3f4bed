"""``gaprss generate``: buildcell-style random cells (and dimers) written to an extxyz file, without AiiDA."""

from __future__ import annotations

import click

from . import cmd_root


@cmd_root.command('generate')
@click.argument('element')
@click.option('-n', '--count', type=click.IntRange(min=0), default=100, show_default=True, help='Number of cells.')
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
@click.option('--dimers', type=click.IntRange(min=0), default=0, show_default=True, help='Also write N dimers.')
@click.option('--processes', type=click.IntRange(min=1), default=2, show_default=True, help='Worker processes.')
@click.option('-o', '--output', type=click.Path(dir_okay=False, writable=True), required=True, help='extxyz file.')
@click.option('--progress/--no-progress', default=True, show_default=True, help='Show a progress bar.')
def cmd_generate(
    element, count, seed, mode, parity, natoms, symmops, radius, bonding, dimers, processes, output, progress
):
    """Write COUNT random cells of ELEMENT (AIRSS buildcell style, GAP-RSS settings) to OUTPUT (extxyz)."""
    import ase.io

    from aiida_gaprss.rss.generation import generate_dimers, generate_random_cells, initial_pool

    common = dict(natoms=natoms, symmops=symmops, radius=radius, bonding=bonding, processes=processes)
    try:
        with click.progressbar(length=count, label='random cells', show_pos=True, hidden=not progress) as bar:
            if mode == 'initial':
                cells = initial_pool(element, count, seed=seed, progress=bar.update, **common)
            else:
                cells = generate_random_cells(
                    count, element, seed=seed, volume_mode=mode, parity=parity, progress=bar.update, **common
                )
        extra = generate_dimers(element, dimers, radius=radius, bonding=bonding) if dimers else []
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    ase.io.write(output, cells + extra, format='extxyz')
    click.echo(f'wrote {len(cells)} random cells and {len(extra)} dimers of {element} to {output}')
