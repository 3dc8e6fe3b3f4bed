"""The GAP-RSS loop on a binary (Si–C) through the daemon: tiny protocol, Tersoff's Si–C labels on the ASE engine,
each potential validated on the known phases of Si–C (formation energies) against Tersoff."""

import re

import numpy as np
import pytest
from aiida import orm
from aiida.common.links import LinkType
from aiida.plugins import WorkflowFactory

from aiida_gaprss.rss.phases import system_phase_names

GapRssWorkChain = WorkflowFactory('gaprss.rss')


@pytest.fixture
def codes(fixture_code):
    return {'python': fixture_code('python'), 'gap_fit': fixture_code('gaprss.gap_fit')}


@pytest.fixture(scope='module')
def _finished_runs():
    return {}


@pytest.fixture
def finished_run(codes, submit_and_await, _finished_runs):
    """Two iterations of Si–C (every composition): 10 cells + 3 dimers of each of 3 pairs, then 8 relaxed frames;
    each iteration's potential validated (beside the loop: nothing in it depends on a validation) on the elements'
    ground states and 3C SiC only, without E(V) curves: a tiny GAP's relaxations are slow to converge."""
    if not _finished_runs:
        builder = GapRssWorkChain.get_builder_from_protocol(
            ['Si', 'C'], codes=codes, engine='ase', protocol='tiny', overrides={'budget': 27, 'validation': True}
        )
        builder.validation.phases = orm.List(['Si_diamond', 'C_diamond', 'C_graphite', 'SiC_3C'])
        parameters = {**builder.validation.parameters.get_dict(), 'eos': None}
        builder.validation.parameters = orm.Dict({**parameters, 'relax': {'fmax': 0.02, 'steps': 60, 'smax': 0.02}})
        try:
            _finished_runs['node'] = submit_and_await(builder, timeout=2400)
        except BaseException as exception:  # a pytest-timeout too: the next test must not submit the run again
            _finished_runs['error'] = exception
            raise
    if 'error' in _finished_runs:
        pytest.fail(f'the run did not finish: {_finished_runs["error"]!r}')
    return _finished_runs['node']


def _children(node, prefix):
    links = node.base.links.get_outgoing().all()
    return sorted((link.link_label, link.node) for link in links if link.link_label.startswith(prefix))


def _child(node, label):
    return next(link.node for link in node.base.links.get_outgoing().all() if link.link_label == label)


