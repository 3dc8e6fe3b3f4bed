"""``StudentPotential`` (``gaprss.student``): one fitted student of indirect learning (an MTP fitted by motep).

The node holds the files :func:`aiida_gaprss.students.mtp.fit_student` writes -- ``student.mtp`` (the MLIP-2
potential file) and ``student.json`` (settings, species and training errors) -- and records what matters for queries
as attributes. Its training set and its teacher are found by provenance, never through a path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pathlib

from aiida_gaprss.data.potential_base import PotentialBase
from aiida_gaprss.students.mtp import POTENTIAL_FILENAME, SETTINGS_FILENAME

__all__ = ('StudentPotential',)

LOGGER = logging.getLogger(__name__)

#: Files of a student folder, in the order they are stored.
FILENAMES = (POTENTIAL_FILENAME, SETTINGS_FILENAME)
#: Settings keys ``student.json`` must carry.
REQUIRED_SETTINGS = ('level', 'cutoff', 'species')


class StudentPotential(PotentialBase):
    """A fitted Moment Tensor Potential student: ``student.mtp`` plus ``student.json`` as one node.

    Attributes: ``kind`` (``'mtp'``), ``level``, ``cutoff``, ``min_dist`` (Å), ``elements``, ``weights``
    (energy : force : stress), ``seed``, ``max_iter``, ``tolerance``, ``iterations``, ``converged`` and
    ``final_loss`` of the optimisation (None for a fit without that record), ``num_parameters``,
    ``num_structures`` and ``num_atoms`` of the training set, ``training_errors`` (energy eV/atom and force eV/Å
    MAE/RMSE), ``motep_version``, ``filenames`` and ``sha256`` (of ``student.mtp``).
    """

    _folder_prefix = 'gaprss-student-'

    def __init__(self, folder: str | os.PathLike, **kwargs):
        """Build the node from a folder holding ``student.mtp`` and ``student.json``.

        Raises
        ------
        ValueError
            If a file is missing (the message names it), ``student.json`` is not valid JSON or lacks a required key.
        """
        super().__init__(**kwargs)
        folder = pathlib.Path(folder)
        missing = [name for name in FILENAMES if not (folder / name).is_file()]
        if missing:
            raise ValueError(f'field `folder`: {", ".join(missing)} missing from `{folder}`')
        try:
            settings = json.loads((folder / SETTINGS_FILENAME).read_text(encoding='utf-8'))
        except ValueError as exception:
            raise ValueError(f'field `folder`: {SETTINGS_FILENAME} is not valid JSON: {exception}') from exception
        if not isinstance(settings, dict):
            raise ValueError(f'field `folder`: {SETTINGS_FILENAME} does not hold a JSON object')
        absent = [key for key in REQUIRED_SETTINGS if key not in settings]
        if absent:
            raise ValueError(f'field `folder`: {SETTINGS_FILENAME} lacks {", ".join(absent)}')
        potential = (folder / POTENTIAL_FILENAME).read_bytes()
        if not potential.strip():
            raise ValueError(f'field `folder`: {POTENTIAL_FILENAME} is empty')
        self._put_files(folder, FILENAMES)
        optimisation = settings.get('optimisation') if isinstance(settings.get('optimisation'), dict) else {}
        self.base.attributes.set_many(
            {
                'kind': 'mtp',
                'level': int(settings['level']),
                'cutoff': float(settings['cutoff']),
                'min_dist': float(settings.get('min_dist', 1.5)),
                'elements': list(settings['species']),
                'weights': [float(w) for w in settings.get('weights', [])],
                'seed': settings.get('seed'),
                'max_iter': settings.get('max_iter'),
                'tolerance': settings.get('tolerance'),
                'iterations': optimisation.get('iterations'),
                'converged': optimisation.get('converged'),
                'final_loss': optimisation.get('final_loss'),
                'num_parameters': settings.get('num_parameters'),
                'num_structures': settings.get('num_structures'),
                'num_atoms': settings.get('num_atoms'),
                'training_errors': settings.get('training_errors', {}),
                'motep_version': settings.get('motep_version'),
                'filenames': list(FILENAMES),
                'sha256': hashlib.sha256(potential).hexdigest(),
            }
        )

    @property
    def kind(self) -> str:
        """Kind of student (``'mtp'``)."""
        return self.base.attributes.get('kind')

    @property
    def level(self) -> int:
        """Maximum MTP level."""
        return int(self.base.attributes.get('level'))

    @property
    def cutoff(self) -> float:
        """Cut-off radius (Å)."""
        return float(self.base.attributes.get('cutoff'))

    @property
    def training_errors(self) -> dict:
        """Training-set errors recorded by the fit (energy eV/atom, forces eV/Å)."""
        return dict(self.base.attributes.get('training_errors', {}))

    @property
    def settings(self) -> dict:
        """Content of the stored ``student.json``."""
        return json.loads(self.base.repository.get_object_content(SETTINGS_FILENAME, mode='r'))

    def get_calculator(self):
        """Return an ASE calculator (motep's ``MTP``, C engine) for this student.

        The files are read from a temporary copy, which is removed once the potential is loaded.
        """
        from aiida_gaprss.students.mtp import student_calculator

        with self.as_folder() as folder:
            return student_calculator(folder)

    def __str__(self) -> str:
        return f'{super().__str__()} MTP level {self.level} ({"".join(self.elements)}, sha256 {self.sha256[:10]})'
