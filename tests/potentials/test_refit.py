"""Reproducibility: refit the shipped database with the shipped gap_fit command (the real gap_fit) and compare."""

from __future__ import annotations

import json

import pytest

from aiida_gaprss import potentials

from .conftest import NAME, PHASES


def test_refit_with_the_shipped_seed_reproduces(shipped_root, tmp_path):
    folder = potentials.refit(NAME, tmp_path / 'refit', root=shipped_root)
    assert folder == tmp_path / 'refit'
    assert (folder / 'gap.xml').is_file() and list(folder.glob('gap.xml.sparseX.*'))
    assert (folder / 'train.xyz').read_bytes() == (shipped_root / NAME / 'training.xyz').read_bytes()
    shipped_command = (shipped_root / NAME / 'gap_fit_command.txt').read_text()
    assert (folder / 'gap_fit_command.txt').read_text() == shipped_command
    result = potentials.compare(NAME, folder, root=shipped_root)
    assert result['same_seed'] and result['seed'] == result['shipped_seed'] == 1
    assert result['passed'] is True and result['failures'] == []
    # the same data, command and seed give the same potential: not merely within the tolerances
    assert result['training']['energy_max_abs'] < 1e-9 and result['training']['forces_max_abs'] < 1e-8
    shipped = potentials.metadata(NAME, shipped_root)
    for key in ('energy_rmse', 'forces_rmse', 'virial_rmse'):
        assert result['training']['refit'][key] == pytest.approx(shipped['training_errors'][key], rel=1e-9)
    assert list(result['phases']) == PHASES
    for name, entry in result['phases'].items():
        assert abs(entry['difference']) < 1e-9
        assert entry['refit_error'] == pytest.approx(shipped['phases']['energies'][name]['error'], abs=1e-9)
    text = potentials.format_comparison(result)
    assert 'REPRODUCED' in text and 'beta_sn' in text


def test_refit_with_another_seed_is_noise_not_a_verdict(shipped_root, tmp_path):
    folder = potentials.refit(NAME, tmp_path / 'refit', seed=7, root=shipped_root)
    assert 'rnd_seed=7' in (folder / 'gap_fit_command.txt').read_text()
    result = potentials.compare(NAME, folder, root=shipped_root)
    assert result['seed'] == 7 and not result['same_seed'] and result['passed'] is None
    # another seed picks other sparse points: the comparison sees a different potential
    assert result['training']['energy_max_abs'] > 1e-6
    assert 'nothing is asserted' in potentials.format_comparison(result)
    # claimed to be the shipped seed, the same refit fails the comparison (the check can fail)
    record = json.loads((folder / 'refit.json').read_text())
    (folder / 'refit.json').write_text(json.dumps({**record, 'seed': 1}))
    result = potentials.compare(NAME, folder, root=shipped_root, tolerances={'energy_per_atom': 1e-7})
    assert result['passed'] is False and 'training energies differ' in result['failures'][0]
    assert 'NOT REPRODUCED' in potentials.format_comparison(result)


def test_refit_refuses_bad_input(shipped_root, tmp_path):
    busy = tmp_path / 'busy'
    busy.mkdir()
    (busy / 'old.txt').write_text('x')
    with pytest.raises(ValueError, match=r'field `workdir`: `.*busy` is not empty'):
        potentials.refit(NAME, busy, root=shipped_root)
    with pytest.raises(ValueError, match=r'field `seed`: expected an integer'):
        potentials.refit(NAME, tmp_path / 'a', seed='2', root=shipped_root)
    with pytest.raises(ValueError, match=r"field `gap_fit`: program 'no-gap-fit-here' not found"):
        potentials.refit(NAME, tmp_path / 'b', root=shipped_root, gap_fit='no-gap-fit-here')
    with pytest.raises(ValueError, match=r'holds no refit.json'):
        potentials.compare(NAME, tmp_path, root=shipped_root)
