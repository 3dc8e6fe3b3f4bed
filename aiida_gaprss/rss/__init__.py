"""The science of GAP-RSS: pure numpy / ase / quippy, no AiiDA imports."""
