"""Calcfunctions of the validation: the QE/VASP reference side gathered, the comparison and the E–V plot."""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

__all__ = (
    'compare_formation_energies',
    'compare_validation',
    'complete_reference_results',
    'plot_validation_energy_volume',
    'plot_validation_formation_energies',
    'qe_reference_results',
    'system_phase_structures',
    'vasp_reference_results',
)


def _qe_energy(parameters: orm.Dict) -> float:
    """pw.x total energy in eV with QE's own CODATA-2006 constants (as the loop's reference labels)."""
    from ase.units import create_units
    from qe_tools import CONSTANTS

    return float(parameters['energy']) / CONSTANTS.hartree_to_ev * create_units('2006')['Hartree']


def _vasp_energy(misc: orm.Dict) -> float:
    """VASP total energy in eV: ``energy_free`` (TOTEN), the energy of the reference labels."""
    energies = misc['total_energies']
    if 'energy_free' not in energies:
        raise KeyError('misc.total_energies.energy_free: missing (set parser_settings.energy_type)')
    return float(energies['energy_free'])


def _relaxation_results(content: dict, nodes: dict, suffix: str, energy_of, failed: str) -> dict:
    """The reference side in the ``results`` format from ``relax_<phase>_<suffix>`` / ``_structure`` nodes."""
    from aiida_gaprss.rss.eos import fit_birch_murnaghan

    phases, curves, failures = {}, {}, []
    for name in content['phases']:
        if f'relax_{name}_{suffix}' not in nodes:
            failures.append({'phase': name, 'error': f'{failed} failed'})
            continue
        atoms = nodes[f'relax_{name}_structure'].get_ase()
        energy = energy_of(nodes[f'relax_{name}_{suffix}'])
        phases[name] = {
            'energy': energy,
            'energy_per_atom': energy / len(atoms),
            'volume_per_atom': atoms.get_volume() / len(atoms),
            'natoms': len(atoms),
            'converged': True,
            'status': 'converged',
        }
        points = []
        for key in sorted(nodes):
            if key.startswith(f'eos_{name}_') and key.endswith(f'_{suffix}'):
                frame = nodes[key[: -len(suffix)] + 'structure'].get_ase()
                points.append((frame.get_volume() / len(frame), energy_of(nodes[key]) / len(frame)))
        if points:
            points.sort()
            curve = {'volumes': [v for v, _ in points], 'energies': [e for _, e in points], 'fit': None,
                     'fit_error': None, 'converged': len(points) == content['num_points']}  # fmt: skip
            try:
                curve['fit'] = fit_birch_murnaghan(curve['volumes'], curve['energies']).as_dict()
            except ValueError as exception:
                curve['fit_error'] = str(exception)
            curves[name] = curve
    return {**content, 'phases': phases, 'energy_volume': curves, 'failures': failures}


@calcfunction
def qe_reference_results(settings: orm.Dict, **nodes) -> orm.Dict:
    """The reference side from ``PwRelaxWorkChain`` outputs, in the ``results`` format of the validation job.

    ``nodes``: ``relax_<phase>_parameters`` / ``relax_<phase>_structure`` of each phase's vc-relax and
    ``eos_<phase>_<i>_parameters`` / ``eos_<phase>_<i>_structure`` of its fixed-volume points.
    """
    return orm.Dict(_relaxation_results(settings.get_dict(), nodes, 'parameters', _qe_energy, 'PwRelaxWorkChain'))


@calcfunction
def vasp_reference_results(settings: orm.Dict, **nodes) -> orm.Dict:
    """The reference side from ``VaspRelaxWorkChain`` outputs, in the ``results`` format of the validation job.

    ``nodes``: ``relax_<phase>_misc`` / ``relax_<phase>_structure`` of each phase's relaxation (``misc`` of its final
    single point) and ``eos_<phase>_<i>_misc`` / ``eos_<phase>_<i>_structure`` of its fixed-volume points.
    """
    return orm.Dict(_relaxation_results(settings.get_dict(), nodes, 'misc', _vasp_energy, 'VaspRelaxWorkChain'))


@calcfunction
def complete_reference_results(previous: orm.Dict, computed: orm.Dict) -> orm.Dict:
    """A reused reference side completed with the phases it lacked, computed now
    (:func:`~aiida_gaprss.rss.validation.complete_reference_side`)."""
    from aiida_gaprss.rss.validation import complete_reference_side

    return orm.Dict(complete_reference_side(previous.get_dict(), computed.get_dict()))


