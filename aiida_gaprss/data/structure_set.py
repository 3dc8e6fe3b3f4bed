"""``StructureSet`` (``gaprss.structures``): one node per dataset of structures, backed by an extended-XYZ file."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import pathlib
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from aiida import orm
from ase import Atoms

from .extxyz import LABELS, check_frames, read_frames, read_structure_file, with_calculator_results, write_frames

__all__ = ('StructureSet',)

LOGGER = logging.getLogger(__name__)


class StructureSet(orm.Data):
    """A dataset of atomic structures with optional labels, stored as one extended-XYZ file.

    Tens of thousands of frames would be tens of thousands of nodes as ``StructureData``; a dataset is one node, and
    every derived subset gets its own node through a calcfunction or CalcJob so the provenance graph still shows where
    each structure came from.

    Labels are ``atoms.info['energy']`` (eV), ``atoms.arrays['forces']`` (eV/Å) and ``atoms.info['virial']``
    (3×3, eV). Per-structure information (``config_type``, ``origin``, ``iteration``, ``pressure`` in GPa,
    ``enthalpy`` in eV, ``energy_sigma``, ``force_sigma``, ``virial_sigma``, ...) lives in ``atoms.info``.

    Queryable attributes: ``num_structures``, ``num_atoms``, ``species``, ``labels`` (labels carried by every
    structure), ``label_counts``, ``config_types`` and ``sha256`` of the file content.
    """

    FILENAME = 'structures.xyz'

    def __init__(self, atoms: Iterable[Atoms] | None = None, *, file: str | os.PathLike | None = None, **kwargs):
        """Build a dataset from ``ase.Atoms`` or from an extended-XYZ file; exactly one of the two.

        Labels an ``ase.Atoms`` carries in its calculator (e.g. a ``SinglePointCalculator``: energy, forces, stress)
        are taken into ``info``/``arrays``; the objects given are not changed.

        Raises
        ------
        ValueError
            For an empty set or an invalid structure (the message names the structure index and the field).
        """
        super().__init__(**kwargs)
        if (atoms is None) == (file is None):
            raise ValueError('StructureSet: field `atoms` or `file`: give exactly one of the two')
        if file is not None:
            frames = read_structure_file(file)
        else:
            frames = [with_calculator_results(item, index) for index, item in enumerate(atoms)]
        self._set_frames(frames)

    @classmethod
    def from_atoms(cls, atoms: Iterable[Atoms], **kwargs) -> StructureSet:
        """Return a new (unstored) dataset holding ``atoms``."""
        return cls(atoms=atoms, **kwargs)

    @classmethod
    def from_file(cls, path: str | os.PathLike, **kwargs) -> StructureSet:
        """Return a new (unstored) dataset read from an extended-XYZ file."""
        return cls(file=path, **kwargs)

    def _set_frames(self, frames: Sequence[Atoms]) -> None:
        check_frames(frames)
        species: set[str] = set()
        label_counts: Counter[str] = Counter()
        config_types: Counter[str] = Counter()
        num_atoms = 0
        for atoms in frames:
            species.update(atoms.get_chemical_symbols())
            num_atoms += len(atoms)
            label_counts.update(
                label for label in LABELS if label in atoms.info or (label == 'forces' and 'forces' in atoms.arrays)
            )
            config_types[str(atoms.info.get('config_type', 'none'))] += 1

        handle = io.StringIO()
        write_frames(handle, frames)
        content = handle.getvalue().encode('utf-8')
        self.base.repository.put_object_from_bytes(content, self.FILENAME)
        self.base.attributes.set_many(
            {
                'num_structures': len(frames),
                'num_atoms': num_atoms,
                'species': sorted(species),
                'labels': [label for label in LABELS if label_counts[label] == len(frames)],
                'label_counts': {label: label_counts[label] for label in LABELS},
                'config_types': dict(config_types),
                'sha256': hashlib.sha256(content).hexdigest(),
                'filename': self.FILENAME,
            }
        )

    # -- attributes -------------------------------------------------------------------------------------------------
    @property
    def num_structures(self) -> int:
        """Number of structures in the set."""
        return self.base.attributes.get('num_structures')

    @property
    def num_atoms(self) -> int:
        """Total number of atoms over all structures."""
        return self.base.attributes.get('num_atoms')

    @property
    def species(self) -> list[str]:
        """Sorted chemical symbols present."""
        return list(self.base.attributes.get('species'))

    @property
    def labels(self) -> list[str]:
        """Labels (``energy``, ``forces``, ``virial``) carried by every structure."""
        return list(self.base.attributes.get('labels'))

    @property
    def label_counts(self) -> dict[str, int]:
        """How many structures carry each label."""
        return dict(self.base.attributes.get('label_counts'))

    @property
    def config_types(self) -> dict[str, int]:
        """Number of structures per ``config_type``."""
        return dict(self.base.attributes.get('config_types'))

    @property
    def sha256(self) -> str:
        """SHA-256 of the extended-XYZ content."""
        return self.base.attributes.get('sha256')

    def __len__(self) -> int:
        return self.num_structures

    # -- content ----------------------------------------------------------------------------------------------------
    def iter_atoms(self) -> Iterator[Atoms]:
        """Yield the structures one at a time, reading the file lazily."""
        with self.base.repository.open(self.FILENAME, mode='r') as handle:
            yield from read_frames(handle)

    def get_atoms(self, indices: Iterable[int] | None = None) -> list[Atoms]:
        """Return the structures (all, or those at ``indices``, in that order) as ``ase.Atoms``."""
        if indices is None:
            return list(self.iter_atoms())
        wanted = [int(i) for i in indices]
        for i in wanted:
            if not 0 <= i < self.num_structures:
                raise ValueError(f'field `indices`: {i} is out of range for {self.num_structures} structures')
        positions = set(wanted)
        found = {i: atoms for i, atoms in enumerate(self.iter_atoms()) if i in positions}
        return [found[i].copy() if wanted.count(i) > 1 else found[i] for i in wanted]

    def get_content(self) -> str:
        """Return the extended-XYZ text."""
        return self.base.repository.get_object_content(self.FILENAME, mode='r')

    def write(self, path: str | os.PathLike) -> pathlib.Path:
        """Write the extended-XYZ file to ``path`` and return it."""
        path = pathlib.Path(path)
        path.write_text(self.get_content(), encoding='utf-8')
        return path

    @contextlib.contextmanager
    def as_path(self) -> Iterator[pathlib.Path]:
        """Context manager giving the path of a temporary copy of the extended-XYZ file."""
        with tempfile.TemporaryDirectory(prefix='gaprss-structures-') as folder:
            yield self.write(pathlib.Path(folder) / self.FILENAME)

    def __str__(self) -> str:
        return (
            f'{super().__str__()} [{self.num_structures} structures, {self.num_atoms} atoms, '
            f'{"".join(self.species)}, labels={self.labels}]'
        )
