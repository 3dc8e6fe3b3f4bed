"""Isolated-atom energies (``e0`` of gap_fit): computed once per element and engine settings, reused by query.

Each energy is a ``Dict`` ``{'element', 'energy' (eV), 'engine', 'key', 'settings'}`` made by the calcfunction
:func:`isolated_atom_energy`, whose ``extras['gaprss_isolated_atom_key']`` is a hash of the engine, the code, the
settings that change the energy and the box. A later run with the same key reuses that node (it becomes an output
again, so the provenance of the first calculation is kept) instead of computing anything.

The atom sits at the centre of a cubic periodic box (``isolated_atoms_box``, Å) with the set's own settings, the
Γ point only and, for QE, spin polarisation (``nspin 2``); smearing stays on as everywhere else.
"""

from __future__ import annotations

import hashlib
import json
import logging

from aiida import orm
from aiida.engine import calcfunction
from ase import Atoms

from aiida_gaprss.data.structure_set import StructureSet
from aiida_gaprss.workflows.reference.functions import INDEX_KEY, labels_from_qe, labels_from_vasp
from aiida_gaprss.workflows.reference.inputs import RUN_ONLY_INPUTS

__all__ = ('EXTRA_KEY', 'IsolatedAtomsMixin', 'centred_atom', 'isolated_atom_energy', 'isolated_atom_key')

LOGGER = logging.getLogger(__name__)

#: Extra holding the settings hash of an isolated-atom energy node.
EXTRA_KEY = 'gaprss_isolated_atom_key'


def centred_atom(element: str, box: float) -> Atoms:
    """One atom of ``element`` at the centre of a cubic periodic box of edge ``box`` Å, labelled as item 0 of a set."""
    atoms = Atoms(element, positions=[[box / 2] * 3], cell=[box] * 3, pbc=True)
    atoms.info[INDEX_KEY] = 0
    return atoms


@calcfunction
def isolated_atom_structure(element: orm.Str, box: orm.Float) -> orm.StructureData:
    """One atom of ``element`` in a cubic periodic box of edge ``box`` Å, as StructureData."""
    return orm.StructureData(ase=centred_atom(element.value, box.value))


@calcfunction
def isolated_atom_set(element: orm.Str, box: orm.Float) -> StructureSet:
    """One atom of ``element`` in a cubic periodic box of edge ``box`` Å, as a StructureSet."""
    return StructureSet.from_atoms([centred_atom(element.value, box.value)])


@calcfunction
def isolated_atom_energy(element: orm.Str, engine: orm.Str, key: orm.Str, settings: orm.Dict, **results) -> orm.Dict:
    """Read the energy of an isolated-atom calculation (``results`` as for ``gather_labels``)."""
    kind = engine.value
    nodes = {name.partition('_')[2]: node for name, node in results.items()}
    if kind == 'ase':
        energy = next(nodes['structures'].iter_atoms()).info['energy']
    elif kind == 'qe':
        energy = labels_from_qe(nodes['parameters'], nodes['trajectory'], 1.0)['energy']
    else:
        energy = labels_from_vasp(nodes['misc'], nodes.get('arrays'), 1.0)['energy']
    return orm.Dict(
        {
            'element': element.value,
            'energy': float(energy),
            'engine': kind,
            'key': key.value,
            'settings': settings.get_dict(),
        }
    )


