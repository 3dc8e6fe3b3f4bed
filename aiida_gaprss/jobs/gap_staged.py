"""The GAP-RSS fit of :class:`~aiida_gaprss.workflows.fit.GapFitWorkChain` run locally (no AiiDA): tests, benchmarks.

:func:`staged_fit` does what the work chain does with a training set, with the package's own functions: per-structure
sigmas from the lower hull (over composition, volume and energy for several ``elements``), δ_2b from the spread of
the energies, then the 2b, 2b+3b and 2b+3b+SOAP fits with the real ``gap_fit``, δ of each next body order set from
the energy RMSE per atom of the previous stage (over every training structure, as the work chain's parser reports
it). :func:`energy_errors` evaluates a potential on labelled frames.
"""

from __future__ import annotations

import logging
import os
import pathlib
import subprocess
from collections.abc import Mapping, Sequence

import numpy as np

from aiida_gaprss.rss.gap_hyper import delta_from_error
from aiida_gaprss.rss.gap_parameters import (
    DESCRIPTOR_TYPES,
    build_gap_fit_command,
    select_descriptors,
    validate_gap_parameters,
)

logger = logging.getLogger(__name__)

__all__ = ('energy_errors', 'staged_fit')


def energy_errors(potential_file: str | os.PathLike, frames: Sequence) -> np.ndarray:
    """Predicted minus reference energy per atom (eV/atom) of each labelled frame, with the GAP ``potential_file``."""
    from quippy.potential import Potential

    calculator = Potential(param_filename=str(potential_file))
    errors = []
    for atoms in frames:
        work = atoms.copy()
        work.calc = calculator
        errors.append((work.get_potential_energy() - atoms.info['energy']) / len(atoms))
    return np.asarray(errors)


def staged_fit(
    frames: Sequence,
    parameters: Mapping,
    workdir: str | os.PathLike,
    *,
    elements: Sequence[str] | None = None,
    special_sigmas: Mapping | None = None,
    hull_sigmas: bool = True,
    command: Sequence[str] = ('gap_fit',),
    timeout: float = 1800.0,
) -> dict:
    """Fit ``frames`` as the GAP-RSS fit work chain does; return the stages' δ and training RMSE and the GAP file.

    Parameters
    ----------
    frames
        Labelled structures (``info['energy']``, ``arrays['forces']``, ``info['virial']``; ``config_type``).
    parameters
        A parameter set (:func:`~aiida_gaprss.rss.gap_parameters.table1_parameters` or
        :func:`~aiida_gaprss.rss.gap_multicomponent.multicomponent_parameters`); its δ are replaced.
    workdir
        Folder of the stages (``stage_0``, ...), created.
    elements, special_sigmas, hull_sigmas
        As the fit settings ``elements``, ``special_sigmas`` and ``hull_sigmas`` (False: the frames are fitted with
        ``default_sigma``; δ_2b is computed all the same).
    command
        The program, e.g. ``('nice', '-n', '10', 'gap_fit')``.

    Returns
    -------
    dict
        ``potential`` (path of the last stage's ``gap.xml``), ``stages`` (per stage: ``descriptors``, ``deltas``,
        ``energy_rmse`` eV/atom over every frame), ``argv`` (the last gap_fit arguments).
    """
    from aiida_gaprss.data.extxyz import frames_to_string
    from aiida_gaprss.rss.training_sigmas import set_training_sigmas

    frames = [atoms.copy() for atoms in frames]
    marked = [atoms.copy() for atoms in frames]
    deltas = {'distance_2b': set_training_sigmas(marked, elements=elements, special_sigmas=special_sigmas)}
    if hull_sigmas:
        frames = marked
    parameters = validate_gap_parameters(parameters)
    present = [kind for kind in DESCRIPTOR_TYPES if any(d['type'] == kind for d in parameters['descriptors'])]
    stages = []
    argv: list[str] = []
    potential = None
    for index in range(len(present)):
        types = present[: index + 1]
        stage = select_descriptors(parameters, types)
        for descriptor in stage['descriptors']:
            descriptor['delta'] = float(deltas.get(descriptor['type'], descriptor['delta']))
        folder = pathlib.Path(workdir) / f'stage_{index}'
        folder.mkdir(parents=True, exist_ok=True)
        (folder / 'train.xyz').write_text(frames_to_string(frames), encoding='utf-8')
        argv = build_gap_fit_command(stage, at_file='train.xyz', gp_file='gap.xml')
        environment = {**os.environ, 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '1')}
        result = subprocess.run(
            [*command, *argv], cwd=folder, capture_output=True, text=True, timeout=timeout, env=environment
        )
        (folder / 'gap_fit.out').write_text(result.stdout + result.stderr, encoding='utf-8')
        if result.returncode != 0:
            raise RuntimeError(f'gap_fit stage {index} failed: {result.stderr[-2000:] or result.stdout[-2000:]}')
        potential = folder / 'gap.xml'
        rmse = float(np.sqrt(np.mean(energy_errors(potential, frames) ** 2)))
        stages.append({'descriptors': types, 'deltas': dict(deltas), 'energy_rmse': rmse})
        logger.info('stage %s: energy RMSE %.4f eV/atom', '+'.join(types), rmse)
        if index + 1 < len(present):
            deltas[present[index + 1]] = delta_from_error(rmse)
    return {'potential': str(potential), 'stages': stages, 'argv': argv}
