"""viddiff_runtime."""
