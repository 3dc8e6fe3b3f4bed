"""A fake VASP for tests: real energies/forces/stress from an ASE calculator, written as VASP output files."""

import pathlib

#: The fake ``vasp`` executable.
FAKE_VASP = pathlib.Path(__file__).parent / 'vasp'
#: Label of the offline family of fake POTCARs (:func:`tests.fake_vasp.potcars.upload_fake_potcar_family`).
FAMILY = 'gaprss-test-fake-potcars'
