"""Making a batch of random cells in index order, in one process or several, streamed or as a list.

Shared by the elemental and the multi-species generators: a batch is a picklable ``spec``, the symmetry ``tables``
built once for it, and a module-level function ``make_cell(spec, tables, index)`` that draws cell ``index`` from its
own random stream, so the result does not depend on the number of processes.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterator

from ase import Atoms

from aiida_gaprss.common import checks

__all__ = ('check_count', 'check_processes', 'collect', 'iter_batch', 'progress_callback', 'run_batch')

#: Chunks handed to the worker pool at a time, per process: the cells in flight stay bounded whatever ``n``.
CHUNKS_IN_FLIGHT = 16

_WORKER: dict = {}


def _init_worker(make_cell: Callable, spec, tables) -> None:
    _WORKER['make_cell'] = make_cell
    _WORKER['spec'] = spec
    _WORKER['tables'] = tables


def _work(chunk: tuple[int, int]) -> list[Atoms]:
    return [_WORKER['make_cell'](_WORKER['spec'], _WORKER['tables'], i) for i in range(*chunk)]


def progress_callback(progress, total: int):
    """``(update, bar)``: a callable taking a number of finished cells, and the tqdm bar to close (or None)."""
    if callable(progress):
        return progress, None
    if progress:
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover
            return (lambda n: None), None
        bar = tqdm(total=total, unit='cell', desc='random cells')
        return bar.update, bar
    return (lambda n: None), None


def iter_batch(
    make_cell: Callable, spec, tables, n: int, processes: int, update: Callable[[int], None] | None = None
) -> Iterator[Atoms]:
    """Yield cells ``0 … n - 1`` of ``spec`` in index order as they are made (bounded memory: at most
    :data:`CHUNKS_IN_FLIGHT` chunks of up to 250 cells per process in flight), calling ``update`` with each count."""
    update = update or _ignore
    if processes <= 1 or n < 2 * processes:
        for i in range(n):
            cell = make_cell(spec, tables, i)
            update(1)
            yield cell
        return
    size = max(1, min(250, n // (processes * 8)))
    chunks = ((i, min(i + size, n)) for i in range(0, n, size))
    method = 'fork' if 'fork' in multiprocessing.get_all_start_methods() else 'spawn'
    context = multiprocessing.get_context(method)
    with context.Pool(processes, initializer=_init_worker, initargs=(make_cell, spec, tables)) as pool:
        while window := list(itertools.islice(chunks, processes * CHUNKS_IN_FLIGHT)):
            for block in pool.imap(_work, window):
                update(len(block))
                yield from block


def collect(cells: Callable[[Callable[[int], None]], Iterator[Atoms]], progress, n: int) -> list[Atoms]:
    """All cells of ``cells(update)`` as a list; ``progress`` True shows a tqdm bar of ``n``, a callable gets counts."""
    update, bar = progress_callback(progress, n)
    try:
        return list(cells(update))
    finally:
        if bar is not None:
            bar.close()


def run_batch(make_cell: Callable, spec, tables, n: int, processes: int, progress) -> list[Atoms]:
    """Cells ``0 … n - 1`` of ``spec``, in index order, as a list (see :func:`iter_batch`)."""
    return collect(lambda update: iter_batch(make_cell, spec, tables, n, processes, update), progress, n)


def _ignore(count: int) -> None:
    """A progress callback that does nothing."""


def check_count(n, field='n') -> int:
    """``n`` as a non-negative int, else ValueError naming ``field``."""
    return checks.non_negative_integer(n, field)


def check_processes(processes) -> int:
    """A positive number of processes (None: all CPUs), else ValueError naming 'processes'."""
    if processes is None:
        return os.cpu_count() or 1
    return checks.positive_integer(processes, 'processes')
