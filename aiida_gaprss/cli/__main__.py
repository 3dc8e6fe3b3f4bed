"""Allow ``python -m aiida_gaprss.cli``."""

from .root import cmd_root

cmd_root()
