"""Pseudopotentials generated on the machine with Quantum ESPRESSO's ``ld1.x`` (Debian's ``quantum-espresso``).

Debian ships PBE pseudopotentials for B, C and Si but only an LDA Ti. The PBE Ti of the embedded family is made here
from pslibrary's published generation parameters (:data:`INPUTS`), so that every element of the family shares one
functional. Generation takes a few seconds, is deterministic for one ``ld1.x`` and is cached
(:func:`cache_folder`): it is done once per machine (``install.sh`` does it).

What is checked after ``ld1.x`` ran (:func:`check_generation`), else a ``RuntimeError``:

* the UPF exists, its header names the element and the functional asked for (PBE: ``SLA PW PBX PBC``);
* ld1.x's own test of the pseudopotential (same run): every valence eigenvalue of the pseudo-atom within
  :data:`MAX_EIGENVALUE_ERROR_RY` of the all-electron one;
* ld1.x's ghost test (a basis of spherical Bessel functions in a 30 a.u. box, up to 90 Ry): per angular momentum,
  no state below the lowest all-electron valence state (a ghost) and the bound valence states found within
  :data:`MAX_BESSEL_ERROR_RY`.

The written UPF is made readable by the same QE: ``ld1.x`` 6.7 writes some matrices (``PP_DIJ``, ``PP_Q``,
``PP_MULTIPOLES``) on one line of several thousand characters, which its own UPF reader (1024 characters a line)
refuses (``xmlr_opentag: severe error, line too long`` in pw.x); those lines are re-wrapped, four numbers a line (only
whitespace changes). The generation date is replaced by a fixed text so the file does not depend on the day.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

__all__ = (
    'INPUTS',
    'MAX_BESSEL_ERROR_RY',
    'MAX_EIGENVALUE_ERROR_RY',
    'cache_folder',
    'check_generation',
    'generate',
    'generated_pseudo',
    'ld1_input',
    'rewrap_long_lines',
    'upf_functional',
)

LOGGER = logging.getLogger(__name__)

#: ld1.x generation inputs (text), by the name of the UPF they write.
#:
#: Ti.pbe-spn-kjpaw_psl.1.0.0: the parameters of pslibrary 1.0.0 (A. Dal Corso, https://github.com/dalcorso/pslibrary,
#: ``paw_ps_high.job``, ``Ti.$fct-spn-kjpaw_psl.1.0.0.in`` with ``fct=pbe``, ``gfun=PBE``, ``nrel=1`` of
#: ``pbe/environment.job``; unchanged since 2013), distributed by pslibrary under the GNU General Public License.
#: These are input parameters, not code. The ``&test`` namelist is ours: ld1.x's test of the pseudopotential in its
#: generation configuration and the ghost test in a basis of spherical Bessel functions (30 a.u. box, 30-90 Ry).
INPUTS = {
    'Ti.pbe-spn-kjpaw_psl.1.0.0.UPF': {
        'element': 'Ti',
        'functional': 'PBE',
        'text': """\
 &input
   title='Ti',
   zed=22.,
   rel=1,
   config='[Ar] 4s2 4p0 3d2',
   iswitch=3,
   dft='PBE'
 /
 &inputp
   lpaw=.true.,
   pseudotype=3,
   file_pseudopw='Ti.pbe-spn-kjpaw_psl.1.0.0.UPF',
   author='ADC',
   lloc=-1,
   rcloc=1.6,
   which_augfun='PSQ',
   rmatch_augfun_nc=.true.,
   nlcc=.true.,
   new_core_ps=.true.,
   rcore=0.8,
   tm=.true.
 /
6
3S  1  0  2.00  0.00  0.85  1.30  0.0
4S  2  0  2.00  0.00  0.85  1.30  0.0
3P  2  1  6.00  0.00  0.80  1.60  0.0
4P  3  1  0.00  4.00  0.80  1.60  0.0
3D  3  2  2.00  0.00  0.80  1.50  0.0
3D  3  2  0.00  0.05  0.80  1.50  0.0
 &test
   nconf=1,
   configts(1)='3s2 3p6 3d2 4s2 4p0',
   ecutmin=30.0, ecutmax=90.0, decut=10.0, rm=30.0
 /
