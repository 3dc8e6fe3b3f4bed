"""Reference relaxations cut off by their machine (killed, out of time, node failure): found, and relaunched from
the last geometry they reached, so a long QE or VASP relaxation is not lost with the machine it ran on."""

from __future__ import annotations

from aiida import orm

__all__ = ('INTERRUPTED_EXIT_STATUSES', 'MAX_RELAUNCHES', 'RELAUNCH_SEPARATOR', 'base_tag', 'interrupted_geometry')

#: Exit statuses of the last calculation of a relaxation that mean "cut off", not "wrong physics": the scheduler's
#: out of memory (110), out of walltime (120), node failure (140) and unknown (150); pw.x's missing output (302, 305),
#: output cut short (312: the job was killed mid-run) and its own out-of-walltime stop (400).
INTERRUPTED_EXIT_STATUSES = (110, 120, 140, 150, 302, 305, 312, 400)
#: Relaunches of one relaxation at most.
MAX_RELAUNCHES = 2
#: ``relax_<phase>_relaunch<n>``: the tag of a relaunch (its call-link label differs from the first run's).
RELAUNCH_SEPARATOR = '_relaunch'


def base_tag(tag: str) -> str:
    """The tag of the relaxation a relaunch tag stands for (``relax_st12_relaunch1`` -> ``relax_st12``)."""
    return tag.split(RELAUNCH_SEPARATOR)[0]


def interrupted_geometry(node: orm.ProcessNode) -> tuple[orm.StructureData, int] | None:
    """``(geometry, exit status)`` of a relaxation work chain that failed because its last calculation was cut off;
    None if it finished well or failed for another reason (no calculation, or a physics or input error).

    The geometry is the last one the calculation reached (pw.x's ``output_structure``, parsed from every ionic step
    of the cut-off output; VASP's ``structure``), else the calculation's input structure.
    """
    if node.is_finished_ok:
        return None
    calculations = [child for child in node.called_descendants if isinstance(child, orm.CalcJobNode)]
    if not calculations:
        return None
    last = max(calculations, key=lambda child: child.ctime)
    if last.exit_status not in INTERRUPTED_EXIT_STATUSES:
        return None
    for label in ('output_structure', 'structure'):
        if label in last.outputs:
            return last.outputs[label], last.exit_status
    return last.inputs.structure, last.exit_status
