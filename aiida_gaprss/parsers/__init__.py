"""Parsers, one per CalcJob."""
