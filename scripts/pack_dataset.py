#!/usr/bin/env python3
"""Pack a VITON-layout dataset into a small copy to carry to a GPU machine: pack_dataset.py SRC OUT [--quality Q]."""
import argparse

from tryon.data.pack import pack_viton

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--splits", nargs="+", default=["train", "test"])
    p.add_argument("--quality", type=int, default=80, help="WebP quality of photos and garments")
    a = p.parse_args()
    print(f"{pack_viton(a.src, a.out, a.splits, a.quality) / 2**20:.1f} MiB in {a.out}")
