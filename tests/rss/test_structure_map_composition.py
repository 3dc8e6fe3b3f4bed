"""The structure map of a chemical system: each structure's composition, and the map coloured by it."""

from __future__ import annotations

import re

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


def test_structure_map_of_a_system_marks_its_known_phases():
    """With ``elements``, the system's phases (ground states, then compounds) are rows after the inputs; a known phase
    sits where the same structure among the inputs does."""
    from aiida_gaprss.rss.phases import system_phase_names

    inputs = [build_system_phase('SiC_3C'), build_system_phase('Si_diamond'), build_system_phase('SiC_rocksalt')]
    content = structure_map(inputs, None, elements=['Si', 'C'], soap={'n_max': 4, 'l_max': 4})
    names = system_phase_names(['Si', 'C'])
    assert list(content['phases']) == names and content['elements'] == ['Si', 'C']
    assert sorted(content['phases'].values()) == list(range(3, 3 + len(names)))
    assert len(content['coordinates']) == 3 + len(names) and content['num_structures'] == 3
    for row, name in enumerate(['SiC_3C', 'Si_diamond', 'SiC_rocksalt']):
        assert content['coordinates'][content['phases'][name]] == pytest.approx(content['coordinates'][row], abs=1e-6)
    # composition and colours stay those of the inputs only
    assert content['composition']['C'] == pytest.approx([0.5, 0.0, 0.5])


def test_structure_map_of_a_system_with_an_element_without_phases_marks_nothing():
    content = structure_map(
        [build_system_phase('Si_diamond'), build_system_phase('SiC_3C')], None, elements=['Si', 'Ge'],
        soap={'n_max': 4, 'l_max': 4},
    )  # fmt: skip
    assert content['phases'] == {}


@pytest.mark.parametrize(
    ('parameters', 'message'),
    [
        ({'elements': ['Si']}, 'field `parameters.elements`: expected two or more distinct symbols'),
        ({'elements': ['Si', 'Si']}, 'field `parameters.elements`: expected two or more distinct symbols'),
        ({'elements': 'SiC'}, 'field `parameters.elements`: expected two or more distinct symbols'),
        ({'elements': ['Si', 'Xx']}, "field `parameters.elements`: unknown chemical symbol 'Xx'"),
        ({'element': 'Si', 'elements': ['Si', 'C']}, 'field `parameters.elements`: give either'),
    ],
)
def test_map_parameters_refuse_a_bad_system(parameters, message):
    from aiida_gaprss.calculations.validate_potential import validate_map_parameters

    with pytest.raises(ValueError, match=re.escape(message)):
        validate_map_parameters(parameters)
