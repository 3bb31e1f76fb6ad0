"""economy models (placeholder until the module is written)."""
