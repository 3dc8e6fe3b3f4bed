"""Indirect learning for Si: ``verdi run workflows/indirect_si.py TEACHER_PK [protocol]``.

TEACHER_PK is a finished GAP-RSS run (its final ``potential`` is the teacher and its ``database`` the teacher's
training set, relabelled by the teacher) or any GapPotential (its training database is found by provenance). Uses the
job Python made by ``gaprss setup`` (``gaprss-python@localhost``); edit the label for a cluster (the ``precise``
protocol is the paper's scale). Prints the pk of the submitted run; follow it with ``verdi process report PK``.
"""

import sys

from aiida import orm
from aiida.engine import submit

from aiida_gaprss.workflows.indirect import IndirectLearningWorkChain, teacher_from_node

if len(sys.argv) < 2:
    raise SystemExit('usage: verdi run workflows/indirect_si.py TEACHER_PK [fast|precise]')
teacher, training_set = teacher_from_node(orm.load_node(int(sys.argv[1])))
protocol = sys.argv[2] if len(sys.argv) > 2 else 'fast'
builder = IndirectLearningWorkChain.get_builder_from_protocol(
    teacher,
    codes={'python': orm.load_code('gaprss-python@localhost')},
    protocol=protocol,
    teacher_training_set=training_set,
)
node = submit(builder)
print(
    f'submitted IndirectLearningWorkChain<{node.pk}> (teacher GapPotential<{teacher.pk}>, {protocol}'
    f'{", with its training set" if training_set is not None else ""}); follow it with: verdi process report {node.pk}'
)
