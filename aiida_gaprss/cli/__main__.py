"""Allow ``python -m aiida_gaprss.cli``."""

from . import cmd_root

cmd_root()
