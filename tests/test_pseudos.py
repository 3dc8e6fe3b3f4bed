"""The embedded PBE family: the Ti generated with ld1.x (input, checks, cache), Ti in the family, one functional."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from aiida_gaprss import pseudo_generation
from aiida_gaprss.pseudos import (
    DEBIAN_PBE,
    DEBIAN_PSEUDO_FOLDER,
    DEFAULT_FAMILY_LABEL,
    DEFAULT_PBE,
    GENERATED_PBE,
    check_family_elements,
    install_debian_family,
    pseudo_folder,
    pseudo_path,
)

TI = GENERATED_PBE['Ti'][0]


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    """One real ld1.x generation of the Ti (a few seconds): the checks, the UPF text and ld1.x's output."""
    folder = tmp_path_factory.mktemp('ld1')
    checks = pseudo_generation.generate(TI, folder)
    return checks, checks['path'].read_text(), (folder / f'{TI}.ld1.out').read_text()


def test_ld1_input_is_pslibrary_ti_with_pbe():
    text = pseudo_generation.ld1_input(TI)
    assert "dft='PBE'" in text and 'zed=22.' in text and 'lpaw=.true.' in text
    assert f"file_pseudopw='{TI}'" in text
    # pslibrary 1.0.0's six pseudo-wavefunctions (paw_ps_high.job), in order
    cards = re.findall(r'^(\d[SPD])\s+\d\s+(\d)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)', text, re.MULTILINE)
    assert [card[0] for card in cards] == ['3S', '4S', '3P', '4P', '3D', '3D']
    assert cards[0][4:] == ('0.85', '1.30') and cards[2][4:] == ('0.80', '1.60') and cards[4][4:] == ('0.80', '1.50')
    with pytest.raises(ValueError, match='field `name`: no generation input for `Ti.pz.UPF`'):
        pseudo_generation.ld1_input('Ti.pz.UPF')


def test_functional_of_the_debian_files():
    read = lambda name: pseudo_generation.upf_functional((DEBIAN_PSEUDO_FOLDER / name).read_text(errors='replace'))  # noqa: E731
    for symbol, (name, _, _) in DEBIAN_PBE.items():
        assert read(name) == 'PBE', symbol
    assert read('Ti.pz-sp-van_ak.UPF') == 'LDA'
    assert read('Si.pbe-rrkj.UPF') == 'PBE' and read('Si.pz-vbc.UPF') == 'LDA'
    assert read('O.pbesol-n-kjpaw_psl.0.1.UPF') == 'PBESOL'
    assert read('C.tpss-mt.UPF') == 'SLA PW TPSS TPSS'  # unknown names are returned as written
    with pytest.raises(ValueError, match='no functional'):
        pseudo_generation.upf_functional('<UPF version="2.0.1">')


def test_rewrap_long_lines_changes_only_whitespace():
    numbers = [f'{value:.16f}' for value in np.linspace(-1, 1, 60)]
    text = '<PP_DIJ>\n' + '   '.join(numbers) + '\n</PP_DIJ>\n' + '<PP_INFO x="' + 'a' * 300 + '">\n'
    wrapped = pseudo_generation.rewrap_long_lines(text)
    assert max(len(line) for line in wrapped.splitlines()[:-1]) <= pseudo_generation.MAX_LINE
    assert wrapped.split()[1:-3] == numbers  # the same numbers in the same order
    assert wrapped.splitlines()[-1] == text.splitlines()[-1]  # a long line that is not numbers is kept


def test_generation_is_checked_and_deterministic(generated, tmp_path):
    checks, upf, output = generated
    assert checks['functional'] == 'PBE' and 'functional=" SLA  PW   PBX  PBC"' in upf
    assert 'element="Ti"' in upf and 'pseudo_type="PAW"' in upf
    assert checks['max_eigenvalue_error_ry'] < pseudo_generation.MAX_EIGENVALUE_ERROR_RY
    assert set(checks['bessel_minus_all_electron_ry']) == {'L0_1', 'L0_2', 'L1_1', 'L1_2', 'L2_1'}
    assert checks['suggested_cutoffs_ry'] == GENERATED_PBE['Ti'][1:]
    assert max(len(line) for line in upf.splitlines()) <= 1024  # QE 6.7's reader
    assert 'date=" ld1.x run by aiida-gaprss"' in upf
    again = pseudo_generation.generate(TI, tmp_path)['path'].read_bytes()
    assert hashlib.md5(again).hexdigest() == hashlib.md5(upf.encode()).hexdigest()


