"""A fake VASP for tests: real energies/forces/stress from an ASE calculator, written as VASP output files."""
