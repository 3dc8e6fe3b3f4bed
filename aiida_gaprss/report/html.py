"""The pieces both HTML reports are made of: style, escaping, numbers, tables, the page and its file."""

from __future__ import annotations

import base64
import html
import json
import pathlib

__all__ = (
    'CSS',
    'esc',
    'json_block',
    'lineage_section',
    'number',
    'page',
    'plot_b64',
    'state_text',
    'table',
    'value_range',
    'write_page',
)

CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 0; color: #1d2433;
       background: #f6f7f9; }
header { background: #1d3557; color: white; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 24px; }
header p { margin: 0; opacity: 0.85; font-size: 14px; }
nav { padding: 8px 32px; background: #e3e8ef; font-size: 14px; }
nav a { margin-right: 16px; color: #1d3557; text-decoration: none; }
main { padding: 8px 32px 32px 32px; max-width: 1150px; }
section { background: white; border-radius: 6px; padding: 12px 20px; margin: 16px 0;
          box-shadow: 0 1px 2px rgba(0,0,0,0.08); }
h2 { font-size: 19px; border-bottom: 1px solid #dde2e8; padding-bottom: 6px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border: 1px solid #dde2e8; padding: 4px 8px; text-align: right; vertical-align: top; }
th { background: #eef1f5; }
td.text, th.text { text-align: left; }
pre { background: #f3f5f8; padding: 8px; overflow-x: auto; font-size: 12px; max-height: 420px; }
figure { display: inline-block; margin: 8px 10px 8px 0; width: 515px; vertical-align: top; }
figure img { width: 100%; border: 1px solid #dde2e8; }
figcaption { font-size: 12px; color: #4a5568; }
details { margin: 4px 0; } summary { cursor: pointer; font-weight: 600; padding: 2px 0; }
.ok { color: #1a7f37; font-weight: 600; }
.bad { color: #b42318; font-weight: 600; }
.muted { color: #6b7280; }
.bar { background: #e3e8ef; border-radius: 4px; height: 14px; width: 420px; overflow: hidden; }
.bar div { background: #2a9d8f; height: 100%; }
"""


def esc(value) -> str:
    """``value`` as text escaped for HTML."""
    return html.escape(str(value), quote=True)


def number(value, scale: float = 1.0, digits: int = 1) -> str:
    """``value * scale`` with ``digits`` decimals; empty for None, escaped text for what is not a number."""
    if value is None:
        return ''
    try:
        return f'{float(value) * scale:.{digits}f}'
    except (TypeError, ValueError):
        return esc(value)


def value_range(entry: dict | None, scale: float, digits: int) -> str:
    """``mean [min–max]`` of a summary entry with those keys; empty for none."""
    if not entry:
        return ''
    return (f'{number(entry.get("mean"), scale, digits)} '
            f'<span class="muted">[{number(entry.get("min"), scale, digits)}–'
            f'{number(entry.get("max"), scale, digits)}]</span>')  # fmt: skip


def table(headers, rows, text_columns=(0,)) -> str:
    """An HTML table; ``rows`` hold cells that are HTML already (escaped), ``text_columns`` are left-aligned."""
    head = ''.join(f'<th class="{"text" if i in text_columns else ""}">{esc(h)}</th>' for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = ''.join(f'<td class="{"text" if i in text_columns else ""}">{cell}</td>' for i, cell in enumerate(row))
        body.append(f'<tr>{cells}</tr>')
    return f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def json_block(value) -> str:
    """``value`` as indented JSON in a ``<pre>``."""
    return f'<pre>{esc(json.dumps(value, indent=2, sort_keys=True, default=str))}</pre>'


def state_text(run: dict) -> str:
    """The run's state, with its exit status in green (0) or red (anything else) when it has one."""
    state = esc(run.get('state', ''))
    if run.get('exit_status') not in (None, 0):
        state += f' <span class="bad">[{esc(run.get("exit_status"))}] {esc(run.get("exit_message") or "")}</span>'
    elif run.get('exit_status') == 0:
        state += ' <span class="ok">[0]</span>'
    return state


def plot_b64(value) -> str:
    """Base64 of PNG bytes, of a SinglefileData, or a string already in base64."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode('ascii')
    return base64.b64encode(value.get_content(mode='rb')).decode('ascii')


def lineage_section(data) -> str:
    """The lineage of the potential in ``data['lineage']`` (:func:`aiida_gaprss.provenance.lineage`)."""
    info = data.get('lineage')
    if not info:
        return '<p class="muted">The run has no final potential.</p>'
    potential = info.get('potential', {})
    training = info.get('training_set') or {}
    run = info.get('run') or {}
    rows = [
        ['potential', esc(f'GapPotential<{potential.get("pk")}> sha256 {potential.get("sha256")}')],
        ['run / iteration', esc(f'{run.get("pk", "")} / {(info.get("iteration") or {}).get("label", "")}')],
        [
            'training set',
            esc(
                f'StructureSet<{training.get("pk", "")}> {training.get("num_structures", "")} '
                f'structures, sha256 {training.get("sha256", "")}'
            ),
        ],  # fmt: skip
        ['reference engine', esc((info.get('reference') or {}).get('engine', ''))],
    ]
    full = f'<details><summary>full lineage (JSON)</summary>{json_block(info)}</details>'
    return table(['', ''], rows, text_columns=(0, 1)) + full


def page(title: str, subtitle: str, sections: dict, builders: dict, data: dict) -> str:
    """One self-contained page: a header, a link to every section, and each section built from ``data``.

    ``sections`` maps section ids to headings, in order; ``builders`` maps the same ids to functions of ``data``
    returning the section's HTML; ``subtitle`` is HTML already.
    """
    nav = ''.join(f'<a href="#{key}">{esc(heading)}</a>' for key, heading in sections.items())
    body = ''.join(
        f'<section id="{key}"><h2>{esc(heading)}</h2>{builders[key](data)}</section>'
        for key, heading in sections.items()
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<title>{esc(title)}</title><style>{CSS}</style></head><body>'
        f'<header><h1>{esc(title)}</h1><p>{subtitle}</p></header>'
        f'<nav>{nav}</nav><main>{body}</main></body></html>\n'
    )


def write_page(text: str, path) -> int:
    """Write the page ``text`` to ``path`` (UTF-8); returns the number of bytes written."""
    pathlib.Path(path).write_text(text, encoding='utf-8')
    return len(text.encode('utf-8'))
