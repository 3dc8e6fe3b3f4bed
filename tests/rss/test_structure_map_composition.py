"""The structure map of a chemical system: each structure's composition, and the map coloured by it."""

from __future__ import annotations

import pytest

from aiida_gaprss.jobs.validate_potential import structure_map
from aiida_gaprss.plots import PNG_MAGIC, plot_structure_map
from aiida_gaprss.rss.phases import build_system_phase


def test_structure_map_by_composition(tmp_path):
    names = ['Si_diamond', 'C_graphite', 'SiC_3C', 'SiC_4H', 'SiC_rocksalt']
    atoms_list = [build_system_phase(name) for name in names]
    atoms_list.append(build_system_phase('SiC_3C').repeat((2, 1, 1)))
    atoms_list[-1][0].symbol = 'C'  # SiC3
    content = structure_map(atoms_list, None, soap={'n_max': 4, 'l_max': 4})
    assert content['species'] == ['C', 'Si']
    assert content['composition']['C'] == pytest.approx([0.0, 1.0, 0.5, 0.5, 0.5, 0.75])
    assert content['composition']['Si'] == pytest.approx([1.0, 0.0, 0.5, 0.5, 0.5, 0.25])
    assert len(content['coordinates']) == 6 and content['phases'] == {}
    path = plot_structure_map(
        content['coordinates'], content['composition']['C'], tmp_path / 'map.png', colour_label='fraction of C'
    )
    assert path.read_bytes()[:8] == PNG_MAGIC
