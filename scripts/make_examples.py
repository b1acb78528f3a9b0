#!/usr/bin/env python3
"""Write the app's licence-clean examples into tryon/assets/examples/: drawn persons (tryon.data.synthetic), real
garment photos from the CC0 garment set (four tops, a skirt, shorts, a dress), and a catalog.csv naming each
garment, with its price and category.

The garments are phone photos from alexeygrigorev/clothing-dataset, released under CC0 1.0 (public domain: free for
any use, shipping included; ../shared/datasets/garments-cc0 holds a copy with its LICENSE). Each is cropped to the
box below (around the garment, so that the cut-out of tryon.preprocess.garment sees little floor), scaled to 400
pixels tall and saved as JPEG quality 85; garments/SOURCES.md names each file's source. They were chosen among the
421 photos because today's cut-out separates them cleanly from their plain backgrounds (checked by eye on the
framed garment and its mask). That set has no person photos, nor is a licence-clean one at hand, so the example
persons stay drawn. The same code writes the same files.
Usage: scripts/make_examples.py [--cc0 ../shared/datasets/garments-cc0] [--out tryon/assets/examples]
"""
import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image

from tryon.data.synthetic import make_sample

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tryon" / "assets" / "examples"
CC0 = REPO.parent / "shared" / "datasets" / "garments-cc0"
SOURCE_REPO = "https://github.com/alexeygrigorev/clothing-dataset"
PERSON_SEEDS = (3, 6, 10)  # synthetic people that mediapipe finds at 512x384
PERSON_SIZE = (512, 384)
HEIGHT = 400  # garment photos are this tall
# (sku, source file in the CC0 set's images/, crop box (left, top, right, bottom), category, name, price)
GARMENTS = (
    ("tee-stripe", "05d01bf9-6ff5-4c5e-b946-b4ca004a125b.jpg", (10, 37, 372, 400), "upper",
     "Striped cotton tee", 19.90),
    ("tee-slogan", "02ef828a-a7d5-4475-bf44-3907b3a977ff.jpg", (12, 49, 400, 502), "upper", "Grey slogan tee", 24.90),
    ("shirt-ivory", "0a77dbed-06fb-4ba7-b1e3-24f3a41498bc.jpg", (6, 80, 392, 502), "upper",
     "Ivory lace-yoke shirt", 44.90),
    ("blouse-floral", "6110bc5f-2101-4382-a79c-d2158d052b23.jpg", (7, 23, 400, 390), "upper", "Floral blouse", 39.90),
    ("skirt-brown", "2001dec1-1e0a-4c11-9d15-120b019b3dea.jpg", (46, 37, 355, 400), "lower",
     "Brown pencil skirt", 39.90),
    ("shorts-blue", "133934b3-0925-4dc1-83d1-b1b4ef80f51f.jpg", (29, 0, 395, 424), "lower",
     "Blue jersey shorts", 22.50),
    ("trousers-print", "01033304-f9a4-48c4-af65-677512880fae.jpg", (20, 0, 380, 411), "lower",
     "Printed wide-leg trousers", 34.90),
    ("dress-stripe", "160c2e1c-48d5-4e31-8155-83152e2ad649.jpg", (0, 29, 400, 502), "dress",
     "Striped frill dress", 59.00),
)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cc0", type=Path, default=CC0, help="the CC0 garment set (its images/ folder is read)")
    p.add_argument("--out", type=Path, default=OUT)
    a = p.parse_args()
    (a.out / "persons").mkdir(parents=True, exist_ok=True)
    (a.out / "garments").mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(PERSON_SEEDS, 1):
        person = make_sample(np.random.default_rng(seed), PERSON_SIZE).person
        Image.fromarray(person).save(a.out / "persons" / f"person_{i}.png", optimize=True)
    rows = []
    sources = ["# Garment photos: sources and licence", "",
               f"Phone photos from [{SOURCE_REPO.removeprefix('https://github.com/')}]({SOURCE_REPO}), released "
               "under [CC0 1.0](https://creativecommons.org/publicdomain/zero/1.0/) (public domain), cropped, scaled "
               "to 400 pixels tall and re-encoded (JPEG quality 85) by `scripts/make_examples.py`.", "",
               "| file | source file (`images/`) |", "| --- | --- |"]
    for sku, source, box, category, name, price in GARMENTS:
        with Image.open(a.cc0 / "images" / source) as photo:
            garment = photo.convert("RGB").crop(box)
        garment = garment.resize((round(garment.width * HEIGHT / garment.height), HEIGHT), Image.LANCZOS)
        garment.save(a.out / "garments" / f"{sku}.jpg", quality=85, optimize=True)
        rows.append({"sku": sku, "image": f"garments/{sku}.jpg", "category": category, "name": name,
                     "price": f"{price:.2f}"})
        sources.append(f"| `{sku}.jpg` | `{source}` |")
    with open(a.out / "catalog.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (a.out / "garments" / "SOURCES.md").write_text("\n".join(sources) + "\n", encoding="utf-8")
    print(a.out)


if __name__ == "__main__":
    main()
