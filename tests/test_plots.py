"""Every plot writes a real, non-trivial PNG; empty or malformed input raises ValueError naming the field."""

import numpy as np
import pytest

from aiida_gaprss import plots

MIN_BYTES = 10_000  # a 6x4 inch, 120 dpi figure with axes, lines and text


def _check_png(path):
    data = path.read_bytes()
    assert data[:8] == plots.PNG_MAGIC
    assert len(data) > MIN_BYTES
    return data


CURVE = {
    'iterations': [
        {'iteration': 0, 'reference_evaluations': 100, 'training_energy_rmse': 0.020},
        {'iteration': 1, 'reference_evaluations': 200, 'training_energy_rmse': 0.010, 'prediction_energy_rmse': 0.3},
        {'iteration': 2, 'reference_evaluations': 300, 'training_energy_rmse': 0.006, 'prediction_energy_rmse': 0.05},
    ],
    'units': {'energy': 'eV/atom'},
}


def test_learning_curve(tmp_path):
    phase_errors = {'diamond': [(100, 0.05), (200, 0.004), (300, 0.0)], 'beta_sn': [(100, -0.2), (300, 0.01)]}
    path = plots.plot_learning_curve(CURVE, tmp_path / 'sub' / 'curve.png', phase_errors=phase_errors)
    assert path == tmp_path / 'sub' / 'curve.png'
    _check_png(path)
    data = plots.plot_learning_curve(CURVE['iterations'], None)
    assert data[:8] == plots.PNG_MAGIC
    rows = [{**row, 'training_energy_rmse_cells': row['training_energy_rmse'] / 4} for row in CURVE['iterations']]
    with_cells = plots.plot_learning_curve(rows, None, phase_errors=phase_errors, goal=0.01)
    assert with_cells[:8] == plots.PNG_MAGIC and len(with_cells) > MIN_BYTES and with_cells != data


def test_energy_volume(tmp_path):
    v = np.linspace(17, 23, 7)
    curves = {
        'diamond': {'potential': (v, 0.01 * (v - 20) ** 2 - 4.3), 'reference': (v, 0.011 * (v - 20.1) ** 2 - 5.4)},
        'bc8': {'potential': (v - 2, 0.01 * (v - 20) ** 2 - 4.1)},
    }
    _check_png(plots.plot_energy_volume(curves, tmp_path / 'ev.png'))


def test_phase_errors_over_seeds(tmp_path):
    points = {
        'diamond': [(300, [0.001, -0.002, 0.0005]), (400, [0.0, 0.001, -0.001])],
        'beta_sn': [(300, [-0.015, -0.004, -0.009]), (400, [-0.006, -0.002, -0.011])],
    }
    data = _check_png(plots.plot_phase_errors_over_seeds(points, tmp_path / 'seeds.png', goal=0.01, limit=0.02))
    bare = plots.plot_phase_errors_over_seeds(points, None)
    assert bare[:8] == plots.PNG_MAGIC and bare != data  # the goal band and limits are drawn
    # what is drawn: the signed mean in meV/atom with the seeds' range (a negative error stays negative)
    mean, below, above = plots.seed_mean_and_range([-0.015, -0.004, -0.009])
    assert mean == pytest.approx(-9.333, abs=1e-3)
    assert below == pytest.approx(5.667, abs=1e-3) and above == pytest.approx(5.333, abs=1e-3)


def test_energy_volume_over_seeds(tmp_path):
    v = np.linspace(18.8, 22.0, 7)
    seeds = [(v, 0.011 * (v - 20.4) ** 2 - 5.4 + shift) for shift in (0.0, 0.001, -0.002)]
    curves = {
        'diamond': {'seeds': seeds, 'reference': (v, 0.01 * (v - 20.4) ** 2 - 139.0)},
        'beta_sn': {'seeds': [(v - 5, e + 0.3) for v, e in seeds], 'reference': None},
    }
    _check_png(plots.plot_energy_volume_over_seeds(curves, tmp_path / 'ev_seeds.png', title='E(V)'))


def test_energy_scatter(tmp_path):
    rng = np.random.default_rng(0)
    per_iteration = {}
    for k in range(1, 4):
        ref = rng.uniform(-4.4, -3.0, 30)
        per_iteration[k] = (ref, ref + rng.normal(scale=0.1 / k, size=30))
    _check_png(plots.plot_energy_scatter(per_iteration, tmp_path / 'scatter.png'))


def test_structure_map(tmp_path):
    rng = np.random.default_rng(1)
    xy = rng.normal(size=(50, 2))
    colours = rng.uniform(3, 8, 50)
    path = plots.plot_structure_map(xy, colours, tmp_path / 'map.png', marked={'diamond': 0, 'sh': (0.5, 0.5)})
    _check_png(path)


def test_error_vs_cost(tmp_path):
    students = [
        {'label': 'M8', 'cost': 0.005, 'errors': {'RSS': 0.030, 'compression': 0.012}},
        {'label': 'M16', 'cost': 0.02, 'errors': {'RSS': 0.012, 'compression': 0.004}},
        {'label': 'M24', 'cost': 0.08, 'energy_error': 0.002},
    ]
    _check_png(plots.plot_error_vs_cost(students, tmp_path / 'cost.png'))


