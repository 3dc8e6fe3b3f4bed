"""ValidationWorkChain: known phases and E–V curves of a GAP against a reference; the loop with validation."""

from __future__ import annotations

import os
import pathlib
import re
import shutil

import pytest
from aiida import orm
from aiida.engine import run_get_node

from aiida_gaprss.plots import PNG_MAGIC
from aiida_gaprss.workflows.validation import ValidationWorkChain
from tests.conftest import installed_program

PHASES = ['diamond', 'beta_sn']
#: Small settings: two phases, a 5-point E–V scan with a few fixed-volume steps.
PARAMETERS = {
    'relax': {'fmax': 0.02, 'steps': 100, 'smax': 0.02},
    'eos': {'volume_factors': [0.94, 0.97, 1.0, 1.03, 1.06], 'fmax': 0.05, 'steps': 20},
}


def builder_for(code, potential, **kwargs):
    builder = ValidationWorkChain.get_builder()
    builder.potential = potential
    builder.element = orm.Str('Si')
    builder.phases = orm.List(PHASES)
    builder.code = code
    builder.parameters = orm.Dict(PARAMETERS)
    for key, value in kwargs.items():
        builder[key] = value
    return builder


def _check_png(node: orm.SinglefileData) -> None:
    data = node.get_content(mode='rb')
    assert data[:8] == PNG_MAGIC
    assert len(data) > 10_000


@pytest.mark.slow
@pytest.mark.ci_slow
def test_potential_against_itself_gives_zero_error(fixture_code, small_gap):
    builder = builder_for(fixture_code('python'), small_gap)
    builder.reference = {'engine': orm.Str('ase'), 'ase': {'potential': small_gap}}
    builder.parameters = orm.Dict({**PARAMETERS, 'processes': 2})  # the two phases side by side in each job
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    errors = results['phase_errors'].get_dict()
    assert set(errors['phases']) == set(PHASES)
    for name, row in errors['phases'].items():
        assert row['error'] == 0.0, name
        assert row['converged'] and row['display'].startswith('< 1 meV/atom')
    assert errors['all_converged']
    curves = results['energy_volume']['phases']
    for name in PHASES:
        assert curves[name]['potential']['energies'] == curves[name]['reference']['energies']
        assert len(curves[name]['potential']['volumes']) == 5
    _check_png(results['plots']['energy_volume'])
    assert len(results['relaxed_phases']) == 2


@pytest.mark.slow
@pytest.mark.ci_slow
def test_against_stillinger_weber_gives_the_hand_computed_error(fixture_code, small_gap):
    from aiida_gaprss.rss.phases import build_phase
    from aiida_gaprss.rss.potentials import stillinger_weber_si
    from aiida_gaprss.rss.validation import relax_phase

    builder = builder_for(fixture_code('python'), small_gap)
    builder.reference = {'engine': orm.Str('ase'), 'ase': {'calculator': orm.Dict({'type': 'sw_si'})}}
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    errors = results['phase_errors']['phases']
    relax = PARAMETERS['relax']
    gap = small_gap.get_calculator()
    sw = stillinger_weber_si()
    for name in PHASES:
        atoms = build_phase('Si', name)
        e_gap = relax_phase(atoms, gap, relax['fmax'], relax['steps'], smax=relax['smax']).info['energy_per_atom']
        e_sw = relax_phase(atoms, sw, relax['fmax'], relax['steps'], smax=relax['smax']).info['energy_per_atom']
        assert errors[name]['error'] == pytest.approx(e_gap - e_sw, abs=1e-6), name
        assert errors[name]['reference'] == pytest.approx(e_sw, abs=1e-6)
    # SW diamond is -2 eps = -4.335 eV/atom at its minimum
    assert errors['diamond']['reference'] == pytest.approx(-4.335, abs=1e-4)
    fit = results['energy_volume']['phases']['diamond']['reference']['fit']
    assert fit['v0'] == pytest.approx(5.43095**3 / 8, rel=2e-3)
    assert 90 < fit['b0'] < 115  # SW silicon: B0 = 101 GPa

    # the reference side is reused: no reference job, same errors
    again = builder_for(fixture_code('python'), small_gap, reference_results=results['reference_results'])
    results2, node2 = run_get_node(again)
    assert node2.is_finished_ok, node2.exit_message
    labels = {link.link_label for link in node2.base.links.get_outgoing().all()}
    assert 'reference' not in labels and 'potential' in labels
    for name in PHASES:
        assert results2['phase_errors']['phases'][name]['error'] == pytest.approx(errors[name]['error'], abs=1e-9)


