"""Bad input: each refused before submission with a message naming the field, or handled at run time with an exit code.

Every test here backs one or more rows of ``docs/bad_inputs.md``: it feeds the row's input and asserts the message the
table quotes (``assert_table_message``; the row ids, e.g. ``B05``, start the test ids), so the table cannot go stale
(``test_bad_input_table.py`` checks that every row has its test). Refusals are checked on the builder, on the spec
validators (the same call AiiDA makes before a process node is created) or on the data constructors and no process
runs; the run-time rows (R) and the shell strings fitted by gap_fit and labelled by an AseBatch (C15, C16) run one
real, short job each.

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
from tests.conftest import installed_program
from tests.reliability.bad_input_table import assert_table_message, row_of
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


def assert_refused(process_class, builder, row_id: str) -> None:
    """The spec validation refuses ``builder`` with the message of row ``row_id`` of the table; no process is made."""
    before = orm.QueryBuilder().append(orm.ProcessNode).count()
    error = spec_error(process_class, builder)
    assert error is not None, f'accepted; expected the refusal of row {row_id}'
    assert_table_message(row_id, error)
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
    'kwargs',
    [
        pytest.param({'element': 'Qq'}, id='B01-unknown-element'),
        pytest.param({'element': 'Si; rm -rf /'}, id='B02-element-semicolon'),
        pytest.param({'element': '$(touch /tmp/x)'}, id='B03-element-dollar'),
        pytest.param({'element': '`id`'}, id='B04-element-backticks'),
        pytest.param({'overrides': {'budget': -5}}, id='B05-negative-budget'),
        pytest.param({'overrides': {'budget': '30'}}, id='B06-budget-string'),
        pytest.param({'overrides': {'num_select': 0}}, id='B07-num-select-zero'),
        pytest.param({'protocol': 'ultra'}, id='B08-unknown-protocol'),
        pytest.param({'overrides': {'colour': 'red'}}, id='B09-unknown-override'),
        pytest.param({'engine': 'gaussian'}, id='B10-unknown-engine'),
        pytest.param({'engine': 'qe'}, id='B11-qe-without-pw-code'),
        pytest.param({'engine': 'vasp', 'codes': 'with-vasp'}, id='B12-vasp-without-potential-family'),
        pytest.param(
            {'overrides': {'fit': {'default_sigma': {'energy': -0.001, 'forces': 0.03, 'virial': 0.06}}}},
            id='B13-negative-sigma',
        ),
        pytest.param({'overrides': {'fit': {'descriptors': {'soap': {'cutoff': 0}}}}}, id='B14-cutoff-zero'),
        pytest.param(
            {'overrides': {'fit': {'descriptors': {'soap': {'colour': 'red'}}}}}, id='B15-unknown-descriptor-key'
        ),
        pytest.param({'element': 'Ti'}, id='B16-ase-reference-missing-for-Ti'),
        pytest.param({'overrides': {'gap_fit_options': {'colour': 'red'}}}, id='B17-unknown-gap-fit-option'),
        pytest.param(
            {'overrides': {'fit': {'config_type_sigma': {'bulk; rm -rf /': [0.001, 0.03, 0.06]}}}},
            id='B18-config-type-sigma-shell-string',
        ),
        pytest.param({'overrides': {'fit': {'e0': {'C': -1.0}}}}, id='B19-e0-of-other-element'),
        pytest.param({'overrides': {'reference': {'ase': {'calculator': [1, 2]}}}}, id='B20-calculator-wrong-type'),
    ],
)
def test_builder_refuses(codes, kwargs, request):
    arguments = {'element': 'Si', 'codes': codes, 'engine': 'ase', 'protocol': 'fast', **kwargs}
    if arguments['codes'] == 'with-vasp':
        arguments['codes'] = {**codes, 'vasp': codes['python']}
    element = arguments.pop('element')
    before = orm.QueryBuilder().append(orm.ProcessNode).count()
    with pytest.raises(ValueError) as excinfo:
        GapRssWorkChain.get_builder_from_protocol(element, **arguments)
    assert_table_message(row_of(request), str(excinfo.value))
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


@pytest.mark.parametrize(
    ('path', 'value'),
    [
        pytest.param('relax.fmax', -1.0, id='S01-fmax-negative'),
        pytest.param('relax.fmax', 0.0, id='S02-fmax-zero'),
        pytest.param('relax.steps', '30', id='S03-steps-string'),
        pytest.param('relax.pressure.p0', -1.0, id='S04-pressure-negative'),
        pytest.param('relax.pressure.p0', 1.0e9, id='S05-pressure-in-pascal'),
        pytest.param('relax.colour', 'red', id='S06-unknown-relax-key'),
        pytest.param('colour', 'red', id='S07-unknown-parameters-key'),
        pytest.param('seed', -1, id='S08-negative-seed'),
        pytest.param('pool.natoms', [0, 6], id='S09-natoms-zero'),
        pytest.param('pool.n_relax', 0, id='S10-n-relax-zero'),
        pytest.param('selection.kT', -0.1, id='S11-kT-negative'),
        pytest.param('selection.kT', 0.0, id='S12-kT-zero'),
        pytest.param('selection.initial_method', 'magic', id='S13-bad-initial-method'),
        pytest.param('selection.later_method', 'magic', id='S14-bad-later-method'),
        pytest.param('selection.method', 'magic', id='S15-bad-method'),
        pytest.param('selection.soap.colour', 1, id='S16-unknown-soap-key'),
        pytest.param('job_options', 'fast', id='S17-job-options-type'),
        pytest.param('relax.fmax', -1.0, id='S18-full-path-relax'),
        pytest.param('pool.n', 0, id='S19-full-path-pool'),
    ],
)
def test_run_validator_refuses_parameters(codes, path, value, request):
    builder = tiny_builder(codes)
    _set(builder, path, value)
    assert_refused(GapRssWorkChain, builder, row_of(request))


def test_run_validator_refuses_other_inputs(codes):
    builder = tiny_builder(codes)
    builder.max_iterations = orm.Int(0)
    assert_refused(GapRssWorkChain, builder, 'S20')
    builder = tiny_builder(codes)
    builder.convergence_tolerance = orm.Float(-1.0)
    assert_refused(GapRssWorkChain, builder, 'S21')
    builder = tiny_builder(codes)
    builder.restart.potential = _potential_node()
    assert_refused(GapRssWorkChain, builder, 'S22')
    builder = tiny_builder(codes)
    builder.reference.max_concurrent = orm.Int(0)
    assert_refused(GapRssWorkChain, builder, 'S23')
    builder = tiny_builder(codes)
    with pytest.raises(ValueError) as excinfo:  # a wrong node type, refused on assignment
        builder.parameters = orm.Int(3)
    assert_table_message('S24', str(excinfo.value))


#: A real, tiny GAP (2b only, 5 sparse points) fitted by gap_fit to 4 Lennard-Jones-labelled Si cells.
TINY_GAP = pathlib.Path(__file__).parent / 'fixtures' / 'tiny_gap'


def _potential_node() -> GapPotential:
    return GapPotential.from_folder(TINY_GAP).store()


def test_restart_without_budget_left_refused(codes):
    """S32: ``gaprss continue PK --budget N`` with N not above what the run already used."""
    builder = tiny_builder(codes, budget=2)
    builder.restart.database = StructureSet.from_atoms([labelled(si_cell(iteration=0)) for _ in range(2)])
    builder.restart.potential = _potential_node()
    assert_refused(GapRssWorkChain, builder, 'S32')


@pytest.mark.parametrize(
    'path',
    [
        pytest.param('ase.calculators.lj; rm -rf /:LennardJones', id='S25-calculator-path-semicolon'),
        pytest.param('$(touch /tmp/gaprss-pwned-1):LennardJones', id='S26-calculator-path-dollar'),
        pytest.param('`touch /tmp/gaprss-pwned-2`:LennardJones', id='S27-calculator-path-backticks'),
        pytest.param('ase.calculators.lj', id='S28-calculator-path-no-callable'),
    ],
)
def test_run_validator_refuses_calculator_paths(codes, path, request):
    overrides = {'reference': {'ase': {'calculator': {'type': 'import', 'path': path}}}}
    builder = tiny_builder(codes, **overrides)
    assert_refused(GapRssWorkChain, builder, row_of(request))


@pytest.mark.parametrize(
    'spec',
    [
        pytest.param({'type': 'import', 'path': 'os:system', 'kwargs': {'command': 'touch x'}}, id='S29-os-system'),
        pytest.param(
            {'type': 'import', 'path': 'subprocess:getoutput', 'kwargs': {'cmd': 'id'}}, id='S30-subprocess-getoutput'
        ),
    ],
)
def test_calculator_import_of_a_shell_function_refused(codes, spec, request):
    """Refused by the calculator validator and by the run's spec, naming the callable; nothing runs."""
    message = validate_calculator(spec)
    assert message is not None, 'a shell-running callable is accepted as a calculator factory'
    assert_table_message(row_of(request), message)
    builder = tiny_builder(codes, reference={'ase': {'calculator': spec}})
    assert_refused(GapRssWorkChain, builder, row_of(request))
    assert not pathlib.Path('x').exists()


