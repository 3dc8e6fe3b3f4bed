"""Install the pseudopotentials Debian's ``quantum-espresso`` package ships as an aiida-pseudo family (offline).

Debian's ``/usr/share/espresso/pseudo`` holds several files per element and mixed functionals; the family takes one
PBE file per element (:data:`DEBIAN_PBE`) with its suggested cut-offs, so it can be used with
``PwBaseWorkChain.get_builder_from_protocol(..., overrides={'pseudo_family': label})`` and by
:class:`~aiida_gaprss.workflows.reference.ReferenceWorkChain`. **Ti is left out**: Debian ships only an LDA Ti
(``Ti.pz-sp-van_ak.UPF``), and mixing functionals silently would corrupt every label; a Ti structure is refused by
the reference WorkChain with a message saying so.
"""

from __future__ import annotations

import logging
import pathlib
import shutil
import tempfile

__all__ = (
    'DEBIAN_PBE',
    'DEBIAN_PSEUDO_FOLDER',
    'DEFAULT_FAMILY_LABEL',
    'MISSING_ELEMENT_HINTS',
    'check_family_elements',
    'install_debian_family',
)

LOGGER = logging.getLogger(__name__)

#: Where Debian's quantum-espresso-data puts its pseudopotentials.
DEBIAN_PSEUDO_FOLDER = pathlib.Path('/usr/share/espresso/pseudo')
#: Label of the family made from them.
DEFAULT_FAMILY_LABEL = 'gaprss/debian-pbe'
#: Element -> (file, suggested ecutwfc, suggested ecutrho) in Ry.
DEBIAN_PBE = {
    'B': ('B.pbe-n-kjpaw_psl.1.0.0.UPF', 43.0, 325.0),
    'C': ('C.pbe-n-kjpaw_psl.0.1.UPF', 37.0, 147.0),
    'Si': ('Si.pbe-nl-rrkjus_psl.1.0.0.UPF', 44.0, 175.0),
}
#: Why an element of the project is not in the family.
MISSING_ELEMENT_HINTS = {
    'Ti': (
        'Debian ships only an LDA Ti pseudopotential (Ti.pz-sp-van_ak.UPF), and the family is PBE: refusing to mix '
        'functionals. Use the VASP engine, or install a PBE Ti (e.g. from SSSP) into your own family and pass its '
        'label as `qe.pseudo_family`'
    ),
}


def install_debian_family(
    label: str = DEFAULT_FAMILY_LABEL,
    folder: str | pathlib.Path = DEBIAN_PSEUDO_FOLDER,
    elements: dict[str, tuple[str, float, float]] | None = None,
):
    """Install (once) a ``pseudo.family.cutoffs`` family from the local Debian folder; return it.

    Idempotent: if a family with ``label`` exists and holds the same files, it is returned unchanged; if it holds
    different ones, a ``ValueError`` is raised rather than silently using other pseudopotentials.

    Parameters
    ----------
    label
        Family label.
    folder
        Folder with the UPF files.
    elements
        Element -> (file name, ecutwfc, ecutrho in Ry); default :data:`DEBIAN_PBE`.

    Raises
    ------
    ValueError
        If a file is missing from ``folder`` or an existing family with this label differs.
    """
    from aiida import orm
    from aiida.common.exceptions import NotExistent
    from aiida_pseudo.data.pseudo import UpfData
    from aiida_pseudo.groups.family import CutoffsPseudoPotentialFamily

    elements = dict(DEBIAN_PBE if elements is None else elements)
    if 'Ti' in elements and 'pz' in elements['Ti'][0]:
        LOGGER.warning('element Ti: %s', MISSING_ELEMENT_HINTS['Ti'])
    folder = pathlib.Path(folder)
    wanted = {symbol: entry[0] for symbol, entry in elements.items()}
    for symbol, filename in wanted.items():
        if not (folder / filename).is_file():
            raise ValueError(f'element {symbol}: field `folder`: `{folder / filename}` does not exist')

    try:
        family = orm.load_group(label)
    except NotExistent:
        family = None
    if family is not None:
        present = {node.element: node.filename for node in family.nodes}
        if present != wanted:
            raise ValueError(f'field `label`: family `{label}` exists with other files ({present}), not {wanted}')
        LOGGER.info('pseudo family %s already installed', label)
        return family

    with tempfile.TemporaryDirectory(prefix='gaprss-pseudos-') as tmp:
        for filename in wanted.values():
            shutil.copy(folder / filename, pathlib.Path(tmp) / filename)
        family = CutoffsPseudoPotentialFamily.create_from_folder(
            pathlib.Path(tmp),
            label,
            description=f'PBE pseudopotentials from {folder} (Debian quantum-espresso), installed by aiida-gaprss',
            pseudo_type=UpfData,
        )
    cutoffs = {symbol: {'cutoff_wfc': entry[1], 'cutoff_rho': entry[2]} for symbol, entry in elements.items()}
    family.set_cutoffs(cutoffs, 'normal', unit='Ry')
    LOGGER.info('installed pseudo family %s (%s)', label, ', '.join(sorted(wanted)))
    return family


def check_family_elements(label: str, species) -> str | None:
    """Return an error message if family ``label`` is missing or lacks an element of ``species``, else ``None``."""
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    try:
        family = orm.load_group(label)
    except NotExistent:
        return f'field `qe.pseudo_family`: no family `{label}` (run `gaprss setup` or install_debian_family())'
    present = set(getattr(family, 'elements', None) or [node.element for node in family.nodes])
    for symbol in sorted(species):
        if symbol not in present:
            hint = MISSING_ELEMENT_HINTS.get(symbol, 'add one to the family or choose another family')
            return f'element {symbol}: no pseudopotential in family `{label}`: {hint}'
    return None
