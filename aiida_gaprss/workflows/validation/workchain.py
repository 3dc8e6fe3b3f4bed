"""``ValidationWorkChain`` (``gaprss.validation``): a GapPotential against the reference on known phases and E(V).

What it does (GAP-RSS, Bernstein, Csányi & Deringer 2019, Figs. 2–3):

1. the known phases of the element (:mod:`aiida_gaprss.rss.phases`; ``phases`` picks some) are relaxed — variable
   cell, 0 GPa — with the potential and, separately, with the reference, each to its *own* minimum;
2. each phase is scaled over ``eos.volume_factors`` around that minimum and relaxed at fixed volume, and the E(V)
   points are fitted with Birch–Murnaghan (V0, B0, B0');
3. ``phase_errors`` = E_pot(min_pot)/N − E_ref(min_ref)/N per phase (eV/atom), ``converged`` when below 1 meV/atom
   (:func:`aiida_gaprss.rss.validation.phase_energy_errors`); ``energy_volume`` holds both curves and fits; the PNG
   ``plots.energy_volume`` draws the potential solid and the reference dashed.

A chemical system (``elements``, e.g. ``['Si', 'C']``, instead of ``element``): the phases are the elements' ground
states and their compounds (:func:`aiida_gaprss.rss.phases.system_phase_names`: ``Si_diamond``, ``C_graphite``,
``SiC_3C``, …), built once (``system_phase_structures``) and relaxed by the same jobs; ``formation_energies`` holds
each side's formation energies per atom against its own lowest pure phases, the distance of each phase above the
formation-energy hull and the phases on it (:func:`aiida_gaprss.rss.validation.formation_energy_table`), and
``plots.formation_energies`` draws them. ``calculator`` (an ASE calculator spec) may stand for ``potential``.

A QE or VASP relaxation cut off by its machine (killed, out of time, a failed node) is relaunched from the geometry
it reached, at most ``MAX_RELAUNCHES`` times (:mod:`aiida_gaprss.workflows.validation.relaunch`).

The heavy work runs in :class:`~aiida_gaprss.calculations.validate_potential.ValidatePotential` jobs on the computer
of ``code``; the daemon only compares numbers and draws the plot (calcfunctions, so every number and PNG has
provenance).

Reference side (docs/validation.md gives the settings of each engine):

* ``reference.engine = 'ase'`` with ``reference.ase.calculator`` (an ASE calculator spec) or ``reference.ase.potential``
  (a GapPotential): the same job, run with the reference calculator;
* ``reference.engine = 'qe'`` / ``'vasp'`` with the inputs of that engine of the ReferenceWorkChain: each phase
  relaxed by aiida-quantumespresso's ``PwRelaxWorkChain`` / aiida-vasp's ``VaspRelaxWorkChain`` at 0 GPa, then each
  E(V) point at fixed volume on the k-point mesh of the phase's relaxation; energies in the units and with the
  settings of the loop's reference labels, so a GAP fitted to them is compared like for like;
* ``reference_results`` of an earlier validation of the same phases and settings (the GAP-RSS loop computes the
  reference side once per run and reuses it); with ``reference`` too, the phases it lacks are computed;
* none: only the potential's side (relaxed phases, E–V curves and fits), no errors.
"""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import WorkChain, if_, while_

from aiida_gaprss.data.gap_potential import GapPotential
from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.rss.validation import retry_phases
from aiida_gaprss.workflows.python_job import ValidatePotentialBaseWorkChain
from aiida_gaprss.workflows.reference.inputs import define_engine_inputs
from aiida_gaprss.workflows.validation.builders import (
    QE_KEYS,
    VASP_KEYS,
    last_kpoints_mesh,
    qe_kpoints_spacing,
    qe_relax_builder,
    vasp_relax_builder,
)
from aiida_gaprss.workflows.validation.checks import phases_of, system_of, validate_inputs
from aiida_gaprss.workflows.validation.functions import (
    compare_formation_energies,
    compare_validation,
    complete_reference_results,
    plot_validation_energy_volume,
    plot_validation_formation_energies,
    qe_reference_results,
    system_phase_structures,
    vasp_reference_results,
)
from aiida_gaprss.workflows.validation.presets import job_parameters, system_label
from aiida_gaprss.workflows.validation.relaunch import (
    MAX_RELAUNCHES,
    RELAUNCH_SEPARATOR,
    base_tag,
    interrupted_geometry,
)
from aiida_gaprss.workflows.validation.reuse import FINGERPRINT_EXTRA, find_reference_side, reference_fingerprint
from aiida_gaprss.workflows.window import ChildWindowMixin

