"""Benchmark ``multicomponent_fit``: the Si–C GAP fit of a composition run before and after issue 23's fix (no AiiDA).

A small Si–C database as the tiny protocol's first iteration makes it: the package's random cells of the whole system
(``jobs.generate_pool.make_pool``, 2–6 atoms, seed 1) and 3 dimers of every species pair, labelled by Tersoff's Si–C
potential (the ASE engine's default reference); e0 = Tersoff's isolated atoms (0 eV). Two training sets:

* ``random``: 10 random cells + 9 dimers (what iteration 0 fits);
* ``crystals``: the same plus 12 strained, rattled crystals (3C and rock-salt SiC, diamond Si and C; seed 1), the
  low-energy environments a later iteration adds.

Each is fitted as ``GapFitWorkChain`` fits a composition run (:func:`aiida_gaprss.jobs.gap_staged.staged_fit`:
``multicomponent_parameters`` with the tiny protocol's fit overrides, δ_2b over composition, the 2b → 2b+3b →
2b+3b+SOAP stages, the real ``gap_fit`` at ``nice -n 10``), ``before`` with the per-structure sigmas of the
(composition, V, E) hull ramp (the previous default), ``after`` with the package's default now
(:data:`aiida_gaprss.rss.gap_multicomponent.COMPOUND_HULL_SIGMAS`). Reported: training energy RMSE (all, cells,
dimers; eV/atom), the error on 12 other strained crystals (seed 2), 3C SiC's formation energy against diamond Si and
diamond C (eV/atom) and Tersoff's.

Usage::

    python benchmarks/multicomponent_fit.py [--sets random crystals] [--tag T]

Ends by printing ONE JSON line, written to benchmarks/results/multicomponent_fit.json.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))

from _record import write_results  # noqa: E402

ELEMENTS = ['Si', 'C']
TINY_FIT = {
    'descriptors': {
        'distance_2b': {'n_sparse': 10},
        'angle_3b': {'n_sparse': 20},
        'soap': {'n_sparse': 40, 'n_max': 4, 'l_max': 4},
    }
}


def strained_crystals(n: int, seed: int, calculator) -> list:
    """``n`` strained, rattled 3C SiC, rock-salt SiC, diamond Si and diamond C cells (in turn), labelled."""
    from ase.build import bulk

    from aiida_gaprss.jobs.ase_batch import label_structure

    rng = np.random.default_rng(seed)
    prototypes = [
        bulk('SiC', 'zincblende', a=4.32, cubic=True),
        bulk('SiC', 'rocksalt', a=4.0),
        bulk('Si', 'diamond', a=5.43),
        bulk('C', 'diamond', a=3.57),
    ]
    frames = []
    for index in range(n):
        atoms = prototypes[index % 4].copy()
        deformation = np.eye(3) * rng.uniform(0.97, 1.04) + rng.normal(0.0, 0.02, (3, 3))
        atoms.set_cell(atoms.cell.array @ deformation, scale_atoms=True)
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        atoms.info['config_type'] = 'crystal'
        frames.append(label_structure(atoms, calculator))
    return frames


def database(calculator) -> tuple[list, list]:
    """(10 random Si–C cells, 9 dimers) as the tiny protocol's first iteration generates them, labelled."""
    from aiida_gaprss.jobs.ase_batch import label_structure
    from aiida_gaprss.jobs.generate_pool import make_pool
    from aiida_gaprss.workflows.compound_builder import compound_dimer_box

    box = compound_dimer_box({'dimer_box': 12.0}, ELEMENTS)
    parameters = {'composition': 'Si-C', 'mode': 'initial', 'n': 10, 'seed': 1, 'natoms': [2, 6], 'symmops': [1, 8]}
    frames = make_pool({**parameters, 'dimers': 3, 'dimer_box': box, 'processes': 1})
    frames = [label_structure(atoms, calculator) for atoms in frames]
    cells = [atoms for atoms in frames if atoms.info.get('config_type') != 'dimer']
    dimers = [atoms for atoms in frames if atoms.info.get('config_type') == 'dimer']
    return cells, dimers


