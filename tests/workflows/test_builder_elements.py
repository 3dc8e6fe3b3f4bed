"""`gaprss run C` (and B, Ti) on the embedded QE default: the builder is made and its inputs pass the spec's validation
without anything being submitted (issue 25: a dry check of a carbon run before the machine's cores are spent)."""

from __future__ import annotations

import copy

import pytest
from aiida import orm
from aiida.plugins import WorkflowFactory

GapRssWorkChain = WorkflowFactory('gaprss.rss')


@pytest.fixture
def qe_codes(fixture_code):
    from aiida_gaprss.pseudos import install_debian_family

    install_debian_family()
    return {
        'python': fixture_code('python'),
        'gap_fit': fixture_code('gaprss.gap_fit'),
        'pw': fixture_code('quantumespresso.pw'),
    }


def spec_error(builder) -> str | None:
    """The message of the validation AiiDA runs before it creates a process node (None: accepted)."""
    spec = GapRssWorkChain.spec()
    inputs = copy.copy(builder._inputs(prune=True))
    error = spec.inputs.validate(spec.inputs.pre_process(inputs))
    return None if error is None else str(error)


@pytest.mark.parametrize('protocol', ['fast', 'moderate'])
@pytest.mark.parametrize('element', ['C', 'B', 'Ti'])
def test_qe_builder_of_another_element_validates(qe_codes, element, protocol):
    before = orm.QueryBuilder().append(orm.ProcessNode).count()
    builder = GapRssWorkChain.get_builder_from_protocol(element, codes=qe_codes, engine='qe', protocol=protocol)
    assert spec_error(builder) is None
    assert builder.element.value == element
    assert builder.reference.qe.protocol.value == {'fast': 'fast', 'moderate': 'converged'}[protocol]
    assert orm.QueryBuilder().append(orm.ProcessNode).count() == before  # nothing submitted


def test_carbon_builder_validates_carbon_phases(qe_codes):
    """The carbon run validates diamond, graphite and lonsdaleite (moderate) against QE, E(V) of the sp3 phases."""
    builder = GapRssWorkChain.get_builder_from_protocol('C', codes=qe_codes, engine='qe', protocol='moderate')
    assert builder.validation.phases.get_list() == ['diamond', 'graphite', 'lonsdaleite']
    fast = GapRssWorkChain.get_builder_from_protocol('C', codes=qe_codes, engine='qe', protocol='fast')
    assert set(fast.validation.phases.get_list()) >= {'diamond', 'graphite'}


@pytest.mark.parametrize('protocol', ['fast', 'moderate', 'precise'])
def test_no_energy_volume_fit_of_a_layered_phase(protocol):
    """Graphite is validated (its energy at each method's own minimum) but gets no E(V) fit: PBE without dispersion
    barely binds its layers (benchmarks/results/graphite_interlayer.json), so its V0 and B0 mean nothing."""
    from aiida_gaprss.rss.phases import PHASES
    from aiida_gaprss.workflows.validation import validation_protocol

    assert [name for name, spec in PHASES['C'].items() if spec.layered] == ['graphite']
    assert not any(spec.layered for element in ('Si', 'B', 'Ti') for spec in PHASES[element].values())
    settings = validation_protocol('C', protocol)
    assert 'graphite' in settings['phases']
    eos_phases = settings['parameters']['eos']['phases']
    assert 'graphite' not in eos_phases and 'diamond' in eos_phases
    if protocol != 'fast':
        assert eos_phases == ['diamond', 'lonsdaleite']


def test_si_energy_volume_phases_unchanged():
    from aiida_gaprss.workflows.validation import validation_protocol

    assert 'phases' not in validation_protocol('Si', 'fast')['parameters']['eos']  # all (diamond, beta_sn)
    assert validation_protocol('Si', 'moderate')['parameters']['eos']['phases'] == ['diamond', 'beta_sn']
    assert 'phases' not in validation_protocol('Si', 'precise')['parameters']['eos']