@pytest.fixture
def pw_code(aiida_code_installed):
    """Debian's pw.x (install.sh installs quantum-espresso: missing, the test fails)."""
    pw = installed_program('pw.x')
    return aiida_code_installed(default_calc_job_plugin='quantumespresso.pw', filepath_executable=pw, label='pw-bad')


@pytest.fixture
def debian_family():
    """Debian's pseudopotentials as an aiida-pseudo family (they come with quantum-espresso: missing, a failure)."""
    from aiida_gaprss.pseudos import DEBIAN_PSEUDO_FOLDER, install_debian_family

    assert DEBIAN_PSEUDO_FOLDER.is_dir(), f'{DEBIAN_PSEUDO_FOLDER} missing: install.sh installs quantum-espresso'
    return install_debian_family()


@pytest.fixture
def family_without_ti(debian_family):
    """The default family as a profile installed before the generated PBE Ti had it (B, C, Si); Ti added back after."""
    from aiida_gaprss.pseudos import DEBIAN_PBE, install_debian_family

    debian_family.remove_nodes([debian_family.get_pseudo('Ti')])
    cutoffs = debian_family.get_cutoffs('normal')
    unit = debian_family.get_cutoffs_unit('normal')
    debian_family.set_cutoffs({symbol: cutoffs[symbol] for symbol in DEBIAN_PBE}, 'normal', unit)
    yield debian_family
    assert 'Ti' in install_debian_family().elements  # what `gaprss setup` does to such a family


