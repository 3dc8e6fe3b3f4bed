"""WorkChains."""