def test_generation_checks_refuse_a_ghost_and_another_functional(generated):
    _, upf, output = generated
    # a ghost: an s state far below the all-electron 3s (-4.60 Ry) in the Bessel basis at the highest cut-off
    head, last = output.rsplit('Cutoff (Ry) :', 1)
    ghost = head + 'Cutoff (Ry) :' + re.sub(r'E\(L=0\) =\s+(-?[0-9.]+) Ry', 'E(L=0) =        -9.9000 Ry', last)
    with pytest.raises(RuntimeError, match='ghost state at L=0'):
        pseudo_generation.check_generation(ghost, upf, 'Ti', 'PBE')
    with pytest.raises(RuntimeError, match='the UPF is PBE, not LDA'):
        pseudo_generation.check_generation(output, upf, 'Ti', 'LDA')
    with pytest.raises(RuntimeError, match='no test of the pseudopotential'):
        pseudo_generation.check_generation('', upf, 'Ti', 'PBE')


def test_generated_pseudo_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv('GAPRSS_PSEUDO_CACHE', str(tmp_path))
    first = pseudo_generation.generated_pseudo(TI)
    assert first.is_file() and first.parent.parent == tmp_path
    assert (first.parent / f'{TI}.ld1.in').read_text() == pseudo_generation.ld1_input(TI)

    def no_ld1(*args, **kwargs):
        raise AssertionError('ld1.x run again')

    monkeypatch.setattr(pseudo_generation, 'generate', no_ld1)
    assert pseudo_generation.generated_pseudo(TI) == first
    assert pseudo_path('Ti') == first
    folder = pseudo_folder(['Si', 'Ti'])
    assert (folder / TI).resolve() == first.resolve() and (folder / DEBIAN_PBE['Si'][0]).is_file()
    assert pseudo_folder(['Si']) == DEBIAN_PSEUDO_FOLDER


def test_default_family_holds_the_generated_pbe_ti():
    family = install_debian_family()
    assert {node.element: node.filename for node in family.nodes} == {k: v[0] for k, v in DEFAULT_PBE.items()}
    assert family.get_recommended_cutoffs(elements=('Ti',), unit='Ry') == (52.0, 575.0)
    assert family.get_recommended_cutoffs(elements=('Si',), unit='Ry') == (44.0, 175.0)
    titanium = family.get_pseudo('Ti')
    assert pseudo_generation.upf_functional(titanium.get_content()) == 'PBE'
    assert check_family_elements(DEFAULT_FAMILY_LABEL, ['Si', 'Ti']) is None
    assert install_debian_family().pk == family.pk


def test_a_family_installed_before_ti_gets_ti_added():
    """An existing profile's family (B, C, Si) keeps its label, files and cut-offs; `gaprss setup` adds Ti."""
    family = install_debian_family()
    before = {node.element: node.pk for node in family.nodes}
    family.remove_nodes([family.get_pseudo('Ti')])
    cutoffs = family.get_cutoffs('normal')
    family.set_cutoffs({symbol: cutoffs[symbol] for symbol in DEBIAN_PBE}, 'normal', family.get_cutoffs_unit('normal'))
    message = check_family_elements(DEFAULT_FAMILY_LABEL, ['Ti'])
    assert message.startswith('element Ti: no pseudopotential in family `gaprss/debian-pbe`: the family was installed')
    assert '`gaprss setup`' in message

    from aiida_gaprss.setup.common import SetupReport, ensure_pseudo_family

    report = SetupReport()
    ensure_pseudo_family(report)  # what `gaprss setup` runs
    assert report.created == ['Ti added to pseudopotential family gaprss/debian-pbe']
    assert report.existing == ['pseudopotential family gaprss/debian-pbe']
    again = install_debian_family()
    assert again.pk == family.pk
    assert {node.element: node.pk for node in again.nodes} == before  # the same nodes, Ti's found again by its hash
    assert again.get_recommended_cutoffs(elements=('Ti',), unit='Ry') == (52.0, 575.0)
    assert again.get_recommended_cutoffs(elements=('B',), unit='Ry') == (43.0, 325.0)
    assert check_family_elements(DEFAULT_FAMILY_LABEL, ['Ti']) is None


