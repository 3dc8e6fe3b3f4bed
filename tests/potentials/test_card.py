"""The model card renderer: a pure function of metadata.json and reference.json."""

from __future__ import annotations

from aiida_gaprss.potentials import normalise_evaluation, reference_summary, render_card

#: reference.json as the exporter writes it for a QE run (tests/potentials/test_export.py checks the real one).
QE = {
    'engine': 'qe',
    'code': {'name': 'Quantum ESPRESSO pw.x', 'version': 'pwscf 7.2'},
    'functional': 'PBE',
    'settings': {'ecutwfc': 30.0, 'ecutrho': 120.0, 'smearing': 'mv', 'degauss': 0.02, 'kpoints_spacing': 0.3},
    'pseudopotentials': {'Si': {'filename': 'Si.pbe-nl-rrkjus_psl.1.0.0.UPF', 'md5': '0123abcd'}},
}


def _metadata(evaluation=None):
    return {
        'name': 'si-x',
        'elements': ['Si'],
        'description': 'Made for a test.',
        'gap': {
            'xml': 'gap.xml',
            'seed': 3,
            'descriptors': ['distance_2b cutoff=5 n_sparse=15', 'soap n_sparse=150'],
            'files': {'gap.xml': {'stored': 'gap.xml.gz', 'size': 2_000_000}},
        },
        'files': {
            'gap.xml.gz': {'size': 500_000, 'sha256': 'ab' * 32},
            'training.xyz': {'size': 1_000_000, 'sha256': 'cd' * 32},
        },
        'training': {'file': 'training.xyz', 'num_structures': 600, 'num_atoms': 5000, 'config_types': {'rss': 590}},
        'provenance': {
            'run': {'uuid': 'the-run-uuid', 'reference_evaluations': 600, 'iterations': 12},
            'protocol': {'closest': 'moderate', 'differences': {'budget': {}}},
        },
        'phases': {
            'relax': {'pressure': 0.0, 'fmax': 0.01, 'steps': 500},
            'ground_state': 'diamond',
            'energies': {
                'diamond': {
                    'energy_per_atom': -5.4,
                    'volume_per_atom': 20.4,
                    'relative_energy': 0.0,
                    'error': 0.0012,
                    'converged': True,
                }
            },
        },
        'evaluation': evaluation,
        'plots': {'energy_volume': 'energy_volume.png'},
        'reproduce': {'tolerances': {'energy_per_atom': 0.001}},
    }


def test_reference_summary_of_qe():
    text = reference_summary(QE)
    for part in ('pw.x pwscf 7.2', 'PBE', 'ecutwfc 30.0 Ry, ecutrho 120.0 Ry', 'k-point spacing 0.3 Å⁻¹ (2π included)',
                 'mv smearing, degauss 0.02 Ry', 'Si.pbe-nl-rrkjus_psl.1.0.0.UPF (md5 0123abcd)'):  # fmt: skip
        assert part in text


def test_card_sections_and_numbers():
    evaluation = normalise_evaluation({
        'seeds': [1, 2, 3],
        'phases': {'diamond': [0.002, -0.004, 0.005], 'sh': [0.014, 0.025, 0.012]},
        'eos': {'diamond': {'reference': {'v0': 20.0, 'b0': 90.0}, 'potential': [
            {'v0': 20.1, 'b0': 99.0}, {'v0': 20.0, 'b0': 100.0}, {'v0': 19.9, 'b0': 98.0}]}},
        'goal': {'phase_error': 0.01, 'max_seed_error': 0.02, 'v0_relative': 0.01, 'b0_relative': 0.1},
        'learning_curve': [{'reference_evaluations': 500, 'phases': {'diamond': 0.003}}],
        'not_for': ['Liquid silicon.'],
    })  # fmt: skip
    card = render_card(_metadata(evaluation), QE)
    assert card.startswith('# si-x: a Gaussian approximation potential for Si\n')
    assert 'Made for a test.' in card and "potentials.load('si-x')" in card
    assert 'the-run-uuid' in card and '600 reference evaluations' in card and 'closest to `moderate`' in card
    assert 'distance_2b (15 sparse points) + soap (150 sparse points)' in card
    assert 'GAP files 0.50 MB gzipped (2.00 MB plain), training data 1.00 MB' in card
    # the errors table: every seed, the mean and the largest, and the goal's verdict per phase
    assert '| diamond | +2.0 | -4.0 | +5.0 | +1.0 | 5.0 | – | met |' in card
    assert '| sh | +14.0 | +25.0 | +12.0 | +17.0 | 25.0 | – | not met |' in card
    assert 'mean error over seeds within ±10 meV/atom; every seed within ±20 meV/atom' in card
    assert '| diamond | 20.000 | 20.000 (+0.0 %) | 90.0 | 99.0 (+10.0 %) | 0.5 % / 11.1 % | not met |' in card
    assert '| 500 | +3.0 |' in card
    assert '- Liquid silicon.' in card and 'Other elements' not in card  # the evaluation's list replaces the default
    assert '![Energy–volume curves (potential and reference)](energy_volume.png)' in card
    assert '| diamond | -5.40000 | 20.400 | +0.0 | +1.2 | – | yes |' in card
    assert 'gaprss potentials refit si-x ' in card and 'gaprss potentials refit si-x --seed 2' in card
    assert '| `training.xyz` | 1000.0 kB | `cdcdcdcdcdcdcdcd…` |' in card


def test_card_without_evaluation():
    card = render_card(_metadata(), {'engine': 'ase', 'calculator': {'type': 'sw_si'}})
    assert 'No validation over fit seeds was given' in card
    assert 'engine `ase`' in card and 'Other elements or compositions than Si.' in card
