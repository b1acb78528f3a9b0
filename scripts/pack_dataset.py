#!/usr/bin/env python3
"""Pack a VITON- or DressCode-layout dataset into a small copy to carry to a GPU machine.

    pack_dataset.py SRC OUT [--quality Q] [--max-pairs test=200] [--cloth-masks dataset|computed]
    pack_dataset.py runs/ccp_tops OUT --splits train --quality 40     (a DressCode layout: tryon prepare-ccp's)
"""
import argparse

from tryon.data.dataset import CLOTH_MASKS
from tryon.data.layouts import detect_layout
from tryon.data.pack import pack_dresscode, pack_viton

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
    if detect_layout(a.src) == "dresscode":
        if limits or a.cloth_masks != "dataset":
            p.error("a DressCode-layout dataset is packed whole, with its own garment masks")
        size = pack_dresscode(a.src, a.out, a.splits, a.quality)
    else:
        size = pack_viton(a.src, a.out, a.splits, a.quality, limits, a.cloth_masks)
    print(f"{size / 2**20:.1f} MiB in {a.out}")
