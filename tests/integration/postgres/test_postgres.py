"""Opt-in: the same GAP-RSS workflow on a production profile (core.psql_dos + RabbitMQ), through its daemon.

Start the services first (``tests/integration/postgres/setup_services.sh``), then
``python -m pytest -m postgres tests/integration/postgres``. The test creates a throw-away profile (own PostgreSQL
user and database) in a temporary ``AIIDA_PATH`` with the same script (``--profile``), runs a tiny two-iteration
GAP-RSS run with the ASE reference engine through the profile's daemon in a ``verdi run`` subprocess, and deletes the
profile, its database and its user at the end. No code differs from the SQLite + ZeroMQ default.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import uuid

import pytest

HERE = pathlib.Path(__file__).parent
SCRIPT = HERE / 'setup_services.sh'
BIN = pathlib.Path(sys.executable).parent


def _rabbitmq_port() -> int:
    """The AMQP port setup_services.sh configured (``RABBITMQ_PORT``, else its rabbitmq.conf, else 5672)."""
    if os.environ.get('RABBITMQ_PORT'):
        return int(os.environ['RABBITMQ_PORT'])
    conf = pathlib.Path('/etc/rabbitmq/rabbitmq.conf')
    text = conf.read_text(encoding='utf-8') if conf.is_file() else ''
    found = re.search(r'^listeners\.tcp\.default\s*=\s*(\d+)', text, re.MULTILINE)
    return int(found.group(1)) if found else 5672


def _services_up() -> bool:
    """A PostgreSQL cluster online and RabbitMQ accepting connections (a socket, not rabbitmqctl: an Erlang VM that
    takes minutes to start on a loaded machine)."""
    if shutil.which('pg_lsclusters') is None or shutil.which('rabbitmqctl') is None:
        return False
    clusters = subprocess.run(['pg_lsclusters', '-h'], capture_output=True, text=True, check=False).stdout
    try:
        with socket.create_connection(('127.0.0.1', _rabbitmq_port()), timeout=30):
            pass
    except OSError:
        return False
    return 'online' in clusters


@pytest.fixture(scope='module')
def services():
    """Skip unless PostgreSQL and RabbitMQ run (asked when the test runs, not when the module is collected: the fast
    suite imports this module too). ``.ci/run`` starts them first and sets GAPRSS_NO_SKIPS=1: there a skip fails."""
    if not _services_up():
        pytest.skip('PostgreSQL/RabbitMQ not running (tests/integration/postgres/setup_services.sh)')


pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.daemon, pytest.mark.usefixtures('services')]

RUN = """
import json, sys, time
from aiida import orm
from aiida.engine import submit
from aiida.plugins import WorkflowFactory

overrides = json.loads(sys.argv[1])
codes = {'python': orm.load_code('gaprss-python@localhost'), 'gap_fit': orm.load_code('gap_fit@localhost')}
builder = WorkflowFactory('gaprss.rss').get_builder_from_protocol(
    'Si', codes=codes, engine='ase', protocol='tiny', overrides=overrides)
node = submit(builder)
start = time.monotonic()
while not node.is_terminated and time.monotonic() - start < float(sys.argv[2]):
    time.sleep(2)
calcjobs = [n for n in node.called_descendants if isinstance(n, orm.CalcJobNode)]
print(json.dumps({
    'pk': node.pk, 'state': node.process_state.value, 'exit_status': node.exit_status,
    'exit_message': node.exit_message, 'seconds': round(time.monotonic() - start, 1),
    'calcjobs': len(calcjobs), 'calcjobs_ok': sum(c.is_finished_ok for c in calcjobs),
    'backend': node.backend.__class__.__module__,
    'iterations': sorted(l.link_label for l in node.base.links.get_outgoing().all()
                         if l.link_label.startswith('iteration_')),
}))
"""


@pytest.fixture
def production_profile(tmp_path):
    """A fresh core.psql_dos + RabbitMQ profile made by setup_services.sh, deleted (with its database) afterwards."""
    name = f'gaprss_pg_{uuid.uuid4().hex[:8]}'
    env = {
        **os.environ,
        'AIIDA_PATH': str(tmp_path),
        'PATH': f'{BIN}:{os.environ["PATH"]}',
        'GAPRSS_SETUP_OPTIONS': '--no-pseudos',
    }
    try:
        result = subprocess.run(
            ['bash', str(SCRIPT), '--profile', name], env=env, capture_output=True, text=True, timeout=900
        )
        assert result.returncode == 0, result.stdout + result.stderr
        yield name, env
    finally:
        subprocess.run([BIN / 'verdi', '-p', name, 'daemon', 'stop'], env=env, capture_output=True, check=False)
        subprocess.run(
            [BIN / 'verdi', 'profile', 'delete', '--delete-data', '--force', name],
            env=env, capture_output=True, check=False,
        )  # fmt: skip
        for sql in (f'DROP DATABASE IF EXISTS {name}', f'DROP ROLE IF EXISTS {name}'):
            subprocess.run(['runuser', '-u', 'postgres', '--', 'psql', '-qc', sql], capture_output=True, check=False)


def test_gap_rss_on_a_postgres_rabbitmq_profile(production_profile, tmp_path):
    name, env = production_profile
    shown = subprocess.run(
        [BIN / 'verdi', 'profile', 'show', name], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert 'core.psql_dos' in shown and 'core.rabbitmq' in shown, shown
    status = subprocess.run([BIN / 'verdi', '-p', name, 'status'], env=env, capture_output=True, text=True)
    assert status.returncode == 0, status.stdout + status.stderr
    # RabbitMQ must not cancel a consumer that holds a task for days
    timeout = subprocess.run(
        ['rabbitmqctl', '-q', 'eval', 'application:get_env(rabbit, consumer_timeout).'],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert timeout.stdout.strip() == '{ok,undefined}'

    script = tmp_path / 'run_tiny.py'
    script.write_text(RUN)
    overrides = json.dumps({'budget': 21})
    run = subprocess.run(
        [BIN / 'verdi', '-p', name, 'run', str(script), overrides, '1500'],
        env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result['state'] == 'finished' and result['exit_status'] == 0, result
    assert result['iterations'] == ['iteration_00', 'iteration_01']
    assert result['calcjobs'] > 0 and result['calcjobs_ok'] == result['calcjobs']
    assert 'psql_dos' in result['backend'], result
    print(f'\npostgres + rabbitmq run: {json.dumps(result)}')  # noqa: T201 (pytest -s report)