@pytest.mark.parametrize(
    ('changes', 'message'),
    [
        ({'phases': ['diamond', 'kryptonite']}, 'unknown phase'),
        ({'element': 'Xe'}, 'field `element`'),
        ({'parameters': {'eos': {'volume_factors': [1.0, 1.1]}}}, 'eos.volume_factors'),
        ({'reference': {'engine': 'vasp'}}, 'reference.vasp.code'),
        ({'reference': {'engine': 'qe'}}, 'reference.qe.code'),
        ({'reference': {'engine': 'ase'}}, 'reference.ase'),
        pytest.param({'reference': {'engine': 'qe', 'max_concurrent': 0}}, None, id='C17-max-concurrent-zero'),
    ],
)
def test_bad_input_refused(fixture_code, small_gap, changes, message, request):
    def node(value):
        if isinstance(value, dict) and 'engine' in value:
            return {key: orm.Str(item) if key == 'engine' else orm.Int(item) for key, item in value.items()}
        return {list: orm.List, str: orm.Str, dict: orm.Dict}[type(value)](value)

    builder = builder_for(fixture_code('python'), small_gap, **{key: node(value) for key, value in changes.items()})
    with pytest.raises(ValueError) as excinfo:
        run_get_node(builder)
    if message is None:  # a row of docs/bad_inputs.md: the message the table quotes
        from tests.reliability.bad_input_table import assert_table_message, row_of

        assert_table_message(row_of(request), str(excinfo.value))
    else:
        assert re.search(message, str(excinfo.value)), str(excinfo.value)


@pytest.mark.slow
@pytest.mark.ci_slow
def test_quantum_espresso_reference(fixture_code, small_gap, aiida_code_installed):
    """Diamond Si relaxed by PwRelaxWorkChain (vc-relax) and its E(V) by fixed-volume PwRelaxWorkChains."""
    from aiida_gaprss.pseudos import install_debian_family

    install_debian_family()
    pw = aiida_code_installed(
        default_calc_job_plugin='quantumespresso.pw',
        filepath_executable=installed_program('pw.x'),
        label='pw-serial',
        with_mpi=False,  # a serial code: the validation leaves `withmpi` to the code
    )
    builder = builder_for(fixture_code('python'), small_gap, phases=orm.List(['diamond']))
    builder.parameters = orm.Dict({'relax': {'fmax': 0.02, 'smax': 0.1}, 'eos': {**PARAMETERS['eos'], 'steps': 20}})
    builder.reference = {'engine': orm.Str('qe'), 'qe': {'code': pw, 'kpoints_spacing': orm.Float(0.5)}}
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    labels = sorted(link.link_label for link in node.base.links.get_outgoing().all())
    assert 'reference_relax_diamond' in labels
    assert sum(label.startswith('reference_eos_diamond_') for label in labels) == 5
    relax = [link.node for link in node.base.links.get_outgoing().all() if link.link_label == 'reference_relax_diamond']
    assert relax[0].process_label == 'PwRelaxWorkChain'
    reference = results['reference_results'].get_dict()
    diamond = reference['phases']['diamond']
    assert 19.0 < diamond['volume_per_atom'] < 21.5  # PBE Si: a = 5.47 Å, 20.4 Å^3/atom (coarse k-mesh here)
    fit = reference['energy_volume']['diamond']['fit']
    assert fit['v0'] == pytest.approx(diamond['volume_per_atom'], rel=0.03)
    assert 60 < fit['b0'] < 130  # PBE Si: 88 GPa
    assert fit['e0'] == pytest.approx(diamond['energy_per_atom'], abs=5e-3)  # same k-mesh as the vc-relax
    error = results['phase_errors']['phases']['diamond']
    potential = results['potential_results']['phases']['diamond']['energy_per_atom']
    # the stored Dicts keep ~15 significant digits: on errors of ~100 eV/atom that is 1e-12, far below a meV
    assert error['error'] == pytest.approx(potential - diamond['energy_per_atom'], rel=1e-12, abs=1e-9)

    # a second validation with the same reference settings (another run, new input nodes, other job options)
    # reuses the reference side instead of relaxing again (workflows.validation.reuse)
    again = builder_for(fixture_code('python'), small_gap, phases=orm.List(['diamond']))
    again.parameters = orm.Dict(builder.parameters.get_dict())
    again.reference = {
        'engine': orm.Str('qe'),
        'qe': {'code': pw, 'kpoints_spacing': orm.Float(0.5), 'options': orm.Dict({'max_wallclock_seconds': 3600})},
    }
    second, node2 = run_get_node(again)
    assert node2.is_finished_ok, node2.exit_message
    assert not [child for child in node2.called if child.process_label == 'PwRelaxWorkChain']
    assert second['reference_results'].uuid == results['reference_results'].uuid
    assert second['phase_errors']['phases']['diamond']['error'] == pytest.approx(error['error'], abs=1e-9)
    assert any('is reused' in log.message for log in orm.Log.collection.get_logs_for(node2))
    assert node2.base.extras.get('gaprss_reference_fingerprint') == node.base.extras.get('gaprss_reference_fingerprint')


