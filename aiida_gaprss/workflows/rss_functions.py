"""Calcfunctions of ``GapRssWorkChain``: the learning curve, the exclusions, the prediction errors and the PNG plots.

``plots.energy_scatter`` shows, for every iteration k >= 1, the energy of the structures labelled in iteration k as
predicted by the previous potential (the relaxation frames it produced) against the reference; iteration 0 has no
previous potential and is left out (its training errors are in the learning curve).
"""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

from aiida_gaprss.data.structure_set import StructureSet

__all__ = (
    'build_learning_curve',
    'collect_exclusions',
    'energy_scatter_data',
    'plot_energy_scatter_of_run',
    'plot_run_learning_curve',
    'plot_run_structure_map',
    'prediction_errors',
    'structure_map_colours',
    'structure_map_title',
)


@calcfunction
def build_learning_curve(**nodes) -> orm.Dict:
    """Learning curve from each iteration's fit metrics, selection and labels (keys ``<kind>_<iteration>``).

    ``training_energy_rmse`` is over every training structure, ``training_energy_rmse_cells`` over the periodic cells
    only (no dimers: :func:`aiida_gaprss.jobs.gap_errors.energy_rmse_of_cells`).
    """
    from aiida_gaprss.jobs.gap_errors import energy_rmse_of_cells

    iterations = sorted({int(key.rsplit('_', 1)[1]) for key in nodes})
    rows = []
    evaluations = 0
    for k in iterations:
        row = {'iteration': k}
        if f'selected_{k:02d}' in nodes:
            evaluations += len(nodes[f'selected_{k:02d}'])
        row['reference_evaluations'] = evaluations
        if f'database_{k:02d}' in nodes:
            row['database_size'] = len(nodes[f'database_{k:02d}'])
        if f'fit_{k:02d}' in nodes:
            metrics = nodes[f'fit_{k:02d}'].get_dict()
            for key in ('energy_rmse', 'forces_rmse', 'virial_rmse'):
                row[f'training_{key}'] = metrics.get(key)
            row['training_energy_rmse_cells'] = energy_rmse_of_cells(metrics.get('training_errors') or {})
        if f'prediction_{k:02d}' in nodes:
            row.update(nodes[f'prediction_{k:02d}'].get_dict())
        if f'validation_{k:02d}' in nodes:
            errors = nodes[f'validation_{k:02d}'].get_dict()
            row['phase_errors'] = {name: entry['error'] for name, entry in errors['phases'].items()}
            row['phase_max_abs_error'] = errors['max_abs_error']
            row['phases_converged'] = errors['all_converged']
        rows.append(row)
    return orm.Dict({'iterations': rows, 'units': {'energy': 'eV/atom', 'forces': 'eV/Angstrom'}})


@calcfunction
def collect_exclusions(**exclusions) -> orm.Dict:
    """All excluded reference calculations of a run, tagged with their iteration."""
    rows = []
    for key in sorted(exclusions):
        for record in exclusions[key].get_dict().get('excluded', []):
            rows.append({'iteration': int(key.rsplit('_', 1)[1]), **record})
    return orm.Dict({'excluded': rows, 'num_excluded': len(rows)})


@calcfunction
def prediction_errors(potential_labels: StructureSet, reference: StructureSet) -> orm.Dict:
    """Energy and force errors of the previous potential on the newly labelled structures (matched by origin)."""
    import numpy as np

    predicted = {atoms.info.get('origin'): atoms for atoms in potential_labels.iter_atoms()}
    energy, forces = [], []
    for atoms in reference.iter_atoms():
        other = predicted.get(atoms.info.get('origin'))
        if other is None or 'energy' not in atoms.info:
            continue
        energy.append((other.info['energy'] - atoms.info['energy']) / len(atoms))
        if 'forces' in atoms.arrays and 'forces' in other.arrays:
            forces.append((other.arrays['forces'] - atoms.arrays['forces']).ravel())
    result = {'prediction_count': len(energy)}
    if energy:
        result['prediction_energy_rmse'] = float(np.sqrt(np.mean(np.square(energy))))
        result['prediction_energy_mae'] = float(np.mean(np.abs(energy)))
    if forces:
        result['prediction_forces_rmse'] = float(np.sqrt(np.mean(np.square(np.concatenate(forces)))))
    return orm.Dict(result)