def isolated_atom_key(settings: dict) -> str:
    """SHA-256 of the settings that determine an isolated-atom energy."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def find_isolated_atom_energy(key: str) -> orm.Dict | None:
    """Return a stored isolated-atom energy with this settings key, or ``None``."""
    query = orm.QueryBuilder().append(orm.Dict, filters={f'extras.{EXTRA_KEY}': key}, project='*')
    query.order_by({orm.Dict: {'ctime': 'asc'}})
    found = query.first()
    return found[0] if found else None


class IsolatedAtomsMixin:
    """Steps and ports of the reference WorkChain for isolated-atom energies."""

    @classmethod
    def define(cls, spec):
        """Ports: isolated_atoms (Bool), isolated_atoms_box (Float); output namespace isolated_atom_energies."""
        super().define(spec)
        spec.input(
            'isolated_atoms',
            valid_type=orm.Bool,
            default=lambda: orm.Bool(False),
            help='Also give the isolated-atom energy of every element (computed once per settings, then reused).',
        )
        spec.input(
            'isolated_atoms_box',
            valid_type=orm.Float,
            default=lambda: orm.Float(12.0),
            help='Edge (Å) of the cubic box around an isolated atom.',
        )
        spec.output_namespace(
            'isolated_atom_energies', valid_type=orm.Dict, dynamic=True, required=False, help='Per element.'
        )
        spec.exit_code(403, 'ERROR_ISOLATED_ATOM_FAILED', message='The isolated-atom calculation of {element} failed.')

    def should_compute_isolated_atoms(self):
        """Whether isolated-atom energies were requested."""
        return self.inputs.isolated_atoms.value

    def _isolated_settings(self, element: str) -> dict:
        engine = self.inputs.engine.value
        namespace = self.inputs[engine]
        settings = {'engine': engine, 'element': element, 'box': self.inputs.isolated_atoms_box.value}
        settings['code'] = namespace.code.uuid
        for name, port in namespace.items():
            if name == 'code' or name in RUN_ONLY_INPUTS:
                continue
            if isinstance(port, orm.Dict):
                settings[name] = port.get_dict()
            elif isinstance(port, orm.BaseType):
                settings[name] = port.value
            elif isinstance(port, orm.Data):
                settings[name] = port.uuid
        return settings

    def submit_isolated_atoms(self):
        """Reuse stored energies by key; submit one calculation for each element without one."""
        engine = self.ctx.engine
        self.ctx.isolated = {}
        for element in self.inputs.structures.species:
            settings = self._isolated_settings(element)
            key = isolated_atom_key(settings)
            found = find_isolated_atom_energy(key)
            if found is not None:
                self.report(f'isolated {element}: reusing energy {found["energy"]:.6f} eV (pk {found.pk})')
                self.ctx.isolated[element] = {'pk': found.pk}
                continue
            box = self.inputs.isolated_atoms_box
            if engine.name == 'ase':
                node = isolated_atom_set(orm.Str(element), box, metadata={'call_link_label': f'atom_{element}'})
            else:
                node = isolated_atom_structure(orm.Str(element), box, metadata={'call_link_label': f'atom_{element}'})
            process, inputs = engine.build(self, 's000000', node, isolated=element)
            inputs['metadata']['call_link_label'] = f'isolated_{element}'
            child = self.submit(process, inputs)
            self.to_context(**{f'isolated_{element}': child})
            self.ctx.isolated[element] = {'key': key, 'settings': settings}

    def inspect_isolated_atoms(self):
        """Turn finished calculations into energy nodes; expose every energy."""
        for element, entry in self.ctx.isolated.items():
            if 'pk' in entry:
                self.out(f'isolated_atom_energies.{element}', orm.load_node(entry['pk']))
                continue
            child = self.ctx[f'isolated_{element}']
            results, records = self.ctx.engine.collect(self, 's000000', child)
            if not results or records:
                return self.exit_codes.ERROR_ISOLATED_ATOM_FAILED.format(element=element)
            node = isolated_atom_energy(
                orm.Str(element),
                orm.Str(self.ctx.engine.name),
                orm.Str(entry['key']),
                orm.Dict(entry['settings']),
                **results,
                metadata={'call_link_label': f'energy_{element}'},
            )
            node.base.extras.set(EXTRA_KEY, entry['key'])
            self.report(f'isolated {element}: {node["energy"]:.6f} eV')
            self.out(f'isolated_atom_energies.{element}', node)
        return None
