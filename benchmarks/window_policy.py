"""Benchmark ``window_policy``: what the rolling window's refill rule costs, replayed on real label durations.

The reference labels of a GAP-RSS run are single-point calculations of very different cost (a 4-atom random cell
with 433 k-points, a 12-atom metal that needs 30 SCF cycles). ``workflows/window.py`` starts the next calculation as
soon as ANY running one ends (it waits for a small ``WaitForAny`` child that ends when any running child does). The
rules a work chain gets when it waits for the children it names itself are replayed here on the same durations, in
the same random orders, with ``k`` calculations at a time:

``any`` (the window)
    Greedy list scheduling: the next calculation goes to the first slot that frees up.
``oldest``
    Submit up to ``k``, wait for the oldest running one, then refill every slot that has freed up by then.
``waves``
    Submit ``k``, wait for all of them, submit the next ``k``.
``lanes``
    ``k`` sequential lanes with the calculations dealt round-robin (a sub-work chain per slot).

With ``--latency-from`` (a result of ``window_latency.py``), ``any_public`` is the any-first rule with each refill
later by the extra refill latency measured there for the public-API window (its ``WaitForAny`` hop).

Durations: the wall times (``wall_time_seconds`` of pw.x's output) of every finished ``PwCalculation`` under a
``GapRssWorkChain`` (``--run PK`` with ``--profile`` / ``--aiida-path``), or a list in a JSON file (``--durations``,
e.g. a previous result of this script, which stores the durations it replayed). Prints the mean time of each rule
relative to ``any`` over ``--orders`` random orders, ends with one JSON line, writes
benchmarks/results/window_policy.json.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _record import write_results  # noqa: E402


def makespan_any(durations, k: int, latency: float = 0.0) -> float:
    """Time to finish when each calculation starts in the first slot that frees up, ``latency`` seconds after it
    frees up (the first ``k`` start at once)."""
    slots = [0.0] * k
    for index, duration in enumerate(durations):
        slot = min(range(k), key=slots.__getitem__)
        slots[slot] += duration + (latency if index >= k else 0.0)
    return max(slots)


def makespan_oldest(durations, k: int) -> float:
    """Time to finish when the work chain waits for its oldest running child, then refills every free slot."""
    time, running, queue = 0.0, [], list(durations)
    while queue or running:
        while len(running) < k and queue:
            running.append(time + queue.pop(0))
        time = max(time, running[0])
        running = [end for end in running if end > time]
    return time


def makespan_waves(durations, k: int) -> float:
    """Time to finish in waves of ``k``: each wave waits for its slowest calculation."""
    return sum(max(durations[start : start + k]) for start in range(0, len(durations), k))


def makespan_lanes(durations, k: int) -> float:
    """Time to finish with ``k`` sequential lanes, the calculations dealt round-robin."""
    return max(sum(durations[lane::k]) for lane in range(k))


def durations_of_run(pk: int, profile: str | None, aiida_path: str | None) -> list[float]:
    """Wall times (s) of the finished pw.x calculations of GAP-RSS run ``pk``."""
    if aiida_path:
        os.environ['AIIDA_PATH'] = aiida_path
    import aiida
    from aiida import orm

    aiida.load_profile(profile, allow_switch=True)
    run = orm.load_node(pk)
    durations = []
    for node in run.called_descendants:
        if node.process_label == 'PwCalculation' and node.is_finished_ok and 'output_parameters' in node.outputs:
            wall = node.outputs.output_parameters.get_dict().get('wall_time_seconds')
            if wall:
                durations.append(float(wall))
    if not durations:
        raise ValueError(f'field `--run`: no finished PwCalculation under node {pk}')
    return durations


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--run', type=int, default=None, help='pk of a GapRssWorkChain')
    parser.add_argument('--profile', default=None)
    parser.add_argument('--aiida-path', default=None)
    parser.add_argument('--durations', type=pathlib.Path, default=None, help='JSON with a "durations" list (s)')
    parser.add_argument('--slots', type=int, nargs='+', default=[2, 4, 8])
    parser.add_argument('--orders', type=int, default=200)
    parser.add_argument('--latency-from', type=pathlib.Path, default=None, help='a window_latency.py result (JSON)')
    args = parser.parse_args(argv)
    if args.durations is not None:
        stored = json.loads(args.durations.read_text(encoding='utf-8'))
        durations = [float(x) for x in stored['durations']]
        source = stored.get('source', str(args.durations))  # a previous result keeps naming the run measured
    elif args.run is not None:
        durations = durations_of_run(args.run, args.profile, args.aiida_path)
        source = f'PwCalculation wall times under GapRssWorkChain<{args.run}> (profile {args.profile})'
    else:
        parser.error('give --run or --durations')
    latency = None
    if args.latency_from is not None:
        latency = float(json.loads(args.latency_from.read_text(encoding='utf-8'))['extra_refill_latency_s'])
    rng = np.random.default_rng(0)
    orders = [rng.permutation(len(durations)) for _ in range(args.orders)]
    relative = {}
    for k in args.slots:
        ratios = {'oldest': [], 'waves': [], 'lanes': [], **({'any_public': []} if latency is not None else {})}
        for order in orders:
            shuffled = [durations[i] for i in order]
            base = makespan_any(shuffled, k)
            ratios['oldest'].append(makespan_oldest(shuffled, k) / base)
            ratios['waves'].append(makespan_waves(shuffled, k) / base)
            ratios['lanes'].append(makespan_lanes(shuffled, k) / base)
            if latency is not None:
                ratios['any_public'].append(makespan_any(shuffled, k, latency) / base)
        relative[str(k)] = {rule: float(np.mean(values)) for rule, values in ratios.items()}
        sys.stdout.write(
            f'{k} at a time: oldest {relative[str(k)]["oldest"]:.2f}x, waves {relative[str(k)]["waves"]:.2f}x, '
            f'lanes {relative[str(k)]["lanes"]:.2f}x the time of the any-first window'
            + (f' (any_public {relative[str(k)]["any_public"]:.3f}x)' if latency is not None else '')
            + '\n'
        )
    figures = {
        'benchmark': 'window_policy',
        'source': source,
        'num_calculations': len(durations),
        'median_duration_s': float(np.median(durations)),
        'max_duration_s': float(np.max(durations)),
        'orders': args.orders,
        'relative_to_any': relative,
        'extra_refill_latency_s': latency,
        'durations': durations,
    }
    write_results('window_policy', figures)  # prints the JSON line
    return figures


if __name__ == '__main__':
    main()
