#!/usr/bin/env python3
"""A contact sheet of lower-body or dress try-ons on street photos: each CCP validation person (a different one per
row) with one real garment photo of the category from a catalog (e.g. the CC0 garments), tried on by each pipeline
given (before and after a change), side by side.

    category_sheet.py --category lower --ccp ../shared/datasets/ccp \
        --catalog ../shared/datasets/garments-cc0/catalog.csv --weights weights runs/new_weights --out sheet.jpg

Columns: the person photo, the garment photo, then one try-on per --weights and per --layouts (the categories
laid out by the pose: lower, the pipeline's default; lower,dress; none: the learnt full-body warp only). Persons or
garments a pipeline refuses are skipped (and named on stderr).
"""
import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw

from tryon.data.ccp import read_ccp
from tryon.errors import TryOnError
from tryon.evaluation import contact_grid
from tryon.models.chain import pose_layout_categories
from tryon.pipeline import load_pipeline
from tryon.products import load_catalog

THUMB = 320  # row height in pixels


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--category", required=True, choices=["lower", "dress"])
    p.add_argument("--ccp", required=True, help="the CCP folder (its validation persons are used)")
    p.add_argument("--catalog", required=True, help="a catalog (CSV/JSONL) whose garments of the category are used")
    p.add_argument("--weights", nargs="+", required=True, help="one or more pipeline folders (one column each)")
    p.add_argument("--layouts", nargs="+", default=["lower"],
                   help="the categories laid out by the pose, one column per weights and layout: lower, dress, "
                        "lower,dress or none")
    p.add_argument("--rows", type=int, default=10)
    p.add_argument("--skip", type=int, default=0, help="start at this CCP validation person")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    pipes, names = [], []
    for w in a.weights:
        for layout in a.layouts:
            pipes.append(load_pipeline(w))
            pipes[-1].pose_layout = pose_layout_categories(layout)
            names.append(f"{w} ({layout})" if len(a.layouts) > 1 else str(w))
    garments = [g for g in load_catalog(a.catalog) if g.category == a.category]
    persons = read_ccp(a.ccp, "val")[a.skip:]
    rows, g = [], 0
    for person in persons:
        if len(rows) == a.rows or g >= len(garments):
            break
        try:
            framed = [pipe.frame_person(person.photo, category=a.category) for pipe in pipes]
        except TryOnError as e:
            print(f"{person.name}: {e}", file=sys.stderr)
            continue
        while g < len(garments):
            garment = garments[g]
            g += 1
            try:
                outs = [pipe(person.photo, garment.image, category=a.category).images[0] for pipe in pipes]
            except TryOnError as e:
                print(f"{garment.sku}: {e}", file=sys.stderr)
                continue
            rows.append([framed[0].photo, Image.open(garment.image), *outs])
            break
    sheet = contact_grid(rows, THUMB)
    ImageDraw.Draw(sheet).text((4, 4), " | ".join(["person", "garment", *names]), fill=(255, 0, 0))
    sheet.save(a.out, quality=90)
    print(f"{len(rows)} rows written to {a.out}")


if __name__ == "__main__":
    main()
