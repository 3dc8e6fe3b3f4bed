"""Benchmark ``multicomponent_fit``: per-structure sigmas of a Si–C GAP fit, the hull ramp against one sigma for all.

Issue 23: which per-structure sigmas a composition run's fit should use. A small Si–C database as the tiny protocol's
first iteration makes it — the package's random cells of the whole system (``jobs.generate_pool.make_pool``, 2–6
atoms, 10 cells) and 3 dimers of every species pair — plus 12 strained, rattled crystals (3C and rock-salt SiC,
diamond Si and C), the low-energy environments later iterations add; Tersoff's Si–C potential labels everything
(the ASE engine's default reference); e0 = Tersoff's isolated atoms (0 eV).

Each database (``--seeds``: the seed of its random cells and of its strained crystals) is fitted as
``GapFitWorkChain`` fits a composition run (:func:`aiida_gaprss.jobs.gap_staged.staged_fit`:
``multicomponent_parameters`` with the tiny protocol's fit overrides, δ_2b over composition, the 2b → 2b+3b →
2b+3b+SOAP stages, the real ``gap_fit``) twice:

* ``hull``: the per-structure sigmas of the (composition, V, E) lower-hull ramp (GAP-RSS's (V, E) rule over
  composition, as libAtoms' wfl does for compounds);
* ``uniform``: ``default_sigma`` for every structure.

Reported per database and rule: training energy RMSE (all, cells, dimers; eV/atom), the RMSE on 12 other strained
crystals (seed + 100), and the formation energies of 3C, 2H, 4H and rock-salt SiC against diamond Si and diamond C
(each at its literature geometry) minus Tersoff's (meV/atom); then per rule the mean and largest |3C error| and the
mean held-out RMSE over the databases. The package's default is
:data:`aiida_gaprss.rss.gap_multicomponent.COMPOUND_HULL_SIGMAS`.

Usage::

    python benchmarks/multicomponent_fit.py [--seeds 1 2 3] [--tag T]

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
PHASES = ['Si_diamond', 'C_diamond', 'SiC_3C', 'SiC_2H', 'SiC_4H', 'SiC_rocksalt']
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


def database(calculator, seed: int = 1) -> tuple[list, list]:
    """(10 random Si–C cells, 9 dimers) as the tiny protocol's first iteration generates them (pool ``seed``),
    labelled."""
    from aiida_gaprss.jobs.ase_batch import label_structure
    from aiida_gaprss.jobs.generate_pool import make_pool
    from aiida_gaprss.workflows.compound_builder import compound_dimer_box

    box = compound_dimer_box({'dimer_box': 12.0}, ELEMENTS)
    parameters = {'composition': 'Si-C', 'mode': 'initial', 'n': 10, 'seed': seed, 'natoms': [2, 6], 'symmops': [1, 8]}
    frames = make_pool({**parameters, 'dimers': 3, 'dimer_box': box, 'processes': 1})
    frames = [label_structure(atoms, calculator) for atoms in frames]
    cells = [atoms for atoms in frames if atoms.info.get('config_type') != 'dimer']
    dimers = [atoms for atoms in frames if atoms.info.get('config_type') == 'dimer']
    return cells, dimers


def phases(calculator) -> dict:
    """Diamond Si and C and the SiC phases (3C, 2H, 4H, rock salt), literature geometries, labelled."""
    from aiida_gaprss.jobs.ase_batch import label_structure
    from aiida_gaprss.rss.phases import build_system_phase

    return {name: label_structure(build_system_phase(name), calculator) for name in PHASES}


def formation_energies(energies: dict) -> dict:
    """Formation energy (eV/atom) of each SiC phase from energies per atom, against diamond Si and diamond C."""
    mu = 0.5 * (energies['Si_diamond'] + energies['C_diamond'])
    return {name: energies[name] - mu for name in energies if name.startswith('SiC_')}


def formation_3c(energies: dict) -> float:
    """3C SiC's formation energy (eV/atom) from energies per atom of 3C, diamond Si and diamond C."""
    return formation_energies(energies)['SiC_3C']


