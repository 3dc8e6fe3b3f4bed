"""Continue a finished or failed GAP-RSS run: ``verdi run workflows/continue_run.py PK NEW_BUDGET``.

The new run starts from the old run's last database (and its potential, if that iteration's fit finished); no
reference calculation that finished is repeated. The budget counts the evaluations of the old run too.
"""

import sys

from aiida import orm
from aiida.engine import submit

from aiida_gaprss.workflows.rss_restart import restart_builder

if len(sys.argv) < 3:
    raise SystemExit('usage: verdi run workflows/continue_run.py PK NEW_BUDGET')
previous = orm.load_node(int(sys.argv[1]))
builder = restart_builder(previous)
builder.budget = orm.Int(int(sys.argv[2]))
if not builder.restart:
    raise SystemExit(f'run {previous.pk} finished no reference calculation: start a new run instead')
node = submit(builder)
used = builder.restart['reference_evaluations'].value
print(
    f'submitted GapRssWorkChain<{node.pk}> continuing <{previous.pk}> from iteration '
    f'{builder.restart["iteration"].value} ({used} evaluations used); follow it with: gaprss status {node.pk}'
)
