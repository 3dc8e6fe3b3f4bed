"""Data node types: datasets of structures and fitted GAP potentials."""
