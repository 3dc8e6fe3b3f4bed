"""The input namespaces of the QE and VASP reference engines, declared once.

:class:`~aiida_gaprss.workflows.reference.workchain.ReferenceWorkChain` has them as ``qe`` and ``vasp`` (every port,
``code`` required); :class:`~aiida_gaprss.workflows.validation.ValidationWorkChain` as ``reference.qe`` and
``reference.vasp`` (the ports its relaxations use, ``code`` checked by its input validator instead). Both declare
them with :func:`define_engine_inputs`, so a port has the same name, type and help wherever it appears.
"""

from __future__ import annotations

from aiida import orm

__all__ = ('ENGINE_INPUTS', 'RUN_ONLY_INPUTS', 'UNHANDLED_FAILURE_ACTIONS', 'define_engine_inputs')

#: What the engine's restart work chain (aiida-core's ``BaseRestartWorkChain.on_unhandled_failure``) does with a
#: failure none of its handlers knows; the first is the default here.
UNHANDLED_FAILURE_ACTIONS = ('restart_once', 'abort', 'pause', 'restart_and_pause')
_UNHANDLED_HELP = (
    "A failure no handler knows: 'restart_once' (default: a job killed with its node or lost in a machine restart "
    "leaves no output and is run again once before the structure is excluded), 'abort', 'pause', "
    "'restart_and_pause'."
)

#: Per engine: port name -> (valid type, help), in the order they are declared. Every port but ``code`` is optional.
ENGINE_INPUTS = {
    'qe': {
        'code': (orm.AbstractCode, 'pw.x code.'),
        'protocol': (orm.Str, 'Protocol of reference_qe.yaml.'),
        'pseudo_family': (orm.Str, 'aiida-pseudo family label.'),
        'parameters': (orm.Dict, 'Overrides of pw.x parameters.'),
        'kpoints_spacing': (orm.Float, '1/Å, 2π included.'),
        'structure_overrides': (orm.Dict, 'Per-structure parameter overrides: {"<index>": {"ELECTRONS": {...}}}.'),
        'options': (orm.Dict, 'metadata.options of each PwCalculation.'),
        'settings': (orm.Dict, 'PwCalculation settings.'),
        'parallelization': (orm.Dict, "pw.x parallelization, e.g. {'npool': 2}."),
        'max_iterations': (orm.Int, 'PwBaseWorkChain restarts.'),
        'on_unhandled_failure': (orm.Str, _UNHANDLED_HELP),
        'clean_workdir': (orm.Bool, 'Clean remote folders (default).'),
    },
    'vasp': {
        'code': (orm.AbstractCode, 'VASP code (vasp.vasp).'),
        'protocol': (orm.Str, 'Protocol of reference_vasp.yaml.'),
        'potential_family': (orm.Str, 'POTCAR family.'),
        'potential_mapping': (orm.Dict, 'Element -> POTCAR.'),
        'parameters': (orm.Dict, 'INCAR overrides (and `kspacing`, 1/Å with 2π).'),
        'options': (orm.Dict, 'metadata.options of each VASP job.'),
        'max_iterations': (orm.Int, 'VaspWorkChain restarts.'),
        'on_unhandled_failure': (orm.Str, _UNHANDLED_HELP),
    },
}

#: Help of each engine's namespace.
NAMESPACE_HELP = {'qe': 'Inputs of the QE engine.', 'vasp': 'Inputs of the VASP engine.'}

#: Engine inputs (of any engine, ``ase`` included) that change how a calculation runs but not its energy: left out
#: of the settings key of an isolated-atom energy (``code`` enters the key by its UUID).
RUN_ONLY_INPUTS = (
    'metadata',
    'options',
    'settings',
    'parallelization',
    'batch_size',
    'structure_overrides',
    'max_iterations',
    'on_unhandled_failure',
    'clean_workdir',
)


def define_engine_inputs(
    spec,
    engine: str,
    *,
    prefix: str = '',
    keys: tuple[str, ...] | None = None,
    code_required: bool = True,
    helps: dict[str, str] | None = None,
) -> None:
    """Declare the input namespace ``<prefix><engine>`` of a reference engine on ``spec``.

    Parameters
    ----------
    spec : aiida.engine.ProcessSpec
        The spec of the process being defined.
    engine : {'qe', 'vasp'}
        The engine; also the name of the namespace.
    prefix : str
        Enclosing namespace with a trailing dot (e.g. ``'reference.'``; it must already be declared), or ``''``.
    keys : tuple of str, optional
        The ports to declare, in :data:`ENGINE_INPUTS` order or any other; default: all of the engine's.
    code_required : bool
        Whether the ``code`` port is required (else the process's input validator has to ask for it).
    helps : dict, optional
        Port name -> help text replacing the common one where the process uses a port differently.

    Raises
    ------
    ValueError
        An unknown engine or port name (a programming error, raised when the process class is defined).
    """
    if engine not in ENGINE_INPUTS:
        raise ValueError(f'engine: expected one of {sorted(ENGINE_INPUTS)}, got {engine!r}')
    ports = ENGINE_INPUTS[engine]
    keys = tuple(ports) if keys is None else tuple(keys)
    unknown = sorted(set(keys) - set(ports)) + sorted(set(helps or {}) - set(keys))
    if unknown:
        raise ValueError(f'keys: {unknown[0]!r} is not an input of the {engine} engine here; known: {list(ports)}')
    namespace = f'{prefix}{engine}'
    spec.input_namespace(namespace, required=False, populate_defaults=False, help=NAMESPACE_HELP[engine])
    for key in keys:
        valid_type, help_text = ports[key]
        spec.input(
            f'{namespace}.{key}',
            valid_type=valid_type,
            required=code_required and key == 'code',
            help=(helps or {}).get(key, help_text),
        )
