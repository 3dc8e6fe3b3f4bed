"""The indirect-learning report page and its two plots (Morrow & Deringer Figs. 3–4), from plain data."""

import pytest

from aiida_gaprss.plots import PNG_MAGIC, plot_error_vs_cost_panels, plot_similarity_comparison
from aiida_gaprss.report import INDIRECT_SECTIONS, indirect_report_data, render_indirect_report
from tests.test_report import check_html

STUDENTS = [
    {'label': 'L8', 'cost': 0.01, 'energy_mae': {'rss': 0.02, 'compression': 0.004},
     'force_mae': {'rss': 0.2, 'compression': 0.1}},
    {'label': 'L16', 'cost': 0.05, 'energy_mae': {'rss': 0.008, 'compression': 0.0}, 'force_mae': {'rss': 0.1}},
]  # fmt: skip
CURVES = {
    'teacher': {'pressure': [0.0, 5.0, 10.0, 15.0], 'similarity': [0.5, 0.52, 0.6, 0.8], 'failed_at': None},
    'l8': {'pressure': [0.0, 5.0, 9.0], 'similarity': [0.5, 0.55, 0.7], 'failed_at': {'step': 300}},
    'l16': {'pressure': [0.0, 5.0, 10.0, 15.0], 'similarity': [0.5, 0.51, 0.61, 0.79], 'failed_at': None},
}


def test_error_vs_cost_panels(tmp_path):
    path = plot_error_vs_cost_panels(STUDENTS, tmp_path / 'fig3.png')
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert plot_error_vs_cost_panels([{'label': 'a', 'cost': 2.0, 'energy_mae': {'x': 0.1}}]).startswith(PNG_MAGIC)


def test_similarity_comparison(tmp_path):
    path = plot_similarity_comparison(CURVES, tmp_path / 'fig4.png', labels={'l8': 'L8', 'l16': 'L16'})
    assert path.read_bytes().startswith(PNG_MAGIC)


@pytest.mark.parametrize(
    'call, field',
    [
        (lambda: plot_error_vs_cost_panels([]), 'students'),
        (lambda: plot_error_vs_cost_panels([{'label': 'a', 'cost': 0, 'energy_mae': {'x': 1}}]), 'cost'),
        (lambda: plot_error_vs_cost_panels([{'label': 'a', 'cost': 1}]), 'energy_mae'),
        (lambda: plot_error_vs_cost_panels([{'label': 'a', 'cost': 1, 'energy_mae': {'x': float('nan')}}]),
         'energy_mae'),
        (lambda: plot_similarity_comparison({}), 'curves'),
        (lambda: plot_similarity_comparison({'t': {'pressure': [1, 2], 'similarity': [1]}}), 'differ'),
        (lambda: plot_similarity_comparison({'t': {'pressure': [1]}}), 'pressure and similarity'),
    ],
)  # fmt: skip
def test_bad_plot_input(call, field):
    with pytest.raises(ValueError, match=field):
        call()


def _validation():
    return {
        'checks': ['errors', 'cost', 'melt_quench', 'compression'], 'seed': 3,
        'protocol': {'natoms': 64, 'timestep_fs': 1.0, 'barostat': 'berendsen'},
        'students': {'l8': {'level': 8, 'label': 'L8'}, 'l16': {'level': 16, 'label': 'L16'}},
        'labels': {'teacher': 'teacher', 'l8': 'L8', 'l16': 'L16'},
        'test_sets': {'rss': 10, 'compression': 5},
        'errors': {'l8': {'rss': {'energy_mae': 0.02, 'energy_rmse': 0.03, 'force_mae': 0.2, 'force_rmse': 0.3,
                                  'num_structures': 10}},
                   'l16': {'rss': {'energy_mae': 0.0081, 'energy_rmse': 0.01, 'force_mae': 0.1, 'force_rmse': 0.15,
                                   'num_structures': 10}}},
        'cost': {'cell': {'kind': 'amorphous', 'natoms': 64, 'repeats': 3},
                 'calculators': {'teacher': {'seconds_per_atom_step': 1e-3, 'relative': 1.0},
                                 'l8': {'seconds_per_atom_step': 1e-5, 'relative': 0.01},
                                 'l16': {'seconds_per_atom_step': 5e-5, 'relative': 0.05}}},
        'melt_quench': {'teacher': {'N3': 0.01, 'N5': 0.02, 'H_inv': 0.55, 'bond_angle_mean': 109.0,
                                    'bond_angle_width': 10.5, 'delta_e': 0.1523, 'volume_per_atom': 20.1,
                                    'natoms': 64, 'relaxed': True, 'relax_converged': True},
                        'l8': {'error': 'RuntimeError: <exploded>'}},
        'compression': {'reference': {'phase': 'sh', 'relaxed_with': 'teacher', 'pressures': [0, 10, 20]},
                        'start': 'teacher_quenched',
                        'curves': {**CURVES, 'l16': {**CURVES['l16'], 'mean_abs_difference': 0.0123}}},
        'failures': [{'who': 'l8', 'check': 'errors', 'test_set': 'compression', 'error': 'ValueError: bad'}],
    }  # fmt: skip


