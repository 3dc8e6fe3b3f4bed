"""Bad input: each refused before submission with a message naming the field, or handled at run time with an exit code.

Every test here backs one or more rows of ``docs/bad_inputs.md`` (the row ids, e.g. ``B05``, are in the test ids).
Nothing here may run a process: refusals are checked on the builder, on the spec validators (the same call AiiDA makes
before a process node is created) or on the data constructors; shell metacharacters are checked in the job script of
a dry run. The few run-time rows run one real, short job each.

Cases that are NOT refused properly are marked ``xfail(strict=True)`` with the reason: they flip to XPASS (and fail
the suite) once fixed, so the mark must then be removed.
"""

from __future__ import annotations

import copy
import pathlib
import shutil

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from ase import Atoms
from ase.build import bulk

from aiida_gaprss.calculations.ase_batch import AseBatch, validate_calculator
from aiida_gaprss.calculations.gap_fit import GapFitCalculation
from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.rss.gap_parameters import table1_parameters
from aiida_gaprss.workflows.fit import GapFitWorkChain
from aiida_gaprss.workflows.reference import ReferenceWorkChain
from aiida_gaprss.workflows.rss import GapRssWorkChain
from tests.reliability.helpers import tiny_builder

#: Strings that would do harm if a shell ever saw them (the `touch` targets prove it if they appear).
SHELL_STRINGS = ('; rm -rf /', '$(touch /tmp/gaprss-pwned-1)', '`touch /tmp/gaprss-pwned-2`', 'a && reboot | cat > x')


def xfail(reason: str):
    """Mark a case that is not refused properly today (see the final report of issue 9 and docs/bad_inputs.md)."""
    return pytest.mark.xfail(strict=True, raises=(AssertionError, pytest.fail.Exception), reason=reason)


@pytest.fixture
def codes(fixture_code):
    return {'python': fixture_code('python'), 'gap_fit': fixture_code('gaprss.gap_fit')}


def spec_error(process_class, builder) -> str | None:
    """The message of the spec validation AiiDA runs before creating a process node (``None`` when accepted)."""
    spec = process_class.spec()
    inputs = copy.copy(builder._inputs(prune=True))
    error = spec.inputs.validate(spec.inputs.pre_process(inputs))
    return None if error is None else str(error)


def assert_refused(process_class, builder, message: str) -> None:
    """The spec validation refuses ``builder`` with a message containing ``message``; no process node is made."""
    before = orm.QueryBuilder().append(orm.ProcessNode).count()
    error = spec_error(process_class, builder)
    assert error is not None, f'accepted; expected a refusal naming {message!r}'
    assert message in error, error
    assert orm.QueryBuilder().append(orm.ProcessNode).count() == before


def si_cell(**info) -> Atoms:
    atoms = bulk('Si', 'diamond', 5.43)
    atoms.rattle(0.02, seed=1)
    atoms.info.update(info)
    return atoms


_SW = {}


def labelled(atoms: Atoms) -> Atoms:
    """A copy of ``atoms`` with Stillinger-Weber energy, forces and virial."""
    if 'calculator' not in _SW:
        from aiida_gaprss.rss.potentials import stillinger_weber_si

        _SW['calculator'] = stillinger_weber_si()
    atoms = atoms.copy()
    atoms.calc = _SW['calculator']
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    virial = -atoms.get_stress(voigt=False) * atoms.get_volume()
    atoms.calc = None
    atoms.info.update(energy=float(energy), virial=virial)
    atoms.arrays['forces'] = forces
    return atoms


