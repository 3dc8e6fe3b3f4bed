"""The GAP-RSS loop given a chemical system: the builder's inputs, and bad input refused by name before submission."""

import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import WorkflowFactory

GapRssWorkChain = WorkflowFactory('gaprss.rss')


@pytest.fixture
def codes(fixture_code):
    return {'python': fixture_code('python'), 'gap_fit': fixture_code('gaprss.gap_fit')}


def compound_builder(codes, system='Si-C', **overrides):
    return GapRssWorkChain.get_builder_from_protocol(system, codes=codes, engine='ase', protocol='tiny',
                                                     overrides=overrides)  # fmt: skip


@pytest.mark.parametrize(
    'system, kind, expected',
    [
        (['Si', 'C'], orm.Str, 'Si-C'),
        ('Si-C', orm.Str, 'Si-C'),
        ('SiC', orm.Str, 'SiC'),
        ({'Si': [0.25, 0.75], 'C': [0.25, 0.75]}, orm.Dict, {'Si': [0.25, 0.75], 'C': [0.25, 0.75]}),
        (['SiC', 'Si2C'], orm.List, ['SiC', 'Si2C']),
    ],
)
def test_builder_of_a_chemical_system(codes, system, kind, expected):
    builder = compound_builder(codes, system)
    assert 'element' not in builder
    assert isinstance(builder.composition, kind)
    value = builder.composition.value if kind is orm.Str else builder.composition.get_dict() if kind is orm.Dict else (
        builder.composition.get_list())  # fmt: skip
    assert value == expected
    fit = builder.fit.parameters.get_dict()
    pairs = sorted((d['Z1'], d['Z2']) for d in fit['descriptors'] if d['type'] == 'distance_2b')
    assert pairs == [(6, 6), (14, 6), (14, 14)] or pairs == [(6, 6), (6, 14), (14, 14)]
    assert sum(d['type'] == 'angle_3b' for d in fit['descriptors']) == 6
    assert sorted(d['Z'] for d in fit['descriptors'] if d['type'] == 'soap') == [6, 14]
    assert all(d['n_sparse'] == 40 for d in fit['descriptors'] if d['type'] == 'soap')  # the tiny protocol's
    assert builder.parameters['selection']['enthalpy'] == 'above_formation_hull'
    assert builder.reference.isolated_atoms.value is True
    assert builder.reference.ase.calculator.get_dict()['path'].endswith(':tersoff_si_c')
    assert 'validation' not in builder or not builder.validation


def test_elemental_builder_unchanged(codes):
    """One element gives the elemental inputs: no composition, Table 1, SW labels, no isolated atoms asked."""
    builder = GapRssWorkChain.get_builder_from_protocol('Si', codes=codes, engine='ase', protocol='tiny')
    assert builder.element.value == 'Si' and 'composition' not in builder
    assert 'isolated_atoms' not in builder.reference
    assert [d['type'] for d in builder.fit.parameters['descriptors']] == ['distance_2b', 'angle_3b', 'soap']
    assert 'enthalpy' not in builder.parameters['selection']
    assert builder.reference.ase.calculator.get_dict() == {'type': 'sw_si'}


@pytest.mark.parametrize(
    'system, overrides, message',
    [
        ('Si-Qq', {}, r'field `composition`: unknown element .Qq.'),
        ('SiQq', {}, r'field `composition`: unknown element .Qq.'),
        ('Si-Ge', {}, r'field `overrides.reference.ase.calculator`: no default ASE reference for Si-Ge'),
        # SiC5 needs 6 atoms a cell, SiC7 8: none fits the tiny protocol's 2-6 atoms
        ('SiC7', {}, r'field `parameters.pool.natoms`: the stoichiometry SiC7 needs a multiple of 8 atoms'),
        (
            'Si-C',
            {'parameters': {'pool': {'radii': {'Si': 3.0}}}},  # a big Si among five C
            r'field `parameters.pool.radii`: the minimum separations cannot be met',
        ),
        (
            'Si-C',
            {'parameters': {'pool': {'min_separations': {'C-C': 4.0}}}},
            r'field `parameters.pool.min_separations`: the minimum separations cannot be met',
        ),
        ('Si-C', {'parameters': {'selection': {'enthalpy': 'own'}}}, r'field `parameters.selection.enthalpy`'),
    ],
)
def test_bad_chemical_system_refused_by_the_builder(codes, system, overrides, message):
    with pytest.raises(ValueError, match=message):
        compound_builder(codes, system, **overrides)