def test_qe_run_with_titanium_refused_on_a_family_without_ti(codes, pw_code, family_without_ti):
    """S31: a Ti run on a family installed before Ti was generated is refused by the run's spec, saying what to do."""
    builder = GapRssWorkChain.get_builder_from_protocol(
        'Ti', codes={**codes, 'pw': pw_code}, engine='qe', protocol='fast'
    )
    assert_refused(GapRssWorkChain, builder, 'S31')


def test_qe_reference_with_titanium_refused_on_a_family_without_ti(pw_code, family_without_ti):
    """C13: the ReferenceWorkChain itself refuses Ti structures on such a family, saying why."""
    builder = ReferenceWorkChain.get_builder()
    builder.structures = StructureSet.from_atoms([bulk('Ti', 'hcp', a=2.95, c=4.68)])
    builder.engine = orm.Str('qe')
    builder.qe.code = pw_code
    assert_refused(ReferenceWorkChain, builder, 'C13')


def test_qe_reference_accepts_titanium_on_the_default_family(pw_code, debian_family):
    """The default family holds the PBE Ti generated with ld1.x: a Ti structure passes the spec."""
    builder = ReferenceWorkChain.get_builder()
    builder.structures = StructureSet.from_atoms([bulk('Ti', 'hcp', a=2.95, c=4.68)])
    builder.engine = orm.Str('qe')
    builder.qe.code = pw_code
    assert spec_error(ReferenceWorkChain, builder) is None


