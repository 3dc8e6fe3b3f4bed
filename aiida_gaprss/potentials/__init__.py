"""Potentials that ship with aiida-gaprss, usable without an AiiDA database (no AiiDA imports here).

>>> from aiida_gaprss import potentials
>>> potentials.available()                      # e.g. ['si-pbe-gaprss']
>>> atoms.calc = potentials.load('si-pbe-gaprss')   # an ASE calculator (quippy Potential)

Each potential is a folder ``aiida_gaprss/potentials/<name>/`` (the root can be replaced by the ``root`` argument of
every function or by ``$GAPRSS_POTENTIALS_ROOT``) holding:

``gap.xml.gz``, ``gap.xml.sparseX.*.gz``
    The GAP files as gap_fit wrote them, gzipped; :func:`load` decompresses them once into the user cache folder
    (``$XDG_CACHE_HOME/aiida-gaprss/potentials``) and checks them against ``metadata.json`` on every use.
``training.xyz``
    The training database exactly as gap_fit read it: extended XYZ with energy, forces, virial, config_type and the
    per-structure sigmas (``energy_sigma``, ``force_sigma``, ``virial_sigma``) of the fit.
``gap_fit_command.txt``
    The exact gap_fit command line (``at_file`` is the name the training file gets in a refit).
``reference.json``
    How the labels were computed: engine, code and version, functional, cut-offs, k-point spacing (2π included),
    smearing, pseudopotential files and md5 sums, read from the run's provenance.
``metadata.json``
    Name, elements, versions, the run's uuid and inputs, sizes and checksums of every file, the training errors,
    the known-phase energies at their 0 GPa minima and a check structure's energy and forces with this potential,
    the evaluation over fit seeds and the refit tolerances.
``README.md`` and ``*.png``
    The model card with its plots.

The folder is written by :func:`write_potential` (on the AiiDA side: ``gaprss potentials export``, see
:mod:`aiida_gaprss.workflows.shipping`) and reproduced by :func:`refit` + :func:`compare`
(``gaprss potentials refit NAME``). docs/potentials.md describes the format in full.
"""

from .build import (
    MAX_SIZE,
    PHASE_RELAX,
    REFIT_TOLERANCES,
    normalise_evaluation,
    parse_command,
    phase_energies,
    write_potential,
)
from .card import reference_summary, render_card
from .refit import compare, format_comparison, refit
from .store import (
    PACKAGE_ROOT,
    ROOT_VARIABLE,
    available,
    cache_root,
    check_energy,
    gap_folder,
    load,
    metadata,
    path,
    shipped_root,
    spec,
    verify,
)

__all__ = (
    'MAX_SIZE',
    'PACKAGE_ROOT',
    'PHASE_RELAX',
    'REFIT_TOLERANCES',
    'ROOT_VARIABLE',
    'available',
    'cache_root',
    'check_energy',
    'compare',
    'format_comparison',
    'gap_folder',
    'load',
    'metadata',
    'normalise_evaluation',
    'parse_command',
    'path',
    'phase_energies',
    'reference_summary',
    'refit',
    'render_card',
    'shipped_root',
    'spec',
    'verify',
    'write_potential',
)
