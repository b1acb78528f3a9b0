#!/usr/bin/env python3
"""Pack a VITON-layout dataset into a small copy to carry to a GPU machine.

    pack_dataset.py SRC OUT [--quality Q] [--max-pairs test=200] [--cloth-masks dataset|computed]
"""
import argparse

from tryon.data.dataset import CLOTH_MASKS
from tryon.data.pack import pack_viton

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--splits", nargs="+", default=["train", "test"])
    p.add_argument("--quality", type=int, default=80, help="WebP quality of photos and garments")
    p.add_argument("--cloth-masks", default="dataset", choices=CLOTH_MASKS,
                   help="the dataset's cloth masks, or those the pipeline cuts from the garment photos")
    p.add_argument("--max-pairs", nargs="*", default=[], metavar="SPLIT=N", help="keep only the first N pairs of a split")
    a = p.parse_args()
    limits = {}
    for item in a.max_pairs:
        split, sep, n = item.partition("=")
        if not sep or not n.isdigit() or int(n) < 1:
            p.error(f"--max-pairs takes SPLIT=N with N >= 1, not {item!r}")
        limits[split] = int(n)
    print(f"{pack_viton(a.src, a.out, a.splits, a.quality, limits, a.cloth_masks) / 2**20:.1f} MiB in {a.out}")
