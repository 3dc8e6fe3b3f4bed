"""docs/bad_inputs.md against the tests: every row has a test that feeds its input and asserts its message, and back.

A test backs a row when it calls ``assert_table_message`` / ``assert_refused`` with the row's id (a literal, or
``row_of(request)`` in a test parametrized over rows whose parameter ids start with the row ids); an accepted input
(no message, e.g. C15) is backed by a test whose docstring starts with the row's id. The test column of the table must
name those tests. Whether the messages are the table's is checked when the tests run (``assert_table_message``).
"""

from __future__ import annotations

import ast
import dataclasses
import pathlib
import re

import pytest

from tests.reliability.bad_input_table import ROW_ID, TABLE, code_spans, message_pattern, rows

TESTS = pathlib.Path(__file__).parents[1]
ROOT = TESTS.parent
DEFAULT_FILE = 'tests/reliability/test_bad_inputs.py'
#: The helpers that assert a row's message: the row id is one of their positional arguments.
ASSERTERS = {'assert_table_message', 'assert_refused'}


@dataclasses.dataclass
class ScannedTest:
    """What a test function says about the table: the rows it asserts, the row ids it carries."""

    path: str
    name: str
    param_ids: list[str] = dataclasses.field(default_factory=list)  # parameter ids, e.g. 'S01-fmax-negative'
    literal_rows: set[str] = dataclasses.field(default_factory=set)  # assert_table_message('S20', ...)
    asserts_row_of: bool = False  # assert_table_message(row_of(request), ...)
    docstring_rows: set[str] = dataclasses.field(default_factory=set)  # """C15: ..."""

    @property
    def param_rows(self) -> set[str]:
        return {pid.split('-')[0] for pid in self.param_ids if ROW_ID.match(pid.split('-')[0])}

    @property
    def backs(self) -> set[str]:
        """The rows whose message this test asserts (or, for accepted inputs, whose input it feeds)."""
        accepted = {row_id for row_id in self.docstring_rows if row_id in rows() and rows()[row_id].message is None}
        return self.literal_rows | (self.param_rows if self.asserts_row_of else set()) | accepted

    @property
    def carries(self) -> set[str]:
        """Every row id the test names."""
        return self.literal_rows | self.param_rows | self.docstring_rows


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _scan(path: pathlib.Path) -> list[ScannedTest]:
    found = []
    tree = ast.parse(path.read_text(encoding='utf-8'))
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith('test_'):
            continue
        test = ScannedTest(str(path.relative_to(ROOT)), node.name)
        for decorator in node.decorator_list:
            for call in ast.walk(decorator):
                if isinstance(call, ast.Call) and _name(call.func) == 'param':
                    for keyword in call.keywords:
                        if keyword.arg == 'id' and isinstance(keyword.value, ast.Constant):
                            test.param_ids.append(keyword.value.value)
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and _name(call.func) in ASSERTERS:
                for argument in call.args:
                    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                        if ROW_ID.match(argument.value):
                            test.literal_rows.add(argument.value)
                    elif isinstance(argument, ast.Call) and _name(argument.func) == 'row_of':
                        test.asserts_row_of = True
        docstring = ast.get_docstring(node) or ''
        head = re.match(r'^([A-Z]\d{2}[a-z]?(?:[-–, ]+[A-Z]\d{2}[a-z]?)*):', docstring)
        if head:
            test.docstring_rows = set(re.findall(r'[A-Z]\d{2}[a-z]?', head.group(1)))
        found.append(test)
    return found


@pytest.fixture(scope='module')
def tests_by_name() -> dict[tuple[str, str], ScannedTest]:
    """Every test function of the suite (path, name) -> what it says about the table."""
    functions = {}
    for path in sorted(TESTS.rglob('test_*.py')):
        for test in _scan(path):
            functions[(test.path, test.name)] = test
    return functions


def test_the_table_reads():
    table = rows()
    assert len(table) > 90, len(table)
    for row in table.values():
        assert row.tests, f'{row.id}: no test named in the last column'
        assert row.bad_input and row.caught, row.id
        if row.message is not None:
            assert message_pattern(row.message).search(row.message.replace('…', 'x')), row.id


def testcode_spans():
    assert code_spans('``field `a`: b``') == ['field `a`: b']
    assert code_spans('```module ``x`` y```, `z`') == ['module ``x`` y', 'z']
    assert code_spans('``of `training_set` ``') == ['of `training_set` ']
    assert message_pattern("got '…'").search("the value: got 'abc' here")
    assert not message_pattern("got '…'").search('got abc')


def test_every_row_has_a_test_asserting_its_message(tests_by_name):
    backed = {row_id for test in tests_by_name.values() for row_id in test.backs}
    missing = sorted(set(rows()) - backed)
    assert not missing, f'rows of {TABLE.name} no test asserts: {missing}'


def test_every_row_id_of_a_test_is_in_the_table(tests_by_name):
    unknown = {
        f'{test.path}::{test.name}': sorted(test.carries - set(rows()))
        for test in tests_by_name.values()
        if test.carries - set(rows())
    }
    assert not unknown, f'row ids in tests but not in {TABLE.name}: {unknown}'


def test_tests_carrying_row_ids_assert_the_table(tests_by_name):
    """A test parametrized over rows asserts the table's message; a docstring id of a refused row is asserted too."""
    for test in tests_by_name.values():
        if test.param_rows:
            assert test.asserts_row_of, f'{test.path}::{test.name} carries {sorted(test.param_rows)} but asserts none'
        refused = {row_id for row_id in test.docstring_rows if row_id in rows() and rows()[row_id].message is not None}
        assert refused <= test.backs, f'{test.path}::{test.name}: docstring names {sorted(refused - test.backs)}'


def _named_tests(row) -> list[tuple[str, str, str | None]]:
    """(path, function, parameter id or None) of every test the row's last column names."""
    named = []
    for text in row.tests:
        match = re.fullmatch(r'(?:(?P<path>tests/[\w/]+\.py)::)?(?P<name>test_\w+)?(?:\[(?P<param>[^\]]+)\])?', text)
        assert match, f'{row.id}: cannot read the test name {text!r}'
        name = match['name'] or (named[-1][1] if named else None)  # `[S19-...]` repeats the previous function
        path = match['path'] or (named[-1][0] if named and not match['name'] else DEFAULT_FILE)
        assert name, f'{row.id}: {text!r} names no test function'
        named.append((path, name, match['param']))
    return named


def test_the_test_column_names_the_tests_that_back_the_row(tests_by_name):
    for row in rows().values():
        for path, name, param in _named_tests(row):
            test = tests_by_name.get((path, name))
            assert test is not None, f'{row.id}: no test {path}::{name}'
            assert row.id in test.backs, f'{row.id}: {path}::{name} does not assert this row'
            if param is not None:
                assert param in test.param_ids, f'{row.id}: {path}::{name} has no parameter id {param!r}'
                assert param.split('-')[0] == row.id, f'{row.id}: the parameter id {param!r} names another row'
