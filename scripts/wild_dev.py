#!/usr/bin/env python3
"""Render and measure wild-dev (tryon.wild_dev): real street photos and lettered garments, detail ratio and text
SSIM, contact sheets. The research datasets are read where they lie (default ../shared/datasets/...).

    scripts/wild_dev.py --out evals/wild-dev/after [--weights weights/] [--limit N] [--single-pass]
    scripts/wild_dev.py --compare evals/wild-dev/before evals/wild-dev/after --out evals/wild-dev/compare
"""
import argparse
import json
import logging
from pathlib import Path

from tryon.pipeline import load_pipeline
from tryon.wild_dev import compare, run

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--weights", default=None)
    p.add_argument("--ccp", default=str(DATA / "ccp"))
    p.add_argument("--viton", default=str(DATA / "viton"))
    p.add_argument("--cc0", default=str(DATA / "garments-cc0"))
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--single-pass", action="store_true")
    p.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO)
    if a.compare:
        for path in compare(*a.compare, a.out):
            print(path)
        return
    pipe = load_pipeline(a.weights, mirror_average=not a.single_pass)
    print(json.dumps(run(pipe, a.out, a.ccp, a.viton, a.cc0, a.limit), indent=1))


if __name__ == "__main__":
    main()
