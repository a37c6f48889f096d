"""Dataset card templates, filled at publish time."""
