"""Si GAP-RSS with VASP through aiida-vasp: ``verdi run workflows/si_vasp.py VASP_CODE POTCAR_FAMILY [protocol]``.

The paper's settings are the defaults of the VASP reference protocol (ENCUT Si 400 eV, KSPACING 0.25 Å⁻¹ with 2π,
PBEsol; see aiida_gaprss/protocols/reference_vasp.yaml). The POTCAR family must have been uploaded with
``verdi data vasp-potcar uploadfamily``; the mapping uses the plain ``Si`` POTCAR.
"""

import sys

from aiida import orm
from aiida.engine import submit

from aiida_gaprss.workflows.rss import GapRssWorkChain

if len(sys.argv) < 3:
    raise SystemExit('usage: verdi run workflows/si_vasp.py VASP_CODE POTCAR_FAMILY [protocol]')
vasp_code, family = sys.argv[1], sys.argv[2]
protocol = sys.argv[3] if len(sys.argv) > 3 else 'precise'
codes = {
    'python': orm.load_code('gaprss-python@localhost'),
    'gap_fit': orm.load_code('gap_fit@localhost'),
    'vasp': orm.load_code(vasp_code),
}
overrides = {'reference': {'vasp': {'potential_family': family, 'potential_mapping': {'Si': 'Si'}}}}
builder = GapRssWorkChain.get_builder_from_protocol(
    'Si', codes=codes, engine='vasp', protocol=protocol, overrides=overrides
)
node = submit(builder)
print(f'submitted GapRssWorkChain<{node.pk}> (Si, VASP, {protocol}); follow it with: gaprss status {node.pk}')
