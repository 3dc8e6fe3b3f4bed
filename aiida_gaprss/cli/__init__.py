"""The ``gaprss`` command line: set-up, science tools usable without AiiDA, and run management."""

# Sub-command modules attach themselves to ``cmd_root``; they import AiiDA lazily so the science commands
# (``generate``, ``select``) work without a profile.
from . import generate, indirect, potentials, provenance, report, run, select, setup  # noqa: F401
from .root import cmd_root

__all__ = ('cmd_root',)
