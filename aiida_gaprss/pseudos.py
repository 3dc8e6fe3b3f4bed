"""Install the embedded default's PBE pseudopotentials as an aiida-pseudo family (offline).

Debian's ``/usr/share/espresso/pseudo`` holds several files per element and mixed functionals; the family takes one
PBE file per element (:data:`DEBIAN_PBE`: B, C, Si) with its suggested cut-offs, plus the PBE Ti that
:mod:`aiida_gaprss.pseudo_generation` makes on the machine with Debian's ``ld1.x`` from pslibrary 1.0.0's parameters
(:data:`GENERATED_PBE`; Debian ships only an LDA Ti, ``Ti.pz-sp-van_ak.UPF``). Every file's header is checked to be
PBE: a family that would mix functionals (such as the LDA Ti beside PBE B, C, Si) is refused with a ``ValueError``.

The family can be used with ``PwBaseWorkChain.get_builder_from_protocol(..., overrides={'pseudo_family': label})``
and by :class:`~aiida_gaprss.workflows.reference.ReferenceWorkChain`. A family ``gaprss/debian-pbe`` installed before
Ti was generated (B, C, Si only) is completed in place by :func:`install_debian_family` (``gaprss setup``): the label,
the three files and their cut-offs stay, the generated Ti and its cut-offs are added; calculations already run keep
their own pseudopotential nodes.
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
    'DEFAULT_PBE',
    'FAMILY_FUNCTIONAL',
    'GENERATED_PBE',
    'MISSING_ELEMENT_HINTS',
    'check_family_elements',
    'install_debian_family',
    'pseudo_folder',
    'pseudo_path',
)

LOGGER = logging.getLogger(__name__)

#: Where Debian's quantum-espresso-data puts its pseudopotentials.
DEBIAN_PSEUDO_FOLDER = pathlib.Path('/usr/share/espresso/pseudo')
#: Label of the family made from them.
DEFAULT_FAMILY_LABEL = 'gaprss/debian-pbe'
#: The functional every file of the family must have (read from each UPF header).
FAMILY_FUNCTIONAL = 'PBE'
#: Element -> (file, suggested ecutwfc, suggested ecutrho) in Ry: Debian's files.
DEBIAN_PBE = {
    'B': ('B.pbe-n-kjpaw_psl.1.0.0.UPF', 43.0, 325.0),
    'C': ('C.pbe-n-kjpaw_psl.0.1.UPF', 37.0, 147.0),
    'Si': ('Si.pbe-nl-rrkjus_psl.1.0.0.UPF', 44.0, 175.0),
}
#: Element -> (file, suggested ecutwfc, suggested ecutrho) in Ry: generated with ld1.x
#: (:mod:`aiida_gaprss.pseudo_generation`; the cut-offs are the ones its UPF header suggests).
GENERATED_PBE = {
    'Ti': ('Ti.pbe-spn-kjpaw_psl.1.0.0.UPF', 52.0, 575.0),
}
#: The embedded default family: Debian's files and the generated ones.
DEFAULT_PBE = {**DEBIAN_PBE, **GENERATED_PBE}
#: Why an element of the project may be missing from the default family.
MISSING_ELEMENT_HINTS = {
    'Ti': (
        'the family was installed before its PBE Ti (generated with ld1.x from pslibrary 1.0.0) was added: run '
        "`gaprss setup` (it adds Ti to the family and changes nothing else). Debian's own Ti is LDA and is never "
        'mixed into this PBE family'
    ),
}


def pseudo_path(symbol: str, folder: str | pathlib.Path = DEBIAN_PSEUDO_FOLDER) -> pathlib.Path:
    """The UPF of ``symbol`` in the default family: Debian's file in ``folder``, or the generated one (made once)."""
    if symbol in GENERATED_PBE:
        from .pseudo_generation import generated_pseudo

        return generated_pseudo(GENERATED_PBE[symbol][0])
    if symbol in DEBIAN_PBE:
        return pathlib.Path(folder) / DEBIAN_PBE[symbol][0]
    raise ValueError(f'element {symbol}: no pseudopotential in the default family (known: {sorted(DEFAULT_PBE)})')


def pseudo_folder(symbols=None) -> pathlib.Path:
    """One folder holding the default family's files for ``symbols`` (default: all), for pw.x's ``pseudo_dir``.

    Debian's folder when every element is Debian's; else a folder of links in the generated pseudopotentials' cache.
    """
    symbols = sorted(DEFAULT_PBE if symbols is None else set(symbols))
    paths = {symbol: pseudo_path(symbol) for symbol in symbols}
    if all(path.parent == DEBIAN_PSEUDO_FOLDER for path in paths.values()):
        return DEBIAN_PSEUDO_FOLDER
    from .pseudo_generation import cache_folder

    folder = cache_folder() / 'pw-pseudo-dir'
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths.values():
        link = folder / path.name
        if link.is_symlink() and link.resolve() != path.resolve():
            link.unlink()
        if not link.exists():
            link.symlink_to(path)
    return folder


def _check_functional(symbol: str, path: pathlib.Path, functional: str) -> None:
    from .pseudo_generation import upf_functional

    found = upf_functional(path.read_text(errors='replace')[:200_000])
    if found != functional:
        raise ValueError(
            f'element {symbol}: `{path.name}` is {found}, the family is {functional}: refusing to mix functionals'
        )


