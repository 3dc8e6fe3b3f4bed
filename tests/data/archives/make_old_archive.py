"""Make ``gaprss_fdc7fef.aiida``: a finished tiny GAP-RSS run with validation, exported by the code of commit fdc7fef.

fdc7fef is the tree before the architecture change of issue 21 (modules split, parsers moved, restart work chains,
the window on public API): :mod:`tests.data.test_old_archive` checks that the current code still imports and reads
such an archive. This script is kept so the archive can be remade knowingly; it must run with the OLD code:

    git worktree add --detach /tmp/wt-old fdc7fef        # plus a dist-info with that tree's entry points
    AIIDA_PATH=/tmp/old-aiida verdi presto --profile-name old
    AIIDA_PATH=/tmp/old-aiida PYTHONPATH=/tmp/wt-old verdi -p old run tests/data/archives/make_old_archive.py OUT

The run: Si, the ``tiny`` protocol (budget 21, two iterations) on the ASE engine (Stillinger–Weber labels), with
validation on diamond and beta-Sn against Stillinger–Weber — the same as the old ``validated_run`` test fixture.
"""

import shutil
import subprocess
import sys

from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import WorkflowFactory

out = sys.argv[1]
computer = orm.load_computer('localhost')
codes = {
    'python': orm.InstalledCode(computer=computer, filepath_executable=sys.executable, label='python-old').store(),
    'gap_fit': orm.InstalledCode(
        computer=computer,
        filepath_executable=shutil.which('gap_fit'),
        default_calc_job_plugin='gaprss.gap_fit',
        label='gap_fit-old',
    ).store(),
}
builder = WorkflowFactory('gaprss.rss').get_builder_from_protocol(
    'Si', codes=codes, engine='ase', protocol='tiny', overrides={'budget': 21}
)
builder.validation = {
    'enabled': orm.Bool(True),
    'phases': orm.List(['diamond', 'beta_sn']),
    'parameters': orm.Dict(
        {
            'relax': {'fmax': 0.02, 'steps': 100, 'smax': 0.02},
            'eos': {'volume_factors': [0.94, 0.97, 1.0, 1.03, 1.06], 'fmax': 0.05, 'steps': 20},
        }
    ),
}
_, node = run_get_node(builder)
assert node.is_finished_ok, node.exit_message
node.base.extras.set('gaprss_archive', 'pre-issue-21 (fdc7fef)')
subprocess.run(['verdi', 'archive', 'create', '-N', str(node.pk), '--', out], check=True)
print(node.pk, out)
