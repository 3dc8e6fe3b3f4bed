"""The main job: a small Si GAP-RSS run on the embedded default (QE reference, fast protocol), through the daemon.

Run it with ``verdi run workflows/demo.py`` after ``gaprss setup``. It submits the run, prints its progress until it
finishes, and ends by printing where the potential, the learning curve and its plot are.
"""

import os
import pathlib
import time

from aiida import orm
from aiida.engine import submit

from aiida_gaprss.cli.run import print_status
from aiida_gaprss.provenance import run_status
from aiida_gaprss.workflows.rss import GapRssWorkChain

ELEMENT = os.environ.get('GAPRSS_DEMO_ELEMENT', 'Si')
PROTOCOL = os.environ.get('GAPRSS_DEMO_PROTOCOL', 'fast')
OUTPUT = pathlib.Path(os.environ.get('GAPRSS_DEMO_OUTPUT', 'demo-output'))

codes = {
    'python': orm.load_code('gaprss-python@localhost'),
    'gap_fit': orm.load_code('gap_fit@localhost'),
    'pw': orm.load_code('pw@localhost'),
}
builder = GapRssWorkChain.get_builder_from_protocol(ELEMENT, codes=codes, engine='qe', protocol=PROTOCOL)
node = submit(builder)
print(f'submitted GapRssWorkChain<{node.pk}>: {ELEMENT}, QE reference, protocol {PROTOCOL}')
print(f'follow it in another shell with: gaprss status {node.pk}')
start = time.time()
last = None
while not node.is_terminated:
    time.sleep(15)
    lines = [str(row.get('last_message', '')) for row in run_status(node)['iterations']]
    if lines and lines[-1] != last:
        last = lines[-1]
        print(f'[{time.time() - start:6.0f} s] {last}')

print()
print_status(node)
if not node.is_finished_ok:
    raise SystemExit(f'the run failed: [{node.exit_status}] {node.exit_message}')

OUTPUT.mkdir(exist_ok=True)
potential = node.outputs.potential
with potential.as_folder() as folder:
    for name in potential.filenames:
        (OUTPUT / name).write_bytes((folder / name).read_bytes())
curve = node.outputs.learning_curve.get_dict()
plots = dict(node.outputs.plots) if 'plots' in node.outputs else {}
for name, plot in plots.items():
    (OUTPUT / f'{name}.png').write_bytes(plot.get_content(mode='rb'))
print(f'\nfinished in {time.time() - start:.0f} s')
print(f'potential:      GapPotential<{potential.pk}>  (files in {OUTPUT}/{potential.xml_name})')
print(f'database:       StructureSet<{node.outputs.database.pk}> ({len(node.outputs.database)} structures)')
print(f'learning curve: Dict<{node.outputs.learning_curve.pk}>: {len(curve["iterations"])} iterations')
for row in curve['iterations']:
    rmse = row.get('training_energy_rmse')
    prediction = row.get('prediction_energy_rmse')
    print(
        f'  iteration {row["iteration"]}: {row["reference_evaluations"]} evaluations, training RMSE '
        f'{rmse * 1000:.1f} meV/atom' + (f', prediction RMSE {prediction * 1000:.1f} meV/atom' if prediction else '')
    )
for name, plot in plots.items():
    print(f'plot:           {name}: SinglefileData<{plot.pk}> ({OUTPUT}/{name}.png)')
print(f'provenance:     gaprss lineage {potential.pk};  verdi node graph generate {potential.pk}')