def test_validation_without_any_energy_volume_phase():
    """Only a layered phase validated: no E(V) at all (eos None), which the validation job accepts."""
    from aiida_gaprss.calculations.validate_potential import validate_validation_parameters
    from aiida_gaprss.workflows.validation import PROTOCOLS, validation_protocol

    PROTOCOLS['test-graphite-only'] = {'phases': {'C': ['graphite']}, 'parameters': PROTOCOLS['fast']['parameters']}
    try:
        settings = validation_protocol('C', 'test-graphite-only')
    finally:
        del PROTOCOLS['test-graphite-only']
    assert settings['parameters']['eos'] is None
    validate_validation_parameters({'element': 'C', 'phases': settings['phases'], **settings['parameters']})


# -- issue 25, item 4: what the loop assumed of Si, checked for the other elements ----------------------------------
@pytest.fixture
def ase_codes(fixture_code):
    return {'python': fixture_code('python'), 'gap_fit': fixture_code('gaprss.gap_fit')}


def test_ase_engine_default_reference_per_element(ase_codes):
    """Si: Stillinger-Weber; C: Tersoff's carbon (as in the Si-C system); an element without one is refused by name."""
    from ase.build import bulk

    from aiida_gaprss.rss.potentials import calculator_from_spec

    silicon = GapRssWorkChain.get_builder_from_protocol('Si', codes=ase_codes, engine='ase', protocol='tiny')
    assert silicon.reference.ase.calculator.get_dict() == {'type': 'sw_si'}
    carbon = GapRssWorkChain.get_builder_from_protocol('C', codes=ase_codes, engine='ase', protocol='tiny')
    spec = carbon.reference.ase.calculator.get_dict()
    assert spec == {'type': 'import', 'path': 'aiida_gaprss.rss.potentials:tersoff_si_c'}
    assert spec_error(carbon) is None
    diamond = bulk('C', 'diamond', a=3.566)
    diamond.calc = calculator_from_spec(spec)
    assert diamond.get_potential_energy() / len(diamond) == pytest.approx(-7.37, abs=0.01)  # Tersoff's diamond C
    with pytest.raises(
        ValueError, match=r'field `overrides.reference.ase.calculator`: no default ASE reference for Ti'
    ):
        GapRssWorkChain.get_builder_from_protocol('Ti', codes=ase_codes, engine='ase', protocol='tiny')


@pytest.mark.parametrize('element', ['Si', 'C', 'B', 'Ti'])
def test_dimer_box_holds_the_element_dimers(ase_codes, element):
    """The fast protocol's 12 Å dimer box (chosen for Si) grows with the element: above twice its longest dimer."""
    from aiida_gaprss.rss.dimers import generate_dimers
    from aiida_gaprss.rss.elements import characteristic_radius
    from aiida_gaprss.rss.generation import DIMER_RANGE

    overrides = {'reference': {'ase': {'calculator': {'type': 'sw_si'}}}}
    builder = GapRssWorkChain.get_builder_from_protocol(
        element, codes=ase_codes, engine='ase', protocol='fast', overrides=overrides
    )
    box = builder.parameters.get_dict()['pool']['dimer_box']
    longest = 2 * DIMER_RANGE[1] * characteristic_radius(element)
    assert box >= 12.0 and box >= 2 * longest + 1.0 - 0.05
    dimers = generate_dimers(element, 4, box=box)  # refuses a box not above twice the longest dimer
    assert max(atoms.info['bond_length'] for atoms in dimers) == pytest.approx(longest)
    if element == 'Ti':
        assert box > 15.0  # 2 x 5 r = 14.7 Å for Ti's 1.47 Å


def test_unknown_compound_message_lists_the_compound_table(monkeypatch):
    """The refusal of a system without known compounds names those of the table (not a fixed 'SiC of Si-C')."""
    from aiida_gaprss.rss import phases
    from aiida_gaprss.workflows.rss_checks import system_phases_error

    assert (
        system_phases_error(['B', 'Ti']) == 'no known compound phases of the chemical system B-Ti (known: SiC of Si-C)'
    )
    monkeypatch.setitem(phases.COMPOUND_PHASES, 'TiB2', {})
    message = system_phases_error(['C', 'Ti'])
    assert message == 'no known compound phases of the chemical system C-Ti (known: SiC of Si-C, TiB2 of Ti-B)'
