#!/usr/bin/env python3
"""Interpolate two trained versions of one model (weight averaging, as in WiSE-FT and model soups): every weight
becomes (1 - alpha) * A + alpha * B. A fine-tune on new data (street persons) averaged with the model it started
from keeps much of what it gained there and most of what it knew before; both must share the architecture.

    average_weights.py --model warp weights runs/tops_street_warp/best --alpha 0.5 --out runs/warp_soup5
    export_weights.py ... --warp runs/warp_soup5 ...       (then the pipeline as usual)
"""
import argparse

from tryon.models.chain import average_pretrained

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True,
                   help="the model's folder name in a pipeline folder (warp, generator, parser, fullbody_warp, ...)")
    p.add_argument("a", help="the first model folder (or a pipeline folder holding it)")
    p.add_argument("b", help="the second model folder (or a pipeline folder holding it)")
    p.add_argument("--alpha", type=float, required=True, help="B's share, in [0, 1]")
    p.add_argument("--out", required=True, help="model folder to write (float32)")
    a = p.parse_args()
    average_pretrained(a.model, a.a, a.b, a.alpha).save_pretrained(a.out)
    print(a.out)
