"""Tests of the ``StructureSet`` data node: exact round trip, attributes, lazy reading and every rejection."""

import numpy as np
import pytest
from aiida import orm
from aiida.plugins import DataFactory
from ase import Atoms
from ase.build import bulk

from aiida_gaprss.data.structure_set import StructureSet


def labelled_si(n=5, seed=0):
    """Return ``n`` rattled, strained Si cells with arbitrary (but finite) labels and info of every kind."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        atoms = bulk('Si', 'diamond', 5.43, cubic=True)
        atoms.rattle(0.05, seed=seed + i)
        atoms.set_cell(atoms.cell * rng.uniform(0.95, 1.05), scale_atoms=True)
        atoms.info['energy'] = float(rng.normal(-5.0, 1.0)) * len(atoms) + 1e-13 * i
        atoms.arrays['forces'] = rng.normal(size=(len(atoms), 3)) / 3.0
        atoms.info['virial'] = rng.normal(size=(3, 3))
        atoms.info['config_type'] = 'rss_random' if i % 2 else 'dimer'
        atoms.info['origin'] = f'unit-test-{i}'
        atoms.info['iteration'] = i
        atoms.info['pressure'] = 0.123456789012345
        atoms.info['converged'] = bool(i % 2)
        atoms.info['energy_sigma'] = 0.001
        frames.append(atoms)
    return frames


def test_entry_point():
    assert DataFactory('gaprss.structures') is StructureSet


def test_round_trip_is_exact():
    frames = labelled_si()
    node = StructureSet.from_atoms(frames).store()
    loaded = orm.load_node(node.pk)
    back = loaded.get_atoms()
    assert len(back) == len(frames)
    for original, restored in zip(frames, back, strict=True):
        assert restored.calc is None
        assert np.array_equal(original.positions, restored.positions)
        assert np.array_equal(original.cell.array, restored.cell.array)
        assert np.array_equal(original.numbers, restored.numbers)
        assert list(original.pbc) == list(restored.pbc)
        assert restored.info['energy'] == original.info['energy']
        assert np.array_equal(original.arrays['forces'], restored.arrays['forces'])
        assert np.array_equal(original.info['virial'], restored.info['virial'])
        for key in ('config_type', 'origin', 'iteration', 'pressure', 'converged', 'energy_sigma'):
            assert restored.info[key] == original.info[key], key


def test_attributes_are_queryable():
    frames = labelled_si(4)
    del frames[0].info['virial']
    node = StructureSet.from_atoms(frames).store()
    assert node.num_structures == 4 == len(node)
    assert node.num_atoms == 32
    assert node.species == ['Si']
    assert node.labels == ['energy', 'forces']
    assert node.label_counts == {'energy': 4, 'forces': 4, 'virial': 3}
    assert node.config_types == {'dimer': 2, 'rss_random': 2}
    qb = orm.QueryBuilder().append(StructureSet, filters={'attributes.sha256': node.sha256}, project='id')
    assert qb.all(flat=True) == [node.pk]


def test_hash_depends_on_content_only():
    frames = labelled_si(3)
    first = StructureSet.from_atoms(frames)
    second = StructureSet.from_atoms([atoms.copy() for atoms in frames])
    assert first.sha256 == second.sha256
    frames[1].positions[0, 0] += 1e-9
    assert StructureSet.from_atoms(frames).sha256 != first.sha256


def test_from_file_and_write(tmp_path):
    frames = labelled_si(3)
    node = StructureSet.from_atoms(frames)
    path = node.write(tmp_path / 'copy.xyz')
    again = StructureSet.from_file(path)
    assert again.sha256 == node.sha256
    with node.as_path() as materialised:
        assert materialised.read_text() == path.read_text()


def test_lazy_iteration_and_indices():
    frames = labelled_si(6)
    node = StructureSet.from_atoms(frames).store()
    iterator = node.iter_atoms()
    first = next(iterator)
    assert np.array_equal(first.positions, frames[0].positions)
    picked = node.get_atoms([4, 1])
    assert np.array_equal(picked[0].positions, frames[4].positions)
    assert np.array_equal(picked[1].positions, frames[1].positions)
    with pytest.raises(ValueError, match='indices'):
        node.get_atoms([6])


def test_unlabelled_and_molecular_structures():
    dimer = Atoms('Si2', positions=[[0, 0, 0], [0, 0, 2.3]], cell=[20, 20, 20], pbc=False)
    node = StructureSet.from_atoms([dimer])
    assert node.labels == []
    assert node.get_atoms()[0].get_distance(0, 1) == pytest.approx(2.3)


def _bad(mutate, index=1):
    frames = labelled_si(3)
    mutate(frames[index])
    return frames


@pytest.mark.parametrize(
    'mutate, message',
    [
        (lambda a: a.positions.__setitem__((0, 0), np.nan), r'structure 1: field `positions`: non-finite'),
        (lambda a: a.info.__setitem__('energy', np.inf), r'structure 1: field `energy`'),
        (lambda a: a.info.__setitem__('energy', 'abc'), r'structure 1: field `energy`'),
        (lambda a: a.arrays['forces'].__setitem__((2, 1), np.nan), r'structure 1: field `forces`: non-finite'),
        (lambda a: a.info.__setitem__('virial', np.ones(6)), r'structure 1: field `virial`'),
        (lambda a: a.numbers.__setitem__(0, 0), r'structure 1: field `numbers`: unknown element'),
        (lambda a: a.positions.__setitem__(1, a.positions[0] + 0.05), r'structure 1: field `positions`: atoms overlap'),
    ],
)
def test_rejections(mutate, message):
    with pytest.raises(ValueError, match=message):
        StructureSet.from_atoms(_bad(mutate))


def test_rejects_forces_of_wrong_shape():
    frames = labelled_si(2)
    frames[1].info['energy'] = 1.0
    frames[1].new_array('forces_bad', np.zeros((8, 2)))
    frames[1].arrays['forces'] = np.zeros((8, 2))
    with pytest.raises(ValueError, match=r'structure 1: field `forces`: shape \(8, 2\)'):
        StructureSet.from_atoms(frames)


def test_rejects_overlap_across_periodic_boundary():
    atoms = Atoms('Si2', positions=[[0.01, 0, 0], [3.95, 0, 0]], cell=[4.0, 4.0, 4.0], pbc=True)
    with pytest.raises(ValueError, match=r'structure 0: field `positions`: atoms overlap'):
        StructureSet.from_atoms([atoms])


def test_rejects_empty_set_and_wrong_types(tmp_path):
    with pytest.raises(ValueError, match='field `structures`: the set is empty'):
        StructureSet.from_atoms([])
    with pytest.raises(ValueError, match='structure 0: field `structures`'):
        StructureSet.from_atoms(['not atoms'])
    with pytest.raises(ValueError, match='exactly one'):
        StructureSet()


def test_rejects_malformed_file(tmp_path):
    path = tmp_path / 'bad.xyz'
    path.write_text('2\nLattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3\nXx 0 0 0\nSi 1 1 1\n')
    with pytest.raises(ValueError, match='structure 0: field `species`: unknown element'):
        StructureSet.from_file(path)
    path.write_text('3\nProperties=species:S:1:pos:R:3\nSi 0 0 0\n')
    with pytest.raises(ValueError, match='not readable as extended XYZ'):
        StructureSet.from_file(path)
