"""Opt-in: GAP-RSS through the daemon on a ``core.slurm`` computer (SLURM on this machine), and scancel.

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

from aiida_gaprss.computers import SLURM_LABEL, ensure_slurm_computer
from aiida_gaprss.embedded import SetupReport, ensure_codes


def _slurm_answers() -> bool:
    if shutil.which('sinfo') is None:
        return False
    result = subprocess.run(['sinfo', '-h', '-o', '%T'], capture_output=True, text=True, check=False, timeout=30)
    return result.returncode == 0 and bool(result.stdout.strip())


needs_slurm = pytest.mark.skipif(not _slurm_answers(), reason='SLURM is not running (setup_slurm.sh)')


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
    """The ``core.slurm`` computer of aiida_gaprss.computers (core.local transport) with the gaprss codes."""
    report = SetupReport()
    workdir = tmp_path_factory.mktemp('slurm_workdir')
    computer = ensure_slurm_computer(report, 'slurm-test', workdir=str(workdir), poll_interval=1.0)
    codes = ensure_codes(computer, report, threads=2)
    assert computer.scheduler_type == 'core.slurm' and computer.transport_type == 'core.local'
    return codes


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

    from aiida_gaprss.rss.gap_parameters import deep_merge
    from tests.workflows.test_rss import TINY

    codes = {'python': slurm_codes['python'], 'gap_fit': slurm_codes['gap_fit']}
    builder = WorkflowFactory('gaprss.rss').get_builder_from_protocol(
        'Si', codes=codes, engine='ase', protocol='fast', overrides=deep_merge(TINY, {'budget': 21})
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
def test_job_killed_by_scancel(slurm_codes, submit_and_await):
    """A gap_fit job cancelled by ``scancel`` while it runs: what AiiDA makes of it (no restart handler here)."""
    from aiida.engine import ProcessState, submit

    from aiida_gaprss.calculations.gap_fit import GapFitCalculation
    from aiida_gaprss.data.structure_set import StructureSet
    from tests.calculations.gap_fit_data import si_cells, small_parameters

    builder = GapFitCalculation.get_builder()
    builder.code = slurm_codes['gap_fit']
    builder.training_set = StructureSet.from_atoms(si_cells(6, seed=7))
    builder.parameters = orm.Dict(small_parameters())
    builder.metadata.options.prepend_text = 'touch started\nsleep 300'  # still running when it is cancelled
    node = submit(builder)
    deadline = time.monotonic() + 300
    job_id = None
    while time.monotonic() < deadline:
        job_id = node.get_job_id()
        workdir = node.get_remote_workdir()
        if job_id and workdir and os.path.exists(os.path.join(workdir, 'started')):
            break
        time.sleep(1)
    else:
        pytest.fail(f'the job of CalcJob<{node.pk}> never started (job id {job_id})')
    state = subprocess.run(['squeue', '-h', '-j', job_id, '-o', '%T'], capture_output=True, text=True, check=True)
    assert state.stdout.strip() == 'RUNNING'
    subprocess.run(['scancel', job_id], check=True)
    node = submit_and_await(node, state=ProcessState.FINISHED, timeout=300)
    assert wait_for_records([job_id])[job_id] == 'CANCELLED'
    stderr = node.outputs.retrieved.base.repository.get_object_content('_scheduler-stderr.txt')
    assert re.search(rf'JOB {job_id} ON \S+ CANCELLED AT', stderr), stderr
    # plain sacct needs slurmdbd: AiiDA stores its failure as the detailed job info and parses the job's files only
    assert node.get_detailed_job_info()['retval'] != 0
    # The scheduler parser knows OUT_OF_MEMORY/TIMEOUT/NODE_FAIL, not CANCELLED: the gap_fit parser decides.
    assert node.exit_status == GapFitCalculation.exit_codes.ERROR_OUTPUT_STDOUT_MISSING.status, (
        node.exit_status,
        node.exit_message,
    )
