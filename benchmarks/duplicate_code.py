"""Benchmark ``duplicate_code``: how many lines of the package repeat code found elsewhere in it, at two revisions.

Issue 21 asks that repeated code be less after its moves than before. The measure, symilar-style: every ``.py`` file
of ``aiida_gaprss/`` is reduced to its code lines (stripped; blank lines, comments, docstrings and
import statements dropped, as symilar's ``ignore-imports``);
a window of ``--window`` consecutive code lines that occurs at two places or more (in one file or two) is repeated
code, and a line is a repeated line if any such window covers it. Reported per revision: code lines, repeated lines,
their fraction, and the files with the most. ``--base`` and ``--head`` are git revisions; ``--head`` defaults to the
working tree. Ends with one JSON line, writes benchmarks/results/duplicate_code.json.
"""

from __future__ import annotations

import argparse
import ast
import collections
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _record import write_results  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def sources(revision: str | None) -> dict[str, str]:
    """``{path: text}`` of the package's Python files at ``revision`` (None: the working tree)."""
    if revision is None:
        return {
            str(path.relative_to(ROOT)): path.read_text(encoding='utf-8')
            for path in (ROOT / 'aiida_gaprss').rglob('*.py')
        }
    names = subprocess.run(
        ['git', 'ls-tree', '-r', '--name-only', revision, 'aiida_gaprss'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {
        name: subprocess.run(
            ['git', 'show', f'{revision}:{name}'], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        for name in names
        if name.endswith('.py')
    }


def code_lines(text: str) -> list[str]:
    """The stripped code lines of a module: no blank lines, comments, docstrings or imports."""
    skipped = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            skipped.update(range(node.lineno, node.end_lineno + 1))
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                skipped.update(range(first.lineno, first.end_lineno + 1))
    return [
        line.strip()
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.strip().startswith('#') and number not in skipped
    ]


def measure(files: dict[str, str], window: int) -> dict:
    """Code lines, repeated lines (covered by a window that occurs twice or more) and the files with the most."""
    lines = {name: code_lines(text) for name, text in files.items()}
    places = collections.defaultdict(list)
    for name, code in lines.items():
        for start in range(len(code) - window + 1):
            places['\n'.join(code[start : start + window])].append((name, start))
    covered = collections.defaultdict(set)
    for spots in places.values():
        if len(spots) > 1:
            for name, start in spots:
                covered[name].update(range(start, start + window))
    total = sum(len(code) for code in lines.values())
    repeated = sum(len(rows) for rows in covered.values())
    top = sorted(((len(rows), name) for name, rows in covered.items()), reverse=True)[:8]
    return {
        'files': len(files),
        'code_lines': total,
        'repeated_lines': repeated,
        'repeated_fraction': round(repeated / total, 4) if total else 0.0,
        'most_repeated': {name: count for count, name in top},
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--base', required=True, help='git revision before the change')
    parser.add_argument('--head', default=None, help='git revision after the change (default: the working tree)')
    parser.add_argument('--window', type=int, default=4, help='consecutive code lines that make a repeat')
    parser.add_argument('--tag', default='', help='write duplicate_code.<tag>.json (a later measurement beside)')
    args = parser.parse_args(argv)
    base_rev = subprocess.run(['git', 'rev-parse', args.base], cwd=ROOT, capture_output=True, text=True, check=True)
    result = {
        'window': args.window,
        'base': {'revision': base_rev.stdout.strip(), **measure(sources(args.base), args.window)},
        'head': {'revision': args.head or 'working tree', **measure(sources(args.head), args.window)},
    }
    for key in ('base', 'head'):
        row = result[key]
        print(f'{key} {row["revision"][:12]}: {row["repeated_lines"]} of {row["code_lines"]} code lines repeated '
              f'({100 * row["repeated_fraction"]:.1f} %) in {row["files"]} files')  # fmt: skip
    write_results('duplicate_code', result, tag=args.tag)
    return result


if __name__ == '__main__':
    main()