def test_lda_ti_is_never_mixed_into_the_pbe_family():
    from aiida import orm

    lda = {**DEBIAN_PBE, 'Ti': ('Ti.pz-sp-van_ak.UPF', 30.0, 240.0)}
    refused = r'element Ti: `Ti.pz-sp-van_ak.UPF` is LDA, the family is PBE: refusing to mix functionals'
    with pytest.raises(ValueError, match=refused):
        install_debian_family(label='test/mixed', elements=lda)
    assert orm.QueryBuilder().append(orm.Group, filters={'label': 'test/mixed'}).count() == 0
    with pytest.raises(ValueError, match='exists with other files'):
        install_debian_family(elements={'Si': ('Si.pbe-rrkj.UPF', 20.0, 80.0)})


#: All-electron PBE equilibrium volume of fcc Ti (Å³/atom): the ACWF verification's reference (Bosoni et al., Nat. Rev.
#: Phys. 6, 45 (2024), Ti-X/FCC), a = (4 V0)^(1/3) = 4.111 Å.
FCC_TI_V0 = 17.3946


def _pw_energy(atoms, pseudo_dir, workdir) -> float:
    """One serial pw.x SCF of ``atoms`` (Ti, 45 Ry / 360 Ry, MV 0.02 Ry, k spacing 0.25 1/Å with 2π): eV/atom."""
    import os
    import subprocess

    import ase.io

    from aiida_gaprss.rss.kpoints import kpoint_mesh
    from tests.conftest import installed_program

    input_data = {
        'control': {'calculation': 'scf', 'pseudo_dir': str(pseudo_dir), 'outdir': './out', 'disk_io': 'none'},
        'system': {'ecutwfc': 45.0, 'ecutrho': 360.0, 'occupations': 'smearing', 'smearing': 'mv', 'degauss': 0.02},
        'electrons': {'conv_thr': 1e-9},
    }
    workdir.mkdir()
    ase.io.write(workdir / 'pw.in', atoms, format='espresso-in', input_data=input_data,
                 pseudopotentials={'Ti': TI}, kpts=list(kpoint_mesh(atoms.cell, 0.25, atoms.pbc)))  # fmt: skip
    text = (workdir / 'pw.in').read_text().replace('&FCP\n/\n', '').replace('&RISM\n/\n', '')
    (workdir / 'pw.in').write_text(text)
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    with open(workdir / 'pw.out', 'w') as out:
        subprocess.run([installed_program('pw.x'), '-in', 'pw.in'], cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
                       check=True, env=env, stdin=subprocess.DEVNULL)  # fmt: skip
    final = ase.io.read(workdir / 'pw.out', format='espresso-out')
    assert 'convergence has been achieved' in (workdir / 'pw.out').read_text()
    return final.get_potential_energy() / len(final)


@pytest.mark.slow
def test_generated_ti_gives_the_all_electron_fcc_lattice_constant(tmp_path, monkeypatch):
    """The generated PAW Ti, run by Debian's pw.x: fcc Ti's E(V) at five volumes, Birch-Murnaghan a within 1 % of the
    all-electron PBE value (4.111 Å). About 2-3 min on an idle core."""
    from ase.build import bulk

    from aiida_gaprss.rss.eos import fit_birch_murnaghan

    monkeypatch.setenv('GAPRSS_PSEUDO_CACHE', str(tmp_path / 'cache'))
    folder = pseudo_folder(['Ti'])
    assert (folder / TI).is_file()
    volumes, energies = [], []
    for k, factor in enumerate((0.93, 0.965, 1.0, 1.035, 1.07)):
        atoms = bulk('Ti', 'fcc', a=(4.0 * FCC_TI_V0 * factor) ** (1.0 / 3.0))
        energies.append(_pw_energy(atoms, folder, tmp_path / f'v{k}'))
        volumes.append(atoms.get_volume())
    fit = fit_birch_murnaghan(volumes, energies)
    a = (4.0 * fit.v0) ** (1.0 / 3.0)
    assert a == pytest.approx((4.0 * FCC_TI_V0) ** (1.0 / 3.0), rel=0.01)
    assert 80.0 < fit.b0 < 140.0  # GPa; all-electron PBE hcp Ti: 112 (the delta test's WIEN2k)
