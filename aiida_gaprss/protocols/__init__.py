"""Protocol presets."""