""",
    },
}
#: Largest |e_AE - e_PS| of a valence state in ld1.x's test of the pseudopotential (Ry).
MAX_EIGENVALUE_ERROR_RY = 2.0e-3
#: Largest distance between a bound all-electron valence eigenvalue and the Bessel-basis one of the same rank (Ry).
MAX_BESSEL_ERROR_RY = 1.0e-2
#: Longest line written (QE 6.7's UPF reader takes 1024 characters).
MAX_LINE = 200
#: Functional names of UPF headers (``functional="..."``, words in any spacing) -> the family's name for it.
FUNCTIONALS = {
    ('PBE',): 'PBE',
    ('SLA', 'PW', 'PBX', 'PBC'): 'PBE',
    ('SLA', 'PW', 'PBE', 'PBE'): 'PBE',
    ('SLA', 'PZ', 'NOGX', 'NOGC'): 'LDA',
    ('PZ',): 'LDA',
    ('LDA',): 'LDA',
    ('SLA', 'PW', 'PSX', 'PSC'): 'PBESOL',
    ('PBESOL',): 'PBESOL',
}
_DATE = re.compile(r'(Generation date:|date=")[^"\n]*')
_FIXED_DATE = 'ld1.x run by aiida-gaprss'


def ld1_input(name: str) -> str:
    """The ld1.x input text that writes ``name`` (a key of :data:`INPUTS`)."""
    if name not in INPUTS:
        raise ValueError(f'field `name`: no generation input for `{name}`; known: {sorted(INPUTS)}')
    return INPUTS[name]['text']


def upf_functional(text: str) -> str:
    """The functional of a UPF file's text, as :data:`FUNCTIONALS` names it (``PBE``, ``LDA``, ...).

    Reads ``functional="..."`` of ``PP_HEADER`` (UPF 2) or the ``Exchange-Correlation functional`` line (UPF 1); an
    unknown name is returned as written (upper case, single spaces).
    """
    match = re.search(r'functional="([^"]*)"', text)
    if match is None:
        match = re.search(r'^\s*(.*?)\s+Exchange-Correlation functional', text, flags=re.MULTILINE | re.IGNORECASE)
    if match is None:
        raise ValueError('field `text`: no functional in the UPF header')
    words = tuple(match.group(1).upper().split())
    # UPF 1 writes the four parts and then the short name (``SLA PW PBX PBC PBE``)
    return FUNCTIONALS.get(words) or FUNCTIONALS.get(words[:4]) or ' '.join(words)


def rewrap_long_lines(text: str, width: int = 4) -> str:
    """Lines longer than :data:`MAX_LINE` made only of numbers, split ``width`` numbers a line (whitespace only)."""
    lines = []
    for line in text.splitlines():
        tokens = line.split()
        if len(line) > MAX_LINE and tokens and all(_is_number(token) for token in tokens):
            lines.extend('  ' + '  '.join(tokens[i : i + width]) for i in range(0, len(tokens), width))
        else:
            lines.append(line)
    return '\n'.join(lines) + '\n'


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def check_generation(output: str, upf_text: str, element: str, functional: str) -> dict:
    """Check ld1.x's output and the UPF it wrote; return what was checked (numbers in Ry), else ``RuntimeError``."""
    if f'element="{element}"' not in upf_text:
        raise RuntimeError(f'element {element}: the UPF header names another element')
    found = upf_functional(upf_text)
    if found != functional:
        raise RuntimeError(f'element {element}: the UPF is {found}, not {functional}')
    all_electron = _all_electron_valence(output)
    errors = _test_eigenvalue_errors(output)
    if not errors:
        raise RuntimeError(f'element {element}: no test of the pseudopotential in the ld1.x output')
    worst = max(abs(value) for value in errors.values())
    if worst > MAX_EIGENVALUE_ERROR_RY:
        raise RuntimeError(f'element {element}: ld1.x test: |e_AE - e_PS| = {worst:.5f} Ry > {MAX_EIGENVALUE_ERROR_RY}')
    bessel = _bessel_eigenvalues(output)
    if not bessel:
        raise RuntimeError(f'element {element}: no Bessel-basis (ghost) test in the ld1.x output')
    ghost_errors = {}
    for ell, values in bessel.items():
        reference = sorted(energy for label, (l_ae, energy) in all_electron.items() if l_ae == ell and energy < 0)
        if not reference:
            continue
        if values[0] < reference[0] - MAX_BESSEL_ERROR_RY:
            raise RuntimeError(
                f'element {element}: ghost state at L={ell}: {values[0]:.4f} Ry below the all-electron '
                f'{reference[0]:.4f} Ry'
            )
        for rank, energy in enumerate(reference):
            if rank >= len(values) or abs(values[rank] - energy) > MAX_BESSEL_ERROR_RY:
                got = values[rank] if rank < len(values) else None
                raise RuntimeError(f'element {element}: Bessel test at L={ell}: state {rank + 1} {got} Ry, '
                                   f'all-electron {energy:.4f} Ry')  # fmt: skip
            ghost_errors[f'L{ell}_{rank + 1}'] = round(values[rank] - energy, 5)
    return {
        'functional': found,
        'max_eigenvalue_error_ry': worst,
        'bessel_minus_all_electron_ry': ghost_errors,
        'suggested_cutoffs_ry': suggested_cutoffs(upf_text),
    }


