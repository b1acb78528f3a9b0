#!/usr/bin/env python3
"""Write the app's licence-clean examples into tryon/assets/examples/: procedural persons and garments
(tryon.data.synthetic) and a catalog.csv naming each garment by its measured colour, with a price.

Nothing here comes from a photo or a dataset, so the files can ship with the repository. The same code writes the
same files. Usage: scripts/make_examples.py [--out tryon/assets/examples]
"""
import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image

from tryon.ads.colors import color_name, dominant_colors
from tryon.data.synthetic import make_garment, make_sample

OUT = Path(__file__).resolve().parents[1] / "tryon" / "assets" / "examples"
PERSON_SEEDS = (3, 6, 10)  # synthetic people that mediapipe finds at 512x384
PERSON_SIZE = (512, 384)
GARMENT_SIZE = (384, 288)
# (seed, kind, category, noun, price)
GARMENTS = (
    (21, "tshirt", "upper", "tee", 24.90),
    (22, "tshirt", "upper", "tee", 19.90),
    (23, "tshirt", "upper", "tee", 29.00),
    (24, "tshirt", "upper", "tee", 22.50),
    (31, "dress", "dress", "dress", 59.00),
    (41, "trousers", "lower", "trousers", 49.90),
    (51, "skirt", "lower", "skirt", 34.90),
)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=OUT)
    out = p.parse_args().out
    (out / "persons").mkdir(parents=True, exist_ok=True)
    (out / "garments").mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(PERSON_SEEDS, 1):
        person = make_sample(np.random.default_rng(seed), PERSON_SIZE).person
        Image.fromarray(person).save(out / "persons" / f"person_{i}.png", optimize=True)
    rows = []
    for seed, kind, category, noun, price in GARMENTS:
        garment = make_garment(np.random.default_rng(seed), kind, GARMENT_SIZE)
        image = Image.fromarray(garment.image)
        colour = color_name(dominant_colors(image, garment.mask)[0][0])
        sku = f"{noun}-{seed}"
        image.save(out / "garments" / f"{sku}.png", optimize=True)
        rows.append({"sku": sku, "image": f"garments/{sku}.png", "category": category,
                     "name": f"{colour.capitalize()} {noun}", "price": f"{price:.2f}"})
    with open(out / "catalog.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(out)


if __name__ == "__main__":
    main()
