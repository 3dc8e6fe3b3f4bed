"""The reference WorkChain (``gaprss.reference``): label a StructureSet with QE, VASP or an ASE calculator."""

from .workchain import ReferenceWorkChain

__all__ = ('ReferenceWorkChain',)
