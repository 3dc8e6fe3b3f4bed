"""Tests of the Table 1 GAP parameters, their validation and the gap_fit command line."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from aiida_gaprss.common.merge import deep_merge
from aiida_gaprss.rss.gap_parameters import (
    build_gap_fit_command,
    descriptor_string,
    select_descriptors,
    structure_sigma_info,
    table1_parameters,
    validate_gap_parameters,
)


def by_type(params):
    return {d['type']: d for d in params['descriptors']}


@pytest.mark.parametrize(
    ('element', 'r', 'factors'),
    [
        ('Si', 1.11, (9.0, 2.925, 4.5)),
        ('C', 0.76, (9.0, 2.925, 4.5)),
        ('B', 0.84, (9.0, 2.925, 4.5)),
        ('Ti', 1.47, (8.2, 2.665, 4.1)),
    ],
)
def test_table1_cutoffs_scale_with_radius(element, r, factors):
    """Cut-offs are Table 1's multiples of r: covalent 9.0/2.925/4.5 r, metallic (Ti) 8.2/2.665/4.1 r."""
    descriptors = by_type(table1_parameters(element))
    for name, factor in zip(('distance_2b', 'angle_3b', 'soap'), factors, strict=True):
        assert descriptors[name]['cutoff'] == pytest.approx(factor * r, abs=1e-6)


def test_table1_widths_counts_and_methods():
    params = table1_parameters('Si')
    d = by_type(params)
    assert d['distance_2b']['theta_uniform'] == 0.5 and d['distance_2b']['n_sparse'] == 30
    assert d['angle_3b']['theta_uniform'] == 1.0 and d['angle_3b']['n_sparse'] == 100
    soap = d['soap']
    assert (soap['atom_sigma'], soap['n_sparse'], soap['n_max'], soap['l_max'], soap['zeta']) == (0.75, 2000, 8, 8, 4)
    assert d['distance_2b']['covariance_type'] == d['angle_3b']['covariance_type'] == 'ard_se'
    assert d['distance_2b']['sparse_method'] == d['angle_3b']['sparse_method'] == 'uniform'
    assert soap['sparse_method'] == 'cur_points' and soap['covariance_type'] == 'dot_product'
    assert params['e0'] == 'average' and params['species'] == ['Si']
    assert params['sigma_parameter_name'] == 'sigma'


def test_radius_and_bonding_overrides():
    """A user radius scales every cut-off; bonding='metallic' switches to the metallic factors."""
    d = by_type(table1_parameters('Si', radius=1.0, bonding='metallic'))
    assert d['distance_2b']['cutoff'] == pytest.approx(8.2)
    assert d['soap']['cutoff'] == pytest.approx(4.1)


def test_overrides_deep_merge():
    params = table1_parameters(
        'Si',
        overrides={
            'descriptors': {'soap': {'delta': 0.25}, 'angle_3b': None},
            'default_sigma': {'energy': 0.002},
            'e0': {'Si': -0.1},
            'config_type_sigma': {'dimer': [0.1, 0.5, 0.5]},
        },
    )
    assert [d['type'] for d in params['descriptors']] == ['distance_2b', 'soap']
    assert params['descriptors'][1]['delta'] == 0.25
    assert params['descriptors'][1]['n_sparse'] == 2000  # untouched sibling kept
    assert params['default_sigma'] == {'energy': 0.002, 'forces': 0.0316, 'virial': 0.0632, 'hessian': 0.0}
    assert params['config_type_sigma'] == {'dimer': {'energy': 0.1, 'forces': 0.5, 'virial': 0.5, 'hessian': 0.0}}
    base = {'a': {'b': 1, 'c': 2}}
    assert deep_merge(base, {'a': {'b': 3}}) == {'a': {'b': 3, 'c': 2}}
    assert base == {'a': {'b': 1, 'c': 2}}


def test_select_descriptors():
    params = table1_parameters('C')
    assert [d['type'] for d in select_descriptors(params, ['distance_2b'])['descriptors']] == ['distance_2b']
    with pytest.raises(ValueError, match='types'):
        select_descriptors(params, ['three_body'])


@pytest.mark.parametrize(
    ('change', 'field'),
    [
        ({'descriptors': {'soap': {'cutoff': -1.0}}}, r'descriptors\[2\]\.cutoff'),
        ({'descriptors': {'soap': {'cutoff': float('nan')}}}, r'descriptors\[2\]\.cutoff'),
        ({'descriptors': {'angle_3b': {'theta_uniform': 0}}}, r'descriptors\[1\]\.theta_uniform'),
        ({'descriptors': {'distance_2b': {'n_sparse': 2.5}}}, r'descriptors\[0\]\.n_sparse'),
        ({'descriptors': {'soap': {'n_max': 0}}}, r'descriptors\[2\]\.n_max'),
        ({'descriptors': {'soap': {'delta': '0.1; rm -rf /'}}}, r'descriptors\[2\]\.delta'),
        ({'descriptors': {'soap': {'sparse_method': 'cur_points}'}}}, r'descriptors\[2\]\.sparse_method'),
        ({'descriptors': {'soap': {'covariance_type': 'ard_se'}}}, r'descriptors\[2\]\.covariance_type'),
        ({'descriptors': {'soap': {'extra': 1}}}, r'descriptors\[2\]: unknown fields'),
        ({'descriptors': [{'type': 'distance_3b', 'cutoff': 3}]}, r'descriptors\[0\]\.type'),
        ({'default_sigma': {'energy': -0.001}}, r'default_sigma\.energy'),
        ({'config_type_sigma': {'bad name': [1, 1, 1]}}, r'config_type_sigma\.bad name'),
        ({'e0': {'Xx': 1.0}}, r'e0\.Xx'),
        ({'e0': 'mean'}, r'e0'),
        ({'species': ['Si', 'Qq']}, r'species\[1\]'),
        ({'seed': -3}, r'seed'),
        ({'sigma_parameter_name': 'sigma$(x)'}, r'sigma_parameter_name'),
        ({'gap_file': 'x'}, r'unknown fields'),
    ],
)
def test_validation_names_the_field(change, field):
    with pytest.raises(ValueError, match=field):
        table1_parameters('Si', overrides=change)


