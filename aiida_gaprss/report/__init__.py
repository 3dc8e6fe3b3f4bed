"""Self-contained HTML reports (``gaprss report PK``): of a GAP-RSS run (:mod:`.rss`) or of indirect learning
(:mod:`.indirect`).

Both pages are built from the pieces of :mod:`.html`: inline CSS, every plot as a base64 ``data:`` URI, so a page can
be mailed or archived and opened anywhere.
"""

from .indirect import (
    INDIRECT_SECTIONS,
    collect_indirect_report,
    indirect_report_data,
    render_indirect_report,
    write_indirect_report,
)
from .rss import SECTIONS, collect_report, render_report, write_report

__all__ = (
    'INDIRECT_SECTIONS',
    'SECTIONS',
    'collect_indirect_report',
    'collect_report',
    'indirect_report_data',
    'render_indirect_report',
    'render_report',
    'write_indirect_report',
    'write_report',
)
