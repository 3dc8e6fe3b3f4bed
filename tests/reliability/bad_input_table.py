"""The table of ``docs/bad_inputs.md`` as data: the tests assert the messages it quotes, so the table stays true.

Each row of the table has an id (``B05``, ``S11``, ``C02b`` ...), the bad input, where it is caught, the message quoted
(in back-ticks; ``…`` stands for any text) and the test that feeds that input. A test backs a row by calling
:func:`assert_table_message` with the row's id and the message it got: the message must be the table's. Tests that
are parametrized over rows carry the id at the start of the parameter id (``pytest.param(..., id='S01-fmax-negative')``)
and call :func:`assert_table_message` with ``row_of(request)``. ``tests/reliability/test_bad_input_table.py`` checks
that every row has such a test and every id a test carries has a row.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
import re

import pytest

TABLE = pathlib.Path(__file__).parents[2] / 'docs' / 'bad_inputs.md'
#: A row id: a letter (B builder, S spec, C CalcJob/process, R run time, K restarts, D data, L the command line), two
#: digits, a suffix.
ROW_ID = re.compile(r'^[BSCRKDL]\d{2}[a-z]?$')
#: What stands for "any text" in a quoted message.
ELLIPSIS = '…'


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of the bad-input table."""

    id: str
    bad_input: str
    caught: str
    message: str | None  # None: the input is accepted (as data), there is no message
    tests: tuple[str, ...]  # the test names of the last column, as written there (``name[param-id]``)
    line: int


def code_spans(cell: str) -> list[str]:
    """The contents of the Markdown code spans of a table cell (double or single back-ticks)."""
    spans = []
    position = 0
    while True:
        start = cell.find('`', position)
        if start < 0:
            return spans
        ticks = len(cell[start:]) - len(cell[start:].lstrip('`'))
        end = cell.find('`' * ticks, start + ticks)
        while end >= 0 and cell[end + ticks : end + ticks + 1] == '`':  # a longer run is not the closing delimiter
            end = cell.find('`' * ticks, end + 1)
        if end < 0:
            raise ValueError(f'unclosed code span in {cell!r}')
        content = cell[start + ticks : end]
        if ticks > 1 and content.startswith(' ') and content.endswith(' ') and content.strip():
            content = content[1:-1]  # CommonMark strips one space on each side
        spans.append(content)
        position = end + ticks


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table line (``\\|`` is a literal bar)."""
    cells = re.split(r'(?<!\\)\|', line.strip().strip('|'))
    return [cell.strip().replace('\\|', '|') for cell in cells]


@functools.cache
def rows() -> dict[str, Row]:
    """Every row of ``docs/bad_inputs.md`` by id (raises on a row that cannot be read or a repeated id)."""
    found: dict[str, Row] = {}
    for number, line in enumerate(TABLE.read_text(encoding='utf-8').splitlines(), start=1):
        if not line.startswith('| ') or line.startswith('| id '):
            continue
        cells = _cells(line)
        if len(cells) != 5 or not ROW_ID.match(cells[0]):
            raise ValueError(f'{TABLE.name}:{number}: not a row of five cells with an id: {line!r}')
        row_id, bad_input, caught, message, tests = cells
        if row_id in found:
            raise ValueError(f'{TABLE.name}:{number}: id {row_id} repeated (first on line {found[row_id].line})')
        if message == '—':
            quoted = None
        else:
            spans = code_spans(message)
            if len(spans) != 1:
                raise ValueError(f'{TABLE.name}:{number}: {row_id}: quote exactly one message, found {spans}')
            quoted = spans[0].strip()  # a span may end in a space to close after a back-tick
        found[row_id] = Row(row_id, bad_input, caught, quoted, tuple(code_spans(tests)), number)
    return found


def message_pattern(message: str) -> re.Pattern:
    """The regular expression of a quoted message: literal text, ``…`` for any text."""
    return re.compile('.*?'.join(re.escape(part) for part in message.split(ELLIPSIS)), re.DOTALL)


def table_message(row_id: str) -> str:
    """The message the table quotes for ``row_id``."""
    row = rows().get(row_id)
    if row is None:
        pytest.fail(f'no row {row_id} in {TABLE}', pytrace=False)
    if row.message is None:
        pytest.fail(f'row {row_id} of {TABLE.name} quotes no message (an accepted input)', pytrace=False)
    return row.message


def assert_table_message(row_id: str, text: str) -> None:
    """``text`` (an error message, an exit message) contains the message the table quotes for ``row_id``."""
    message = table_message(row_id)
    assert message_pattern(message).search(text), (
        f'{TABLE.name} row {row_id} quotes\n    {message}\nbut the message is\n    {text}'
    )


def row_of(request) -> str:
    """The row id at the start of the parameter id of a test parametrized over rows (``S01-fmax-negative``)."""
    row_id = request.node.callspec.id.split('-')[0]
    assert ROW_ID.match(row_id), f'parameter id {request.node.callspec.id!r} does not start with a row id'
    return row_id