__all__ = ('ValidationWorkChain',)


class ValidationWorkChain(ChildWindowMixin, WorkChain):
    """Validate a GapPotential on known phases and E–V curves (see the module docstring)."""

    @classmethod
    def define(cls, spec):
        """Inputs, outline, outputs and exit codes."""
        super().define(spec)
        spec.input('potential', valid_type=GapPotential, required=False, help='The potential to validate.')
        spec.input(
            'calculator',
            valid_type=orm.Dict,
            required=False,
            help='Instead of `potential`: an ASE calculator spec to validate (e.g. an empirical potential).',
        )
        spec.input(
            'element', valid_type=orm.Str, required=False, help='Chemical symbol (B, C, Si or Ti have known phases).'
        )
        spec.input(
            'elements',
            valid_type=orm.List,
            required=False,
            help="A chemical system instead of `element` (e.g. [Si, C]): the elements' ground states and compounds "
            '(phases named <element or formula>_<phase>, e.g. SiC_3C), with formation energies and their hull.',
        )
        spec.input('phases', valid_type=orm.List, required=False, help='Phase names (default: all known).')
        spec.input('code', valid_type=orm.AbstractCode, help='The job Python (runs aiida_gaprss.jobs.*).')
        spec.input(
            'parameters',
            valid_type=orm.Dict,
            required=False,
            help='relax {fmax, steps, smax}, eos {volume_factors, relax, fmax, steps} or None, processes, '
            'job_options (metadata.options of the jobs). Defaults: DEFAULT_PARAMETERS.',
        )
        spec.input_namespace('reference', required=False, populate_defaults=False, help='Compute the reference side.')
        spec.input('reference.engine', valid_type=orm.Str, required=False, help="'ase' (default), 'qe' or 'vasp'.")
        spec.input(
            'reference.max_concurrent',
            valid_type=orm.Int,
            required=False,
            help='QE/VASP relaxations running at once (a rolling window; default: all at once).',
        )
        spec.input(
            'reference.reuse',
            valid_type=orm.Bool,
            required=False,
            help='QE/VASP: reuse the reference side of an earlier validation with the same settings in this profile '
            '(default True; see aiida_gaprss.workflows.validation.reuse). False computes it again.',
        )
        spec.input('reference.ase.calculator', valid_type=orm.Dict, required=False, help='ASE calculator spec.')
        spec.input('reference.ase.potential', valid_type=GapPotential, required=False, help='A GAP as reference.')
        define_engine_inputs(spec, 'qe', prefix='reference.', keys=QE_KEYS, code_required=False)
        define_engine_inputs(
            spec,
            'vasp',
            prefix='reference.',
            keys=VASP_KEYS,
            code_required=False,
            helps={
                'parameters': 'INCAR overrides (and `kspacing`, 1/Å with 2π); not IBRION, NSW, ISIF, EDIFFG, PSTRESS.'
            },
        )
        spec.input(
            'reference_results',
            valid_type=orm.Dict,
            required=False,
            help='The reference side computed before (`reference_results` output of an earlier validation).',
        )
        spec.inputs.validator = validate_inputs
        spec.outline(
            cls.setup,
            cls.run_jobs,
            while_(cls.window_has_work)(cls.window_submit, cls.window_collect),
            cls.inspect_jobs,
            if_(cls.needs_reference_eos)(
                cls.run_reference_eos,
                while_(cls.window_has_work)(cls.window_submit, cls.window_collect),
                cls.inspect_reference_eos,
            ),
            cls.results,
        )
        spec.output('potential_results', valid_type=orm.Dict, help="The potential's relaxed phases and E–V curves.")
        spec.output('relaxed_phases', valid_type=StructureSet, help='The phases relaxed with the potential.')
        spec.output('reference_results', valid_type=orm.Dict, required=False, help='The reference side (reusable).')
        spec.output('phase_errors', valid_type=orm.Dict, required=False, help='Energy error per phase (eV/atom).')
        spec.output('energy_volume', valid_type=orm.Dict, help='E–V points and Birch–Murnaghan fits of both sides.')
        spec.output(
            'formation_energies',
            valid_type=orm.Dict,
            required=False,
            help='`elements` only: formation energies per atom, the phases on the hull, per side, and their errors.',
        )
        spec.output_namespace('plots', valid_type=orm.SinglefileData, dynamic=True, help='PNG figures.')
        spec.exit_code(
            430, 'ERROR_POTENTIAL_JOB_FAILED', message='The validation job of the potential failed: {message}'
        )
        spec.exit_code(431, 'ERROR_REFERENCE_JOB_FAILED', message='The reference validation job failed: {message}')
        spec.exit_code(432, 'ERROR_REFERENCE_RELAX_FAILED', message='No phase could be relaxed by the reference.')

    def setup(self):
        """Phases and job parameters."""
        self.ctx.phases = phases_of(self.inputs)
        self.ctx.system = system_of(self.inputs)  # a chemical symbol, or the list of a chemical system's elements
        parameters = self.inputs.parameters.get_dict() if 'parameters' in self.inputs else {}
        self.ctx.options = dict(parameters.get('job_options', {}))
        self.ctx.job_parameters = job_parameters(system_label(self.ctx.system), self.ctx.phases, parameters)
        if 'elements' in self.inputs:  # the jobs relax the system's phases from these (they build elemental ones)
            self.ctx.structures = system_phase_structures(orm.List(self.ctx.phases))
        reference = self.inputs.get('reference', {})
        self.ctx.engine = (reference['engine'].value if 'engine' in reference else 'ase') if reference else None
        # QE/VASP with `reference_results` too: only the phases the reused side lacks (e.g. a failed relaxation's)
        self.ctx.reference_phases = list(self.ctx.phases)
        self.ctx.reused = self._reused_reference_side()
        if self.ctx.reused is not None:  # only the phases it lacks, unless they failed too often already
            reused = orm.load_node(self.ctx.reused).get_dict()
            given_up = {row['phase'] for row in reused.get('failures') or []} - set(retry_phases(reused))
            self.ctx.reference_phases = [name for name in self.ctx.phases
                                         if name not in reused['phases'] and name not in given_up]  # fmt: skip
        self.ctx.relaunches, self.ctx.relaunch_from = {}, {}

    def _reused_reference_side(self) -> str | None:
        """UUID of the reference side to reuse: the ``reference_results`` input, else (QE/VASP) the newest side with
        this validation's fingerprint in the profile, unless ``reference.reuse`` is False; None to compute it all."""
        if self.ctx.engine in ('qe', 'vasp'):
            reference = self.inputs.reference
            elements = [self.ctx.system] if isinstance(self.ctx.system, str) else list(self.ctx.system)
            fingerprint = reference_fingerprint(
                self.ctx.engine,
                reference[self.ctx.engine],
                elements,
                self.ctx.job_parameters['relax'],
                self.ctx.job_parameters.get('eos'),
            )
            self.ctx.fingerprint = fingerprint
            self.node.base.extras.set(FINGERPRINT_EXTRA, fingerprint)
        if 'reference_results' in self.inputs:
            return self.inputs.reference_results.uuid
        if 'fingerprint' not in self.ctx or not self.inputs.reference.get('reuse', orm.Bool(True)).value:
            return None
        found = find_reference_side(self.ctx.fingerprint)
        if found is None:
            return None
        creator = found.creator
        origin = f' of {creator.process_label}<{creator.pk}>' if creator is not None else ''
        self.report(f'same reference settings as an earlier validation: its reference side <{found.pk}>{origin} '
                    'is reused (reference.reuse = False computes it again)')  # fmt: skip
        return found.uuid

    def _job_inputs(self, label: str) -> AttributeDict:
        inputs = AttributeDict(
            {
                'code': self.inputs.code,
                'parameters': orm.Dict(self.ctx.job_parameters),
                'metadata': {'call_link_label': label, 'options': dict(self.ctx.options)},
            }
        )
        if 'structures' in self.ctx:
            inputs.structures = self.ctx.structures
        return inputs

    def _submit_job(self, inputs: dict):
        """Submit a validation job through its restart work chain."""
        return self.submit(ValidatePotentialBaseWorkChain, **ValidatePotentialBaseWorkChain.inputs_from_job(inputs))

    def run_jobs(self):
        """Submit the potential's job and, when asked, the reference's (they run side by side)."""
        inputs = self._job_inputs('potential')
        if 'calculator' in self.inputs:
            inputs.calculator = self.inputs.calculator
        else:
            inputs.potential = self.inputs.potential
        jobs = {'potential_job': self._submit_job(inputs)}
        reference = self.inputs.get('reference', {})
        self.ctx.window_done = {}
        if self.ctx.engine in ('qe', 'vasp'):
            self.ctx.meshes = {}
            if self.ctx.reused is not None:
                missing = ', '.join(self.ctx.reference_phases) or 'none'
                self.report(f'reference side reused; computed now for the phases it lacks: {missing}')
            self.window_open(f'relax_{name}' for name in self.ctx.reference_phases)
        elif reference:
            inputs = self._job_inputs('reference')
            ase = reference.get('ase', {})
            if 'calculator' in ase:
                inputs.calculator = ase['calculator']
            else:
                inputs.potential = ase['potential']
            jobs['reference_job'] = self._submit_job(inputs)
        self.window_defer(**jobs)  # awaited once the window is empty: they must not hold back its refills
        if self.window_has_work():
            self.window_submit()  # the reference relaxations start beside the potential's job
        self.report(f'validating on {", ".join(self.ctx.phases)}: ' + ', '.join(f'<{n.pk}>' for n in jobs.values()))

    # -- the QE/VASP relaxations, a rolling window of ``reference.max_concurrent`` ------------------------------------
    def window_size(self) -> int:
        """``reference.max_concurrent``, or everything at once."""
        reference = self.inputs.get('reference', {})
        if 'max_concurrent' in reference:
            return reference['max_concurrent'].value
        return len(self.ctx.window['pending']) + len(self.ctx.window['running'])

    def window_label(self, tag: str) -> str:
        """``reference_relax_<phase>`` and ``reference_eos_<phase>_<index>``."""
        return f'reference_{tag}'

    def window_launch(self, tag: str) -> orm.ProcessNode:
        """Submit the reference relaxation of a phase (``relax_<phase>``) or of one E(V) point (``eos_…``)."""
        from aiida_gaprss.rss.phases import build_validation_phase, cheapest_cell

        reference = self.inputs.reference
        label = self.window_label(tag)  # a relaunch's own tag: its call link differs from the cut-off run's
        relaunch, tag = self.ctx.get('relaunch_from', {}).get(tag), base_tag(tag)
        if tag.startswith('relax_'):
            phase = tag[len('relax_') :]
            system = self.ctx.system
            if self.ctx.engine == 'qe':  # the primitive or conventional cell, whichever pw.x relaxes faster
                atoms = cheapest_cell(system, phase, qe_kpoints_spacing(reference.qe, system))
            else:
                atoms = build_validation_phase(system, phase)
            qe_mode = vasp_mode = 'vc-relax'
            settings, mesh = self.ctx.job_parameters['relax'], None
        else:
            spec = self.ctx.eos_specs[tag]
            phase, mode = spec['phase'], spec['mode']
            relaxed = self.ctx.relax_nodes[f'relax_{phase}_structure'].get_ase()
            atoms = relaxed.copy()
            atoms.set_cell(relaxed.cell.array * spec['factor'] ** (1.0 / 3.0), scale_atoms=True)
            # QE: 'none' (no relaxation at fixed volume) is run as 'positions' with pw.x; VASP: a single point
            qe_mode = 'shape' if mode == 'shape' else 'relax'
            vasp_mode = {'positions': 'relax', 'shape': 'shape', 'none': 'none'}[mode]
            settings = {**self.ctx.job_parameters['relax'], **self.ctx.job_parameters['eos']}
            mesh = self.ctx.meshes.get(phase)
        if relaunch is not None:  # a relaxation cut off by its machine goes on from the geometry it reached
            atoms = orm.load_node(relaunch).get_ase()
        if self.ctx.engine == 'qe':
            builder, used = qe_relax_builder(reference.qe, atoms, qe_mode, settings, mesh)
            if qe_mode == 'vc-relax':  # the phase's own relaxation: its mesh serves every point of its E(V) curve
                self.ctx.meshes[phase] = [int(n) for n in used]
        else:
            builder = vasp_relax_builder(reference.vasp, atoms, vasp_mode, settings, mesh)
        builder.metadata.call_link_label = label
        return self.submit(builder)

    def window_finished(self, tag: str, node: orm.ProcessNode) -> None:
        """Remember the child (:meth:`inspect_jobs`, :meth:`inspect_reference_eos` read it); relaunch it, from the
        geometry it reached, when its machine cut it off (at most ``MAX_RELAUNCHES`` times)."""
        tag = base_tag(tag)
        relaunches = dict(self.ctx.get('relaunches') or {})
        cut_off = interrupted_geometry(node) if relaunches.get(tag, 0) < MAX_RELAUNCHES else None
        if cut_off is None:
            self.ctx.window_done[tag] = node.pk
            return
        geometry, status = cut_off
        relaunches[tag] = relaunches.get(tag, 0) + 1
        self.ctx.relaunches = relaunches
        again = f'{tag}{RELAUNCH_SEPARATOR}{relaunches[tag]}'
        self.ctx.relaunch_from = {**(self.ctx.get('relaunch_from') or {}), again: geometry.uuid}
        self.report(f'{tag} <{node.pk}> was cut off (exit status {status} of its last calculation): relaunched from '
                    f'the geometry it reached <{geometry.pk}> ({relaunches[tag]} of {MAX_RELAUNCHES})')  # fmt: skip
        self.window_open([again])

    def inspect_jobs(self):
        """Check the jobs; keep their results."""
        node = self.ctx.potential_job
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_POTENTIAL_JOB_FAILED.format(message=node.exit_message or 'excepted')
        self.out('potential_results', node.outputs.results)
        self.out('relaxed_phases', node.outputs.structures)
        if self.ctx.engine in ('qe', 'vasp'):
            self.ctx.relax_nodes = {}
            for name in self.ctx.get('reference_phases', self.ctx.phases):
                child = orm.load_node(self.ctx.window_done[f'relax_{name}'])
                if not self._collect_relaxation(child, f'relax_{name}'):
                    self.report(f'reference relaxation of {name} <{child.pk}> failed: {child.exit_message}')
                elif self.ctx.engine == 'vasp':
                    self.ctx.meshes[name] = last_kpoints_mesh(child)
            reused = orm.load_node(self.ctx.reused) if self.ctx.reused is not None else None
            if not self.ctx.relax_nodes and reused is None:
                return self.exit_codes.ERROR_REFERENCE_RELAX_FAILED
            self.ctx.reference_results = None if self.ctx.relax_nodes else reused  # else made after the E(V) points
        elif 'reference_job' in self.ctx:
            node = self.ctx.reference_job
            if not node.is_finished_ok:
                return self.exit_codes.ERROR_REFERENCE_JOB_FAILED.format(message=node.exit_message or 'excepted')
            self.ctx.reference_results = node.outputs.results
        elif 'reference_results' in self.inputs:
            self.ctx.reference_results = self.inputs.reference_results
        else:
            self.ctx.reference_results = None
        return None

    def _collect_relaxation(self, child, tag: str) -> bool:
        """Keep the energy node and relaxed structure of a reference relaxation; False if it gave none."""
        if self.ctx.engine == 'qe':
            if not (child.is_finished_ok and 'output_parameters' in child.outputs):
                return False
            self.ctx.relax_nodes[f'{tag}_parameters'] = child.outputs.output_parameters
            structure = child.outputs.output_structure if 'output_structure' in child.outputs else None
        else:
            if not (child.is_finished_ok and 'misc' in child.outputs):
                return False
            self.ctx.relax_nodes[f'{tag}_misc'] = child.outputs.misc
            links = child.base.links.get_outgoing(link_label_filter='relax__structure').all()  # relax.structure
            structure = links[0].node if links else None
        self.ctx.relax_nodes[f'{tag}_structure'] = structure or child.inputs.structure
        return True

    def needs_reference_eos(self):
        """QE or VASP reference: the relaxed phases, then the E(V) points (unless ``eos`` is None)."""
        return self.ctx.engine in ('qe', 'vasp') and bool(self.ctx.relax_nodes)

    def run_reference_eos(self):
        """One fixed-volume relaxation per phase and volume factor, on the k-point mesh of the relaxed phase."""
        import numpy as np

        from aiida_gaprss.rss.eos import is_cubic

        eos = self.ctx.job_parameters.get('eos')
        if eos is None:
            return
        self.ctx.eos_specs = {}
        for name in eos.get('phases', self.ctx.phases):
            if f'relax_{name}_structure' not in self.ctx.relax_nodes:
                continue
            relaxed = self.ctx.relax_nodes[f'relax_{name}_structure'].get_ase()
            mode = eos.get('relax', 'auto')
            if mode == 'auto':
                mode = 'positions' if is_cubic(relaxed) else 'shape'
            # the k-point mesh of the phase's relaxation for every point of its curve: a mesh that changed with the
            # volume would put steps into E(V) (±60 meV/atom for Si2 at 0.5 1/Å) and shift E0 from the relaxed energy
            for index, factor in enumerate(np.sort(eos['volume_factors'])):
                self.ctx.eos_specs[f'eos_{name}_{index:02d}'] = {'phase': name, 'factor': float(factor), 'mode': mode}
        self.window_open(sorted(self.ctx.eos_specs))
        self.report(f'{self.ctx.engine.upper()} reference: {len(self.ctx.eos_specs)} fixed-volume relaxations')

    def inspect_reference_eos(self):
        """Gather the QE or VASP reference side into a ``results`` Dict."""
        engine = self.ctx.engine
        for tag in sorted(self.ctx.get('eos_specs', {})):
            child = orm.load_node(self.ctx.window_done[tag])
            if not self._collect_relaxation(child, tag):
                self.report(f'reference E(V) point {tag} <{child.pk}> failed: {child.exit_message}')
        eos = self.ctx.job_parameters.get('eos')
        settings = {
            'element': system_label(self.ctx.system),
            'phases': self.ctx.phases,
            'engine': engine,
            'relax': self.ctx.job_parameters['relax'],
            'eos': eos,
            'num_points': len(eos['volume_factors']) if eos else 0,
            'units': {'energy': 'eV', 'energy_per_atom': 'eV/atom', 'volume_per_atom': 'Angstrom^3/atom', 'b0': 'GPa'},
        }
        gather = qe_reference_results if engine == 'qe' else vasp_reference_results
        self.ctx.reference_results = gather(orm.Dict(settings), **self.ctx.relax_nodes)
        if self.ctx.reused is not None:  # the reused side, with the phases it lacked
            previous = orm.load_node(self.ctx.reused)
            self.ctx.reference_results = complete_reference_results(previous, self.ctx.reference_results)
        # a later validation with the same settings finds this side (workflows.validation.reuse)
        self.ctx.reference_results.base.extras.set(FINGERPRINT_EXTRA, self.ctx.fingerprint)

    def results(self):
        """Phase errors, E–V curves and their plot."""
        kwargs = {}
        if self.ctx.reference_results is not None:
            kwargs['reference'] = self.ctx.reference_results
            self.out('reference_results', self.ctx.reference_results)
            if set(self.ctx.reference_results['phases']) - set(self.ctx.phases):  # a reused side of more phases
                kwargs['phases'] = orm.List(self.ctx.phases)
        outputs = compare_validation(self.ctx.potential_job.outputs.results, **kwargs)
        self.out('energy_volume', outputs['energy_volume'])
        if 'phase_errors' in outputs:
            errors = outputs['phase_errors']
            self.out('phase_errors', errors)
            summary = ', '.join(f'{name} {row["display"]}' for name, row in errors['phases'].items())
            self.report(f'phase errors: {summary}')
        if outputs['energy_volume']['phases']:
            versus = ' (solid) vs reference (dashed)' if self.ctx.reference_results is not None else ''
            title = orm.Str(f'{system_label(self.ctx.system)}: potential{versus}')
            self.out('plots.energy_volume', plot_validation_energy_volume(outputs['energy_volume'], title))
        if 'elements' in self.inputs:
            self._formation_energies(kwargs)

    def _formation_energies(self, reference: dict) -> None:
        """Formation energies and the hull of a chemical system (``elements``), and their plot."""
        results = self.ctx.potential_job.outputs.results
        formation = compare_formation_energies(self.inputs.elements, results, **reference)
        self.out('formation_energies', formation)
        for side in ('potential', 'reference'):
            if side in formation.get_dict():
                self.report(f'{side}: on the formation-energy hull: {", ".join(formation[side]["on_hull"])}')
        versus = ' (filled) vs reference (open)' if reference else ''
        title = orm.Str(f'{system_label(self.ctx.system)}: formation energies, potential{versus}')
        self.out('plots.formation_energies', plot_validation_formation_energies(formation, title))
