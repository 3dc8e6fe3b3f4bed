"""The floors of docs/design.md hold: no upward imports, no import cycles, no private names across modules.

Every import statement of the package is read with ``ast`` (imports inside functions included: a lazy import is still
a dependency), so nothing is imported to run these tests.
"""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / 'aiida_gaprss'
#: The example scripts of the repository, held to the private-name rule too.
EXAMPLES = ROOT / 'workflows'

#: Imports of a private name that are known and have an issue to remove them: (importer, module, name) -> why.
KNOWN_PRIVATE_IMPORTS: dict[tuple[str, str, str], str] = {}
#: Upward or sideways imports that are known, with the issue that removes them: (importer, imported) -> why.
KNOWN_FLOOR_VIOLATIONS: dict[tuple[str, str], str] = {}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(parts)


def package_modules() -> dict[str, pathlib.Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob('*.py'))}


MODULES = package_modules()


def imports_of(path: pathlib.Path, name: str) -> list[tuple[str, str | None, int]]:
    """``(module, imported name or None, line)`` of every import in ``path`` (relative imports resolved)."""
    is_package = path.name == '__init__.py'
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, None, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split('.') if is_package else name.split('.')[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = '.'.join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ''
            found.extend((module, alias.name, node.lineno) for alias in node.names)
    return found


def package_edges(name: str, path: pathlib.Path) -> set[tuple[str, int]]:
    """The package modules ``name`` imports, with the line (``from a import b`` is ``a.b`` if that is a module)."""
    edges = set()
    for module, imported, line in imports_of(path, name):
        if not module.startswith('aiida_gaprss'):
            continue
        target = f'{module}.{imported}' if imported and f'{module}.{imported}' in MODULES else module
        if target != name:
            edges.add((target, line))
    return edges


def read_floors() -> tuple[dict[str, int], set[str]]:
    """The floors table of docs/design.md: unit (module or package) -> floor, and the units marked "no AiiDA"."""
    text = (ROOT / 'docs' / 'design.md').read_text(encoding='utf-8')
    section = text.split('\n## Floors\n', 1)[1].split('\n## ', 1)[0]
    floors, pure = {}, set()
    for match in re.finditer(r'^\|\s*(\d+)\s*\|(.+?)\|(.*?)\|\s*$', section, flags=re.MULTILINE):
        cell = re.sub(r'\([^)]*\)', '', match.group(2))  # what is in parentheses explains, it names no unit
        for path in re.findall(r'`([^`]+)`', cell):
            path = path.removesuffix('.py').removesuffix('/').replace('/', '.')
            unit = 'aiida_gaprss' if path == '__init__' else f'aiida_gaprss.{path}'
            assert unit not in floors, f'docs/design.md places {unit} on two floors'
            floors[unit] = int(match.group(1))
            if match.group(3).strip() == 'no AiiDA':
                pure.add(unit)
    assert floors, 'docs/design.md has no floors table under "## Floors"'
    return floors, pure


FLOORS, PURE = read_floors()


def unit_of(name: str) -> str | None:
    """The unit of the floors table that holds module ``name`` (the longest match; the root holds only itself)."""
    matches = [unit for unit in FLOORS if name == unit or (unit != 'aiida_gaprss' and name.startswith(f'{unit}.'))]
    return max(matches, key=len) if matches else None


def test_every_module_is_on_a_floor():
    """A new package or top-level module gets its row in docs/design.md before it gets imported."""
    assert not [name for name in MODULES if unit_of(name) is None]
    assert not [unit for unit in FLOORS if unit not in MODULES], 'docs/design.md names modules that do not exist'


def test_no_module_imports_a_higher_floor_or_a_sibling():
    violations = []
    for name, path in MODULES.items():
        unit = unit_of(name)
        for target, line in package_edges(name, path):
            other = unit_of(target)
            if other == unit or FLOORS[other] < FLOORS[unit] or (name, target) in KNOWN_FLOOR_VIOLATIONS:
                continue
            violations.append(f'{name}:{line} (floor {FLOORS[unit]}) imports {target} (floor {FLOORS[other]})')
    assert not violations, '\n'.join(violations)


def test_no_import_cycles():
    """Tarjan's strongly connected components of the module graph: every one is a single module."""
    graph = {name: {target for target, _ in package_edges(name, path)} for name, path in MODULES.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert not cycles, cycles


def test_no_private_names_across_modules():
    """``from module import _name`` only inside a module; the example scripts keep to it too."""
    scripts = {f'workflows/{path.name}': path for path in sorted(EXAMPLES.glob('*.py'))}
    found = set()
    violations = []
    for name, path in {**MODULES, **scripts}.items():
        for module, imported, line in imports_of(path, name):
            if not module.startswith('aiida_gaprss') or not imported or module == name:
                continue
            if not imported.startswith('_') or imported.startswith('__'):
                continue
            key = (name, module, imported)
            if key in KNOWN_PRIVATE_IMPORTS:
                found.add(key)
                continue
            violations.append(f'{name}:{line} imports the private {imported} of {module}')
    assert not violations, '\n'.join(violations)
    fixed = set(KNOWN_PRIVATE_IMPORTS) - found
    assert not fixed, f'fixed, so drop them from KNOWN_PRIVATE_IMPORTS: {fixed}'


@pytest.mark.parametrize('unit', sorted(PURE))
def test_floors_without_aiida(unit):
    """The floors marked "no AiiDA" run where AiiDA is not needed (notebooks, the jobs): they never import it."""
    violations = [
        f'{name}:{line} imports {module}'
        for name, path in MODULES.items()
        if unit_of(name) == unit
        for module, _, line in imports_of(path, name)
        if module.split('.')[0].startswith('aiida') and not module.startswith('aiida_gaprss')
    ]
    assert not violations, '\n'.join(violations)


def test_the_checks_see_a_violation(tmp_path):
    """The reader resolves relative imports and lazy imports, so the checks above can fail."""
    source = tmp_path / 'module.py'
    source.write_text('def f():\n    from ..workflows.rss import _private\n    import aiida.orm\n', encoding='utf-8')
    found = imports_of(source, 'aiida_gaprss.rss.module')
    assert ('aiida_gaprss.workflows.rss', '_private', 2) in found and ('aiida.orm', None, 3) in found
    assert unit_of('aiida_gaprss.rss.module') == 'aiida_gaprss.rss'
    assert FLOORS['aiida_gaprss.rss'] < FLOORS['aiida_gaprss.workflows']
    assert unit_of('aiida_gaprss.data.extxyz') == 'aiida_gaprss.data.extxyz'
    assert unit_of('aiida_gaprss.data.gap_potential') == 'aiida_gaprss.data'
