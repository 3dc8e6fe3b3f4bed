"""PNG figures of a GAP-RSS run and of indirect learning (matplotlib on an Agg canvas; no aiida imports).

Every function takes plain data (numbers, lists, dicts), draws one figure and either writes a PNG to ``path``
(returning the :class:`pathlib.Path`) or, with ``path=None``, returns the PNG bytes; bad input raises
:class:`ValueError` naming the field. ``rss.py`` holds the figures of a GAP-RSS run, ``seeds.py`` those over several
fit seeds, ``indirect.py`` those of indirect learning, ``canvas.py`` what they share.
"""

from aiida_gaprss.plots.canvas import CONVERGED_MEV, ERROR_FLOOR_MEV, PNG_MAGIC
from aiida_gaprss.plots.indirect import (
    plot_error_vs_cost,
    plot_error_vs_cost_panels,
    plot_similarity_comparison,
    plot_similarity_curve,
)
from aiida_gaprss.plots.rss import (
    plot_energy_scatter,
    plot_energy_volume,
    plot_formation_energies,
    plot_learning_curve,
    plot_structure_map,
)
from aiida_gaprss.plots.seeds import plot_energy_volume_over_seeds, plot_phase_errors_over_seeds, seed_mean_and_range

__all__ = (
    'CONVERGED_MEV',
    'ERROR_FLOOR_MEV',
    'PNG_MAGIC',
    'plot_energy_scatter',
    'plot_energy_volume',
    'plot_energy_volume_over_seeds',
    'plot_error_vs_cost',
    'plot_error_vs_cost_panels',
    'plot_formation_energies',
    'plot_learning_curve',
    'plot_phase_errors_over_seeds',
    'plot_similarity_comparison',
    'plot_similarity_curve',
    'plot_structure_map',
    'seed_mean_and_range',
)
