"""``python -m viddiff_method.cli``."""

from viddiff_method.cli import main

main()
