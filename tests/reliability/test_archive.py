"""Archive round trip: a finished GAP-RSS run → ``gaprss export`` → import into a fresh profile → ``gaprss lineage``.

The imported potential must have the same lineage (training set and database hashes, reference parameters, codes)
and give the same energies, forces and stresses on a structure it was not trained on.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node

from tests.reliability.helpers import energies_of, invoke, tiny_builder


@pytest.fixture
def codes(fixture_code):
    return {'python': fixture_code('python'), 'gap_fit': fixture_code('gaprss.gap_fit')}


def _lineage(pk: int, *extra: str) -> dict:
    return json.loads(invoke('lineage', str(pk), '--json', *extra))


@pytest.mark.slow
@pytest.mark.ci_slow
def test_export_import_into_fresh_profile_reproduces_lineage_and_energies(
    codes, aiida_config, aiida_profile_factory, tmp_path
):
    # one iteration (10 CUR picks + 3 dimers = the whole budget) keeps this to about a minute on a quiet machine
    _, run = run_get_node(tiny_builder(codes, budget=13))
    assert run.is_finished_ok, run.exit_message
    potential = run.outputs.potential
    before = _lineage(potential.pk)
    energies = energies_of(potential)
    text = invoke('lineage', str(run.pk))
    assert potential.uuid in text and before['training_set']['sha256'] in text

    archive = tmp_path / 'run.aiida'
    output = invoke('export', str(run.pk), '-o', str(archive))
    assert str(archive) in output and archive.is_file()

    uuids = {'run': run.uuid, 'potential': potential.uuid, 'database': run.outputs.database.uuid}
    run_pk = run.pk  # nodes of this profile must not be touched while the fresh one is loaded
    from aiida.tools.archive import import_archive

    default = aiida_config.default_profile_name
    try:
        with aiida_profile_factory(aiida_config) as fresh:
            assert orm.QueryBuilder().append(orm.Node).count() == 0  # nothing but what the archive brings
            import_archive(archive)
            imported = orm.load_node(uuids['potential'])
            after = _lineage(imported.pk, '-p', fresh.name)
            # the run resolves to its final potential through the CLI, too
            assert _lineage(orm.load_node(uuids['run']).pk, '-p', fresh.name)['potential']['uuid'] == uuids['potential']
            imported_energies = energies_of(imported)
            imported_database = orm.load_node(uuids['database'])
            assert imported_database.sha256 == before['database']['sha256']
            assert len(imported_database.get_atoms()) == before['database']['num_structures']
    finally:  # the factory makes the fresh profile the default; later CLI calls must not land there
        aiida_config.set_default_profile(default, overwrite=True)
        aiida_config.store()

    for key in ('sha256', 'uuid', 'elements', 'command_line'):
        assert after['potential'][key] == before['potential'][key], key
    for key in ('uuid', 'sha256', 'num_structures', 'num_atoms', 'labels', 'config_types'):
        assert after['training_set'][key] == before['training_set'][key], key
    assert after['database']['sha256'] == before['database']['sha256']
    assert after['database']['uuid'] == before['database']['uuid']
    assert after['reference'] == before['reference']
    assert after['reference']['engine'] == 'ase' and after['reference']['ase']['calculator'] == {'type': 'sw_si'}
    for name, code in before['codes'].items():
        for key in ('uuid', 'label', 'executable', 'plugin'):
            assert after['codes'][name].get(key) == code.get(key), (name, key)
    assert after['run']['uuid'] == before['run']['uuid'] == uuids['run']
    assert after['iteration']['label'] == before['iteration']['label'] == 'iteration_00'
    assert after['fit']['process'] == before['fit']['process'] and after['fit']['exit_status'] == 0
    assert after['versions'] == before['versions'] and after['versions']

    assert abs(imported_energies['energy'] - energies['energy']) <= 1e-10
    np.testing.assert_allclose(imported_energies['forces'], energies['forces'], rtol=0, atol=1e-10)
    np.testing.assert_allclose(imported_energies['stress'], energies['stress'], rtol=0, atol=1e-10)
    # the original profile is back and untouched
    assert orm.load_node(run_pk).uuid == uuids['run']