@pytest.mark.slow
@pytest.mark.ci_slow
def test_structure_map_job(fixture_code):
    """The KPCA map job: dimers left out, the known phases added and marked."""
    import numpy as np

    from aiida_gaprss.calculations.validate_potential import StructureMap
    from aiida_gaprss.data.structure_set import StructureSet
    from aiida_gaprss.rss.generation import generate_dimers, generate_random_cells
    from aiida_gaprss.rss.phases import phase_names
    from aiida_gaprss.workflows.rss import plot_run_structure_map

    cells = generate_random_cells(8, 'Si', seed=3, natoms=(2, 6), processes=1)
    dimers = generate_dimers('Si', 2)
    for atoms in dimers:
        atoms.info['config_type'] = 'dimer'
    database = StructureSet.from_atoms(cells + dimers)
    results, node = run_get_node(StructureMap, code=fixture_code('python'), structures=database)
    assert node.is_finished_ok, node.exit_message
    smap = results['structure_map'].get_dict()
    assert smap['num_structures'] == 8 and smap['num_skipped'] == 2
    assert np.asarray(smap['coordinates']).shape == (8 + len(phase_names('Si')), 2)
    assert set(smap['phases']) == set(phase_names('Si'))
    _check_png(plot_run_structure_map(results['structure_map']))


