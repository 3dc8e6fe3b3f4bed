"""Fake POTCAR files and an offline POTCAR family for aiida-vasp tests (no real VASP data involved)."""

from __future__ import annotations

import pathlib

from ase.data import atomic_masses, atomic_numbers

#: Valence electrons of the fake POTCARs (those of the standard PAW_PBE sets).
ZVAL = {'B': 3.0, 'C': 4.0, 'Si': 4.0, 'Ti': 4.0}
ENMAX = {'B': 318.6, 'C': 400.0, 'Si': 245.3, 'Ti': 178.3}


def fake_potcar(element: str) -> str:
    """Return the text of a fake POTCAR whose header aiida-vasp/parsevasp can read."""
    title = f'PAW_PBE {element} 01Jan2000'
    mass = atomic_masses[atomic_numbers[element]]
    return f"""  {title}
   {ZVAL[element]:.1f}
 parameters from PSCTR are:
   VRHFIN ={element}: fake
   LEXCH  = PE
   EATOM  =    10.0000 eV,    0.7350 Ry

   TITEL  = {title}
   LULTRA =        F    use ultrasoft PP ?
   IUNSCR =        1    unscreen: 0-lin 1-nonlin 2-no
   RPACOR =    1.500    partial core radius
   POMASS = {mass:8.3f}; ZVAL   = {ZVAL[element]:8.3f}    mass and valenz
   RCORE  =    1.900    outmost cutoff radius
   RWIGS  =    2.000; RWIGS  =    1.000    wigner-seitz radius (au A)
   ENMAX  =  {ENMAX[element]:7.3f}; ENMIN  =  150.000 eV
   ICORE  =        2    local potential
   LCOR   =        T    correct aug charges
   LPAW   =        T    paw PP
   EAUG   =  400.000
   DEXC   =    0.000
   RMAX   =    2.000    core radius for proj-oper
   RAUG   =    1.300    factor for augmentation sphere
   RDEP   =    2.000    radius for radial grids
   RDEPT  =    1.800    core radius for aug-charge
   NDATA  =      100
   STEP   =   20.000   1.050
END of PSCTR-controll parameters
 fake data for aiida-gaprss tests
 End of Dataset
"""


def write_fake_potcars(folder: pathlib.Path, elements) -> pathlib.Path:
    """Write ``folder/<element>/POTCAR`` for each element; return ``folder``."""
    for element in elements:
        (folder / element).mkdir(parents=True, exist_ok=True)
        (folder / element / 'POTCAR').write_text(fake_potcar(element))
    return folder


def upload_fake_potcar_family(folder: pathlib.Path, label: str, elements=('B', 'C', 'Si', 'Ti')) -> str:
    """Upload fake POTCARs as family ``label`` offline (idempotent); return the label."""
    from aiida_vasp.data.potcar import PotcarData

    write_fake_potcars(folder, elements)
    PotcarData.upload_potcar_family(str(folder), label, 'fake POTCARs for aiida-gaprss tests', stop_if_existing=False)
    return label