# -- B: the builder of the loop (get_builder_from_protocol) --------------------------------------------------------
@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        pytest.param({'element': 'Qq'}, 'field `element`: element: unknown chemical symbol', id='B01-unknown-element'),
        pytest.param({'element': 'Si; rm -rf /'}, 'field `element`', id='B02-element-semicolon'),
        pytest.param({'element': '$(touch /tmp/x)'}, 'field `element`', id='B03-element-dollar'),
        pytest.param({'element': '`id`'}, 'field `element`', id='B04-element-backticks'),
        pytest.param({'overrides': {'budget': -5}}, 'field `budget`', id='B05-negative-budget'),
        pytest.param({'overrides': {'budget': '30'}}, 'field `budget`', id='B06-budget-string'),
        pytest.param({'overrides': {'num_select': 0}}, 'field `num_select`', id='B07-num-select-zero'),
        pytest.param({'protocol': 'ultra'}, 'field `protocol`: unknown protocol', id='B08-unknown-protocol'),
        pytest.param({'overrides': {'colour': 'red'}}, 'field `overrides.colour`', id='B09-unknown-override'),
        pytest.param({'engine': 'gaussian'}, 'field `engine`', id='B10-unknown-engine'),
        pytest.param({'engine': 'qe'}, 'field `codes.pw`', id='B11-qe-without-pw-code'),
        pytest.param(
            {'engine': 'vasp', 'codes': 'with-vasp'},
            'field `overrides.reference.vasp.potential_family`',
            id='B12-vasp-without-potential-family',
        ),
        pytest.param(
            {'overrides': {'fit': {'default_sigma': {'energy': -0.001, 'forces': 0.03, 'virial': 0.06}}}},
            'default_sigma.energy: must be > 0',
            id='B13-negative-sigma',
        ),
        pytest.param(
            {'overrides': {'fit': {'descriptors': {'soap': {'cutoff': 0}}}}},
            'descriptors[2].cutoff: must be > 0',
            id='B14-cutoff-zero',
        ),
        pytest.param(
            {'overrides': {'fit': {'descriptors': {'soap': {'colour': 'red'}}}}},
            "descriptors[2]: unknown fields ['colour']",
            id='B15-unknown-descriptor-key',
        ),
        pytest.param(
            {'element': 'C'}, 'field `overrides.reference.ase.calculator`', id='B16-ase-reference-missing-for-C'
        ),
        pytest.param(
            {'overrides': {'gap_fit_options': {'colour': 'red'}}},
            'field `overrides.gap_fit_options.colour`',
            id='B17-unknown-gap-fit-option',
        ),
        pytest.param(
            {'overrides': {'fit': {'config_type_sigma': {'bulk; rm -rf /': [0.001, 0.03, 0.06]}}}},
            'config_type_sigma.bulk; rm -rf /: config_type must be a plain identifier',
            id='B18-config-type-sigma-shell-string',
        ),
        pytest.param(
            {'overrides': {'fit': {'e0': {'C': -1.0}}}}, 'e0.C: not one of the species', id='B19-e0-of-other-element'
        ),
        pytest.param(
            {'overrides': {'reference': {'ase': {'calculator': [1, 2]}}}},
            'field `reference.ase.calculator`: cannot use a list',
            id='B20-calculator-wrong-type',
        ),
    ],
)
def test_builder_refuses(codes, kwargs, message):
    arguments = {'element': 'Si', 'codes': codes, 'engine': 'ase', 'protocol': 'fast', **kwargs}
    if arguments['codes'] == 'with-vasp':
        arguments['codes'] = {**codes, 'vasp': codes['python']}
    element = arguments.pop('element')
    before = orm.QueryBuilder().append(orm.ProcessNode).count()
    with pytest.raises(ValueError) as excinfo:
        GapRssWorkChain.get_builder_from_protocol(element, **arguments)
    assert message in str(excinfo.value), str(excinfo.value)
    assert orm.QueryBuilder().append(orm.ProcessNode).count() == before


# -- S: the spec validator of the loop (what `submit` checks before anything runs) ----------------------------------
def _set(builder, path: str, value) -> None:
    """Set ``parameters.<path>`` (dotted) of the loop's builder."""
    parameters = builder.parameters.get_dict()
    *parents, key = path.split('.')
    target = parameters
    for parent in parents:
        target = target.setdefault(parent, {})
    target[key] = value
    builder.parameters = orm.Dict(parameters)


