"""Every parser of the package lives in ``parsers/``, and a stored calculation finds it by its entry point name.

A CalcJobNode stores the parser as the entry point name (option ``parser_name``), never as a class path, so a node
stored (or imported from an archive) before a parser class moved still finds its parser.
"""

from __future__ import annotations

import configparser
import pathlib

import pytest
from aiida import orm
from aiida.plugins import ParserFactory
from aiida.plugins.entry_point import format_entry_point_string

SETUP_CFG = pathlib.Path(__file__).resolve().parents[2] / 'setup.cfg'


def declared(group: str) -> dict[str, str]:
    """``{entry point name: 'module:Class'}`` of ``group`` in setup.cfg."""
    config = configparser.ConfigParser()
    config.read(SETUP_CFG, encoding='utf-8')
    lines = config['options.entry_points'][group].strip().splitlines()
    return dict(tuple(part.strip() for part in line.split('=', 1)) for line in lines)


PARSERS = declared('aiida.parsers')


def test_every_parser_is_in_parsers():
    assert PARSERS and all(path.startswith('aiida_gaprss.parsers.') for path in PARSERS.values()), PARSERS


@pytest.mark.parametrize('name', sorted(PARSERS))
def test_a_stored_calculation_finds_its_parser_by_name(name, aiida_localhost):
    """What an archive holds of a calculation (its process type and ``parser_name``) resolves to the declared class."""
    module, _, cls = PARSERS[name].partition(':')
    calculation = name if name in declared('aiida.calculations') else 'gaprss.relax_batch'
    node = orm.CalcJobNode(
        computer=aiida_localhost, process_type=format_entry_point_string('aiida.calculations', calculation)
    )
    node.set_option('parser_name', name)
    node.store()
    parser = orm.load_node(node.pk).get_parser_class()
    assert parser is ParserFactory(name)
    assert (parser.__module__, parser.__name__) == (module, cls)
