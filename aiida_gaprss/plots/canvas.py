"""The canvas every figure shares: an Agg figure, PNG output, checks of the plotted numbers, log ticks, colours."""

from __future__ import annotations

import io
import logging
import pathlib
from collections.abc import Sequence

import numpy as np

logger = logging.getLogger(__name__)

__all__ = (
    'CONVERGED_MEV',
    'DPI',
    'ERROR_FLOOR_MEV',
    'PNG_MAGIC',
    'finite_array',
    'finite_pair',
    'finish_png',
    'new_figure',
    'palette',
    'plain_log_ticks',
    'save_png',
    'to_mev',
)

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
#: Errors are plotted in meV/atom on log axes; values below this floor (meV/atom) are drawn at the floor.
ERROR_FLOOR_MEV = 0.01
CONVERGED_MEV = 1.0
DPI = 120


def new_figure(width: float = 6.4, height: float = 4.4):
    """An empty matplotlib figure on its own Agg canvas (no pyplot, no global backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def save_png(figure, path) -> pathlib.Path | bytes:
    """The PNG of ``figure``: written to ``path`` (returned), or its bytes when ``path`` is None."""
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format='png', dpi=DPI)
    data = buffer.getvalue()
    if path is None:
        return data
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    logger.debug('wrote %s (%d bytes)', path, len(data))
    return path


def finite_array(values, field: str, *, ndim: int = 1) -> np.ndarray:
    """``values`` as a non-empty ``ndim``-D array of finite floats; the ValueError names ``field``."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f'{field}: expected numbers ({exc})') from exc
    if array.ndim != ndim:
        raise ValueError(f'{field}: expected a {ndim}-D array, got shape {array.shape}')
    if array.size == 0:
        raise ValueError(f'{field}: empty')
    if not np.isfinite(array).all():
        raise ValueError(f'{field}: contains non-finite values')
    return array


def finite_pair(pair, field: str, first: str, second: str) -> tuple[np.ndarray, np.ndarray]:
    """``pair`` = (x, y) as finite 1-D arrays of one length; the ValueError names ``field`` and the two quantities."""
    if not isinstance(pair, Sequence | np.ndarray) or len(pair) != 2:
        raise ValueError(f'{field}: expected ({first.replace(" ", "_")}, {second.replace(" ", "_")})')
    x = finite_array(pair[0], f'{field} {first}')
    y = finite_array(pair[1], f'{field} {second}')
    if x.shape != y.shape:
        raise ValueError(f'{field}: {first} and {second} differ in length')
    return x, y


def plain_log_ticks(axis) -> None:
    """Tick labels '0.5', '2', '100' instead of '5×10⁻¹' on a log axis; minor ticks labelled on short ranges."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    formatter = FuncFormatter(lambda value, _: f'{value:g}')
    axis.set_major_formatter(formatter)
    lo, hi = axis.get_view_interval()
    if lo > 0 and hi / lo < 30:
        axis.set_minor_formatter(formatter)
    else:
        axis.set_minor_formatter(NullFormatter())


def to_mev(errors_ev: np.ndarray) -> np.ndarray:
    """Absolute errors in meV/atom, raised to :data:`ERROR_FLOOR_MEV` (for log axes)."""
    return np.maximum(np.abs(errors_ev) * 1000.0, ERROR_FLOOR_MEV)


def palette(n: int) -> list:
    """``n`` distinct colours (tab10, tab20 beyond ten)."""
    from matplotlib import colormaps

    cmap = colormaps['tab10' if n <= 10 else 'tab20']
    return [cmap(i % cmap.N) for i in range(n)]


def finish_png(figure, ax, path, title: str | None = None) -> pathlib.Path | bytes:
    """Legend (small, best place) and ``title`` on ``ax``, then the PNG of ``figure`` (:func:`save_png`)."""
    ax.legend(fontsize='small', loc='best')
    if title:
        ax.set_title(title)
    return save_png(figure, path)