PRESSURE_REASON = (
    'relax.pressure.p0 has no upper bound: 1e9 (a pressure in Pa where GPa is meant) is accepted and the relaxations '
    'would crush every cell; fix in calculations/relax_batch.validate_relax_parameters (refuse p0 above e.g. 1000 GPa, '
    'naming GPa)'
)
KT_REASON = (
    'parameters.selection.kT is validated only when selection.method is flat_histogram_cur, but the loop sets the '
    'method itself (later_method, default flat_histogram_cur): kT <= 0 passes the run validator and only the '
    'SelectStructures validator of iteration 1 refuses it (the iteration excepts: exit 420 after a whole iteration); '
    'fix in workflows/iteration.validate_iteration_parameters (validate kT whenever given, and the later method)'
)
METHOD_REASON = (
    'parameters.selection.initial_method / later_method are popped before validation: an unknown method passes the '
    'run validator and the SelectStructures submission raises inside the iteration (excepted, exit 420); fix in '
    'workflows/iteration.validate_iteration_parameters (check both against select_structures.METHODS)'
)
PATH_REASON = (
    'messages of the nested sections name the key without its section: `parameters.fmax` for parameters.relax.fmax, '
    '`parameters.n` for parameters.pool.n (validate_iteration_parameters passes the sub-dicts to the CalcJob '
    'validators); fix in workflows/iteration.validate_iteration_parameters (re-prefix the field with the section)'
)


@pytest.mark.parametrize(
    ('path', 'value', 'message'),
    [
        pytest.param(
            'relax.fmax', -1.0, 'field `parameters.relax.fmax`: expected a positive force', id='S01-fmax-negative'
        ),
        pytest.param('relax.fmax', 0.0, 'field `parameters.relax.fmax`', id='S02-fmax-zero'),
        pytest.param('relax.steps', '30', 'field `parameters.relax.steps`: expected an integer', id='S03-steps-string'),
        pytest.param('relax.pressure.p0', -1.0, 'field `parameters.relax.pressure.p0`', id='S04-pressure-negative'),
        pytest.param('relax.pressure.p0', 1.0e9, 'pressure.p0', id='S05-pressure-in-pascal'),
        pytest.param('relax.colour', 'red', 'field `parameters.relax.colour`: unknown key', id='S06-unknown-relax-key'),
        pytest.param('colour', 'red', 'field `parameters.colour`: unknown key', id='S07-unknown-parameters-key'),
        pytest.param('seed', -1, 'field `parameters.seed`', id='S08-negative-seed'),
        pytest.param('pool.natoms', [0, 6], 'parameters.pool.natoms: must be >= 1', id='S09-natoms-zero'),
        pytest.param('pool.n_relax', 0, 'field `parameters.pool.n_relax`', id='S10-n-relax-zero'),
        pytest.param('selection.kT', -0.1, 'kT', id='S11-kT-negative'),
        pytest.param('selection.kT', 0.0, 'kT', id='S12-kT-zero'),
        pytest.param(
            'selection.initial_method',
            'magic',
            'initial_method',
            id='S13-bad-initial-method',
        ),
        pytest.param('selection.later_method', 'magic', 'later_method', id='S14-bad-later-method'),
        pytest.param('selection.method', 'magic', 'field `parameters.selection.method`', id='S15-bad-method'),
        pytest.param('selection.soap.colour', 1, 'field `parameters.selection.soap.colour`', id='S16-unknown-soap-key'),
        pytest.param('job_options', 'fast', 'field `parameters.job_options`', id='S17-job-options-type'),
        pytest.param('relax.fmax', -1.0, 'parameters.relax.fmax', id='S18-full-path-relax'),
        pytest.param('pool.n', 0, 'parameters.pool.n', id='S19-full-path-pool'),
    ],
)
def test_run_validator_refuses_parameters(codes, path, value, message):
    builder = tiny_builder(codes)
    _set(builder, path, value)
    assert_refused(GapRssWorkChain, builder, message)


def test_run_validator_refuses_other_inputs(codes):
    builder = tiny_builder(codes)
    builder.max_iterations = orm.Int(0)
    assert_refused(GapRssWorkChain, builder, 'field `max_iterations`')  # S20
    builder = tiny_builder(codes)
    builder.convergence_tolerance = orm.Float(-1.0)
    assert_refused(GapRssWorkChain, builder, 'field `convergence_tolerance`')  # S21
    builder = tiny_builder(codes)
    builder.restart.potential = _potential_node()
    assert_refused(GapRssWorkChain, builder, 'field `restart.database`')  # S22
    builder = tiny_builder(codes)
    builder.reference.max_concurrent = orm.Int(0)
    assert_refused(GapRssWorkChain, builder, 'field `max_concurrent`')  # S23
    builder = tiny_builder(codes)
    with pytest.raises(ValueError, match="value 'parameters' is not of the right type"):  # S24: wrong node type
        builder.parameters = orm.Int(3)