def test_species_without_pseudopotential_refused(codes, fixture_code):
    """The QE engine checks every species of the composition against the family (B, C, Si, Ti: no Ge)."""
    from aiida_gaprss.pseudos import install_debian_family

    install_debian_family()
    qe_codes = {**codes, 'pw': fixture_code('quantumespresso.pw')}
    builder = GapRssWorkChain.get_builder_from_protocol('Si-C', codes=qe_codes, engine='qe', protocol='tiny')
    assert builder.composition.value == 'Si-C'  # both in the family
    with pytest.raises(ValueError, match=r'composition Si-Ge: element Ge: no pseudopotential in family'):
        GapRssWorkChain.get_builder_from_protocol('Si-Ge', codes=qe_codes, engine='qe', protocol='tiny')
    builder.composition = orm.Str('GeC')  # set by hand: the spec refuses it before anything runs
    with pytest.raises(ValueError, match=r"field `fit.parameters.species`: \['Ge'\] missing"):
        run_get_node(builder)
    from aiida_gaprss.rss.gap_multicomponent import multicomponent_parameters

    builder.fit.parameters = orm.Dict(multicomponent_parameters(['Ge', 'C']))
    with pytest.raises(ValueError, match=r'composition GeC: element Ge: no pseudopotential in family'):
        run_get_node(builder)


def test_spec_refuses_both_or_neither(codes):
    builder = compound_builder(codes)
    builder.element = orm.Str('Si')
    with pytest.raises(ValueError, match='give exactly one of `element`'):
        run_get_node(builder)
    builder = compound_builder(codes)
    builder.composition = orm.Str('Si-Qq')
    with pytest.raises(ValueError, match='field `composition`'):
        run_get_node(builder)
    builder = compound_builder(codes)
    builder.composition = orm.Str('Si2')
    with pytest.raises(ValueError, match='field `composition`: Si alone is one element'):
        run_get_node(builder)


TERSOFF = {'type': 'import', 'path': 'aiida_gaprss.rss.potentials:tersoff_si_c'}


def test_builder_validates_a_chemical_system(codes):
    """Validation asked for: the elements' ground states and the SiC polytypes, as the validation's own protocol."""
    from aiida_gaprss.workflows.validation import validation_protocol

    builder = compound_builder(codes, 'SiC', validation=True)
    assert builder.validation.enabled.value is True
    expected = validation_protocol(['Si', 'C'], 'tiny')
    assert builder.validation.phases.get_list() == expected['phases']
    assert {'Si_diamond', 'C_graphite', 'SiC_3C'} <= set(expected['phases'])
    assert builder.validation.parameters.get_dict() == expected['parameters']
    assert 'reference_results' not in builder.validation  # the loop's Tersoff reference computes the reference side


@pytest.mark.parametrize(
    'system, message',
    [
        ('Si-Ti', r'field `overrides.validation`: no known compound phases of the chemical system Si-Ti'),
        ('SiGe', r"field `overrides.validation`: no known phases for 'Ge' of the chemical system Si-Ge"),
    ],
)
def test_validation_of_a_system_without_known_compounds_refused(codes, system, message):
    reference = {'ase': {'calculator': TERSOFF}}
    with pytest.raises(ValueError, match=message):
        compound_builder(codes, system, validation=True, reference=reference)


def test_validation_of_a_system_without_known_compounds_off_by_default(codes, caplog):
    """A protocol that validates (fast) leaves out a system without known compounds, and says so."""
    builder = GapRssWorkChain.get_builder_from_protocol(
        'Si-Ti', codes=codes, engine='ase', protocol='fast', overrides={'reference': {'ase': {'calculator': TERSOFF}}}
    )
    assert 'validation' not in builder or not builder.validation
    assert 'no known compound phases of the chemical system Si-Ti' in caplog.text
    assert compound_builder(codes, 'Si-C', validation=False).validation == {}


def test_spec_refuses_a_validation_of_unknown_phases(codes):
    builder = compound_builder(codes, 'Si-C', validation=True)
    builder.validation.phases = orm.List(['SiC_3C', 'Ti_hcp'])
    with pytest.raises(ValueError, match=r"field `validation.phases`: 'Ti_hcp' holds Ti"):
        run_get_node(builder)
    builder.validation.phases = orm.List(['SiC_8H'])
    with pytest.raises(ValueError, match=r'field `validation.phases`: phase: unknown phase'):
        run_get_node(builder)
    builder = compound_builder(codes, 'Si-Ti', reference={'ase': {'calculator': TERSOFF}})
    builder.validation.enabled = orm.Bool(True)  # set by hand: the spec refuses it before anything runs
    with pytest.raises(ValueError, match=r'field `validation`: no known compound phases of the chemical system Si-Ti'):
        run_get_node(builder)


def test_structure_map_colours():
    """The map of one element is coloured by mean coordination, that of a chemical system by composition."""
    from aiida_gaprss.workflows.rss import structure_map_colours

    elemental = {'num_structures': 2, 'species': ['Si'], 'composition': {'Si': [1.0, 1.0]}, 'coordination': [4, 6, 4]}
    assert structure_map_colours(elemental) == ([4, 6], None)
    binary = {**elemental, 'species': ['C', 'Si'], 'composition': {'C': [0.5, 0.25], 'Si': [0.5, 0.75]}}
    assert structure_map_colours(binary) == ([0.5, 0.25], 'fraction of C')
