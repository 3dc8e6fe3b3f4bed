"""Si GAP-RSS with the Quantum ESPRESSO reference: ``verdi run workflows/si_qe.py [protocol] [budget]``.

Uses the codes made by ``gaprss setup`` (``gaprss-python``, ``gap_fit`` and ``pw`` on ``localhost``); edit the labels
for a cluster. Prints the pk of the submitted run; follow it with ``gaprss status PK``.
"""

import sys

from aiida import orm
from aiida.engine import submit

from aiida_gaprss.workflows.rss import GapRssWorkChain

protocol = sys.argv[1] if len(sys.argv) > 1 else 'fast'
overrides = {'budget': int(sys.argv[2])} if len(sys.argv) > 2 else {}
codes = {
    'python': orm.load_code('gaprss-python@localhost'),
    'gap_fit': orm.load_code('gap_fit@localhost'),
    'pw': orm.load_code('pw@localhost'),
}
builder = GapRssWorkChain.get_builder_from_protocol(
    'Si', codes=codes, engine='qe', protocol=protocol, overrides=overrides
)
node = submit(builder)
print(f'submitted GapRssWorkChain<{node.pk}> (Si, QE, {protocol}); follow it with: gaprss status {node.pk}')