#: A real, tiny GAP (2b only, 5 sparse points) fitted by gap_fit to 4 Lennard-Jones-labelled Si cells.
TINY_GAP = pathlib.Path(__file__).parent / 'fixtures' / 'tiny_gap'


def _potential_node() -> GapPotential:
    return GapPotential.from_folder(TINY_GAP).store()


BUDGET_REASON = (
    'a restart whose database already used the whole budget (budget <= restart.reference_evaluations or the '
    'database size) is accepted; the run stops at once and finishes [11] ERROR_MISSING_OUTPUT (no learning_curve) '
    'instead of being refused (`field `budget``) or finishing [0] with nothing to do; fix in rss._validate_inputs '
    '(compare budget with the restart evaluations) and/or rss.results (learning_curve optional or empty)'
)


def test_restart_without_budget_left_refused(codes):
    """S32: ``gaprss continue PK --budget N`` with N not above what the run already used."""
    builder = tiny_builder(codes, budget=2)
    builder.restart.database = StructureSet.from_atoms([labelled(si_cell(iteration=0)) for _ in range(2)])
    builder.restart.potential = _potential_node()
    assert_refused(GapRssWorkChain, builder, 'field `budget`')


@pytest.mark.parametrize(
    'path',
    [
        pytest.param('ase.calculators.lj; rm -rf /:LennardJones', id='S25-calculator-path-semicolon'),
        pytest.param('$(touch /tmp/gaprss-pwned-1):LennardJones', id='S26-calculator-path-dollar'),
        pytest.param('`touch /tmp/gaprss-pwned-2`:LennardJones', id='S27-calculator-path-backticks'),
        pytest.param('ase.calculators.lj', id='S28-calculator-path-no-callable'),
    ],
)
def test_run_validator_refuses_calculator_paths(codes, path):
    overrides = {'reference': {'ase': {'calculator': {'type': 'import', 'path': path}}}}
    builder = tiny_builder(codes, **overrides)
    assert_refused(GapRssWorkChain, builder, 'field `calculator.path`')


SYSTEM_REASON = (
    "calculator type `import` calls any importable callable with the given kwargs: {'path': 'os:system', 'kwargs': "
    "{'command': ...}} passes validation and the job runs the command in a shell; fix in "
    'calculations/ase_batch.validate_calculator and rss/potentials.validate_calculator_spec (accept only ASE '
    'Calculator subclasses or an allow-list of factories; refuse os/subprocess/builtins/shutil/pty ...)'
)


@pytest.mark.parametrize(
    'spec',
    [
        pytest.param({'type': 'import', 'path': 'os:system', 'kwargs': {'command': 'touch x'}}, id='S29-os-system'),
        pytest.param(
            {'type': 'import', 'path': 'subprocess:getoutput', 'kwargs': {'cmd': 'id'}}, id='S30-subprocess-getoutput'
        ),
    ],
)
def test_calculator_import_of_a_shell_function_refused(spec):
    assert validate_calculator(spec) is not None, 'a shell-running callable is accepted as a calculator factory'


TI_REASON = (
    'the loop does not check the element against the QE pseudopotential family before submission (the family check '
    'runs only in ReferenceWorkChain, on the selected structures): a Ti run on the Debian PBE family generates and '
    'selects, then the reference submission raises inside iteration 0 (excepted, exit 420); fix in '
    'workflows/builders.get_gaprss_builder or rss._validate_inputs (check_family_elements(family, [element]))'
)


@pytest.fixture
def pw_code(aiida_code_installed):
    pw = shutil.which('pw.x')
    if pw is None:
        pytest.skip('pw.x not installed')
    return aiida_code_installed(default_calc_job_plugin='quantumespresso.pw', filepath_executable=pw, label='pw-bad')


@pytest.fixture
def debian_family():
    from aiida_gaprss.pseudos import DEBIAN_PSEUDO_FOLDER, install_debian_family

    if not DEBIAN_PSEUDO_FOLDER.is_dir():
        pytest.skip('Debian pseudopotentials not installed')
    return install_debian_family()


