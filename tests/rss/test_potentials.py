"""Tests for the reference Stillinger--Weber Si potential and calculator specs."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.filters import FrechetCellFilter
from ase.io import write
from ase.optimize import BFGS

from aiida_gaprss.rss.potentials import (
    SW_SI_COHESIVE_ENERGY,
    SW_SI_LATTICE_CONSTANT,
    calculator_from_spec,
    stillinger_weber_si,
    validate_calculator_spec,
)


def test_sw_diamond_equilibrium():
    """Relaxing diamond Si with SW gives a = 5.431 A and E = -2 eps = -4.335 eV/atom (QUIP's eps)."""
    atoms = bulk('Si', 'diamond', a=5.30, cubic=True)
    atoms.calc = stillinger_weber_si()
    BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=1e-5, steps=200)
    a = atoms.cell.lengths()
    assert np.allclose(a, 5.431, atol=2e-3)
    assert np.allclose(a, SW_SI_LATTICE_CONSTANT, atol=1e-4)
    e = atoms.get_potential_energy() / len(atoms)
    assert e == pytest.approx(-4.3350, abs=1e-4)
    assert e == pytest.approx(SW_SI_COHESIVE_ENERGY, abs=1e-4)
    assert np.abs(atoms.get_stress()).max() < 1e-5


def test_sw_forces_match_finite_differences():
    """The potential is a real, consistent calculator: forces are minus the energy gradient."""
    rng = np.random.default_rng(0)
    atoms = bulk('Si', 'diamond', a=5.431, cubic=True)
    atoms.positions += rng.normal(scale=0.1, size=atoms.positions.shape)
    atoms.calc = stillinger_weber_si()
    forces = atoms.get_forces()
    h = 1e-5
    for i, k in [(0, 0), (3, 1), (7, 2)]:
        plus, minus = atoms.copy(), atoms.copy()
        plus.calc = minus.calc = stillinger_weber_si()
        plus.positions[i, k] += h
        minus.positions[i, k] -= h
        numeric = -(plus.get_potential_energy() - minus.get_potential_energy()) / (2 * h)
        assert forces[i, k] == pytest.approx(numeric, abs=1e-5)


def test_spec_sw_and_import():
    """Specs are picklable and build working calculators."""
    spec = {'type': 'sw_si'}
    assert pickle.loads(pickle.dumps(spec)) == spec
    atoms = bulk('Si', 'diamond', a=SW_SI_LATTICE_CONSTANT)
    atoms.calc = calculator_from_spec(spec)
    assert atoms.get_potential_energy() / len(atoms) == pytest.approx(SW_SI_COHESIVE_ENERGY, abs=1e-4)

    emt = calculator_from_spec({'type': 'import', 'path': 'ase.calculators.emt:EMT', 'kwargs': {}})
    cu = bulk('Cu', 'fcc', a=3.6)
    cu.calc = emt
    assert np.isfinite(cu.get_potential_energy())


@pytest.mark.parametrize(
    ('spec', 'field'),
    [
        ('sw_si', 'calculator_spec'),
        ({}, "['type']"),
        ({'type': 'lj'}, "['type']"),
        ({'type': 'sw_si', 'xml': 'x'}, "['xml']"),
        ({'type': 'gap'}, "['xml']"),
        ({'type': 'gap', 'xml': '/does/not/exist.xml'}, "['xml']"),
        ({'type': 'import'}, "['path']"),
        ({'type': 'import', 'path': 'ase.calculators.emt.EMT'}, "['path']"),
        ({'type': 'import', 'path': 'no_such_module_xyz:f'}, "['path']"),
        ({'type': 'import', 'path': 'ase.calculators.emt:Nope'}, "['path']"),
        ({'type': 'import', 'path': 'math:pi'}, "['path']"),
        ({'type': 'import', 'path': 'ase.calculators.emt:EMT', 'kwargs': [1]}, "['kwargs']"),
    ],
)
def test_spec_validation_names_field(spec, field):
    with pytest.raises(ValueError, match=r'calculator_spec') as info:
        calculator_from_spec(spec)
    assert field in str(info.value)


def test_validate_returns_normalised_copy():
    spec = {'type': 'import', 'path': 'ase.calculators.emt:EMT'}
    out = validate_calculator_spec(spec)
    assert out == {'type': 'import', 'path': 'ase.calculators.emt:EMT', 'kwargs': {}}
    assert 'kwargs' not in spec


def _gap_fit_binary() -> str:
    """The venv's ``gap_fit`` (quippy-ase, installed by install.sh: missing, the test fails)."""
    candidate = Path(sys.executable).parent / 'gap_fit'
    assert candidate.exists(), f'{candidate} missing: install.sh installs quippy-ase (run ./install.sh)'
    return str(candidate)


def test_spec_gap_from_real_fit(tmp_path):
    """A tiny 2-body GAP fitted by the real gap_fit on SW labels loads through the 'gap' spec."""
    rng = np.random.default_rng(1)
    sw = stillinger_weber_si()
    frames = []
    for _ in range(8):
        atoms = bulk('Si', 'diamond', a=rng.uniform(5.3, 5.6), cubic=True)
        atoms.positions += rng.normal(scale=0.08, size=atoms.positions.shape)
        atoms.calc = sw
        atoms.info['energy'] = atoms.get_potential_energy()
        atoms.arrays['forces'] = atoms.get_forces()
        atoms.calc = None
        frames.append(atoms)
    write(tmp_path / 'train.xyz', frames, format='extxyz')
    cmd = [
        _gap_fit_binary(),
        'at_file=train.xyz',
        'gap={distance_2b cutoff=5.0 covariance_type=ard_se delta=1.0 theta_uniform=1.0 sparse_method=uniform '
        'n_sparse=15}',
        'default_sigma={0.005 0.1 0.1 0.0}',
        'energy_parameter_name=energy',
        'force_parameter_name=forces',
        'e0_method=average',
        'gp_file=gap.xml',
    ]
    subprocess.run(cmd, cwd=tmp_path, check=True, capture_output=True, timeout=120)
    calc = calculator_from_spec({'type': 'gap', 'xml': str(tmp_path / 'gap.xml')})
    test = frames[0].copy()
    test.calc = calc
    e_gap = test.get_potential_energy()
    assert np.isfinite(e_gap)
    assert abs(e_gap - frames[0].info['energy']) / len(test) < 0.2