def test_vasp_reference_without_potential_family_refused(codes):
    """C14: engine vasp without a POTCAR family."""
    builder = ReferenceWorkChain.get_builder()
    builder.structures = StructureSet.from_atoms([si_cell()])
    builder.engine = orm.Str('vasp')
    builder.vasp.code = codes['python']
    builder.vasp.potential_mapping = orm.Dict({'Si': 'Si'})
    assert_refused(ReferenceWorkChain, builder, 'C14')


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
    'kind',
    [
        pytest.param('overlap', id='D01-overlapping-atoms'),
        pytest.param('nan_forces', id='D02-nan-forces'),
        pytest.param('inf_energy', id='D03-infinite-energy'),
        pytest.param('string_energy', id='D04-energy-string'),
        pytest.param('nan_cell', id='D05-nan-cell'),
        pytest.param('nan_position', id='D06-nan-position'),
        pytest.param('forces_shape', id='D07-forces-wrong-shape'),
        pytest.param('virial_size', id='D08-virial-wrong-size'),
        pytest.param('flat_cell', id='D09-flat'),
    ],
)
def test_structure_set_refuses_bad_frames(kind, request):
    with pytest.raises(ValueError) as excinfo:
        StructureSet.from_atoms(_bad_frames(kind))
    assert_table_message(row_of(request), str(excinfo.value))


def test_structure_set_refuses_empty_set():
    """D10: an empty set."""
    with pytest.raises(ValueError) as excinfo:
        StructureSet.from_atoms([])
    assert_table_message('D10', str(excinfo.value))


GOOD_XYZ = (
    '2\nLattice="5.0 0.0 0.0 0.0 5.0 0.0 0.0 0.0 5.0" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
    'Si 0.0 0.0 0.0\nSi 1.3 1.3 1.3\n'
)


@pytest.mark.parametrize(
    'text',
    [
        pytest.param(GOOD_XYZ.replace('2\n', '5\n', 1), id='D11-xyz-truncated'),
        pytest.param(GOOD_XYZ.replace('1.3 1.3 1.3', '1.3 abc 1.3'), id='D12-xyz-bad-number'),
        pytest.param('this is not\nan xyz file\n', id='D13-xyz-garbage'),
        pytest.param(GOOD_XYZ.replace('Si 1.3', 'Qq 1.3'), id='D14-xyz-unknown-element'),
        pytest.param(GOOD_XYZ.replace('Si 1.3', '$(id) 1.3'), id='D15-xyz-shell-element'),
        pytest.param(GOOD_XYZ.replace('Lattice="5.0', 'Lattice="nan'), id='D16-xyz-nan-cell'),
        pytest.param('', id='D17-xyz-empty-file'),
    ],
)
def test_structure_set_refuses_malformed_extxyz(tmp_path, text, request):
    path = tmp_path / 'bad.xyz'
    path.write_text(text, encoding='utf-8')
    with pytest.raises(ValueError) as excinfo:
        StructureSet.from_file(path)
    assert_table_message(row_of(request), str(excinfo.value))


def _sparse_files(folder: pathlib.Path) -> list[pathlib.Path]:
    return sorted(path for path in folder.iterdir() if '.sparseX.' in path.name)


@pytest.mark.parametrize(
    'damage',
    [
        pytest.param('missing', id='D18-potential-missing-sparseX'),
        pytest.param('corrupt', id='D19-potential-corrupt-sparseX'),
        pytest.param('not_xml', id='D20-potential-not-xml'),
        pytest.param('no_xml', id='D21-potential-no-xml'),
    ],
)
def test_potential_folder_refused(tmp_path, damage, request):
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
    assert_table_message(row_of(request), str(excinfo.value))


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
    with pytest.raises(ValueError) as excinfo:
        _gap_fit_builder(codes, StructureSet.from_atoms([si_cell(), si_cell()]))  # refused on assignment
    assert_table_message('C01', str(excinfo.value))


