"""aiida_gaprss.rss.neighbours: the compiled neighbour list gives ASE's pairs, whatever the cell."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list

from aiida_gaprss.rss import neighbours
from aiida_gaprss.rss.generation import generate_random_cells


def _pairs(quantities, atoms, cutoff):
    i, j, d, shifts = quantities('ijdS', atoms, cutoff)
    return sorted(zip(i.tolist(), j.tolist(), np.round(d, 10).tolist(), map(tuple, shifts.tolist()), strict=True))


def _skewed():
    atoms = bulk('Si', 'diamond', a=5.43)
    atoms.set_cell(atoms.cell.array @ np.array([[1, 0, 0], [3, 1, 0], [-2, 2, 1]]).T, scale_atoms=True)
    return atoms


CASES = {
    'random cells': generate_random_cells(12, 'Si', seed=3, natoms=(1, 8)),
    'skewed cell': [_skewed()],
    'self images (cut-off longer than the cell)': [bulk('Si', 'sc', a=1.9)],
    'slab (falls back to ASE)': [Atoms('Si2', positions=[[0, 0, 0], [0, 0, 2.3]], cell=[4, 4, 10], pbc=[1, 1, 0])],
    'molecule (falls back to ASE)': [Atoms('Si2', positions=[[0, 0, 0], [0, 0, 2.3]])],
}


@pytest.mark.parametrize('name', list(CASES))
def test_same_pairs_as_ase(name):
    for atoms in CASES[name]:
        for cutoff in (0.1, 2.6, 5.0):
            assert _pairs(neighbours.neighbour_list, atoms, cutoff) == _pairs(neighbor_list, atoms, cutoff)


def test_periodic_cells_use_the_compiled_list(monkeypatch):
    calls = []
    compiled = neighbours._COMPILED
    assert compiled is not None, 'matscipy is a dependency of aiida-gaprss'
    monkeypatch.setattr(neighbours, '_COMPILED', lambda *args: calls.append(args) or compiled(*args))
    neighbours.neighbour_list('d', bulk('Si'), 2.5)
    neighbours.neighbour_list('d', CASES['slab (falls back to ASE)'][0], 2.5)
    assert len(calls) == 1  # the slab went to ASE