@pytest.mark.daemon
@pytest.mark.timeout(2400)
def test_binary_run_through_the_daemon(finished_run):
    node = finished_run
    assert node.is_finished_ok, node.exit_message
    assert node.inputs.composition.value == 'Si-C' and 'element' not in node.inputs
    iterations = [child for _, child in _children(node, 'iteration_')]
    assert len(iterations) == 2
    first, second = iterations

    # iteration 0: dimers of every species pair, always kept, and random cells of several compositions
    dimers = [a for a in first.outputs.selected.iter_atoms() if a.info.get('config_type') == 'dimer']
    pairs = sorted('-'.join(sorted(a.get_chemical_symbols())) for a in dimers)
    assert pairs == ['C-C'] * 3 + ['C-Si'] * 3 + ['Si-Si'] * 3
    cells = [a for a in first.outputs.pool.iter_atoms() if a.info.get('config_type') == 'rss_random']
    assert {a.info['composition'] for a in cells} >= {'SiC'}
    assert len({a.info['composition'] for a in cells}) >= 3

    database = node.outputs.database.get_atoms()
    symbols = {s for atoms in database for s in atoms.get_chemical_symbols()}
    assert symbols == {'Si', 'C'}
    assert any(set(a.get_chemical_symbols()) == {'Si', 'C'} and a.info.get('config_type') != 'dimer' for a in database)
    energies = np.array([a.info['energy'] for a in database])
    assert np.isfinite(energies).all()
    assert all(np.isfinite(a.arrays['forces']).all() for a in database)

    # isolated atoms of each element, computed once (iteration 0) and reused: e0 per element in every fit
    reference = _child(first, 'reference')
    assert set(reference.outputs.isolated_atom_energies) == {'Si', 'C'}
    for iteration in iterations:
        fit = _child(iteration, 'fit')
        e0 = fit.inputs.parameters['e0']
        assert set(e0) == {'Si', 'C'} and all(np.isfinite(list(e0.values())))
        assert fit.inputs.settings['elements'] == ['Si', 'C']
    second_reference = _child(second, 'reference')
    calls = second_reference.base.links.get_outgoing(link_type=(LinkType.CALL_CALC, LinkType.CALL_WORK)).all()
    assert not [link for link in calls if link.link_label.startswith('isolated_')]  # no new isolated-atom calculation
    reused = second_reference.outputs.isolated_atom_energies
    assert {e: reused[e].pk for e in reused} == {e: n.pk for e, n in reference.outputs.isolated_atom_energies.items()}

    # the fitted potential: 2b per pair, 3b per centre and pair, SOAP per centre (the gap_fit command line)
    potential = node.outputs.potential
    command = potential.command_line
    pairs = re.findall(r'distance_2b [^:}]*?Z1=(\d+) Z2=(\d+)', command)
    assert sorted(tuple(sorted((int(a), int(b)))) for a, b in pairs) == [(6, 6), (6, 14), (14, 14)], command
    assert command.count('angle_3b') == 6
    assert command.count('soap ') == 2
    assert sorted(potential.base.attributes.get('elements')) == ['C', 'Si']

    # per-structure sigmas from the (composition, V, E) hull ramp (COMPOUND_HULL_SIGMAS): tight on the hull, loose
    # far above it and for the dimers (kept out of the hull)
    fit = _child(second, 'fit')
    assert fit.inputs.settings['hull_sigmas'] is True
    training = fit.outputs.training_set.get_atoms()
    hull = fit.outputs.output_parameters['hull']
    assert hull['num_on_hull'] >= 2 and hull['num_outside_hull'] == 9  # the dimers
    on_hull = [a for a in training if a.info.get('hull_distance', 1.0) < 1e-6]
    assert len(on_hull) == hull['num_on_hull']
    assert all(a.info['energy_sigma'] == pytest.approx(0.001 * len(a)) for a in on_hull)
    dimers = [a for a in training if a.info.get('config_type') == 'dimer']
    assert len(dimers) == 9 and all('hull_distance' not in a.info for a in dimers)
    assert all(a.info['energy_sigma'] == pytest.approx(0.1 * len(a)) for a in dimers)
    # the fit reproduces the structures on the hull it was told to fit tightly
    calculator = node.outputs.potential.get_calculator()
    for atoms in on_hull:
        work = atoms.copy()
        work.calc = calculator
        assert abs(work.get_potential_energy() - atoms.info['energy']) / len(atoms) < 0.05

    # iteration 1: GAP relaxations of binary cells, then the flat histogram on the enthalpy above the formation hull
    relaxations = [child for _, child in _children(second, 'relax_')]
    assert relaxations and all(r.inputs.relax.potential.uuid == first.outputs.potential.uuid for r in relaxations)
    assert any(len(set(a.get_chemical_symbols())) == 2 for a in second.outputs.trajectories.iter_atoms())
    select = _child(second, 'select')
    parameters = select.inputs.job.parameters.get_dict()
    assert parameters['enthalpy'] == 'above_formation_hull'
    assert parameters['soap']['species'] == ['C', 'Si']
    assert all(np.isfinite(a.info['enthalpy']) for a in second.outputs.selected.iter_atoms())
    curve = node.outputs.learning_curve['iterations']
    assert [row['reference_evaluations'] for row in curve] == [19, 27]


