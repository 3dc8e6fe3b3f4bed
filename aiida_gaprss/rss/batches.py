"""Making a batch of random cells in index order, in one process or several, with an optional progress bar.

Shared by the elemental and the multi-species generators: a batch is a picklable ``spec``, the symmetry ``tables``
built once for it, and a module-level function ``make_cell(spec, tables, index)`` that draws cell ``index`` from its
own random stream, so the result does not depend on the number of processes.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable

import numpy as np
from ase import Atoms

__all__ = ('check_count', 'check_processes', 'progress_callback', 'run_batch')

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


def run_batch(make_cell: Callable, spec, tables, n: int, processes: int, progress, offset: int = 0) -> list[Atoms]:
    """Cells ``offset`` … ``offset + n - 1`` of ``spec``, in index order (chunks of up to 250 per task)."""
    update, bar = progress_callback(progress, n)
    try:
        if processes <= 1 or n < 2 * processes:
            cells = []
            for i in range(offset, offset + n):
                cells.append(make_cell(spec, tables, i))
                update(1)
            return cells
        size = max(1, min(250, n // (processes * 8)))
        chunks = [(i, min(i + size, offset + n)) for i in range(offset, offset + n, size)]
        method = 'fork' if 'fork' in multiprocessing.get_all_start_methods() else 'spawn'
        context = multiprocessing.get_context(method)
        cells = []
        with context.Pool(processes, initializer=_init_worker, initargs=(make_cell, spec, tables)) as pool:
            for block in pool.imap(_work, chunks):
                cells.extend(block)
                update(len(block))
        return cells
    finally:
        if bar is not None:
            bar.close()


def check_count(n, field='n') -> int:
    """``n`` as a non-negative int, else ValueError naming ``field``."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f'{field}: expected a non-negative integer, got {n!r}')
    return int(n)


def check_processes(processes) -> int:
    """A positive number of processes (None: all CPUs), else ValueError naming 'processes'."""
    if processes is None:
        return os.cpu_count() or 1
    if isinstance(processes, bool) or not isinstance(processes, int | np.integer) or processes < 1:
        raise ValueError(f'processes: expected a positive integer, got {processes!r}')
    return int(processes)