def install_debian_family(
    label: str = DEFAULT_FAMILY_LABEL,
    folder: str | pathlib.Path = DEBIAN_PSEUDO_FOLDER,
    elements: dict[str, tuple[str, float, float]] | None = None,
    generated: dict[str, tuple[str, float, float]] | None = None,
    functional: str = FAMILY_FUNCTIONAL,
):
    """Install (once) a ``pseudo.family.cutoffs`` family of ``folder``'s and generated files; return it.

    Idempotent: if a family with ``label`` exists and holds the same files, it is returned unchanged. If it holds a
    subset of them that lacks only generated elements (a family installed before Ti was generated), those are added
    with their cut-offs and nothing else changes. If it holds other files, a ``ValueError`` is raised rather than
    silently using other pseudopotentials.

    Parameters
    ----------
    label
        Family label.
    folder
        Folder with the UPF files of ``elements``.
    elements
        Element -> (file name, ecutwfc, ecutrho in Ry) of files in ``folder``; default :data:`DEBIAN_PBE`.
    generated
        Element -> (file name, ecutwfc, ecutrho in Ry) of files made by
        :func:`~aiida_gaprss.pseudo_generation.generated_pseudo`; default :data:`GENERATED_PBE` when ``elements`` is
        not given, else none.
    functional
        The functional every file must have (read from its header).

    Raises
    ------
    ValueError
        If a file is missing, a file's functional is not ``functional`` (e.g. Debian's LDA Ti in the PBE family), or
        an existing family with this label holds other files.
    """
    from aiida import orm
    from aiida.common.exceptions import NotExistent
    from aiida_pseudo.data.pseudo import UpfData
    from aiida_pseudo.groups.family import CutoffsPseudoPotentialFamily

    if generated is None:
        generated = GENERATED_PBE if elements is None else {}
    elements = dict(DEBIAN_PBE if elements is None else elements)
    folder = pathlib.Path(folder)
    paths = {}
    for symbol, entry in elements.items():
        paths[symbol] = folder / entry[0]
        if not paths[symbol].is_file():
            raise ValueError(f'element {symbol}: field `folder`: `{paths[symbol]}` does not exist')
    for symbol, entry in generated.items():
        if symbol in elements:
            raise ValueError(f'element {symbol}: in both `elements` and `generated`')
        from .pseudo_generation import generated_pseudo

        paths[symbol] = generated_pseudo(entry[0])
    for symbol, path in paths.items():
        _check_functional(symbol, path, functional)
    everything = {**elements, **generated}
    wanted = {symbol: entry[0] for symbol, entry in everything.items()}
    cutoffs = {symbol: {'cutoff_wfc': entry[1], 'cutoff_rho': entry[2]} for symbol, entry in everything.items()}

    try:
        family = orm.load_group(label)
    except NotExistent:
        family = None
    if family is not None:
        present = {node.element: node.filename for node in family.nodes}
        if present == wanted:
            LOGGER.info('pseudo family %s already installed', label)
            return family
        missing = sorted(set(wanted) - set(present))
        same = all(wanted.get(symbol) == filename for symbol, filename in present.items())
        if not same or not missing or not set(missing) <= set(generated):
            raise ValueError(f'field `label`: family `{label}` exists with other files ({present}), not {wanted}')
        nodes = [UpfData.get_or_create(paths[symbol]) for symbol in missing]
        for node in nodes:
            if not node.is_stored:
                node.store()
        family.add_nodes(nodes)
        known = _cutoffs_in_ry(family, 'normal') if 'normal' in family.get_cutoff_stringencies() else {}
        family.set_cutoffs({**known, **{symbol: cutoffs[symbol] for symbol in missing}}, 'normal', unit='Ry')
        LOGGER.info('added %s to pseudo family %s', ', '.join(missing), label)
        return family

    with tempfile.TemporaryDirectory(prefix='gaprss-pseudos-') as tmp:
        for symbol, path in paths.items():
            shutil.copy(path, pathlib.Path(tmp) / wanted[symbol])
        family = CutoffsPseudoPotentialFamily.create_from_folder(
            pathlib.Path(tmp),
            label,
            description=(
                f'{functional} pseudopotentials from {folder} (Debian quantum-espresso)'
                + (f' and generated with ld1.x ({", ".join(sorted(generated))})' if generated else '')
                + ', installed by aiida-gaprss'
            ),
            pseudo_type=UpfData,
        )
    family.set_cutoffs(cutoffs, 'normal', unit='Ry')
    LOGGER.info('installed pseudo family %s (%s)', label, ', '.join(sorted(wanted)))
    return family


def _cutoffs_in_ry(family, stringency: str) -> dict:
    """The family's cut-offs of ``stringency`` in Ry, whatever unit they were stored in."""
    from aiida_pseudo.common.units import U

    unit = family.get_cutoffs_unit(stringency)
    return {
        symbol: {key: float(U.Quantity(value, unit).to('Ry').magnitude) for key, value in values.items()}
        for symbol, values in family.get_cutoffs(stringency).items()
    }


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
            hint = MISSING_ELEMENT_HINTS.get(symbol) if label == DEFAULT_FAMILY_LABEL else None
            hint = hint or 'add one to the family or choose another family'
            return f'element {symbol}: no pseudopotential in family `{label}`: {hint}'
    return None