def test_qe_run_with_titanium_refused_before_submission(codes, pw_code, debian_family):
    message = 'element Ti'
    try:
        builder = GapRssWorkChain.get_builder_from_protocol(
            'Ti', codes={**codes, 'pw': pw_code}, engine='qe', protocol='fast'
        )
    except ValueError as exception:
        assert message in str(exception)
        return
    assert_refused(GapRssWorkChain, builder, message)


def test_qe_reference_with_titanium_refused(pw_code, debian_family):
    """C13: the ReferenceWorkChain itself refuses Ti structures on the Debian family, saying why."""
    builder = ReferenceWorkChain.get_builder()
    builder.structures = StructureSet.from_atoms([bulk('Ti', 'hcp', a=2.95, c=4.68)])
    builder.engine = orm.Str('qe')
    builder.qe.code = pw_code
    assert_refused(ReferenceWorkChain, builder, 'element Ti: no pseudopotential in family `gaprss/debian-pbe`')


def test_vasp_reference_without_potential_family_refused(codes):
    """C14: engine vasp without a POTCAR family."""
    builder = ReferenceWorkChain.get_builder()
    builder.structures = StructureSet.from_atoms([si_cell()])
    builder.engine = orm.Str('vasp')
    builder.vasp.code = codes['python']
    builder.vasp.potential_mapping = orm.Dict({'Si': 'Si'})
    assert_refused(ReferenceWorkChain, builder, 'field `vasp.potential_family`: required for engine `vasp`')


# -- D: data nodes (StructureSet, GapPotential) ----------------------------------------------------------------------
def _bad_frames(kind: str) -> list[Atoms]:
    atoms = labelled(si_cell())
    if kind == 'overlap':
        atoms = Atoms('Si2', positions=[[0, 0, 0], [0.05, 0, 0]], cell=[5, 5, 5], pbc=True)
    elif kind == 'nan_forces':
        atoms.arrays['forces'][1, 2] = np.nan
    elif kind == 'inf_energy':
        atoms.info['energy'] = float('inf')
    elif kind == 'string_energy':
        atoms.info['energy'] = 'low'
    elif kind == 'nan_cell':
        atoms.cell[0, 0] = np.nan
    elif kind == 'nan_position':
        atoms.positions[0, 0] = np.nan
    elif kind == 'forces_shape':
        del atoms.arrays['forces']
        atoms.new_array('forces', np.zeros((len(atoms), 2)))
    elif kind == 'virial_size':
        atoms.info['virial'] = [1.0, 2.0]
    elif kind == 'flat_cell':
        atoms.cell[2] = [0, 0, 0]
    return [labelled(si_cell()), atoms]


@pytest.mark.parametrize(
    ('kind', 'message'),
    [
        pytest.param('overlap', 'structure 1: field `positions`: atoms overlap', id='D01-overlapping-atoms'),
        pytest.param('nan_forces', 'structure 1: field `forces`: non-finite values', id='D02-nan-forces'),
        pytest.param('inf_energy', 'structure 1: field `energy`: must be a finite number', id='D03-infinite-energy'),
        pytest.param('string_energy', 'structure 1: field `energy`', id='D04-energy-string'),
        pytest.param('nan_cell', 'structure 1: field `cell`: non-finite values', id='D05-nan-cell'),
        pytest.param('nan_position', 'structure 1: field `positions`: non-finite values', id='D06-nan-position'),
        pytest.param('forces_shape', 'structure 1: field `forces`: shape', id='D07-forces-wrong-shape'),
        pytest.param('virial_size', 'structure 1: field `virial`', id='D08-virial-wrong-size'),
        pytest.param(
            'flat_cell', 'structure 1: field `cell`: periodic structure with a zero-volume cell', id='D09-flat'
        ),
    ],
)
def test_structure_set_refuses_bad_frames(kind, message):
    with pytest.raises(ValueError) as excinfo:
        StructureSet.from_atoms(_bad_frames(kind))
    assert message in str(excinfo.value), str(excinfo.value)


def test_structure_set_refuses_empty_set():
    """D10."""
    with pytest.raises(ValueError, match='field `structures`: the set is empty'):
        StructureSet.from_atoms([])


