"""Teacher molecular dynamics for indirect learning (seed 003): compression ramps and melt--quench.

Any ASE calculator drives the MD (the teacher GAP through quippy in production, Stillinger--Weber Si in tests).
A run is a *schedule*: a list of stages, each with a number of steps and linear ramps of the target temperature
and (optionally) pressure. Targets are updated every ``update_every`` steps, so a pressure ramp is a
constant-rate ramp in steps of ``(p_end - p_start) * update_every / steps``.

* NVT stages (``p_start`` is None): Langevin thermostat (``ase.md.langevin.Langevin``).
* NPT stages: isotropic Berendsen (``ase.md.nptberendsen.NPTBerendsen``, robust from hot random starts; the
  default) or isotropic Martyna--Tobias--Klein (``ase.md.nose_hoover_chain.IsotropicMTKNPT``, ase >= 3.27;
  correct NPT ensemble). The MTK target pressure is changed through its ``_pressure_au`` attribute (ase has no
  public setter).

Snapshots are taken every ``snapshot_every`` steps and carry the teacher's labels (``info['energy']`` eV,
``arrays['forces']`` eV/Angstrom, ``info['virial']`` eV) plus ``info``: ``time_ps``, ``step``, ``stage``,
``temperature`` (instantaneous, K), ``temperature_target`` (K), ``pressure_target`` (GPa, NPT stages only),
``pressure_instantaneous`` (GPa, virial + kinetic, periodic cells), ``config_type`` (the schedule's name).

Protocols (:data:`PROTOCOLS`): ``fast`` (32 atoms, a few ps: tests and laptops; a GAP teacher costs ~0.1-0.5 s a
step), ``moderate`` (216 atoms, 0.2 ps at 500 K then a 2 ps ramp to 20 GPa that the pressure follows: a Berendsen
barostat with ``taup_fs`` 100 fs; a few CPU hours of a GAP teacher, 2 cores) and ``precise`` (the paper: 1,000 atoms;
50 ps at 500 K then a 200 ps ramp to 20 GPa; melt--quench at 10^11 K/s; cluster scale).

Barostat keys: ``taup_fs`` (Berendsen's ``taup``, MTK's ``pdamp``) and ``compressibility`` (1/GPa, Berendsen only).
The Berendsen cell relaxes towards the target with the time constant ``taup / (B * compressibility)`` (B the bulk
modulus, ~100 GPa for Si, so ~``taup``), and a constant-rate ramp lags by rate x that time: 1 ps behind a 10 GPa/ps
ramp is 10 GPa, which is why ``fast`` (1 ps) never gets near 20 GPa in a short ramp and ``moderate`` uses 100 fs.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from collections.abc import Sequence

import numpy as np
from ase import Atoms, units
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

from aiida_gaprss.common import checks
from aiida_gaprss.protocols import md_protocols

logger = logging.getLogger(__name__)

__all__ = [
    'BAROSTATS',
    'PROTOCOLS',
    'get_protocol',
    'random_start',
    'compression_schedule',
    'melt_quench_schedule',
    'run_schedule',
    'compression_md',
    'melt_quench',
]

#: Protocol presets (``aiida_gaprss/protocols/md.yaml``). Times in ps, temperatures in K, pressures in GPa, rates in
#: K/ps (1 K/ps = 10^12 K/s).
PROTOCOLS = md_protocols()

#: Barostats the MD knows.
BAROSTATS = ('berendsen', 'mtk')
#: Isothermal compressibility used by the Berendsen barostat (1/GPa; Si bulk modulus ~100 GPa).
DEFAULT_COMPRESSIBILITY = 0.01
#: Barostat time constant (fs): Berendsen's ``taup``, MTK's ``pdamp``.
DEFAULT_TAUP_FS = 1000.0


def get_protocol(name: str = 'fast', overrides: dict | None = None) -> dict:
    """Return a deep copy of a protocol preset, updated (one level deep for nested dicts) with ``overrides``."""
    if name not in PROTOCOLS:
        raise ValueError(f'protocol: expected one of {sorted(PROTOCOLS)}, got {name!r}')
    protocol = copy.deepcopy(PROTOCOLS[name])
    for key, value in (overrides or {}).items():
        if key not in protocol:
            raise ValueError(f'protocol[{key!r}]: unknown key')
        if isinstance(protocol[key], dict):
            if not isinstance(value, dict):
                raise ValueError(f'protocol[{key!r}]: expected a dict')
            unknown = sorted(set(value) - set(protocol[key]))
            if unknown:
                raise ValueError(f'protocol[{key!r}][{unknown[0]!r}]: unknown key')
            protocol[key].update(value)
        else:
            protocol[key] = value
    return protocol


def random_start(
    natoms: int, element: str = 'Si', *, volume_per_atom: float = 20.0, min_distance: float = 2.0, seed: int
) -> Atoms:
    """Random positions in a cubic periodic box, no two atoms closer than ``min_distance`` (Angstrom).

    Raises
    ------
    ValueError
        If the arguments are out of range or the atoms cannot be placed (box too dense for ``min_distance``).
    """
    checks.positive_integer(natoms, 'natoms')
    if not volume_per_atom > 0:
        raise ValueError(f'volume_per_atom: expected > 0, got {volume_per_atom!r}')
    if not min_distance >= 0:
        raise ValueError(f'min_distance: expected >= 0, got {min_distance!r}')
    rng = np.random.default_rng(seed)
    length = float(natoms * volume_per_atom) ** (1.0 / 3.0)
    positions = np.empty((0, 3))
    attempts = 0
    while len(positions) < natoms:
        attempts += 1
        if attempts > 2000 * natoms:
            raise ValueError(
                f'min_distance: cannot place {natoms} atoms {min_distance} A apart at {volume_per_atom} A^3/atom'
            )
        trial = rng.uniform(0.0, length, 3)
        if len(positions):
            delta = positions - trial
            delta -= length * np.round(delta / length)
            if np.min(np.einsum('ij,ij->i', delta, delta)) < min_distance**2:
                continue
        positions = np.vstack([positions, trial])
    return Atoms(f'{element}{natoms}', positions=positions, cell=[length] * 3, pbc=True)


def _stage(name, steps, t_start, t_end, p_start=None, p_end=None) -> dict:
    return {'name': name, 'steps': int(steps), 't_start': float(t_start), 't_end': float(t_end),
            'p_start': None if p_start is None else float(p_start),
            'p_end': None if p_end is None else float(p_end)}  # fmt: skip


def _steps(ps: float, timestep_fs: float, update_every: int) -> int:
    """Number of steps for ``ps`` picoseconds, rounded up to a multiple of ``update_every``."""
    steps = int(round(1000.0 * float(ps) / float(timestep_fs)))
    return int(math.ceil(steps / update_every) * update_every)


def compression_schedule(protocol: dict) -> list[dict]:
    """Stages of the compression run: NVT thermalisation at T, then an NPT ramp p_start -> p_max at T."""
    c = protocol['compression']
    dt, k = protocol['timestep_fs'], protocol['update_every']
    stages = []
    if c['thermalise_ps'] > 0:
        stages.append(_stage('thermalise', _steps(c['thermalise_ps'], dt, k), c['temperature'], c['temperature']))
    if c['ramp_ps'] > 0:
        stages.append(
            _stage('ramp', _steps(c['ramp_ps'], dt, k), c['temperature'], c['temperature'], c['p_start'], c['p_max'])
        )
    return stages


def melt_quench_schedule(protocol: dict) -> list[dict]:
    """Stages of melt--quench: hold at ``t_melt``, cool at ``quench_rate`` (K/ps) to ``t_final``, optional anneal.

    ``pressure`` None gives NVT stages, a number NPT stages at that pressure (GPa).
    """
    m = protocol['melt_quench']
    dt, k = protocol['timestep_fs'], protocol['update_every']
    if not m['quench_rate'] > 0:
        raise ValueError(f"protocol['melt_quench']['quench_rate']: expected > 0 K/ps, got {m['quench_rate']!r}")
    p = m.get('pressure')
    stages = []
    if m['melt_ps'] > 0:
        stages.append(_stage('melt', _steps(m['melt_ps'], dt, k), m['t_melt'], m['t_melt'], p, p))
    quench_ps = abs(m['t_melt'] - m['t_final']) / m['quench_rate']
    stages.append(_stage('quench', _steps(quench_ps, dt, k), m['t_melt'], m['t_final'], p, p))
    if m.get('anneal_ps', 0) > 0:
        stages.append(_stage('anneal', _steps(m['anneal_ps'], dt, k), m['t_final'], m['t_final'], p, p))
    return stages


def _instantaneous_pressure(atoms: Atoms) -> float | None:
    if not all(atoms.pbc):
        return None
    stress = atoms.get_stress(include_ideal_gas=True, voigt=True)
    return float(-np.mean(stress[:3]) / units.GPa)


def _snapshot(atoms: Atoms, *, time_ps, step, stage, t_target, p_target, config_type) -> Atoms:
    snap = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    snap.set_velocities(atoms.get_velocities())
    snap.info['energy'] = float(atoms.get_potential_energy())
    snap.arrays['forces'] = np.array(atoms.get_forces())
    if all(atoms.pbc):
        snap.info['virial'] = -np.array(atoms.get_stress(voigt=False)) * atoms.get_volume()
    snap.info['time_ps'] = float(time_ps)
    snap.info['step'] = int(step)
    snap.info['stage'] = stage
    snap.info['temperature'] = float(atoms.get_temperature())
    snap.info['temperature_target'] = float(t_target)
    if p_target is not None:
        snap.info['pressure_target'] = float(p_target)
    p_inst = _instantaneous_pressure(atoms)
    if p_inst is not None:
        snap.info['pressure_instantaneous'] = p_inst
    snap.info['config_type'] = config_type
    return snap


def _make_dynamics(
    atoms, stage, *, timestep_fs, t0, p0, barostat, friction_per_fs, taut_fs, taup_fs, compressibility, rng
):
    dt = timestep_fs * units.fs
    if stage['p_start'] is None:
        from ase.md.langevin import Langevin

        return Langevin(atoms, dt, temperature_K=t0, friction=friction_per_fs / units.fs, fixcm=False, rng=rng)
    if barostat == 'berendsen':
        from ase.md.nptberendsen import NPTBerendsen

        return NPTBerendsen(
            atoms, dt, temperature_K=t0, pressure_au=p0 * units.GPa, taut=taut_fs * units.fs,
            taup=taup_fs * units.fs, compressibility_au=compressibility / units.GPa,
        )  # fmt: skip
    from ase.md.nose_hoover_chain import IsotropicMTKNPT

    return IsotropicMTKNPT(
        atoms, dt, temperature_K=t0, pressure_au=p0 * units.GPa, tdamp=taut_fs * units.fs, pdamp=taup_fs * units.fs
    )


def _set_targets(dyn, stage, temperature, pressure, barostat):
    if stage['p_start'] is None:
        dyn.set_temperature(temperature_K=temperature)
    elif barostat == 'berendsen':
        dyn.set_temperature(temperature_K=temperature)
        dyn.pressure = pressure * units.GPa  # NPTBerendsen.set_pressure is broken in ase 3.29
    else:
        # ase has no public setters for MTK: update the targets (the chain masses stay those of the stage start)
        dyn._temperature_K = temperature  # noqa: SLF001
        dyn._kT = units.kB * temperature  # noqa: SLF001
        dyn._thermostat._kT = units.kB * temperature  # noqa: SLF001
        dyn._barostat._kT = units.kB * temperature  # noqa: SLF001
        dyn._pressure_au = pressure * units.GPa  # noqa: SLF001


@contextlib.contextmanager
def _stress_with_forces(calculator, atoms: Atoms):
    """Have a quippy ``Potential`` compute the stress in the same call as the forces while the MD runs.

    The NPT integrators ask for the stress at the positions where the last forces were computed; quippy computes only
    what is asked, so that stress cost an evaluation of its own (the virial comes at almost no extra cost with the
    forces). ASE's Berendsen NPT step evaluates the forces twice (after the cell scaling and after the drift), so a
    step costs 2 evaluations instead of 3. Calculators without ``get_default_properties`` /
    ``set_default_properties`` are left alone.
    """
    if not all(atoms.pbc) or not all(
        hasattr(calculator, name) for name in ('get_default_properties', 'set_default_properties')
    ):
        yield
        return
    default = list(calculator.get_default_properties())
    calculator.set_default_properties(list(dict.fromkeys([*default, 'energy', 'forces', 'stress'])))
    try:
        yield
    finally:
        calculator.set_default_properties(default)


def run_schedule(
    atoms: Atoms,
    calculator,
    stages: Sequence[dict],
    *,
    timestep_fs: float = 1.0,
    update_every: int = 10,
    snapshot_every: int = 100,
    barostat: str = 'berendsen',
    friction_per_fs: float = 0.01,
    taut_fs: float = 100.0,
    taup_fs: float = DEFAULT_TAUP_FS,
    compressibility: float = DEFAULT_COMPRESSIBILITY,
    seed: int,
    config_type: str = 'md',
    initialise_velocities: bool = True,
) -> tuple[Atoms, list[Atoms]]:
    """Run MD stage by stage, ramping targets every ``update_every`` steps and keeping snapshots.

    Parameters
    ----------
    atoms : ase.Atoms
        Start structure (copied; velocities drawn at the first stage's temperature unless
        ``initialise_velocities`` is False and the atoms have momenta).
    calculator : ase.calculators.calculator.Calculator
        Any ASE calculator with energy, forces (and stress for NPT stages).
    stages : list of dict
        ``{'name', 'steps', 't_start', 't_end', 'p_start', 'p_end'}`` (K, GPa; ``p_start`` None = NVT).
    timestep_fs, update_every, snapshot_every
        Time step (fs), target update interval and snapshot interval (steps; ``snapshot_every`` must be a
        multiple of ``update_every``). Snapshots are also taken at step 0 and at the last step.
    barostat : {'berendsen', 'mtk'}
    friction_per_fs, taut_fs, taup_fs
        Langevin friction (1/fs) and thermostat / barostat time constants (fs).
    compressibility : float
        Isothermal compressibility (1/GPa) the Berendsen barostat scales the cell with (unused by MTK). The cell
        relaxes towards the target pressure with the time constant ``taup_fs / (B * compressibility)`` (B the bulk
        modulus), so a ramp at rate r (GPa/ps) lags by about ``r * taup_fs / 1000 / (B * compressibility)`` GPa.
    seed : int
        Seed of the initial velocities and of the Langevin noise.

    Returns
    -------
    (ase.Atoms, list of ase.Atoms)
        The final state (momenta and teacher labels, no calculator) and the snapshots.
    """
    if barostat not in BAROSTATS:
        raise ValueError(f'barostat: expected one of {BAROSTATS}, got {barostat!r}')
    for name, value in (('update_every', update_every), ('snapshot_every', snapshot_every)):
        checks.positive_integer(value, name)
    if snapshot_every % update_every:
        raise ValueError(f'snapshot_every: expected a multiple of update_every ({update_every}), got {snapshot_every}')
    for name, value in (('timestep_fs', timestep_fs), ('taup_fs', taup_fs), ('compressibility', compressibility)):
        if not value > 0:
            raise ValueError(f'{name}: expected > 0, got {value!r}')
    for index, stage in enumerate(stages):
        if stage['steps'] < 0 or stage['steps'] % update_every:
            raise ValueError(f'stages[{index}][steps]: expected a non-negative multiple of update_every')
        if (stage['p_start'] is None) != (stage.get('p_end') is None):
            raise ValueError(f'stages[{index}][p_end]: give both p_start and p_end or neither')
    rng = np.random.default_rng(seed)
    atoms = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc,
                  momenta=atoms.get_momenta() if atoms.has('momenta') else None)  # fmt: skip
    atoms.calc = calculator
    if stages and (initialise_velocities or not atoms.has('momenta')):
        MaxwellBoltzmannDistribution(atoms, temperature_K=stages[0]['t_start'], rng=rng)
        Stationary(atoms)
    snapshots = []
    step = 0
    with _stress_with_forces(calculator, atoms):
        for stage in stages:
            if stage['steps'] == 0:
                continue
            t0, p0 = stage['t_start'], stage['p_start']
            dyn = _make_dynamics(atoms, stage, timestep_fs=timestep_fs, t0=t0, p0=p0, barostat=barostat,
                                 friction_per_fs=friction_per_fs, taut_fs=taut_fs, taup_fs=taup_fs,
                                 compressibility=compressibility, rng=rng)  # fmt: skip
            if step == 0:
                snapshots.append(_snapshot(atoms, time_ps=0.0, step=0, stage=stage['name'], t_target=t0, p_target=p0,
                                           config_type=config_type))  # fmt: skip
            done = 0
            while done < stage['steps']:
                fraction = (done + 0.5 * update_every) / stage['steps']
                temperature = t0 + fraction * (stage['t_end'] - t0)
                pressure = None if p0 is None else p0 + fraction * (stage['p_end'] - p0)
                _set_targets(dyn, stage, temperature, pressure, barostat)
                dyn.run(update_every)
                done += update_every
                step += update_every
                if step % snapshot_every == 0:
                    frac = done / stage['steps']
                    t_target = t0 + frac * (stage['t_end'] - t0)
                    p_target = None if p0 is None else p0 + frac * (stage['p_end'] - p0)
                    snapshots.append(_snapshot(atoms, time_ps=step * timestep_fs / 1000.0, step=step,
                                               stage=stage['name'], t_target=t_target, p_target=p_target,
                                               config_type=config_type))  # fmt: skip
            logger.info('stage %s done: %d steps, T=%.0f K, V=%.2f A^3/atom', stage['name'], stage['steps'],
                        atoms.get_temperature(), atoms.get_volume() / len(atoms))  # fmt: skip
    if step and step % snapshot_every:  # always keep the end of the run
        last = [stage for stage in stages if stage['steps']][-1]
        snapshots.append(_snapshot(atoms, time_ps=step * timestep_fs / 1000.0, step=step, stage=last['name'],
                                   t_target=last['t_end'], p_target=last['p_end'],
                                   config_type=config_type))  # fmt: skip
    final = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc, momenta=atoms.get_momenta())
    final.info['energy'] = float(atoms.get_potential_energy())
    final.arrays['forces'] = np.array(atoms.get_forces())
    if all(atoms.pbc):
        final.info['virial'] = -np.array(atoms.get_stress(voigt=False)) * atoms.get_volume()
    return final, snapshots


def _md_kwargs(protocol: dict, seed: int, config_type: str) -> dict:
    return {
        'timestep_fs': float(protocol['timestep_fs']),
        'update_every': int(protocol['update_every']),
        'snapshot_every': int(protocol['snapshot_every']),
        'barostat': protocol['barostat'],
        'taup_fs': float(protocol.get('taup_fs', DEFAULT_TAUP_FS)),
        'compressibility': float(protocol.get('compressibility', DEFAULT_COMPRESSIBILITY)),
        'seed': seed,
        'config_type': config_type,
    }


def compression_md(calculator, protocol: dict | str = 'fast', *, element: str = 'Si', seed: int, atoms=None):
    """Compression MD of seed 003: random start, NVT thermalisation at T, constant-rate NPT ramp to ``p_max``.

    Parameters
    ----------
    calculator : ASE calculator
    protocol : dict or str
        A protocol (see :func:`get_protocol`) or a preset name.
    element : str
        Chemical symbol of the random start.
    seed : int
        Seed of the random start and of the MD.
    atoms : ase.Atoms, optional
        Start structure instead of a random one.

    Returns
    -------
    (ase.Atoms, list of ase.Atoms)
        Final state and snapshots (``config_type`` 'compression_md').
    """
    protocol = get_protocol(protocol) if isinstance(protocol, str) else protocol
    if atoms is None:
        atoms = random_start(protocol['natoms'], element, volume_per_atom=protocol['volume_per_atom'],
                             min_distance=protocol['min_distance'], seed=seed)  # fmt: skip
    return run_schedule(atoms, calculator, compression_schedule(protocol), **_md_kwargs(protocol, seed + 1,
                        'compression_md'))  # fmt: skip


def melt_quench(calculator, protocol: dict | str = 'fast', *, element: str = 'Si', seed: int, atoms=None):
    """Melt--quench MD: random start (or ``atoms``), hold at ``t_melt``, cool at ``quench_rate`` to ``t_final``.

    Returns
    -------
    (ase.Atoms, list of ase.Atoms)
        Final (quenched) state and snapshots (``config_type`` 'melt_quench').
    """
    protocol = get_protocol(protocol) if isinstance(protocol, str) else protocol
    if atoms is None:
        atoms = random_start(protocol['natoms'], element, volume_per_atom=protocol['volume_per_atom'],
                             min_distance=protocol['min_distance'], seed=seed)  # fmt: skip
    return run_schedule(atoms, calculator, melt_quench_schedule(protocol), **_md_kwargs(protocol, seed + 1,
                        'melt_quench'))  # fmt: skip
