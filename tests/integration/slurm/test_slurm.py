"""Opt-in: GAP-RSS through the daemon on a ``core.slurm`` computer (SLURM on this machine), scancel, load.

Set SLURM up first (``tests/integration/slurm/setup_slurm.sh``), then ``python -m pytest -m slurm tests/integration``.
The SLURM tests are skipped when ``sinfo`` does not answer. Every job id is checked against the job completion
records (``sacct --completion``, i.e. ``JobCompType=jobcomp/filetxt``; plain ``sacct`` would need slurmdbd).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import pytest
from aiida import orm

from aiida_gaprss.setup.common import SetupReport, ensure_codes
from aiida_gaprss.setup.slurm import SLURM_LABEL, ensure_slurm_computer


def _slurm_answers() -> bool:
    if shutil.which('sinfo') is None:
        return False
    try:
        result = subprocess.run(['sinfo', '-h', '-o', '%T'], capture_output=True, text=True, check=False, timeout=60)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


@pytest.fixture(scope='module')
def slurm_running():
    """Skip unless SLURM answers (asked when a test needs it, not when the module is collected: the fast suite
    imports this module too). ``.ci/run`` starts SLURM first and sets GAPRSS_NO_SKIPS=1: there a skip fails."""
    if not _slurm_answers():
        pytest.skip('SLURM is not running (tests/integration/slurm/setup_slurm.sh)')


needs_slurm = pytest.mark.usefixtures('slurm_running')


def completion_records(job_ids) -> dict[str, str]:
    """Job id -> state of the jobs in SLURM's job completion records (``sacct --completion``)."""
    ids = ','.join(str(job_id) for job_id in job_ids)
    result = subprocess.run(
        ['sacct', '--completion', '--noheader', '--parsable2', '--format=JobID,State', f'--jobs={ids}'],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    records = {}
    for line in result.stdout.splitlines():
        if '|' in line:
            job_id, state = line.split('|')[:2]
            records[job_id.strip()] = state.strip()
    return records


def wait_for_records(job_ids, timeout: float = 60.0) -> dict[str, str]:
    """The completion records of ``job_ids``, waiting until all are there (slurmctld writes them as jobs end)."""
    deadline = time.monotonic() + timeout
    while True:
        records = completion_records(job_ids)
        if all(str(job_id) in records for job_id in job_ids) or time.monotonic() > deadline:
            return records
        time.sleep(2)


@pytest.fixture(scope='module')
def patient_daemon_stop(daemon_client):
    """Stop the test daemon at the end of the module with a 60 s timeout (aiida's teardown allows 2 s, too short when
    the shared machine is loaded; it then finds the daemon stopped)."""
    yield
    if daemon_client.is_daemon_running:
        daemon_client.stop_daemon(wait=True, timeout=60)


@pytest.fixture(scope='module')
def slurm_codes(tmp_path_factory, patient_daemon_stop):
    """The ``core.slurm`` computer of aiida_gaprss.setup.slurm (core.local transport) with the gaprss codes."""
    report = SetupReport()
    workdir = tmp_path_factory.mktemp('slurm_workdir')
    computer = ensure_slurm_computer(report, 'slurm-test', workdir=str(workdir), poll_interval=1.0)
    codes = ensure_codes(computer, report, threads=2)
    assert computer.scheduler_type == 'core.slurm' and computer.transport_type == 'core.local'
    return codes


@pytest.mark.slurm  # runs in CI's SLURM step (it needs no running SLURM, only the set-up code of that step)
@pytest.mark.slow  # three CLI runs: 15-50 s on the shared machine
def test_setup_scheduler_slurm_is_idempotent(tmp_path):
    """``gaprss setup --scheduler slurm`` creates the localhost and the SLURM computer with codes, once."""
    env = {**os.environ, 'AIIDA_PATH': str(tmp_path)}
    command = [sys.executable, '-m', 'aiida_gaprss.cli', 'setup', '-p', 'slurm', '--no-daemon', '--no-pseudos']
    first = subprocess.run([*command, '--scheduler', 'slurm'], env=env, capture_output=True, text=True, check=True)
    for item in ('computer localhost', f'computer {SLURM_LABEL}', f'code gap_fit@{SLURM_LABEL}',
                 f'code gaprss-python@{SLURM_LABEL}', 'code gap_fit@localhost'):  # fmt: skip
        assert f'created  {item}' in first.stdout, first.stdout
    second = subprocess.run([*command, '--scheduler', 'slurm'], env=env, capture_output=True, text=True, check=True)
    assert 'created' not in second.stdout and 'nothing to do' in second.stdout
    assert f'exists   computer {SLURM_LABEL}' in second.stdout
    plain = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert 'nothing to do' in plain.stdout and SLURM_LABEL not in plain.stdout  # no option: the embedded set-up only


def test_ensure_slurm_computer_refuses_bad_input(aiida_localhost):
    with pytest.raises(ValueError, match='field `transport`'):
        ensure_slurm_computer(SetupReport(), 'bad-transport', transport='ssh; rm -rf /')
    with pytest.raises(ValueError, match='field `workdir`'):
        ensure_slurm_computer(SetupReport(), 'remote', hostname='cluster.example.org', transport='core.ssh')
    with pytest.raises(ValueError, match='field `mpiprocs_per_machine`'):
        ensure_slurm_computer(SetupReport(), 'no-cores', mpiprocs_per_machine=0)
    with pytest.raises(ValueError, match='field `label`'):  # an existing computer with another scheduler
        ensure_slurm_computer(SetupReport(), aiida_localhost.label)


@pytest.mark.slurm
@pytest.mark.slow
@pytest.mark.daemon
@needs_slurm
def test_gap_rss_through_slurm(slurm_codes, submit_and_await):
    """Two fast-protocol iterations (ASE reference engine) with every CalcJob submitted through sbatch."""
    from aiida.plugins import WorkflowFactory

    codes = {'python': slurm_codes['python'], 'gap_fit': slurm_codes['gap_fit']}
    builder = WorkflowFactory('gaprss.rss').get_builder_from_protocol(
        'Si', codes=codes, engine='ase', protocol='tiny', overrides={'budget': 21}
    )
    start = time.monotonic()
    node = submit_and_await(builder, timeout=1800)
    elapsed = time.monotonic() - start
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    assert node.exit_status == 0
    calcjobs = [n for n in node.called_descendants if isinstance(n, orm.CalcJobNode)]
    assert calcjobs, 'the run made no CalcJob'
    assert {calc.computer.label for calc in calcjobs} == {'slurm-test'}
    assert all(calc.is_finished_ok for calc in calcjobs), [(c.pk, c.exit_status) for c in calcjobs]
    job_ids = [calc.get_job_id() for calc in calcjobs]
    assert all(job_ids) and len(set(job_ids)) == len(job_ids)
    records = wait_for_records(job_ids)
    assert {job_id: records.get(job_id) for job_id in job_ids} == dict.fromkeys(job_ids, 'COMPLETED')
    kinds = sorted({calc.process_type.split(':')[-1] for calc in calcjobs})
    print(f'\n{len(calcjobs)} SLURM jobs ({", ".join(kinds)}) in {elapsed:.0f} s')  # noqa: T201 (pytest -s report)


@pytest.mark.slurm
@pytest.mark.daemon
@needs_slurm
def test_job_killed_by_scancel_is_resubmitted(slurm_codes, submit_and_await, tmp_path):
    """``scancel`` of a running gap_fit job: the parser says 340 (CANCELLED), the restart handler submits it again."""
    from aiida.engine import ProcessState, submit

    from aiida_gaprss.calculations.gap_fit import GapFitCalculation
    from aiida_gaprss.data.structure_set import StructureSet
    from aiida_gaprss.workflows.fit import GapFitBaseWorkChain
    from tests.calculations.gap_fit_data import si_cells, small_parameters

    marker = tmp_path / 'first-job-started'  # only the first job waits to be cancelled; the resubmitted one fits
    builder = GapFitBaseWorkChain.get_builder()
    builder.max_iterations = orm.Int(2)
    builder.gap_fit.code = slurm_codes['gap_fit']
    builder.gap_fit.training_set = StructureSet.from_atoms(si_cells(6, seed=7))
    builder.gap_fit.parameters = orm.Dict(small_parameters())
    builder.gap_fit.metadata.options.prepend_text = f'if [ ! -e {marker} ]; then touch {marker}; sleep 300; fi'
    node = submit(builder)
    deadline = time.monotonic() + 300
    first = job_id = None
    while time.monotonic() < deadline:
        calcjobs = [child for child in node.called if isinstance(child, orm.CalcJobNode)]
        if calcjobs:
            first = calcjobs[0]
            job_id = first.get_job_id()
            if job_id and marker.exists():
                break
        time.sleep(1)
    else:
        pytest.fail(f'the first job of {node.process_label}<{node.pk}> never started (job id {job_id})')
    state = subprocess.run(['squeue', '-h', '-j', job_id, '-o', '%T'], capture_output=True, text=True, check=True)
    assert state.stdout.strip() == 'RUNNING'
    subprocess.run(['scancel', job_id], check=True)
    node = submit_and_await(node, state=ProcessState.FINISHED, timeout=600)
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    calcjobs = sorted((child for child in node.called if isinstance(child, orm.CalcJobNode)), key=lambda n: n.ctime)
    assert [calc.pk for calc in calcjobs][:1] == [first.pk] and len(calcjobs) == 2
    # aiida-core's SLURM plugin sets no exit code for CANCELLED; the gap_fit parser reads the scheduler's stderr
    assert first.exit_status == GapFitCalculation.exit_codes.ERROR_JOB_KILLED.status, first.exit_message
    assert re.search(rf'JOB {job_id} ON \S+ CANCELLED AT', first.exit_message), first.exit_message
    assert calcjobs[1].is_finished_ok and 'potential' in node.outputs
    records = wait_for_records([job_id, calcjobs[1].get_job_id()])
    assert records[job_id] == 'CANCELLED' and records[calcjobs[1].get_job_id()] == 'COMPLETED'


def _geometry_hash(atoms) -> str:
    """sha256 of a structure's species, cell and positions (rounded to 1e-8 Å), i.e. of what the reference labels."""
    import hashlib

    import numpy as np

    content = np.concatenate([atoms.numbers.astype(float), atoms.cell.array.ravel(), atoms.positions.ravel()])
    return hashlib.sha256(np.round(content, 8).tobytes()).hexdigest()


@pytest.mark.slurm
@pytest.mark.slow
@pytest.mark.daemon
@needs_slurm
def test_load_500_structures_through_slurm(slurm_codes, submit_and_await):
    """Load: the ReferenceWorkChain alone labels 500 structures with Stillinger-Weber (ASE batch engine) in SLURM jobs
    of 50; none is lost or labelled twice (counts, per-structure geometry hashes, origin labels, one job per batch)."""
    from collections import Counter

    from aiida.plugins import WorkflowFactory

    from aiida_gaprss.data.structure_set import StructureSet
    from aiida_gaprss.rss.generation import generate_random_cells

    count, batch = 500, 50
    cells = generate_random_cells(count, 'Si', seed=2026, natoms=(2, 6))
    for index, atoms in enumerate(cells):
        atoms.info['origin'] = f'load{index:04d}'
    structures = StructureSet.from_atoms(cells).store()
    builder = WorkflowFactory('gaprss.reference').get_builder()
    builder.structures = structures
    builder.engine = orm.Str('ase')
    builder.max_concurrent = orm.Int(10)  # 10 jobs queued at once; the one-node SLURM runs 2 at a time
    builder.ase.code = slurm_codes['python']
    builder.ase.calculator = orm.Dict({'type': 'sw_si'})
    builder.ase.batch_size = orm.Int(batch)
    start = time.monotonic()
    node = submit_and_await(builder, timeout=1800)
    elapsed = time.monotonic() - start
    assert node.is_finished_ok, (node.exit_status, node.exit_message)

    labelled = node.outputs.structures
    assert node.outputs.exclusions['num_excluded'] == 0
    assert labelled.num_structures == count == structures.num_structures
    assert set(labelled.labels) == {'energy', 'forces', 'virial'}  # carried by every structure
    frames = labelled.get_atoms()
    before = Counter(_geometry_hash(atoms) for atoms in cells)
    after = Counter(_geometry_hash(atoms) for atoms in frames)
    assert len(before) == count  # the 500 inputs are distinct ...
    assert after == before  # ... and each is in the output exactly once
    assert sorted(atoms.info['origin'] for atoms in frames) == sorted(atoms.info['origin'] for atoms in cells)
    calcjobs = [n for n in node.called_descendants if isinstance(n, orm.CalcJobNode)]
    assert len(calcjobs) == count // batch and {calc.computer.label for calc in calcjobs} == {'slurm-test'}
    per_job = Counter(atoms.info['reference_pk'] for atoms in frames)
    assert set(per_job) == {calc.pk for calc in calcjobs} and set(per_job.values()) == {batch}
    job_ids = [calc.get_job_id() for calc in calcjobs]
    assert len(set(job_ids)) == len(job_ids)
    records = wait_for_records(job_ids)
    assert {job_id: records.get(job_id) for job_id in job_ids} == dict.fromkeys(job_ids, 'COMPLETED')
    print(f'\n{count} structures in {len(calcjobs)} SLURM jobs: {elapsed:.0f} s')  # noqa: T201 (pytest -s report)