def test_run_plots():
    """The loop's scatter and learning-curve plots (calcfunctions) on small data."""
    from aiida_gaprss.data.structure_set import StructureSet
    from aiida_gaprss.rss.generation import generate_random_cells
    from aiida_gaprss.workflows.rss import energy_scatter_data, plot_energy_scatter_of_run, plot_run_learning_curve

    cells = generate_random_cells(5, 'Si', seed=3, natoms=(2, 6), processes=1)
    # scatter: labelled structures matched to the previous potential's frames by origin
    frames, labelled = [], []
    for index, atoms in enumerate(cells[:5]):
        frame = atoms.copy()
        frame.info.update(origin=f'cell{index}:step3', energy=-4.0 * len(atoms) + 0.01 * index)
        frames.append(frame)
        label = frame.copy()
        label.info['energy'] = -4.1 * len(atoms)
        labelled.append(label)
    trajectories, labels = StructureSet.from_atoms(frames), StructureSet.from_atoms(labelled)
    reference, predicted = energy_scatter_data(trajectories, labels)
    assert reference == pytest.approx([-4.1] * 5)
    assert predicted == pytest.approx([-4.0 + 0.01 * i / len(a) for i, a in enumerate(cells[:5])])
    _check_png(plot_energy_scatter_of_run(trajectories_01=trajectories, labelled_01=labels))

    curve = orm.Dict({'iterations': [
        {'iteration': 0, 'reference_evaluations': 13, 'training_energy_rmse': 0.01, 'phase_errors': {'diamond': 0.1}},
        {'iteration': 1, 'reference_evaluations': 21, 'training_energy_rmse': 0.005,
         'phase_errors': {'diamond': 0.0005}},
    ]})  # fmt: skip
    _check_png(plot_run_learning_curve(curve))


# ------------------------------------------------------------------------------------------------ the loop


#: Overrides of the ``tiny`` protocol (two iterations in minutes): budget 21; the validation is set by the tests.
TINY = {'budget': 21}


@pytest.fixture(scope='module')
def _validated_runs():
    """The loop run with validation, made once per module by whichever test asks for it first."""
    return {}


@pytest.fixture
def validated_run(fixture_code, submit_and_await, _validated_runs):
    """The tiny loop (two iterations) with validation on, through the daemon; finished (ok or not)."""
    if not _validated_runs:
        from aiida.plugins import WorkflowFactory

        codes = {'python': fixture_code('python'), 'gap_fit': fixture_code('gaprss.gap_fit')}
        builder = WorkflowFactory('gaprss.rss').get_builder_from_protocol(
            'Si', codes=codes, engine='ase', protocol='tiny', overrides=TINY
        )
        builder.validation = {
            'enabled': orm.Bool(True),
            'phases': orm.List(PHASES),
            'parameters': orm.Dict(PARAMETERS),
        }
        try:
            _validated_runs['node'] = submit_and_await(builder, timeout=1200)
        except Exception as exception:  # not submitted again by the next test that asks
            _validated_runs['error'] = exception
            raise
    if 'error' in _validated_runs:
        pytest.fail(f'the validated run did not finish: {_validated_runs["error"]!r}')
    return _validated_runs['node']


@pytest.mark.slow
@pytest.mark.ci_slow
@pytest.mark.daemon
def test_loop_with_validation_through_the_daemon(validated_run):
    from aiida_gaprss.rss.phases import phase_names

    node = validated_run
    assert node.is_finished_ok, node.exit_message
    children = {link.link_label: link.node for link in node.base.links.get_outgoing().all()}
    assert {'validation_00', 'validation_01', 'structure_map'} <= set(children)
    first, second = children['validation_00'], children['validation_01']
    # the reference side is computed once (SW, the loop's reference) and reused
    assert 'reference' in first.inputs and 'reference_results' not in first.inputs
    assert second.inputs.reference_results.uuid == first.outputs.reference_results.uuid
    assert not [link for link in second.base.links.get_outgoing().all() if link.link_label == 'reference']
    assert first.inputs.potential.uuid == node.outputs.potentials.iteration_00.uuid
    assert second.inputs.potential.uuid == node.outputs.potential.uuid
    # the learning curve has the phase errors of every iteration
    rows = node.outputs.learning_curve['iterations']
    for row, child in zip(rows, (first, second), strict=True):
        assert set(row['phase_errors']) == set(PHASES)
        for name in PHASES:
            assert row['phase_errors'][name] == child.outputs.phase_errors['phases'][name]['error']
    assert node.outputs.phase_errors.uuid == second.outputs.phase_errors.uuid
    assert node.outputs.validation_reference['phases']['diamond']['energy_per_atom'] == pytest.approx(-4.335, 1e-4)
    # every plot is there, a real PNG
    assert set(node.outputs.plots) == {'learning_curve', 'energy_scatter', 'energy_volume', 'structure_map'}
    for name in node.outputs.plots:
        _check_png(node.outputs.plots[name])
    smap = node.outputs.structure_map.get_dict()
    assert smap['num_structures'] == len(node.outputs.database) - 3  # the 3 dimers are not crystals
    assert set(smap['phases']) == set(phase_names('Si'))


