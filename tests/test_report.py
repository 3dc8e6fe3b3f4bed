"""The HTML report: every section present, plots inline, renders in a real (headless Chromium) browser."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np
import pytest

from aiida_gaprss import plots
from aiida_gaprss.report import SECTIONS, render_report


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode('ascii')


@pytest.fixture(scope='module')
def report_data():
    """Report data shaped like ``collect_report``'s, with real PNGs from the plotting module."""
    rows = [
        {'iteration': 0, 'reference_evaluations': 13, 'database_size': 13, 'training_energy_rmse': 0.004,
         'training_forces_rmse': 0.12, 'phase_errors': {'diamond': 0.2, 'beta_sn': -0.35}},
        {'iteration': 1, 'reference_evaluations': 21, 'database_size': 21, 'training_energy_rmse': 0.003,
         'training_forces_rmse': 0.10, 'prediction_energy_rmse': 0.3, 'prediction_count': 8,
         'phase_errors': {'diamond': 0.0004, 'beta_sn': -0.05}},
    ]  # fmt: skip
    v = np.linspace(18, 22, 5)
    images = {
        'learning_curve': plots.plot_learning_curve(rows, None, phase_errors={'diamond': [(13, 0.2), (21, 0.0004)]}),
        'energy_volume': plots.plot_energy_volume({'diamond': {'potential': (v, 0.01 * (v - 20) ** 2),
                                                               'reference': (v, 0.012 * (v - 20.2) ** 2)}}, None),
        'energy_scatter': plots.plot_energy_scatter({1: ([-4.3, -4.0, -3.5], [-4.1, -4.05, -3.2])}, None),
        'structure_map': plots.plot_structure_map(np.random.default_rng(0).normal(size=(20, 2)),
                                                  np.linspace(3, 8, 20), None, marked={'diamond': 0}),
    }  # fmt: skip
    return {
        'title': 'GAP-RSS run 42',
        'run': {'pk': 42, 'uuid': 'abc', 'element': 'Si', 'process': 'GapRssWorkChain', 'state': 'finished',
                'exit_status': 0, 'exit_message': None, 'created': '2026-11-27T16:00:00+00:00'},
        'settings': {'element': 'Si', 'budget': 21, 'parameters': {'seed': 1, 'pool': {'n': 60}},
                     'reference': {'engine': 'ase', 'ase': {'calculator': {'type': 'sw_si'}}}},
        'budget': {'budget': 21, 'reference_evaluations': 21, 'iterations': 2},
        'status_rows': [{'label': 'iteration_00', 'pk': 50, 'state': 'finished', 'exit_status': 0},
                        {'label': 'iteration_01', 'pk': 90, 'state': 'finished', 'exit_status': 0}],
        'iterations': rows,
        'phase_errors': {
            'phases': {
                'diamond': {'potential': -4.3346, 'reference': -4.335, 'error': 0.0004, 'converged': True,
                            'relative_error': 0.0, 'potential_volume_per_atom': 20.0, 'potential_b0': 99.0},
                'beta_sn': {'potential': -4.19, 'reference': -4.14, 'error': -0.05, 'converged': False,
                            'relative_error': -0.0504},
            },
            'ground_state': 'diamond', 'max_abs_error': 0.05, 'mean_abs_error': 0.0252,
        },
        'plots': {name: _b64(data) for name, data in images.items()},
        'exclusions': [{'iteration': 1, 'index': 3, 'pk': 77, 'exit_status': 0, 'message': 'SCF <did not> converge'}],
        'lineage': {'potential': {'pk': 99, 'sha256': 'f00d'}, 'run': {'pk': 42},
                    'iteration': {'label': 'iteration_01'},
                    'training_set': {'pk': 98, 'num_structures': 21, 'sha256': 'beef'},
                    'reference': {'engine': 'ase'}},
        'generated': '2026-11-27T17:00:00+00:00',
    }  # fmt: skip


def check_html(text: str, sections: dict, plot_names) -> None:
    """Every section, every plot inline (a figure holding a base64 PNG), nothing loaded from outside the page."""
    assert text.startswith('<!DOCTYPE html>')
    for key, title in sections.items():
        assert f'<section id="{key}"><h2>{title}</h2>' in text, key
    for name in plot_names:
        figure = rf'<figure id="plot-{re.escape(name)}"[^>]*><img alt="{re.escape(name)}" src="data:image/png;base64,'
        assert re.search(figure, text), name
    assert 'src="http' not in text and 'href="http' not in text and '<script' not in text


def check_report_html(text: str, plot_names) -> None:
    """:func:`check_html` with the sections of the GAP-RSS report."""
    check_html(text, SECTIONS, plot_names)


def test_every_section_and_plot_inline(report_data):
    text = render_report(report_data)
    check_report_html(text, report_data['plots'])
    assert 'SCF &lt;did not&gt; converge' in text  # escaped
    assert '21</b> of 21' in text
    assert '&lt; 1 (converged)' in text and '-50.0' in text  # diamond converged, beta-Sn -50 meV/atom
    assert 'beef' in text and 'sw_si' in text


def test_empty_run_still_has_every_section():
    text = render_report({'run': {'pk': 1}, 'budget': {'budget': 10, 'reference_evaluations': 0}})
    check_report_html(text, [])
    assert 'No plots in this run' in text and 'No validation on known phases' in text


def chromium() -> str:
    """Debian's ``chromium`` (install.sh installs it): missing, the test fails instead of skipping."""
    found = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')
    if found is None:
        pytest.fail('chromium not found: install.sh installs it (apt-get install chromium)', pytrace=False)
    return found


def screenshot(html_path, png_path, *, width: int = 1200, height: int = 2000) -> None:
    """Render ``html_path`` with headless Chromium into ``png_path``."""
    with tempfile.TemporaryDirectory() as profile:
        command = [
            chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--no-first-run', f'--user-data-dir={profile}',
            f'--screenshot={png_path}', f'--window-size={width},{height}', f'file://{os.path.abspath(html_path)}',
        ]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, timeout=120)


def test_renders_in_headless_chromium(report_data, tmp_path):
    from PIL import Image

    html_path = tmp_path / 'report.html'
    html_path.write_text(render_report(report_data), encoding='utf-8')
    png = tmp_path / 'report.png'
    screenshot(html_path, png)
    image = np.asarray(Image.open(png).convert('RGB'), dtype=float)
    assert image.shape[:2] == (2000, 1200)
    # the header bar is drawn in its dark blue and the page is not blank: many distinct colours (the plots)
    assert np.allclose(image[20, 600], [0x1D, 0x35, 0x57], atol=8)
    assert len(np.unique(image.reshape(-1, 3)[::7], axis=0)) > 200