@calcfunction
def compare_validation(potential: orm.Dict, **reference) -> dict:
    """Phase errors (each at its own method's minimum) and E–V curves of the potential and (optional) reference.

    ``reference`` holds at most one Dict, ``reference``, in the job's ``results`` format, and optionally ``phases``
    (a List): the validation's phases, when a reused reference side holds others too (they are left out).
    """
    from aiida_gaprss.rss.validation import phase_energy_errors

    pot = potential.get_dict()
    ref = reference['reference'].get_dict() if 'reference' in reference else None
    if ref is not None and 'phases' in reference:
        kept = set(reference['phases'].get_list())
        ref = {**ref, 'phases': {name: row for name, row in ref['phases'].items() if name in kept}}
        ref['energy_volume'] = {name: curve for name, curve in ref.get('energy_volume', {}).items() if name in kept}
    curves = {}
    for name, curve in pot.get('energy_volume', {}).items():
        curves.setdefault(name, {})['potential'] = curve
    if ref is not None:
        for name, curve in ref.get('energy_volume', {}).items():
            curves.setdefault(name, {})['reference'] = curve
    energy_volume = {'phases': curves, 'units': {'volume': 'Angstrom^3/atom', 'energy': 'eV/atom', 'b0': 'GPa'}}
    outputs = {'energy_volume': orm.Dict(energy_volume)}
    if ref is not None:
        errors = phase_energy_errors(pot['phases'], ref['phases'])
        for name, row in errors['phases'].items():
            row['potential_volume_per_atom'] = pot['phases'][name]['volume_per_atom']
            row['reference_volume_per_atom'] = ref['phases'][name]['volume_per_atom']
            millis = 1000.0 * row['error']
            row['display'] = '< 1 meV/atom (converged)' if row['converged'] else f'{millis:+.1f} meV/atom'
            fits = curves.get(name, {})
            for side in ('potential', 'reference'):
                fit = (fits.get(side) or {}).get('fit')
                if fit:
                    row[f'{side}_v0'] = fit['v0']
                    row[f'{side}_b0'] = fit['b0']
        outputs['phase_errors'] = orm.Dict(errors)
    return outputs


@calcfunction
def plot_validation_energy_volume(energy_volume: orm.Dict, title: orm.Str) -> orm.SinglefileData:
    """PNG of the E–V curves: potential solid, reference dashed (:func:`aiida_gaprss.plots.plot_energy_volume`)."""
    import io

    from aiida_gaprss.plots import plot_energy_volume

    curves = {}
    for name, sides in energy_volume['phases'].items():
        curves[name] = {side: (curve['volumes'], curve['energies']) for side, curve in sides.items()}
    data = plot_energy_volume(curves, None, title=title.value or None)
    return orm.SinglefileData(io.BytesIO(data), filename='energy_volume.png')


@calcfunction
def system_phase_structures(phases: orm.List) -> orm.Data:
    """The starting structures of a chemical system's phases (``SiC_3C``, ``Si_diamond``, …), ``info['phase']`` set."""
    from aiida_gaprss.data.structure_set import StructureSet
    from aiida_gaprss.rss.phases import build_system_phase

    return StructureSet.from_atoms([build_system_phase(name) for name in phases.get_list()])


def _compositions(names) -> dict:
    from aiida_gaprss.rss.phases import build_system_phase

    compositions = {}
    for name in names:
        symbols = build_system_phase(name).get_chemical_symbols()
        compositions[name] = {symbol: symbols.count(symbol) / len(symbols) for symbol in set(symbols)}
    return compositions


@calcfunction
def compare_formation_energies(elements: orm.List, potential: orm.Dict, **reference) -> orm.Dict:
    """Formation energies per atom and the formation-energy hull of a chemical system, per side, and their errors.

    ``potential`` and the optional ``reference`` are ``results`` of validation jobs (relaxed phases named as by
    :func:`aiida_gaprss.rss.phases.system_phase_names`); each side's elemental ground states are its own lowest pure
    phases (:func:`aiida_gaprss.rss.validation.formation_energy_table`).
    """
    from aiida_gaprss.rss.validation import ON_HULL_TOLERANCE, formation_energy_errors, formation_energy_table

    sides = {'potential': potential.get_dict()['phases']}
    if 'reference' in reference:
        sides['reference'] = reference['reference'].get_dict()['phases']
        if 'phases' in reference:  # a reused reference side of more phases (as in compare_validation)
            kept = set(reference['phases'].get_list())
            sides['reference'] = {name: row for name, row in sides['reference'].items() if name in kept}
    compositions = _compositions(sorted({name for phases in sides.values() for name in phases}))
    symbols = elements.get_list()
    content = {side: formation_energy_table(phases, compositions, symbols) for side, phases in sides.items()}
    if 'reference' in content:
        content['errors'] = formation_energy_errors(content['potential'], content['reference'])
    content['on_hull_tolerance'] = ON_HULL_TOLERANCE
    content['units'] = {'formation_energy': 'eV/atom', 'above_hull': 'eV/atom', 'composition': 'atomic fraction'}
    return orm.Dict(content)


@calcfunction
def plot_validation_formation_energies(formation_energies: orm.Dict, title: orm.Str) -> orm.SinglefileData:
    """PNG of the formation energies against composition, potential and reference with their hulls."""
    import io

    from aiida_gaprss.plots import plot_formation_energies

    content = formation_energies.get_dict()
    sides = {side: content[side] for side in ('potential', 'reference') if side in content}
    element = content['potential']['elements'][-1]
    data = plot_formation_energies(sides, element, None, title=title.value or None)
    return orm.SinglefileData(io.BytesIO(data), filename='formation_energies.png')
