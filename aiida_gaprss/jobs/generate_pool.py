"""Job ``generate_pool``: buildcell-style random cells (and dimers) for one GAP-RSS iteration.

Run as ``python -m aiida_gaprss.jobs.generate_pool job.json`` by
:class:`aiida_gaprss.calculations.generate_pool.GeneratePool`. ``mode`` 'initial' gives the paper's first-iteration
split (half narrow 80/20 even/odd, half wide even only), 'narrow' / 'wide' one volume mode; ``dimers`` adds that many
dimers in vacuum (in a periodic cubic box of edge ``dimer_box`` Å, default: beyond the 2-body cut-off). Every
cell gets ``info['origin']`` = ``pool:<iteration>:<index>`` and ``info['iteration']``.

With ``composition`` instead of ``element`` the cells are those of a chemical system
(:func:`~aiida_gaprss.rss.compound_generation.compound_initial_pool` /
:func:`~aiida_gaprss.rss.compound_generation.generate_compound_cells`, per-element ``radii`` and ``bonding``, per-pair
``min_separations``) and ``dimers`` dimers are made for every pair of species
(:func:`~aiida_gaprss.rss.dimers.generate_pair_dimers`). Their ``info['min_separations']`` (a dict from the
generator) is written as the text ``'Si-Si:2.0 Si-C:1.683 C-C:1.368'`` (Å): a dict becomes an extxyz ``_JSON``
value with escaped quotes, which QUIP's reader (gap_fit) does not parse.
"""

from __future__ import annotations

import logging
import pathlib

from aiida_gaprss.data.extxyz import write_frames
from aiida_gaprss.jobs.runner import main, write_json
from aiida_gaprss.rss.generation import generate_dimers, generate_random_cells, initial_pool

__all__ = ('make_pool', 'run')

LOGGER = logging.getLogger(__name__)


def make_pool(parameters: dict) -> list:
    """Return the cells described by ``parameters`` (see the module docstring), origins and iteration set."""
    cells = _compound_cells(parameters) if 'composition' in parameters else _element_cells(parameters)
    iteration = int(parameters.get('iteration', 0))
    for index, atoms in enumerate(cells):
        atoms.info['origin'] = f'pool:{iteration}:{index}'
        atoms.info['iteration'] = iteration
    return cells


def _cells(parameters: dict, system, sizes: dict, pool, random_cells, dimers, dimer_system) -> list:
    """Random cells (``pool`` for mode 'initial', else ``random_cells``) and ``dimers``, of one element or a system.

    ``sizes``: the element's ``radius`` or the system's ``radii`` and ``min_separations``; the dimers take the size.
    """
    common = {
        'seed': int(parameters['seed']),
        'natoms': parameters.get('natoms', (6, 24)),
        'symmops': parameters.get('symmops', (1, 8)),
        'bonding': parameters.get('bonding'),
        'processes': int(parameters.get('processes', 1)),
        **sizes,
    }
    mode = parameters.get('mode', 'narrow')
    if mode == 'initial':
        cells = pool(system, int(parameters['n']), **common)
    else:
        parity = parameters.get('parity', 'any')
        cells = random_cells(int(parameters['n']), system, volume_mode=mode, parity=parity, **common)
    if int(parameters.get('dimers', 0)) > 0:
        size = {key: value for key, value in sizes.items() if key in ('radius', 'radii')}
        box = parameters.get('dimer_box')
        cells.extend(
            dimers(dimer_system, int(parameters['dimers']), bonding=parameters.get('bonding'), box=box, **size)
        )
    return cells


def _compound_cells(parameters: dict) -> list:
    """Random cells and pair dimers of a chemical system."""
    from aiida_gaprss.rss.composition import parse_composition
    from aiida_gaprss.rss.compound_generation import compound_initial_pool, generate_compound_cells
    from aiida_gaprss.rss.dimers import generate_pair_dimers

    composition = parameters['composition']
    sizes = {'radii': parameters.get('radii'), 'min_separations': parameters.get('min_separations')}
    elements = list(parse_composition(composition).elements)
    cells = _cells(parameters, composition, sizes, compound_initial_pool, generate_compound_cells,
                   generate_pair_dimers, elements)  # fmt: skip
    for atoms in cells:  # as text: QUIP's extxyz reader (gap_fit) does not read a dict
        separations = atoms.info.get('min_separations')
        if isinstance(separations, dict):
            atoms.info['min_separations'] = ' '.join(f'{pair}:{value:.4f}' for pair, value in separations.items())
    return cells


def _element_cells(parameters: dict) -> list:
    """Random cells and dimers of one element."""
    element = parameters['element']
    sizes = {'radius': parameters.get('radius')}
    return _cells(parameters, element, sizes, initial_pool, generate_random_cells, generate_dimers, element)


def run(content: dict, workdir: pathlib.Path) -> dict:
    """Write the pool to the output file."""
    parameters = content['parameters']
    cells = make_pool(parameters)
    with open(workdir / parameters['output'], 'w', encoding='utf-8') as handle:
        write_frames(handle, cells)
    counts: dict[str, int] = {}
    for atoms in cells:
        counts[atoms.info.get('config_type', 'none')] = counts.get(atoms.info.get('config_type', 'none'), 0) + 1
    report = {'num_structures': len(cells), 'config_types': counts}
    write_json(workdir / parameters['report'], report)
    return report


if __name__ == '__main__':
    raise SystemExit(main(run))