GOOD_XYZ = (
    '2\nLattice="5.0 0.0 0.0 0.0 5.0 0.0 0.0 0.0 5.0" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
    'Si 0.0 0.0 0.0\nSi 1.3 1.3 1.3\n'
)


@pytest.mark.parametrize(
    ('text', 'message'),
    [
        pytest.param(GOOD_XYZ.replace('2\n', '5\n', 1), 'not readable as extended XYZ', id='D11-xyz-truncated'),
        pytest.param(GOOD_XYZ.replace('1.3 1.3 1.3', '1.3 abc 1.3'), 'not readable', id='D12-xyz-bad-number'),
        pytest.param('this is not\nan xyz file\n', 'not readable as extended XYZ', id='D13-xyz-garbage'),
        pytest.param(GOOD_XYZ.replace('Si 1.3', 'Qq 1.3'), 'unknown element', id='D14-xyz-unknown-element'),
        pytest.param(GOOD_XYZ.replace('Si 1.3', '$(id) 1.3'), 'unknown element', id='D15-xyz-shell-element'),
        pytest.param(GOOD_XYZ.replace('Lattice="5.0', 'Lattice="nan'), 'field `cell`', id='D16-xyz-nan-cell'),
        pytest.param('', 'field `structures`: the set is empty', id='D17-xyz-empty-file'),
    ],
)
def test_structure_set_refuses_malformed_extxyz(tmp_path, text, message):
    path = tmp_path / 'bad.xyz'
    path.write_text(text, encoding='utf-8')
    with pytest.raises(ValueError) as excinfo:
        StructureSet.from_file(path)
    assert message in str(excinfo.value), str(excinfo.value)


XYZ_ELEMENT_REASON = (
    'an unknown element in an extxyz file is refused, but the message is ASE\'s bare KeyError ("not readable as '
    "extended XYZ: 'Qq'\"): it names neither the field nor the structure; fix in data/structure_set.py "
    '(StructureSet.__init__: catch the KeyError of the species lookup, name `structure i: field `species``)'
)


@pytest.mark.parametrize(
    'symbol', [pytest.param('Qq', id='D14b-message-unknown-element'), pytest.param('$(id)', id='D15b-message-shell')]
)
def test_malformed_extxyz_message_names_the_field(tmp_path, symbol):
    path = tmp_path / 'bad.xyz'
    path.write_text(GOOD_XYZ.replace('Si 1.3', f'{symbol} 1.3'), encoding='utf-8')
    with pytest.raises(ValueError) as excinfo:
        StructureSet.from_file(path)
    assert 'structure 0' in str(excinfo.value) and 'species' in str(excinfo.value), str(excinfo.value)