def suggested_cutoffs(upf_text: str) -> tuple[float, float]:
    """(ecutwfc, ecutrho) in Ry that the UPF's own header suggests."""
    wfc = re.search(r'Suggested minimum cutoff for wavefunctions:\s*([0-9.]+)', upf_text)
    rho = re.search(r'Suggested minimum cutoff for charge density:\s*([0-9.]+)', upf_text)
    if wfc is None or rho is None:
        raise ValueError('field `upf_text`: no suggested cut-offs in the UPF header')
    return float(wfc.group(1)), float(rho.group(1))


#: A row of ld1.x's test table: n, l, label, occupation, e_AE, e_PS, e_AE - e_PS (Ry).
_TEST_ROW = re.compile(
    r'^\s+\d+\s+(\d)\s+(\d[SPDF])\s+\d\(\s*[0-9.]+\)\s+(-?[0-9.]+)\s+(-?[0-9.]+)\s+(-?[0-9.]+)', flags=re.MULTILINE
)


def _test_section(output: str) -> str:
    """The text of ld1.x's test of the pseudopotential (its table: n l label occupation e_AE e_PS e_AE-e_PS)."""
    start = output.find('Testing the pseudopotential')
    if start < 0:
        return ''
    end = output.find('End of pseudopotential test', start)
    return output[start : end if end > 0 else None]


def _all_electron_valence(output: str) -> dict[str, tuple[int, float]]:
    """Label -> (l, all-electron eigenvalue in Ry) of the valence states of ld1.x's test table."""
    return {m.group(2): (int(m.group(1)), float(m.group(3))) for m in _TEST_ROW.finditer(_test_section(output))}


def _test_eigenvalue_errors(output: str) -> dict[str, float]:
    """Label -> e_AE - e_PS (Ry) of ld1.x's test of the pseudopotential."""
    return {m.group(2): float(m.group(5)) for m in _TEST_ROW.finditer(_test_section(output))}


def _bessel_eigenvalues(output: str) -> dict[int, list[float]]:
    """L -> eigenvalues (Ry) of the Bessel-basis test at its highest cut-off."""
    blocks = output.split('Cutoff (Ry) :')
    if len(blocks) < 2:
        return {}
    last = blocks[-1].split('End of Bessel')[0]
    result = {}
    for match in re.finditer(r'E\(L=(\d)\)\s*=\s*(.*)', last):
        result[int(match.group(1))] = [float(value) for value in re.findall(r'(-?[0-9.]+)\s*Ry', match.group(2))]
    return result


