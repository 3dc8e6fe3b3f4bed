"""``PotentialBase``: what the file-backed potential nodes share (GapPotential, StudentPotential).

A potential node keeps its files in the node's repository, their names in the attribute ``filenames`` and a SHA-256
in ``sha256`` (each subclass says over what), the chemical symbols in ``elements``; it gives the files back in a
folder. The base class is not a registered data plugin and is never stored itself: the node types (and so the type
strings in a database or an archive) stay those of the subclasses' entry points.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from typing import TypeVar

from aiida import orm

__all__ = ('PotentialBase',)

_Potential = TypeVar('_Potential', bound='PotentialBase')


class PotentialBase(orm.Data):
    """Base of file-backed potential nodes: files in the repository; ``filenames``, ``elements``, ``sha256``."""

    #: Prefix of the temporary folders of :meth:`as_folder`.
    _folder_prefix = 'gaprss-potential-'

    @classmethod
    def from_folder(cls: type[_Potential], folder: str | os.PathLike, **kwargs) -> _Potential:
        """Return a new (unstored) node from the files in ``folder`` (the same as calling the class)."""
        return cls(folder, **kwargs)

    def _put_files(self, folder: pathlib.Path, names: Iterable[str]) -> dict[str, bytes]:
        """Store the files ``names`` of ``folder`` in the node's repository, in that order; return their contents."""
        contents = {}
        for name in names:
            contents[name] = (folder / name).read_bytes()
            self.base.repository.put_object_from_bytes(contents[name], name)
        return contents

    @property
    def elements(self) -> list[str]:
        """Chemical symbols the potential describes."""
        return list(self.base.attributes.get('elements'))

    @property
    def sha256(self) -> str:
        """SHA-256 recorded when the node was made (see the subclass for what it covers)."""
        return self.base.attributes.get('sha256')

    @property
    def filenames(self) -> list[str]:
        """Names of the stored files."""
        return list(self.base.attributes.get('filenames'))

    def write_files(self, folder: str | os.PathLike) -> pathlib.Path:
        """Write every stored file into ``folder`` (created if needed) and return it."""
        folder = pathlib.Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name in self.filenames:
            with self.base.repository.open(name, mode='rb') as source, open(folder / name, 'wb') as target:
                shutil.copyfileobj(source, target)
        return folder

    @contextlib.contextmanager
    def as_folder(self) -> Iterator[pathlib.Path]:
        """Context manager giving a temporary folder holding the node's files."""
        with tempfile.TemporaryDirectory(prefix=self._folder_prefix) as folder:
            yield self.write_files(folder)