def test_validate_normalises_and_rejects_non_mapping():
    params = table1_parameters('Si')
    assert validate_gap_parameters(params) == params
    with pytest.raises(ValueError, match='parameters'):
        validate_gap_parameters(['not', 'a', 'dict'])


def test_command_tokens():
    params = table1_parameters('Si', overrides={'e0': {'Si': -0.5}, 'config_type_sigma': {'dimer': [0.1, 0.5, 1.0]}})
    argv = build_gap_fit_command(params, at_file='train.xyz')
    assert argv[:2] == ['at_file=train.xyz', 'gp_file=gap.xml']
    gap = argv[2]
    assert gap.startswith('gap={distance_2b cutoff=9.99 ') and gap.endswith('sparse_method=cur_points}')
    assert gap.count(' : ') == 2 and ' : angle_3b cutoff=3.24675 ' in gap and ' : soap cutoff=4.995 ' in gap
    assert 'theta_uniform=0.5' in descriptor_string(params['descriptors'][0])
    assert 'default_sigma={0.001 0.0316 0.0632 0.0}' in argv
    assert 'config_type_sigma={dimer:0.1:0.5:1.0:0.0}' in argv
    assert 'e0={Si:-0.5}' in argv and not any(a.startswith('e0_method') for a in argv)
    assert 'force_parameter_name=forces' in argv and 'rnd_seed=1' in argv and 'do_copy_at_file=F' in argv
    # every token survives shell quoting as one word
    assert shlex.split(shlex.join(argv)) == argv
    with pytest.raises(ValueError, match='at_file'):
        build_gap_fit_command(params, at_file='x.xyz; rm -rf ~')


def test_command_is_accepted_by_gap_fit(tmp_path):
    """The real gap_fit parses the whole command (it stops at the missing training file, not at an argument)."""
    argv = build_gap_fit_command(table1_parameters('Si'), at_file='missing.xyz')
    result = subprocess.run(['gap_fit', *argv], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert 'Found 3 GAPs.' in result.stdout
    assert 'at_file missing.xyz' in result.stderr


def test_per_structure_sigmas_scale_like_gap_fit_defaults():
    """Per-atom energy/virial sigmas become absolute with sqrt(N), as gap_fit scales its per-atom defaults."""
    sigmas = structure_sigma_info(16, 0.001, 0.0316, 0.0632)
    assert sigmas == pytest.approx({'energy_sigma': 0.004, 'force_sigma': 0.0316, 'virial_sigma': 0.2528})
    with pytest.raises(ValueError, match='forces'):
        structure_sigma_info(4, 0.001, 0.0, 0.1)
    with pytest.raises(ValueError, match='n_atoms'):
        structure_sigma_info(0, 0.001, 0.1, 0.1)


def test_per_structure_sigmas_equal_default_sigma_in_a_real_fit(tmp_path):
    """gap_fit with per-structure sigmas from structure_sigma_info predicts exactly as with the per-atom defaults."""
    from quippy.potential import Potential

    from aiida_gaprss.data.extxyz import frames_to_string
    from tests.calculations.gap_fit_data import si_cells, small_parameters

    frames = si_cells(8, seed=3)
    params = small_parameters()
    params['descriptors'] = params['descriptors'][:2]  # 2b + 3b: fast
    (tmp_path / 'a.xyz').write_text(frames_to_string(frames))
    for atoms in frames:
        atoms.info.update(structure_sigma_info(len(atoms), 0.001, 0.03, 0.05))
    (tmp_path / 'b.xyz').write_text(frames_to_string(frames))
    other = dict(params, default_sigma={'energy': 0.5, 'forces': 0.5, 'virial': 0.5})  # overridden per structure
    for at_file, gp_file, p in (('a.xyz', 'a.xml', params), ('b.xyz', 'b.xml', other)):
        argv = build_gap_fit_command(p, at_file=at_file, gp_file=gp_file)
        subprocess.run(['gap_fit', *argv], cwd=tmp_path, capture_output=True, check=True, timeout=120)
    energies = {}
    for name in ('a.xml', 'b.xml'):
        calculator = Potential(param_filename=str(tmp_path / name))
        energies[name] = []
        for atoms in si_cells(3, seed=50):
            atoms.calc = calculator
            energies[name].append(atoms.get_potential_energy())
    assert energies['a.xml'] == pytest.approx(energies['b.xml'], abs=1e-9)


def test_two_species():
    """A list of symbols: the first sets the length scale, all are species; e0 must then cover both."""
    params = table1_parameters(['Si', 'C'], overrides={'e0': {'Si': -0.1, 'C': -0.2}})
    assert params['species'] == ['Si', 'C']
    assert by_type(params)['soap']['cutoff'] == pytest.approx(4.5 * 1.11)
    with pytest.raises(ValueError, match=r"e0: no isolated-atom energy for species \['C'\]"):
        table1_parameters(['Si', 'C'], overrides={'e0': {'Si': -0.1}})