@calcfunction
def plot_run_learning_curve(learning_curve: orm.Dict) -> orm.SinglefileData:
    """PNG of the learning curve: training and prediction RMSE and per-phase errors vs reference evaluations."""
    import io

    from aiida_gaprss.plots import plot_learning_curve

    rows = learning_curve['iterations']
    phase_errors = {}
    for row in rows:
        for name, error in (row.get('phase_errors') or {}).items():
            phase_errors.setdefault(name, []).append((row['reference_evaluations'], error))
    data = plot_learning_curve(rows, None, phase_errors=phase_errors or None)
    return orm.SinglefileData(io.BytesIO(data), filename='learning_curve.png')


def energy_scatter_data(trajectories, labelled) -> tuple[list[float], list[float]]:
    """Reference and predicted energies per atom (eV/atom) of labelled structures matched to frames by origin."""
    predicted = {atoms.info.get('origin'): atoms for atoms in trajectories.iter_atoms()}
    reference, prediction = [], []
    for atoms in labelled.iter_atoms():
        other = predicted.get(atoms.info.get('origin'))
        if other is None or 'energy' not in atoms.info or 'energy' not in other.info:
            continue
        reference.append(float(atoms.info['energy']) / len(atoms))
        prediction.append(float(other.info['energy']) / len(other))
    return reference, prediction


@calcfunction
def plot_energy_scatter_of_run(**nodes) -> orm.SinglefileData:
    """PNG: predicted (previous potential) vs reference energy of the structures added in each iteration k >= 1.

    ``nodes``: ``trajectories_XX`` (the relaxation frames of iteration XX, energies of the previous potential) and
    ``labelled_XX`` (the same structures with reference labels), matched by ``info['origin']``.
    """
    import io

    from aiida_gaprss.plots import plot_energy_scatter

    per_iteration = {}
    for key in sorted(nodes):
        if not key.startswith('labelled_'):
            continue
        k = key.rsplit('_', 1)[1]
        reference, prediction = energy_scatter_data(nodes[f'trajectories_{k}'], nodes[key])
        if reference:
            per_iteration[int(k)] = (reference, prediction)
    data = plot_energy_scatter(per_iteration, None, title='previous potential vs reference')
    return orm.SinglefileData(io.BytesIO(data), filename='energy_scatter.png')


def structure_map_title(content: dict) -> str:
    """Title of the structure map: how many database structures it shows, and how many it leaves out.

    The map job leaves out dimers and non-periodic structures (``num_skipped``): a title counting only the others
    must say so, or a 54-structure database looks like 52.
    """
    shown, skipped = content['num_structures'], int(content.get('num_skipped') or 0)
    if not skipped:
        return f'{shown} database structures'
    return f'{shown} of {shown + skipped} database structures ({skipped} dimers and clusters left out)'


def structure_map_colours(content: dict) -> tuple[list[float], str | None]:
    """The colour of each point of the map and its label: the mean coordination for one element, the atomic
    fraction of the first species (alphabetically, e.g. C of Si–C) for a database of several."""
    n = content['num_structures']
    species = content.get('species') or []
    composition = content.get('composition') or {}
    if len(species) > 1 and species[0] in composition:
        return list(composition[species[0]][:n]), f'fraction of {species[0]}'
    return list(content['coordination'][:n]), None


@calcfunction
def plot_run_structure_map(structure_map: orm.Dict) -> orm.SinglefileData:
    """PNG of the KPCA structure map, coloured by mean coordination (by composition for several elements), known
    phases marked."""
    import io

    from aiida_gaprss.plots import plot_structure_map

    content = structure_map.get_dict()
    coordinates = content['coordinates']
    n = content['num_structures']
    marked = {name: coordinates[index] for name, index in content['phases'].items()}
    colours, label = structure_map_colours(content)
    data = plot_structure_map(
        coordinates[:n], colours, None, marked=marked, title=structure_map_title(content), colour_label=label
    )
    return orm.SinglefileData(io.BytesIO(data), filename='structure_map.png')