@pytest.mark.slow
@pytest.mark.ci_slow
@pytest.mark.daemon
def test_report_of_the_validated_run(validated_run, tmp_path):
    from click.testing import CliRunner

    from aiida_gaprss.cli import cmd_root
    from tests.test_report import check_report_html, screenshot

    node = validated_run
    assert node.is_finished_ok, node.exit_message
    path = tmp_path / 'report.html'
    result = CliRunner().invoke(cmd_root, ['report', str(node.pk), '-o', str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = path.read_text(encoding='utf-8')
    check_report_html(text, ['learning_curve', 'energy_scatter', 'energy_volume', 'structure_map'])
    assert node.outputs.potential.sha256 in text  # lineage
    assert '21</b> of 21' in text  # budget
    assert 'iteration_01' in text and 'beta_sn (meV/at)' in text  # per-iteration table with phase errors
    result = CliRunner().invoke(cmd_root, ['report', str(node.pk), '-o', str(path)])
    assert result.exit_code != 0 and '--force' in result.output
    screenshot(path, tmp_path / 'report.png')  # headless Chromium (install.sh installs it)
    assert (tmp_path / 'report.png').stat().st_size > 50_000
    keep = os.environ.get('GAPRSS_REPORT_DIR')  # to look at the page and its screenshot after the test
    if keep:
        for name in ('report.html', 'report.png'):
            if (tmp_path / name).exists():
                shutil.copy(tmp_path / name, pathlib.Path(keep) / name)


@pytest.mark.slow
@pytest.mark.ci_slow
@pytest.mark.daemon
def test_status_of_the_validated_run(validated_run):
    from click.testing import CliRunner

    from aiida_gaprss.cli import cmd_root
    from aiida_gaprss.provenance import run_status

    node = validated_run
    assert node.is_finished_ok, node.exit_message
    rows = run_status(node)['iterations']
    curve = node.outputs.learning_curve['iterations']
    for row, point in zip(rows, curve, strict=True):
        assert row['validation']['phase_errors'] == point['phase_errors']
    result = CliRunner().invoke(cmd_root, ['status', str(node.pk)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    last = curve[-1]['phase_errors']
    table = result.output.split('known phases')[1].splitlines()
    header = [line for line in table if line.startswith('iteration ')][0].split()
    line = [line for line in table if line.startswith('iteration_01')][0].split()
    assert sorted(header[3:]) == sorted(PHASES)
    assert line[3:] == [f'{last[name] * 1000:.1f}' for name in header[3:]]


@pytest.mark.parametrize('with_mpi', [True, False, None])
def test_qe_relax_follows_the_code_mpi_setting(aiida_code_installed, with_mpi):
    """The vc-relax of a phase runs as the pw.x code says (``gaprss setup`` makes an MPI code): no withmpi conflict."""
    from ase.build import bulk

    from aiida_gaprss.pseudos import install_debian_family
    from aiida_gaprss.workflows.validation import qe_relax_builder

    install_debian_family()

    pw = aiida_code_installed(
        default_calc_job_plugin='quantumespresso.pw',
        filepath_executable=installed_program('pw.x'),
        label=f'pw-mpi-{with_mpi}',
        with_mpi=with_mpi,
    )
    builder, _ = qe_relax_builder({'code': pw}, bulk('Si', 'diamond', a=5.43), 'vc-relax', {'fmax': 0.01})
    options = builder.base_relax.pw.metadata.options
    withmpi = options.get('withmpi', None)
    # aiida-core refuses a CalcJob whose options contradict the code's with_mpi (RuntimeError at upload)
    assert with_mpi is None or withmpi in (None, with_mpi), options