@pytest.mark.daemon
@pytest.mark.timeout(2400)
def test_binary_run_validated_on_the_known_phases(finished_run):
    """Every potential validated on Si–C's known phases against the loop's own reference (Tersoff), computed once.

    A tiny GAP need not get 3C SiC's formation energy right (or even negative): only its side is asserted to exist.
    """
    from aiida_gaprss.plots import PNG_MAGIC

    node = finished_run
    assert node.is_finished_ok, node.exit_message
    validations = [child for _, child in _children(node, 'validation_0')]  # not validation_reference
    assert len(validations) == 2
    first, second = validations
    for validation in validations:
        assert validation.is_finished_ok, validation.exit_message
        assert validation.inputs.elements.get_list() == ['Si', 'C'] and 'element' not in validation.inputs
    # the reference side: the loop's Tersoff, computed by the first validation and reused by the second
    assert first.inputs.reference.ase.calculator.get_dict()['path'].endswith(':tersoff_si_c')
    assert 'reference' not in second.inputs
    assert second.inputs.reference_results.uuid == first.outputs.reference_results.uuid
    assert node.outputs.validation_reference.uuid == first.outputs.reference_results.uuid

    formation = node.outputs.formation_energies.get_dict()
    assert node.outputs.formation_energies.uuid == second.outputs.formation_energies.uuid
    assert {'potential', 'reference'} <= set(formation)
    for side in ('potential', 'reference'):
        assert {'Si_diamond', 'C_graphite', 'SiC_3C'} <= set(formation[side]['phases'])
        assert set(formation[side]['ground_states']) == {'Si', 'C'}
    reference = formation['reference']
    assert reference['ground_states']['Si']['phase'] == 'Si_diamond'
    assert reference['ground_states']['C']['phase'] == 'C_graphite'  # Tersoff: graphite below diamond
    assert reference['phases']['SiC_3C']['formation_energy'] == pytest.approx(-0.152, abs=3e-3)
    assert 'SiC_3C' in reference['on_hull']
    assert np.isfinite(formation['potential']['phases']['SiC_3C']['formation_energy'])
    assert node.outputs.plots.formation_energies.get_content(mode='rb')[:8] == PNG_MAGIC

    # each iteration's phase errors in the learning curve, named as the system's phases
    curve = node.outputs.learning_curve['iterations']
    assert all('SiC_3C' in row['phase_errors'] and 'Si_diamond' in row['phase_errors'] for row in curve)

    # the structure map of the final database: the system's known phases marked, coloured by composition
    structure_map = node.outputs.structure_map.get_dict()
    assert structure_map['species'] == ['C', 'Si'] and structure_map['elements'] == ['Si', 'C']
    assert list(structure_map['phases']) == system_phase_names(['Si', 'C'])
    assert min(structure_map['phases'].values()) == structure_map['num_structures']
    assert any(0.0 < fraction < 1.0 for fraction in structure_map['composition']['C'])
    assert node.outputs.plots.structure_map.get_content(mode='rb')[:8] == PNG_MAGIC


@pytest.mark.daemon
@pytest.mark.timeout(2400)
def test_sic_run_benchmark_scores_the_run(finished_run):
    """benchmarks/sic_qe_run.py reads a Si–C run's learning curve and validations (here the ASE run: no E(V) curves,
    so its lattice-constant condition stays open) and scores each point against the run's own reference side."""
    import pathlib
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).parents[2] / 'benchmarks'))
    try:
        from sic_qe_run import run_points
    finally:
        sys.path.pop(0)

    points = run_points(finished_run)
    assert [point['reference_evaluations'] for point in points] == [19, 27]
    for point, (_, validation) in zip(points, _children(finished_run, 'validation_0'), strict=True):
        assert point['validation'] == validation.pk
        formation = validation.outputs.formation_energies.get_dict()
        expected = (
            formation['potential']['phases']['SiC_3C']['formation_energy']
            - formation['reference']['phases']['SiC_3C']['formation_energy']
        )
        assert point['formation_errors']['SiC_3C'] == pytest.approx(expected)
        assert point['goal']['lattice_3c'] is None and point['goal']['all'] is False
