"""Helpers every floor may use: no science, no AiiDA."""
