#!/usr/bin/env python3
"""Catalog rendering as a script, for `accelerate launch scripts/render_catalog.py --garments ... --models ... --out ...`
(the arguments of `tryon render`; see `tryon render --help`)."""
import sys

from tryon.cli import main

if __name__ == "__main__":
    sys.exit(main(["render", *sys.argv[1:]]))
