"""ReferenceWorkChain with the VASP engine (aiida-vasp VaspWorkChain) on a fake VASP computing real SW Si labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from ase import Atoms
from ase.build import bulk

from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.rss.potentials import stillinger_weber_si
from aiida_gaprss.workflows.reference import ReferenceWorkChain
from aiida_gaprss.workflows.reference.engines import VaspEngine
from aiida_gaprss.workflows.reference.protocols import load_protocol
from tests.fake_vasp import FAMILY


def vasp_builder(code, atoms_list, **kwargs):
    builder = ReferenceWorkChain.get_builder()
    builder.structures = StructureSet.from_atoms(atoms_list)
    builder.engine = orm.Str('vasp')
    builder.vasp.code = code
    builder.vasp.potential_family = orm.Str(FAMILY)
    builder.vasp.potential_mapping = orm.Dict({'Si': 'Si', 'C': 'C', 'B': 'B', 'Ti': 'Ti'})
    builder.vasp.options = orm.Dict({'withmpi': False})
    builder.vasp.max_iterations = orm.Int(1)
    builder.max_concurrent = orm.Int(2)
    for key, value in kwargs.items():
        builder[key] = value
    return builder


def test_paper_settings_and_kspacing_convention():
    protocol = load_protocol('vasp')
    incar, spacing = VaspEngine.incar(protocol, bulk('C', 'diamond', a=3.57))
    assert incar['encut'] == 800.0
    assert spacing == pytest.approx(0.35 / (2 * math.pi))
    incar, spacing = VaspEngine.incar(protocol, bulk('Si', 'diamond', a=5.43))
    assert incar['encut'] == 400.0
    assert spacing == pytest.approx(0.0398, abs=1e-4)
    assert incar['gga'] == 'PS'
    assert incar['ismear'] == 0 and incar['sigma'] > 0


def test_fake_vasp_end_to_end_with_one_failed_run(vasp_code, potcar_family):
    cells = []
    for k in range(2):
        atoms = bulk('Si', 'diamond', a=5.35 + 0.08 * k, cubic=k == 1)
        atoms.rattle(0.05, seed=20 + k)
        atoms.info['origin'] = f'v{k}'
        cells.append(atoms)
    crashing = Atoms('Si2', positions=[[0, 0, 0], [1.1, 0, 0]], cell=[5, 5, 5], pbc=True)
    crashing.info['origin'] = 'crash'
    atoms_list = [cells[0], crashing, cells[1]]
    results, node = run_get_node(
        vasp_builder(vasp_code, atoms_list, max_failure_fraction=orm.Float(0.4), max_concurrent=orm.Int(3))
    )
    assert node.is_finished_ok, node.exit_message

    exclusions = results['exclusions'].get_dict()
    assert [record['index'] for record in exclusions['excluded']] == [1]
    record = exclusions['excluded'][0]
    assert record['process'] == 'VaspWorkChain'
    assert record['exit_status'] != 0
    assert record['calculation_exit_status'] != 0

    labelled = results['structures'].get_atoms()
    assert [atoms.info['origin'] for atoms in labelled] == ['v0', 'v1']
    calculator = stillinger_weber_si()
    for atoms, got in zip(cells, labelled, strict=True):
        atoms = atoms.copy()
        atoms.calc = calculator
        assert got.info['energy'] == pytest.approx(atoms.get_potential_energy(), abs=1e-6)
        np.testing.assert_allclose(got.arrays['forces'], atoms.get_forces(), atol=1e-6)
        virial = -atoms.get_stress(voigt=False) * atoms.get_volume()
        np.testing.assert_allclose(got.info['virial'], virial, atol=1e-6)
        calculation = orm.load_node(got.info['reference_pk'])
        assert calculation.process_label == 'VaspCalculation'
        incar = calculation.inputs.parameters.get_dict()
        assert incar['encut'] == 400.0


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ('mapping', 'element C: missing from `vasp.potential_mapping`'),
        ('family', 'field `vasp.potential_family`'),
        ('protocol', 'field `vasp.protocol`'),
    ],
)
def test_bad_vasp_inputs_refused(vasp_code, potcar_family, change, message):
    atoms_list = [bulk('Si', 'diamond', a=5.43), bulk('C', 'diamond', a=3.57)]
    builder = vasp_builder(vasp_code, atoms_list)
    if change == 'mapping':
        builder.vasp.potential_mapping = orm.Dict({'Si': 'Si'})
    elif change == 'family':
        del builder.vasp['potential_family']
    elif change == 'protocol':
        builder.vasp.protocol = orm.Str('nonsense')
    with pytest.raises(ValueError, match=message):
        run_get_node(builder)


def test_loop_on_vasp_validates_with_vasp(vasp_code, potcar_family, fixture_code):
    """A GAP-RSS run on the VASP engine gets the validation namespace; its reference side is VASP (not refused)."""
    from aiida_gaprss.workflows.rss import GapRssWorkChain
    from aiida_gaprss.workflows.rss_checks import validate_rss_inputs

    python = fixture_code('python')
    codes = {'python': python, 'gap_fit': fixture_code('gaprss.gap_fit'), 'vasp': vasp_code}
    overrides = {'reference': {'vasp': {'potential_family': FAMILY, 'potential_mapping': {'Si': 'Si'}}}}
    builder = GapRssWorkChain.get_builder_from_protocol(
        'Si', codes=codes, engine='vasp', protocol='fast', overrides=overrides
    )
    assert builder.validation.enabled.value and 'diamond' in builder.validation.phases.get_list()
    inputs = {key: builder[key] for key in builder if builder[key] is not None and key != 'metadata'}
    assert validate_rss_inputs(inputs, None) is None