def phases(calculator) -> dict:
    """3C SiC, diamond Si and diamond C at Tersoff's lattice constants, labelled."""
    from ase.build import bulk

    from aiida_gaprss.jobs.ase_batch import label_structure

    structures = {
        'SiC_3C': bulk('SiC', 'zincblende', a=4.36),
        'Si_diamond': bulk('Si', 'diamond', a=5.43),
        'C_diamond': bulk('C', 'diamond', a=3.57),
    }
    return {name: label_structure(atoms, calculator) for name, atoms in structures.items()}


def formation_3c(energies: dict) -> float:
    """3C SiC's formation energy (eV/atom) from energies per atom of 3C, diamond Si and diamond C."""
    return energies['SiC_3C'] - 0.5 * (energies['Si_diamond'] + energies['C_diamond'])


def measure(train: list, test: list, known: dict, hull_sigmas: bool, e0: dict, workdir: str) -> dict:
    from aiida_gaprss.jobs.gap_staged import energy_errors, staged_fit
    from aiida_gaprss.rss.gap_multicomponent import multicomponent_parameters

    parameters = multicomponent_parameters(ELEMENTS, e0=e0, overrides=TINY_FIT)
    result = staged_fit(
        train, parameters, workdir, elements=ELEMENTS, hull_sigmas=hull_sigmas, command=('nice', '-n', '10', 'gap_fit')
    )
    errors = energy_errors(result['potential'], train)
    kinds = np.array([atoms.info.get('config_type') for atoms in train])

    def rmse(values):
        return float(np.sqrt(np.mean(np.asarray(values) ** 2))) if len(values) else None

    structures = list(known.values())
    predicted = energy_errors(result['potential'], structures) + [a.info['energy'] / len(a) for a in structures]
    energies = dict(zip(known, map(float, predicted), strict=True))
    return {
        'hull_sigmas': hull_sigmas,
        'stages': result['stages'],
        'training_energy_rmse': rmse(errors),
        'training_energy_rmse_cells': rmse(errors[kinds != 'dimer']),
        'training_energy_rmse_dimers': rmse(errors[kinds == 'dimer']),
        'test_crystals_energy_rmse': rmse(energy_errors(result['potential'], test)),
        'phase_energies': energies,
        'formation_energy_3c': formation_3c(energies),
    }


def main() -> None:
    from aiida_gaprss.jobs.ase_batch import label_structure
    from aiida_gaprss.rss.dimers import isolated_atoms
    from aiida_gaprss.rss.gap_multicomponent import COMPOUND_HULL_SIGMAS
    from aiida_gaprss.rss.potentials import tersoff_si_c

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sets', nargs='+', default=['random', 'crystals'], choices=['random', 'crystals'])
    parser.add_argument('--tag', default='')
    args = parser.parse_args()

    calculator = tersoff_si_c()
    e0 = {atoms.get_chemical_symbols()[0]: label_structure(atoms, calculator).info['energy'] for atoms in
          isolated_atoms(ELEMENTS)}  # fmt: skip
    cells, dimers = database(calculator)
    test = strained_crystals(12, 2, calculator)
    known = phases(calculator)
    reference = {name: atoms.info['energy'] / len(atoms) for name, atoms in known.items()}
    figures = {
        'e0': e0,
        'reference_phase_energies': reference,
        'reference_formation_energy_3c': formation_3c(reference),
        'after_hull_sigmas': COMPOUND_HULL_SIGMAS,
        'sets': {},
    }
    for name in args.sets:
        train = cells + dimers + (strained_crystals(12, 1, calculator) if name == 'crystals' else [])
        figures['sets'][name] = {'n_train': len(train)}
        for variant, hull in (('before', True), ('after', COMPOUND_HULL_SIGMAS)):
            with tempfile.TemporaryDirectory() as workdir:
                figures['sets'][name][variant] = measure(train, test, known, hull, e0, workdir)
    write_results('multicomponent_fit', figures, args.tag)


if __name__ == '__main__':
    main()