def test_indirect_report_every_section():
    plots = {'error_vs_cost': plot_error_vs_cost_panels(STUDENTS), 'similarity': plot_similarity_comparison(CURVES)}
    lineage = {'potential': {'pk': 99, 'sha256': 'f00d'}, 'training_set': {'pk': 98, 'num_structures': 21}}
    data = indirect_report_data(
        _validation(),
        plots,
        lineage=lineage,
        run={'pk': 7, 'process': 'X'},
        students={'l16': {'num_parameters': 1234, 'training_errors': {'energy_rmse': 0.002}}},
    )
    text = render_indirect_report(data)
    check_html(text, INDIRECT_SECTIONS, plots)
    assert 'Indirect learning run 7' in text
    assert '152.3' in text  # ΔE in meV/atom
    assert '8.10' in text and '0.012' in text and '1234' in text and '100.0' in text  # E MAE, |Δ|, params, speed-up
    assert 'RuntimeError: &lt;exploded&gt;' in text  # a failed student quench, escaped
    assert 'failed at step 300' in text and 'f00d' in text and 'ValueError: bad' in text
    assert 'GAP-18 (paper' in text


def test_indirect_report_empty_still_has_every_section():
    text = render_indirect_report(indirect_report_data({}))
    check_html(text, INDIRECT_SECTIONS, [])
    assert 'No numerical validation' in text and 'No melt–quench' in text and 'No compression' in text


def test_indirect_report_levels_over_seeds_and_families():
    """The levels table: mean [min–max] over fit seeds per family, converged fits, MD completions, transition."""
    from aiida_gaprss.workflows.indirect_functions import summarise_fits

    def fit(level, seed, family, energy_mae, converged):
        return {
            'level': level,
            'seed': seed,
            'family': family,
            'fit_time': 10.0,
            'optimisation': {'converged': converged},
            'test_errors': {'rss_reference': {'energy_mae': energy_mae, 'force_mae': 0.3, 'num_structures': 5}},
        }

    students = {
        'level_08': fit(8, 1, 'indirect', 0.010, True),
        'level_08_seed_2': fit(8, 2, 'indirect', 0.030, False),
        'direct_level_08': fit(8, 1, 'direct', 0.050, True),
    }  # fmt: skip
    summary = summarise_fits(students)
    assert summary['indirect/level_08']['test_errors']['rss_reference']['energy_mae'] == pytest.approx(
        {'mean': 0.020, 'min': 0.010, 'max': 0.030}
    )
    assert summary['indirect/level_08']['converged'] == 1 and summary['direct/level_08']['seeds'] == [1]
    validation = _validation()
    validation['stability'] = {'L8': {'students': 2, 'melt_quench_completed': 1, 'compression_completed': 2}}
    validation['compression']['curves']['l16']['transition_pressure'] = 13.46
    text = render_indirect_report(indirect_report_data(validation, fit_report={'summary': summary}))
    assert '20.0 <span class="muted">[10.0–30.0]</span>' in text  # E MAE vs DFT over seeds, meV/atom
    assert 'L8 direct' in text and '50.0' in text and '1/2' in text  # direct row; 1 of 2 converged / completed
    assert '13.5' in text  # the transition pressure of a model, GPa