def measure(train: list, test: list, known: dict, hull_sigmas: bool, e0: dict, workdir: str) -> dict:
    from aiida_gaprss.jobs.gap_staged import energy_errors, staged_fit
    from aiida_gaprss.rss.gap_multicomponent import multicomponent_parameters

    parameters = multicomponent_parameters(ELEMENTS, e0=e0, overrides=TINY_FIT)
    result = staged_fit(train, parameters, workdir, elements=ELEMENTS, hull_sigmas=hull_sigmas)
    errors = energy_errors(result['potential'], train)
    kinds = np.array([atoms.info.get('config_type') for atoms in train])

    def rmse(values):
        return float(np.sqrt(np.mean(np.asarray(values) ** 2))) if len(values) else None

    structures = list(known.values())
    predicted = energy_errors(result['potential'], structures) + [a.info['energy'] / len(a) for a in structures]
    formation = formation_energies(dict(zip(known, map(float, predicted), strict=True)))
    reference = formation_energies({name: a.info['energy'] / len(a) for name, a in known.items()})
    return {
        'hull_sigmas': hull_sigmas,
        'stages': result['stages'],
        'training_energy_rmse': rmse(errors),
        'training_energy_rmse_cells': rmse(errors[kinds != 'dimer']),
        'training_energy_rmse_dimers': rmse(errors[kinds == 'dimer']),
        'test_crystals_energy_rmse': rmse(energy_errors(result['potential'], test)),
        'formation_energies': formation,
        'formation_error_mev': {name: 1000 * (formation[name] - reference[name]) for name in formation},
        'rocksalt_above_tetrahedral': formation['SiC_rocksalt']
        > max(value for name, value in formation.items() if name != 'SiC_rocksalt'),
    }


def summary(rows: list) -> dict:
    """Over databases: mean and largest |3C formation error| (meV/atom), mean held-out RMSE (eV/atom)."""
    errors = [abs(row['formation_error_mev']['SiC_3C']) for row in rows]
    return {
        'mean_abs_3c_formation_error_mev': float(np.mean(errors)),
        'max_abs_3c_formation_error_mev': float(np.max(errors)),
        'mean_test_crystals_energy_rmse': float(np.mean([row['test_crystals_energy_rmse'] for row in rows])),
        'rocksalt_above_tetrahedral': sum(bool(row['rocksalt_above_tetrahedral']) for row in rows),
        'databases': len(rows),
    }


def main() -> None:
    from aiida_gaprss.jobs.ase_batch import label_structure
    from aiida_gaprss.rss.dimers import isolated_atoms
    from aiida_gaprss.rss.gap_multicomponent import COMPOUND_HULL_SIGMAS
    from aiida_gaprss.rss.potentials import tersoff_si_c

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', nargs='+', type=int, default=[1, 2, 3])
    parser.add_argument('--tag', default='')
    args = parser.parse_args()

    calculator = tersoff_si_c()
    e0 = {atoms.get_chemical_symbols()[0]: label_structure(atoms, calculator).info['energy'] for atoms in
          isolated_atoms(ELEMENTS)}  # fmt: skip
    known = phases(calculator)
    reference = {name: atoms.info['energy'] / len(atoms) for name, atoms in known.items()}
    figures = {
        'e0': e0,
        'reference_phase_energies': reference,
        'reference_formation_energies': formation_energies(reference),
        'default_hull_sigmas': COMPOUND_HULL_SIGMAS,
        'seeds': args.seeds,
        'databases': {},
    }
    for seed in args.seeds:
        cells, dimers = database(calculator, seed)
        train = cells + dimers + strained_crystals(12, seed, calculator)
        test = strained_crystals(12, seed + 100, calculator)
        figures['databases'][str(seed)] = {'n_train': len(train)}
        for rule, hull in (('hull', True), ('uniform', False)):
            with tempfile.TemporaryDirectory() as workdir:
                figures['databases'][str(seed)][rule] = measure(train, test, known, hull, e0, workdir)
    figures['summary'] = {
        rule: summary([figures['databases'][str(seed)][rule] for seed in args.seeds]) for rule in ('hull', 'uniform')
    }
    write_results('multicomponent_fit', figures, args.tag)


if __name__ == '__main__':
    main()