def test_error_vs_cost_two_families_over_seeds(tmp_path):
    students = [
        {'label': 'L8', 'cost': 0.004, 'energy_mae': {'rss': 0.02, 'rss_reference': 0.03},
         'energy_mae_range': {'rss': [0.015, 0.025]}, 'force_mae': {'rss': 0.3}},
        {'label': 'L8 direct', 'family': 'direct', 'cost': 0.004, 'energy_mae': {'rss': 0.05, 'rss_reference': 0.04}},
        {'label': 'L12', 'cost': 0.01, 'energy_mae': {'rss': 0.01, 'rss_reference': 0.02}, 'force_mae': {'rss': 0.2}},
    ]  # fmt: skip
    _check_png(plots.plot_error_vs_cost_panels(students, tmp_path / 'families.png'))
    with pytest.raises(ValueError, match=r"students\[0\].family: expected 'indirect' or 'direct'"):
        plots.plot_error_vs_cost_panels([{**students[0], 'family': 'other'}], tmp_path / 'bad.png')


def test_similarity_curve(tmp_path):
    p = np.linspace(0, 20, 21)
    curves = {'teacher': (p, 0.6 + 0.015 * p), 'M16': (p, 0.6 + 0.014 * p)}
    _check_png(plots.plot_similarity_curve(curves, tmp_path / 'sim.png'))


@pytest.mark.parametrize(
    ('call', 'field'),
    [
        (lambda p: plots.plot_learning_curve([], p), 'curve_rows'),
        (lambda p: plots.plot_learning_curve({'rows': []}, p), 'curve_rows'),
        (lambda p: plots.plot_learning_curve([{'iteration': 0}], p), r'curve_rows\[0\]'),
        (lambda p: plots.plot_learning_curve([{'reference_evaluations': 1}], p), 'curve_rows'),
        (lambda p: plots.plot_learning_curve(CURVE, p, phase_errors={'dia': []}), 'phase_errors'),
        (lambda p: plots.plot_learning_curve(CURVE, p, goal=-0.01), 'goal'),
        (lambda p: plots.plot_energy_volume({}, p), 'curves'),
        (lambda p: plots.plot_energy_volume({'dia': {'potential': ([], [])}}, p), 'curves'),
        (lambda p: plots.plot_energy_volume({'dia': {'potential': ([1, 2], [1])}}, p), 'curves'),
        (lambda p: plots.plot_energy_scatter({}, p), 'per_iteration'),
        (lambda p: plots.plot_energy_scatter({1: ([1.0], [])}, p), 'per_iteration'),
        (lambda p: plots.plot_structure_map(np.zeros((0, 2)), [], p), 'coordinates'),
        (lambda p: plots.plot_structure_map(np.zeros((3, 2)), [1, 2], p), 'colour_values'),
        (lambda p: plots.plot_structure_map(np.zeros((3, 2)), [1, 2, 3], p, marked={'x': 5}), 'marked'),
        (lambda p: plots.plot_error_vs_cost([], p), 'students'),
        (lambda p: plots.plot_error_vs_cost([{'label': 'a', 'cost': 0, 'energy_error': 1}], p), 'students'),
        (lambda p: plots.plot_error_vs_cost([{'label': 'a', 'cost': 1}], p), 'students'),
        (lambda p: plots.plot_similarity_curve({}, p), 'curves'),
        (lambda p: plots.plot_phase_errors_over_seeds({}, p), 'points'),
        (lambda p: plots.plot_phase_errors_over_seeds({'dia': [(1, [0.0], 3)]}, p), r'points\[.dia.\]\[0\]'),
        (lambda p: plots.plot_phase_errors_over_seeds({'dia': [(1, [0.0])]}, p, goal=0), 'goal'),
        (lambda p: plots.plot_energy_volume_over_seeds({'dia': {'seeds': []}}, p), 'curves'),
        (
            lambda p: plots.plot_energy_volume_over_seeds(
                {'a': {'seeds': [([1, 2], [1, 2])]}, 'b': {'seeds': [([1, 2], [1, 2])] * 2}}, p
            ),
            'seeds',
        ),
    ],
)
def test_bad_input(tmp_path, call, field):
    path = tmp_path / 'bad.png'
    with pytest.raises(ValueError, match=field):
        call(path)
    assert not path.exists()


def test_energy_scatter_tick_labels_do_not_overlap(monkeypatch):
    """A narrow range of large energies (QE's absolute -163.x eV/atom) gave ten x labels that ran into each other."""
    figures = []
    from aiida_gaprss.plots import rss as rss_plots

    monkeypatch.setattr(rss_plots, 'save_png', lambda figure, path: figures.append(figure))
    rng = np.random.default_rng(0)
    for lo, hi in [(-163.6, -162.1), (-3456.2, -3455.05), (-4.4, -3.0)]:
        ref = rng.uniform(lo, hi, 30)
        plots.plot_energy_scatter({1: (ref, ref + rng.normal(scale=0.05, size=30))}, None)
        figure = figures[-1]
        figure.tight_layout()
        renderer = figure.canvas.get_renderer()
        for labels in (figure.axes[0].get_xticklabels(), figure.axes[0].get_yticklabels()):
            boxes = [label.get_window_extent(renderer) for label in labels if label.get_text()]
            assert len(boxes) >= 3
            for first, second in zip(boxes, boxes[1:], strict=False):
                assert not first.overlaps(second), (lo, hi, [label.get_text() for label in labels])


def test_structure_map_title_says_what_is_left_out():
    from aiida_gaprss.workflows.rss import structure_map_title

    assert structure_map_title({'num_structures': 52, 'num_skipped': 2}) == (
        '52 of 54 database structures (2 dimers and clusters left out)'
    )
    assert structure_map_title({'num_structures': 54, 'num_skipped': 0}) == '54 database structures'
    assert structure_map_title({'num_structures': 54}) == '54 database structures'  # maps made before num_skipped