def test_gap_fit_refuses_species_not_covered(codes):
    """C03: the training set has an element the parameters do not."""
    frames = [labelled(si_cell()), labelled(si_cell())]
    frames[1].symbols[0] = 'Ge'
    builder = _gap_fit_builder(codes, StructureSet.from_atoms(frames))
    assert_refused(GapFitCalculation, builder, 'C03')


def test_fit_workflow_refuses_unlabelled_set(codes):
    """C02: the GAP-RSS fit workflow given a StructureSet without labels: refused by the port validator."""
    builder = GapFitWorkChain.get_builder()
    with pytest.raises(ValueError) as excinfo:
        builder.training_set = StructureSet.from_atoms([si_cell(), si_cell()])
    assert_table_message('C02', str(excinfo.value))


def test_run_refuses_unlabelled_restart_database(codes):
    """C02b: ``gaprss continue`` style restart from a database without labels."""
    builder = tiny_builder(codes)
    builder.restart.database = StructureSet.from_atoms([si_cell(iteration=0), si_cell(iteration=0)])
    assert_refused(GapRssWorkChain, builder, 'C02b')


def _ase_batch_builder(codes, frames, calculator=None) -> object:
    builder = AseBatch.get_builder()
    builder.code = codes['python']
    builder.structures = StructureSet.from_atoms(frames)
    if calculator is not None:
        builder.calculator = orm.Dict(calculator)
    return builder


@pytest.mark.parametrize(
    ('calculator', 'parameters'),
    [
        pytest.param(None, None, id='C05-no-calculator'),
        pytest.param({'type': 'magic'}, None, id='C06-calculator-type'),
        pytest.param({'type': 'import', 'path': 'x; rm -rf /:LJ'}, None, id='C07-semicolon'),
        pytest.param({'type': 'import', 'path': '$(reboot):LJ'}, None, id='C08-dollar'),
        pytest.param({'type': 'import', 'path': '`reboot`:LJ'}, None, id='C09-backticks'),
        pytest.param({'type': 'sw_si'}, {'colour': 1}, id='C10-unknown-parameter'),
        pytest.param({'type': 'sw_si'}, {'compute_virial': 'yes'}, id='C11-type'),
        pytest.param({'type': 'gap', 'xml': '/tmp/x.xml'}, None, id='C12-gap-by-path'),
    ],
)
def test_ase_batch_refuses(codes, calculator, parameters, request):
    builder = _ase_batch_builder(codes, [si_cell()], calculator)
    if parameters is not None:
        builder.parameters = orm.Dict(parameters)
    assert_refused(AseBatch, builder, row_of(request))


#: Files a shell would create if it ever ran one of SHELL_STRINGS (``cat > x`` in the job's folder, the touch targets).
PWNED = (pathlib.Path('/tmp/gaprss-pwned-1'), pathlib.Path('/tmp/gaprss-pwned-2'))


def _run_job(builder) -> tuple[orm.CalcJobNode, pathlib.Path]:
    """Run the job for real (the shell strings must meet a real shell); return its node and its working folder."""
    for path in PWNED:
        path.unlink(missing_ok=True)
    _, node = run_get_node(builder)
    return node, pathlib.Path(node.outputs.remote_folder.get_remote_path())


def _shell_frames() -> list[Atoms]:
    return [
        labelled(si_cell(config_type=text, origin=text, label=text)) for text in SHELL_STRINGS
    ]  # fmt: skip


def _assert_nothing_ran(folder: pathlib.Path, data_file: str) -> None:
    """The strings are in the data file, not in the job script, and no shell ran them (no file they would create)."""
    script = (folder / '_aiidasubmit.sh').read_text(encoding='utf-8')
    for text in SHELL_STRINGS:
        assert text not in script, f'{text!r} reached the job script'
    assert 'pwned' not in script and 'reboot' not in script and 'rm -rf' not in script
    data = (folder / data_file).read_text(encoding='utf-8')
    for text in SHELL_STRINGS:
        assert text in data, f'{text!r} lost from {data_file}'  # it is data, written into the file, not the command
    assert not (folder / 'x').exists(), '`cat > x` ran in the job folder'
    assert not list(folder.rglob('gaprss-pwned*'))
    for path in PWNED:
        assert not path.exists(), f'{path} was created: a shell ran a label'