def cache_folder() -> pathlib.Path:
    """Where generated pseudopotentials are kept: ``$GAPRSS_PSEUDO_CACHE``, else ``$XDG_CACHE_HOME/aiida-gaprss/
    pseudos``, else ``~/.cache/aiida-gaprss/pseudos``."""
    if os.environ.get('GAPRSS_PSEUDO_CACHE'):
        return pathlib.Path(os.environ['GAPRSS_PSEUDO_CACHE'])
    base = os.environ.get('XDG_CACHE_HOME') or pathlib.Path.home() / '.cache'
    return pathlib.Path(base) / 'aiida-gaprss' / 'pseudos'


def _ld1() -> str:
    program = shutil.which('ld1.x') or ('/usr/bin/ld1.x' if pathlib.Path('/usr/bin/ld1.x').exists() else None)
    if program is None:
        raise RuntimeError('ld1.x not found: install Quantum ESPRESSO (install.sh: apt-get install quantum-espresso)')
    return program


def _key(name: str, program: str) -> str:
    """Cache key: the input text and the ld1.x binary (its size and content hash)."""
    digest = hashlib.sha256(ld1_input(name).encode())
    digest.update(hashlib.sha256(pathlib.Path(program).read_bytes()).digest())
    return digest.hexdigest()[:16]


def generate(name: str, folder: str | pathlib.Path, program: str | None = None) -> dict:
    """Run ld1.x with the input of ``name`` in a temporary folder; check it; write the UPF and ld1.x's output in
    ``folder``. Return the checks of :func:`check_generation` with ``path`` (the UPF)."""
    entry = INPUTS.get(name)
    text = ld1_input(name)
    program = program or _ld1()
    folder = pathlib.Path(folder)
    with tempfile.TemporaryDirectory(prefix='gaprss-ld1-') as tmp:
        run = subprocess.run([program], input=text, cwd=tmp, capture_output=True, text=True, check=False,
                             env={**os.environ, 'OMP_NUM_THREADS': '1'})  # fmt: skip
        output = run.stdout + run.stderr
        written = pathlib.Path(tmp) / name
        if run.returncode != 0 or not written.is_file():
            tail = '\n'.join(output.splitlines()[-15:])
            raise RuntimeError(f'ld1.x failed for {name} (exit {run.returncode}):\n{tail}')
        upf_text = rewrap_long_lines(_DATE.sub(lambda m: m.group(1) + ' ' + _FIXED_DATE, written.read_text()))
    checks = check_generation(output, upf_text, entry['element'], entry['functional'])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f'{name}.ld1.out').write_text(output)
    (folder / f'{name}.ld1.in').write_text(text)
    target = folder / name
    partial = folder / f'.{name}.partial'
    partial.write_text(upf_text)
    partial.replace(target)  # atomic: a reader never sees half a file
    LOGGER.info('generated %s with %s in %s', name, program, folder)
    return {**checks, 'path': target}


def generated_pseudo(name: str, cache: str | pathlib.Path | None = None) -> pathlib.Path:
    """The path of the generated UPF ``name``: from the cache, else generated (once) into it.

    The cache entry is keyed by the input text and the ld1.x binary, so a changed input or another QE makes a new one.
    """
    program = _ld1()
    folder = (pathlib.Path(cache) if cache is not None else cache_folder()) / _key(name, program)
    target = folder / name
    if target.is_file():
        return target
    return generate(name, folder, program)['path']


def main() -> None:
    """Generate (once) every pseudopotential of :data:`INPUTS` into the cache and log where each is
    (``python -m aiida_gaprss.pseudo_generation``, run by ``install.sh``)."""
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    for name in INPUTS:
        LOGGER.info('%s: %s', name, generated_pseudo(name))


if __name__ == '__main__':
    main()
