"""Helpers of the reliability tests: the tiny seeded GAP-RSS run, a test structure, comparisons of runs."""

from __future__ import annotations

import json

import numpy as np
from aiida import orm
from ase.build import bulk

from tests.workflows.test_rss import tiny_builder

__all__ = (
    'PROVENANCE_KEYS',
    'ase_batches',
    'energies_of',
    'invoke',
    'labelled_content',
    'probe_structure',
    'tiny_builder',
)

#: ``info`` keys that name the calculation that made a label (pk/uuid differ between two runs by construction).
PROVENANCE_KEYS = ('reference_pk', 'reference_uuid')


def probe_structure():
    """A rattled, strained 8-atom diamond Si cell: not in any training set."""
    atoms = bulk('Si', 'diamond', 5.40, cubic=True)
    atoms.rattle(0.07, seed=42)
    atoms.set_cell(atoms.cell * [1.01, 0.99, 1.02], scale_atoms=True)
    return atoms


def energies_of(potential) -> dict:
    """Energy (eV), forces (eV/Å) and stress (eV/Å³) of the test structure with ``potential`` (a GapPotential)."""
    atoms = probe_structure()
    atoms.calc = potential.get_calculator()
    return {
        'energy': float(atoms.get_potential_energy()),
        'forces': np.array(atoms.get_forces()),
        'stress': np.array(atoms.get_stress()),
    }


def labelled_content(structure_set) -> list[dict]:
    """Every structure of a set as plain numbers, without the keys naming the calculation (comparable across runs)."""
    rows = []
    for atoms in structure_set.iter_atoms():
        info = {key: value for key, value in atoms.info.items() if key not in PROVENANCE_KEYS}
        rows.append(
            {
                'symbols': atoms.get_chemical_symbols(),
                'positions': atoms.positions.tolist(),
                'cell': atoms.cell.array.tolist(),
                'info': json.loads(json.dumps(info, default=lambda v: np.asarray(v).tolist(), sort_keys=True)),
                'forces': atoms.arrays['forces'].tolist() if 'forces' in atoms.arrays else None,
            }
        )
    return rows


def ase_batches(run: orm.WorkflowNode) -> list[orm.CalcJobNode]:
    """Every AseBatch CalcJob called anywhere below ``run``."""
    return [node for node in run.called_descendants if node.process_type == 'aiida.calculations:gaprss.ase_batch']


def invoke(*args: str) -> str:
    """Run ``gaprss ARGS`` in-process (click's CliRunner); return the output, fail with it on a non-zero exit.

    The loaded profile is passed with ``-p`` unless ``args`` name one (the CLI would otherwise load the default).
    """
    from aiida.manage import get_manager
    from click.testing import CliRunner

    from aiida_gaprss.cli import cmd_root

    args = list(args)
    if '-p' not in args:
        args += ['-p', get_manager().get_profile().name]
    result = CliRunner().invoke(cmd_root, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output