def test_shell_strings_in_labels_never_reach_the_gap_fit_script(codes):
    """C15: config_type/origin/label strings with ; $( ) backticks && | > go into train.xyz, not the command.

    The fit runs for real (gap_fit reads the labels): nothing the strings would do in a shell happens.
    """
    small = {'distance_2b': {'n_sparse': 4}, 'angle_3b': {'n_sparse': 4}, 'soap': {'n_sparse': 4}}
    builder = _gap_fit_builder(codes, StructureSet.from_atoms(_shell_frames()), descriptors=small)
    node, folder = _run_job(builder)
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    _assert_nothing_ran(folder, GapFitCalculation.TRAINING_FILENAME)
    script = (folder / '_aiidasubmit.sh').read_text(encoding='utf-8')
    assert "'gap={distance_2b" in script  # every gap_fit argument is one quoted shell word
    assert node.outputs.potential.get_calculator() is not None  # gap_fit read every labelled frame and fitted


def test_shell_strings_in_labels_and_kwargs_never_reach_the_ase_batch_script(codes):
    """C16: the same strings in the structures and in the calculator kwargs of an AseBatch, labelled for real."""
    calculator = {
        'type': 'import',
        'path': 'ase.calculators.lj:LennardJones',
        'kwargs': {'sigma': 2.1, 'comment': SHELL_STRINGS[1]},  # ASE keeps unknown keywords as parameters
    }
    node, folder = _run_job(_ase_batch_builder(codes, _shell_frames(), calculator))
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    _assert_nothing_ran(folder, AseBatch.INPUT_FILENAME)
    assert SHELL_STRINGS[1] in (folder / 'job.json').read_text(encoding='utf-8')  # passed as JSON data, not argv
    labels = node.outputs.structures.get_atoms()
    assert [atoms.info['config_type'] for atoms in labels] == list(SHELL_STRINGS)
    assert all(atoms.info['energy'] < 0 for atoms in labels)  # Lennard-Jones labels: the job did run


# -- R: handled at run time with an exit code (one short real job each) -----------------------------------------------
def test_missing_calculator_attribute_is_refused(codes):
    """R01: the module exists, the callable does not: refused before submission, naming the path."""
    builder = _ase_batch_builder(codes, [si_cell()], {'type': 'import', 'path': 'ase.calculators.lj:NoSuchCalculator'})
    assert_refused(AseBatch, builder, 'R01')


@pytest.mark.slow  # a real job: ~5 s on a quiet machine, 25 s on a loaded one
@pytest.mark.ci_slow
def test_calculator_that_cannot_be_built_is_an_exit_code(codes):
    """R01b: a real calculator class built without its required argument: the job fails cleanly with exit 301."""
    spec = {'type': 'import', 'path': 'ase.calculators.mixing:SumCalculator', 'kwargs': {}}
    _, node = run_get_node(_ase_batch_builder(codes, [si_cell()], spec))
    assert node.is_finished and node.exit_status == AseBatch.exit_codes.ERROR_JOB_FAILED.status
    assert_table_message('R01b', node.exit_message)


def test_calculator_failing_on_every_structure_is_an_exit_code(codes):
    """R02: EMT cannot do Si: every structure fails, the job finishes 320 naming the first error."""
    builder = _ase_batch_builder(codes, [si_cell()], {'type': 'import', 'path': 'ase.calculators.emt:EMT'})
    _, node = run_get_node(builder)
    assert node.is_finished and node.exit_status == AseBatch.exit_codes.ERROR_ALL_STRUCTURES_FAILED.status
    assert_table_message('R02', node.exit_message)
