"""tickets models (placeholder until the module is written)."""
