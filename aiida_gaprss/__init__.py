"""aiida-gaprss: GAP-RSS and indirect learning of interatomic potentials as AiiDA workflows."""

__version__ = '0.1.0'