def _sparse_files(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted(path for path in folder.iterdir() if '.sparseX.' in path.name)


@pytest.mark.parametrize(
    ('damage', 'message'),
    [
        pytest.param('missing', 'which is missing from', id='D18-potential-missing-sparseX'),
        pytest.param('corrupt', 'does not match its md5 sum', id='D19-potential-corrupt-sparseX'),
        pytest.param('not_xml', 'field `gap.xml`: not valid XML', id='D20-potential-not-xml'),
        pytest.param('no_xml', 'field `folder`', id='D21-potential-no-xml'),
    ],
)
def test_potential_folder_refused(tmp_path, damage, message):
    folder = tmp_path / 'potential'
    shutil.copytree(TINY_GAP, folder)
    GapPotential.from_folder(folder)  # the intact folder is accepted
    sparse = _sparse_files(folder)
    assert sparse, 'the fixture potential has sparseX files'
    if damage == 'missing':
        sparse[0].unlink()
    elif damage == 'corrupt':
        sparse[0].write_text(sparse[0].read_text() + '1.0\n')
    elif damage == 'not_xml':
        (folder / 'gap.xml').write_text('<GAP_params oops', encoding='utf-8')
    elif damage == 'no_xml':
        (folder / 'gap.xml').unlink()
    with pytest.raises(ValueError) as excinfo:
        GapPotential.from_folder(folder)
    assert message in str(excinfo.value), str(excinfo.value)


# -- C: CalcJobs and the fit workflow ---------------------------------------------------------------------------------
def _gap_fit_builder(codes, structures: StructureSet, **overrides) -> object:
    builder = GapFitCalculation.get_builder()
    builder.code = codes['gap_fit']
    builder.training_set = structures
    parameters = table1_parameters('Si', overrides={'descriptors': {'soap': {'n_sparse': 10}}, **overrides})
    builder.parameters = orm.Dict(parameters)
    builder.metadata.options.resources = {'num_machines': 1}
    return builder


def test_gap_fit_refuses_unlabelled_set(codes):
    """C01: a StructureSet without energies given to gap_fit."""
    with pytest.raises(ValueError, match='training_set: every structure must carry an energy label.*0 of 2 do'):
        _gap_fit_builder(codes, StructureSet.from_atoms([si_cell(), si_cell()]))  # refused on assignment


def test_gap_fit_refuses_species_not_covered(codes):
    """C03: the training set has an element the parameters do not."""
    frames = [labelled(si_cell()), labelled(si_cell())]
    frames[1].symbols[0] = 'Ge'
    builder = _gap_fit_builder(codes, StructureSet.from_atoms(frames))
    assert_refused(GapFitCalculation, builder, "does not cover the species ['Ge'] of `training_set`")


FIT_REASON = (
    'GapFitWorkChain (gaprss.fit) has no validator on `training_set`: an unlabelled set passes, then the hull-sigma '
    "calcfunction raises `atoms_list[0] has no info['energy']` (the workflow excepts). The same holds for "
    'GapRssWorkChain.restart.database; fix in workflows/fit.py (reuse calculations.gap_fit.validate_training_set '
    'on the input port) and in rss._validate_inputs'
)


def test_fit_workflow_refuses_unlabelled_set(codes):
    """C02: the GAP-RSS fit workflow given a StructureSet without labels: refused by the port validator."""
    builder = GapFitWorkChain.get_builder()
    with pytest.raises(ValueError, match='training_set: every structure must carry an energy label'):
        builder.training_set = StructureSet.from_atoms([si_cell(), si_cell()])


def test_run_refuses_unlabelled_restart_database(codes):
    """C02b: ``gaprss continue`` style restart from a database without labels."""
    builder = tiny_builder(codes)
    builder.restart.database = StructureSet.from_atoms([si_cell(iteration=0), si_cell(iteration=0)])
    assert_refused(GapRssWorkChain, builder, 'restart.database')


def _ase_batch_builder(codes, frames, calculator=None) -> object:
    builder = AseBatch.get_builder()
    builder.code = codes['python']
    builder.structures = StructureSet.from_atoms(frames)
    if calculator is not None:
        builder.calculator = orm.Dict(calculator)
    return builder


@pytest.mark.parametrize(
    ('calculator', 'parameters', 'message'),
    [
        pytest.param(None, None, 'give exactly one of the inputs `calculator`', id='C05-no-calculator'),
        pytest.param({'type': 'magic'}, None, 'field `calculator.type`', id='C06-calculator-type'),
        pytest.param({'type': 'import', 'path': 'x; rm -rf /:LJ'}, None, 'field `calculator.path`', id='C07-semicolon'),
        pytest.param({'type': 'import', 'path': '$(reboot):LJ'}, None, 'field `calculator.path`', id='C08-dollar'),
        pytest.param({'type': 'import', 'path': '`reboot`:LJ'}, None, 'field `calculator.path`', id='C09-backticks'),
        pytest.param({'type': 'sw_si'}, {'colour': 1}, 'field `parameters.colour`', id='C10-unknown-parameter'),
        pytest.param({'type': 'sw_si'}, {'compute_virial': 'yes'}, 'field `parameters.compute_virial`', id='C11-type'),
        pytest.param({'type': 'gap', 'xml': '/tmp/x.xml'}, None, 'give the `potential` input', id='C12-gap-by-path'),
    ],
)
def test_ase_batch_refuses(codes, calculator, parameters, message):
    builder = _ase_batch_builder(codes, [si_cell()], calculator)
    if parameters is not None:
        builder.parameters = orm.Dict(parameters)
    assert_refused(AseBatch, builder, message)


def _dry_run(builder, tmp_path, monkeypatch) -> pathlib.Path:
    """Run ``prepare_for_submission`` through AiiDA's dry run; return the folder with the job script."""
    monkeypatch.chdir(tmp_path)
    builder.metadata.dry_run = True
    builder.metadata.store_provenance = False
    _, node = run_get_node(builder)
    return pathlib.Path(node.dry_run_info['folder'])


def _shell_frames() -> list[Atoms]:
    return [
        labelled(si_cell(config_type=text, origin=text, label=text)) for text in SHELL_STRINGS
    ]  # fmt: skip


def _assert_script_clean(folder: pathlib.Path, data_file: str) -> None:
    script = (folder / '_aiidasubmit.sh').read_text(encoding='utf-8')
    for text in SHELL_STRINGS:
        assert text not in script, f'{text!r} reached the job script'
    assert 'pwned' not in script and 'reboot' not in script and 'rm -rf' not in script
    data = (folder / data_file).read_text(encoding='utf-8')
    for text in SHELL_STRINGS:
        assert text in data, f'{text!r} lost from {data_file}'  # it is data, written into the file, not the command


def test_shell_strings_in_labels_never_reach_the_gap_fit_script(codes, tmp_path, monkeypatch):
    """C15: config_type/origin/label strings with ; $( ) backticks && | > go into train.xyz, not the command."""
    builder = _gap_fit_builder(codes, StructureSet.from_atoms(_shell_frames()))
    folder = _dry_run(builder, tmp_path, monkeypatch)
    _assert_script_clean(folder, GapFitCalculation.TRAINING_FILENAME)
    script = (folder / '_aiidasubmit.sh').read_text(encoding='utf-8')
    assert "'gap={distance_2b" in script  # every gap_fit argument is one quoted shell word
    assert not list(tmp_path.rglob('gaprss-pwned*')) and not pathlib.Path('/tmp/gaprss-pwned-1').exists()


def test_shell_strings_in_labels_and_kwargs_never_reach_the_ase_batch_script(codes, tmp_path, monkeypatch):
    """C16: the same strings in the structures and in the calculator kwargs of an AseBatch."""
    calculator = {
        'type': 'import',
        'path': 'ase.calculators.lj:LennardJones',
        'kwargs': {'sigma': 2.1, 'comment': SHELL_STRINGS[1]},
    }
    builder = _ase_batch_builder(codes, _shell_frames(), calculator)
    folder = _dry_run(builder, tmp_path, monkeypatch)
    _assert_script_clean(folder, AseBatch.INPUT_FILENAME)
    assert SHELL_STRINGS[1] in (folder / 'job.json').read_text(encoding='utf-8')  # passed as JSON data, not argv


# -- R: handled at run time with an exit code (one short real job each) -----------------------------------------------
def test_missing_calculator_attribute_is_refused(codes):
    """R01: the module exists, the callable does not: refused before submission, naming the path."""
    builder = _ase_batch_builder(codes, [si_cell()], {'type': 'import', 'path': 'ase.calculators.lj:NoSuchCalculator'})
    assert_refused(AseBatch, builder, 'field `calculator.path`')


@pytest.mark.slow  # a real job: ~5 s on a quiet machine, 25 s on a loaded one
def test_calculator_that_cannot_be_built_is_an_exit_code(codes):
    """R01b: a real calculator class with a keyword it does not know: the job fails cleanly with exit 301."""
    spec = {'type': 'import', 'path': 'ase.calculators.mixing:SumCalculator', 'kwargs': {}}
    _, node = run_get_node(_ase_batch_builder(codes, [si_cell()], spec))
    assert node.is_finished and node.exit_status == AseBatch.exit_codes.ERROR_JOB_FAILED.status
    assert 'calcs' in node.exit_message  # SumCalculator() misses its required argument


def test_calculator_failing_on_every_structure_is_an_exit_code(codes):
    """R02: EMT cannot do Si: every structure fails, the job finishes 320 naming the first error."""
    builder = _ase_batch_builder(codes, [si_cell()], {'type': 'import', 'path': 'ase.calculators.emt:EMT'})
    _, node = run_get_node(builder)
    assert node.is_finished and node.exit_status == AseBatch.exit_codes.ERROR_ALL_STRUCTURES_FAILED.status
    assert node.exit_message and 'Every structure failed' in node.exit_message
