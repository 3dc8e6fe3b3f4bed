"""Structural analysis on known structures: coordination, bond angles, S(Q), SOAP similarity, KPCA map."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from aiida_gaprss.rss import analysis, structure_map
from aiida_gaprss.rss.phases import build_phase

A_SI = 5.431


@pytest.fixture(scope='module')
def diamond():
    return build_phase('Si', 'diamond', primitive=False)


def test_diamond_is_fully_fourfold(diamond):
    assert analysis.coordination_fractions(diamond) == {3: 0.0, 4: 1.0, 5: 0.0}
    assert analysis.mean_coordination(diamond) == 4.0
    mean, width = analysis.bond_angle_statistics(diamond)
    assert mean == pytest.approx(np.degrees(np.arccos(-1.0 / 3.0)), abs=1e-6)  # 109.47°
    assert width < 1e-6
    assert analysis.bond_angles(diamond).size == 8 * 6  # 6 angles per four-fold atom


def test_beta_sn_is_six_fold_with_default_cutoff():
    """β-Sn Si: 4 neighbours at 2.43 Å + 2 at c = 2.585 Å, next shell at 3.04 Å; the default 2.85 Å gives 6."""
    atoms = build_phase('Si', 'beta_sn')
    assert analysis.coordination_cutoff('Si') == 2.85
    assert analysis.coordination_numbers(atoms).tolist() == [6, 6]
    assert analysis.coordination_numbers(atoms, cutoff=2.5).tolist() == [4, 4]
    assert analysis.coordination_fractions(atoms, numbers=(4, 6)) == {4: 0.0, 6: 1.0}


def test_defects_counted():
    """Removing one atom of a 64-atom diamond cell leaves 4 three-fold atoms (N3 = 4/63)."""
    atoms = build_phase('Si', 'diamond', primitive=False).repeat(2)
    del atoms[0]
    fractions = analysis.coordination_fractions(atoms)
    assert fractions[3] == pytest.approx(4 / 63)
    assert fractions[4] == pytest.approx(59 / 63)
    assert fractions[5] == 0.0


def test_structure_factor_diamond_111(diamond):
    q, s = analysis.structure_factor(diamond)
    q1, height = analysis.first_sharp_diffraction_peak(q, s)
    assert q1 == pytest.approx(2 * np.pi * np.sqrt(3) / A_SI, abs=0.03)  # (111): 2.00 1/Å
    assert height > 2.0
    # (220) at 2π√8/a = 3.27 1/Å is the next peak; (200) is forbidden in diamond
    q2, _ = analysis.first_sharp_diffraction_peak(q, s, (2.6, 3.6))
    assert q2 == pytest.approx(2 * np.pi * np.sqrt(8) / A_SI, abs=0.03)
    # S(Q) → 1 at large Q, g(r) → 1 at large r
    r, g = analysis.radial_distribution(diamond, r_max=15.0, n_bins=150)
    assert np.mean(g[r > 10]) == pytest.approx(1.0, abs=0.1)
    assert np.all(g[r < 2.2] == 0)


def test_structure_factor_follows_lattice(diamond):
    """A 5 % larger cell moves the (111) peak to Q/1.05."""
    stretched = diamond.copy()
    stretched.set_cell(diamond.cell * 1.05, scale_atoms=True)
    q, s = analysis.structure_factor(stretched)
    q1, _ = analysis.first_sharp_diffraction_peak(q, s)
    assert q1 == pytest.approx(2 * np.pi * np.sqrt(3) / (1.05 * A_SI), abs=0.03)


def test_amorphous_metrics_summary(diamond):
    atoms = diamond.copy()
    atoms.info['energy'] = -4.3 * len(atoms)
    metrics = analysis.amorphous_metrics(atoms, reference_energy_per_atom=-4.4)
    assert metrics['N4'] == 1.0 and metrics['N3'] == 0.0 and metrics['N5'] == 0.0
    assert metrics['bond_angle_mean'] == pytest.approx(109.4712, abs=1e-3)
    assert metrics['H_inv'] == pytest.approx(1.0 / metrics['fsdp_height'])
    assert metrics['delta_e'] == pytest.approx(0.1)


def test_soap_similarity(diamond):
    sh = build_phase('Si', 'sh')
    bigger = diamond.copy()
    bigger.set_cell(diamond.cell * 1.01, scale_atoms=True)
    values = analysis.soap_similarity([diamond, bigger, sh], diamond)
    assert values[0] == pytest.approx(1.0, abs=1e-10)
    assert 0.95 < values[1] < 1.0
    assert values[2] < values[1]
    per_structure = analysis.soap_similarity([diamond, sh], [sh, sh])
    assert per_structure[1] == pytest.approx(1.0, abs=1e-10)
    assert per_structure[0] == pytest.approx(values[2], abs=1e-10)


def test_shortest_bond_and_rescale(diamond):
    assert structure_map.shortest_bond(diamond) == pytest.approx(A_SI * np.sqrt(3) / 4)
    scaled = structure_map.rescale_to_shortest_bond(diamond, 1.0)
    assert structure_map.shortest_bond(scaled) == pytest.approx(1.0)
    dimer = Atoms('Si2', positions=[[0, 0, 0], [0, 0, 2.5]])
    assert structure_map.shortest_bond(structure_map.rescale_to_shortest_bond(dimer, 1.0)) == pytest.approx(1.0)


def test_kpca_map_identical_and_rescaled_structures_coincide():
    si = build_phase('Si', 'diamond')
    c = build_phase('C', 'diamond')  # same topology, other element and scale
    si_big = build_phase('Si', 'diamond', scale=1.3)
    rotated = si.repeat((2, 1, 1))  # same structure in a different cell
    others = [build_phase('Si', 'sh'), build_phase('C', 'graphite'), build_phase('Ti', 'hcp'), bulk('Cu', 'fcc')]
    result = structure_map.kpca_map([si, c, si_big, rotated, *others], return_kernel=True)
    xy = result['coordinates']
    assert xy.shape == (8, 2)
    spread = np.ptp(xy, axis=0).max()
    for index in (1, 2, 3):
        assert np.allclose(xy[index], xy[0], atol=1e-6 * spread)
    assert np.linalg.norm(xy[4] - xy[0]) > 0.1 * spread  # sh is elsewhere
    assert np.allclose(np.diag(result['kernel']), 1.0)
    assert result['coordination'][:4].tolist() == [4.0, 4.0, 4.0, 4.0]
    assert result['coordination'][5] == 3.0  # graphite
    assert result['coordination'][6] == 12.0  # hcp Ti, within 1.2 r0
    assert result['shortest_bond'][1] == pytest.approx(3.567 * np.sqrt(3) / 4)


@pytest.mark.parametrize(
    ('call', 'field'),
    [
        (lambda: analysis.coordination_numbers(Atoms()), 'atoms'),
        (lambda: analysis.coordination_numbers(bulk('Si'), cutoff=-1), 'cutoff'),
        (lambda: analysis.bond_angle_statistics(bulk('Si'), cutoff=1.0), 'cutoff'),
        (lambda: analysis.structure_factor(bulk('Si'), q=[]), 'q'),
        (lambda: analysis.structure_factor(bulk('Si'), window='hann'), 'window'),
        (lambda: analysis.radial_distribution(Atoms('Si2', positions=[[0, 0, 0], [0, 0, 2]])), 'atoms'),
        (lambda: structure_map.kpca_map([bulk('Si')]), 'atoms_list'),
        (lambda: structure_map.kpca_map([bulk('Si'), bulk('Si')], soap={'nmax': 3}), 'soap'),
        (lambda: analysis.soap_similarity([bulk('Si')], [bulk('Si'), bulk('Si')]), 'reference'),
        (lambda: analysis.coordination_cutoff('Qq'), 'element'),
    ],
)
def test_bad_input(call, field):
    with pytest.raises(ValueError, match=field):
        call()
