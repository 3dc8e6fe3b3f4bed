"""``gaprss setup`` creates the embedded default once; running it again changes nothing."""

import os
import subprocess
import sys

import pytest

#: The PATH of a new shell: nothing of the project's venv on it (the README's commands must work from there).
NEW_SHELL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'


def _run(tmp_path, *args):
    """``.venv/bin/gaprss setup ...`` as typed in a new shell: the venv is not activated, not on PATH."""
    env = {**os.environ, 'AIIDA_PATH': str(tmp_path), 'PATH': NEW_SHELL_PATH}
    env.pop('VIRTUAL_ENV', None)
    command = [os.path.join(os.path.dirname(sys.executable), 'gaprss'), 'setup', *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=300)


@pytest.mark.daemon
def test_setup_is_idempotent(tmp_path):
    first = _run(tmp_path, '--profile', 'embedded', '--no-pseudos')
    try:
        assert 'created  profile embedded' in first.stdout
        assert 'created  code gap_fit@localhost' in first.stdout
        assert 'created  code gaprss-python@localhost' in first.stdout
        assert 'created  daemon' in first.stdout
        second = _run(tmp_path, '--profile', 'embedded', '--no-pseudos')
        assert 'nothing to do' in second.stdout
        assert 'created' not in second.stdout
        listing = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), 'verdi'), '-p', 'embedded', 'code', 'list', '-r'],
            env={**os.environ, 'AIIDA_PATH': str(tmp_path)},
            capture_output=True,
            text=True,
            check=True,
        )
        assert listing.stdout.count('gap_fit@localhost') == 1
        # presto's localhost polled every 0.5 s (the fast protocol's jobs last seconds), its jobs started without a
        # login shell (the user's profile is not read at every submission)
        script = (
            "from aiida import load_profile, orm; load_profile('embedded'); computer = orm.load_computer('localhost'); "
            "print(computer.get_configuration()['use_login_shell'], computer.get_minimum_job_poll_interval())"
        )
        poll = subprocess.run(
            [sys.executable, '-c', script],
            env={**os.environ, 'AIIDA_PATH': str(tmp_path)},
            capture_output=True,
            text=True,
            check=True,
        )
        login_shell, interval = poll.stdout.split()[-2:]
        assert login_shell == 'False'
        assert float(interval) == 0.5
    finally:
        subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), 'verdi'), '-p', 'embedded', 'daemon', 'stop'],
            env={**os.environ, 'AIIDA_PATH': str(tmp_path)},
            capture_output=True,
            text=True,
            check=False,
        )
