"""``GapPotential`` (``gaprss.potential``): a fitted GAP — ``gap.xml`` with every sparseX companion file."""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import tempfile
import xml.etree.ElementTree as ET

from aiida_gaprss.data.gap_numbers import KEY_VALUE, check_gap_numbers, check_sparse_numbers
from aiida_gaprss.data.potential_base import PotentialBase

__all__ = ('GapPotential', 'parse_gap_xml')

LOGGER = logging.getLogger(__name__)


def _descriptor_summary(text: str) -> dict:
    """Summarise one ``<descriptor>`` string of gap.xml: its type and the hyper-parameters that matter."""
    words = text.split()
    summary: dict = {'type': words[0] if words else 'unknown', 'string': ' '.join(words)}
    for key, value in KEY_VALUE.findall(text):
        value = value.strip('{}"').strip()
        if key in ('cutoff', 'delta', 'atom_sigma', 'zeta', 'theta_uniform', 'cutoff_transition_width'):
            summary[key] = float(value)
        elif key in ('n_sparse', 'n_max', 'l_max', 'order'):
            summary[key] = int(value)
        elif key in ('Z', 'Z1', 'Z2', 'species_Z'):
            summary.setdefault('Z', set()).update(int(z) for z in value.split())
    summary['Z'] = sorted(summary.get('Z', ()))
    return summary


def parse_gap_xml(path: str | os.PathLike) -> dict:
    """Read what a GapPotential records from a gap.xml file.

    Returns
    -------
    dict
        ``label``, ``sparse_files`` (with their md5 sums and sparse-point counts), ``descriptors`` (summaries),
        ``elements`` (symbols of the species in the descriptors), ``e0`` (non-zero isolated-atom energies by
        symbol) and ``command_line`` (as recorded by gap_fit, if present).

    Raises
    ------
    ValueError
        If the file is not a GAP potential, or holds a number quippy could not read (which would abort the process;
        :func:`aiida_gaprss.data.gap_numbers.check_gap_numbers`).
    """
    from ase.data import chemical_symbols

    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exception:
        raise ValueError(f'field `gap.xml`: not valid XML: {exception}') from exception
    params = root.find('GAP_params')
    if params is None:
        raise ValueError('field `gap.xml`: no <GAP_params> element: not a GAP potential file')
    check_gap_numbers(params)

    sparse = []
    for coordinates in params.iter('gpCoordinates'):
        filename = coordinates.get('sparseX_filename')
        if filename:
            sparse.append(
                {
                    'filename': filename,
                    'md5': coordinates.get('sparseX_md5sum'),
                    'n_sparse': int(coordinates.get('n_sparseX', 0)),
                }
            )
    descriptors = [_descriptor_summary(node.text or '') for node in params.iter('descriptor')]
    numbers = sorted({z for descriptor in descriptors for z in descriptor['Z']})
    e0 = {}
    for node in params.iter('e0'):
        value = float(node.get('value', 0.0))
        if value != 0.0:
            e0[chemical_symbols[int(node.get('Z'))]] = value
    command = next(root.iter('command_line'), None)
    return {
        'label': params.get('label'),
        'sparse_files': sparse,
        'descriptors': descriptors,
        'elements': [chemical_symbols[z] for z in numbers],
        'e0': e0,
        'command_line': (command.text or '').strip() if command is not None else '',
    }


class GapPotential(PotentialBase):
    """A fitted Gaussian Approximation Potential: gap.xml plus every sparseX companion, as one node.

    Attributes: ``xml_name``, ``filenames``, ``elements``, ``descriptors`` (type and hyper-parameters of each),
    ``n_sparse`` (per descriptor), ``e0``, ``label``, ``command_line`` (the exact gap_fit command) and ``sha256``
    (over all files, in name order). Its training set is its input by provenance, never a path.
    """

    _folder_prefix = 'gaprss-gap-'

    def __init__(self, folder: str | os.PathLike, *, command_line: str | None = None, xml_name: str = 'gap.xml', **kw):
        """Build the node from a folder holding ``xml_name`` and the sparseX files it refers to.

        Raises
        ------
        ValueError
            If the XML file is missing or invalid, holds a number quippy could not read (checked here, so that
            :meth:`get_calculator` cannot abort the Python process), or refers to a sparseX file that is not in the
            folder or does not match its md5 sum.
        """
        super().__init__(**kw)
        folder = pathlib.Path(folder)
        xml_path = folder / xml_name
        if not xml_path.is_file():
            raise ValueError(f'field `folder`: `{xml_path}` does not exist')
        info = parse_gap_xml(xml_path)
        filenames = [xml_name]
        for sparse in info['sparse_files']:
            sparse_path = folder / sparse['filename']
            if not sparse_path.is_file():
                raise ValueError(
                    f'field `folder`: gap.xml refers to sparseX file `{sparse["filename"]}`, which is missing from '
                    f'`{folder}`'
                )
            content = sparse_path.read_bytes()
            if sparse['md5']:
                digest = hashlib.md5(content, usedforsecurity=False).hexdigest()
                if digest != sparse['md5']:
                    raise ValueError(f'field `folder`: sparseX file `{sparse["filename"]}` does not match its md5 sum')
            else:  # no md5 sum to vouch for it: read its numbers as quippy will
                check_sparse_numbers(content, sparse['filename'])
            filenames.append(sparse['filename'])

        sha = hashlib.sha256()
        for name, content in self._put_files(folder, sorted(filenames)).items():
            sha.update(name.encode())
            sha.update(content)

        self.base.attributes.set_many(
            {
                'xml_name': xml_name,
                'filenames': sorted(filenames),
                'label': info['label'],
                'elements': info['elements'],
                'descriptors': info['descriptors'],
                'n_sparse': [sparse['n_sparse'] for sparse in info['sparse_files']],
                'e0': info['e0'],
                'command_line': command_line if command_line is not None else info['command_line'],
                'sha256': sha.hexdigest(),
            }
        )

    @property
    def xml_name(self) -> str:
        """Name of the potential's XML file."""
        return self.base.attributes.get('xml_name')

    @property
    def descriptors(self) -> list[dict]:
        """Summary of each descriptor (type, cut-off, δ, sparse points, ...)."""
        return list(self.base.attributes.get('descriptors'))

    @property
    def command_line(self) -> str:
        """The exact gap_fit command line that produced the potential."""
        return self.base.attributes.get('command_line')

    def write_folder(self, folder: str | os.PathLike) -> pathlib.Path:
        """Write every file of the potential into ``folder`` and return the path of the XML file."""
        return self.write_files(folder) / self.xml_name

    def get_calculator(self, **kwargs):
        """Return a quippy ``Potential`` (an ASE calculator) for this GAP.

        The files are materialised in a temporary folder that lives as long as the calculator. Their numbers are
        checked again first (a node imported from an archive was never built by the constructor): a corrupted one is
        a ``ValueError``, not a Fortran abort of the process.
        """
        from quippy.potential import Potential

        folder = tempfile.TemporaryDirectory(prefix=self._folder_prefix)
        xml = self.write_folder(folder.name)
        parse_gap_xml(xml)
        calculator = Potential(param_filename=str(xml), **kwargs)
        calculator._gaprss_folder = folder  # keeps the files alive with the calculator
        return calculator
