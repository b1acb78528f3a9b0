"""Evaluate the body parser and the garment cut-out as the pipeline uses them, and draw what they see.

- `evaluate_parser`: CCP's validation photos (street photos never trained on) framed as the pipeline frames a
  person (mediapipe pose, the person box; "full" frames head to feet, as for a lower-body or dress garment), parsed
  and kept on the person (tryon.preprocess.parse), scored on the seven merged classes against CCP's labels cut to
  the same box; and VITON's test photos (already framed) on the 13 labels and the seven classes.
- `evaluate_garments`: VITON test garments (and CCP val photos' bottoms and dresses) laid on backgrounds no
  training saw (the streets of CCP's val photos, drawn textures of another seed), cut out by the pipeline's
  garment mask; garment IoU against their own masks. `garment_sheet` draws cut-outs of any garment photos.
"""
import json
import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from tqdm import tqdm

from tryon.data.ccp import load_ccp, read_ccp
from tryon.data.garment_photos import GarmentPhotoDataset
from tryon.data.labels import MERGED_LABELS, MERGED_LUT, NUM_PARSE, PARSE_COLOURS, PARSE_LUTS
from tryon.data.layouts import read_dataset
from tryon.data.parsing import Backgrounds, ccp_background_strips
from tryon.errors import TryOnError
from tryon.files import write_text
from tryon.metrics import Confusion
from tryon.preprocess import framing
from tryon.preprocess.garment import garment_mask
from tryon.preprocess.image_io import load_image, load_label_map, save_image
from tryon.preprocess.parse import crop_person_mask, keep_on_body, parse_photos
from tryon.preprocess.pose import PoseDetector

log = logging.getLogger(__name__)

SHEET_TILE = (144, 192)  # width, height of one picture in a sheet


@torch.inference_mode()
def parse_box(parser, photo: Image.Image, box, height: int, width: int,
              body: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """The parser's labels [H, W] of a photo's `box` at height x width, read as the pipeline reads it
    (tryon.preprocess.parse.parse_photos), checked against `body` when given: (the person mask, bool [H, W]; the
    pose, in the photo's pixels), as tryon.preprocess.parse.keep_on_body checks it."""
    labels = parse_photos(parser, [photo], [box], height, width)[0]
    if body is None:
        return labels
    person, pose = body
    return keep_on_body(labels, person, framing.pose_in_box(pose, box, height, width))


def _overlay(crop: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return (crop.astype(np.float32) * 0.35 + PARSE_COLOURS[labels] * 0.65).astype(np.uint8)


def _sheet(rows: list[list[np.ndarray]], captions: list[str]) -> Image.Image:
    w, h = SHEET_TILE
    sheet = Image.new("RGB", (w * len(rows[0]), (h + 14) * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (row, caption) in enumerate(zip(rows, captions)):
        for c, tile in enumerate(row):
            sheet.paste(Image.fromarray(tile).resize((w, h), Image.BILINEAR), (c * w, r * (h + 14) + 14))
        draw.text((2, r * (h + 14) + 1), caption, fill=(0, 0, 0))
    return sheet


def evaluate_parser(parser, ccp_root=None, viton_root=None, out=None, framings=("upper", "full"),
                    gate: bool = True, limit: int | None = None, sheet_rows: int = 12) -> dict:
    """Score `parser` (a HumanParser) as the pipeline runs it; write metrics.json and overlay sheets into `out`."""
    height, width = 256, 192
    detector = PoseDetector()
    report = {"gate": gate}
    out = Path(out) if out else None
    if ccp_root:
        photos = read_ccp(ccp_root, "val")[:limit]
        for how in framings:
            confusion, failed, rows, captions = Confusion(len(MERGED_LABELS)), [], [], []
            for item in tqdm(photos, desc=f"parser on CCP val ({how})"):
                photo = load_image(item.photo)
                try:
                    pose, mask = detector.detect(photo)
                    box = (framing.person_box(pose, height, width) if how == "upper"
                           else framing.full_body_box(pose, height, width))
                except TryOnError as e:
                    failed.append({"photo": item.name, "error": str(e)})
                    continue
                body = (crop_person_mask(mask, photo.size, box, height, width), pose) if gate else None
                pred = parse_box(parser, photo, box, height, width, body)
                truth = framing.crop_map(load_ccp(item)[1], box, height, width)
                confusion.add(MERGED_LUT[truth], MERGED_LUT[pred])
                if len(rows) < sheet_rows:
                    crop = np.asarray(framing.crop(photo, box, height, width))
                    rows.append([crop, _overlay(crop, truth), _overlay(crop, pred)])
                    captions.append(item.name)
            report[f"ccp_val_{how}"] = {**confusion.scores(MERGED_LABELS), "n": len(photos) - len(failed),
                                        "failed": failed}
            if out and rows:
                save_image(_sheet([sum(rows[i:i + 3], []) for i in range(0, len(rows), 3)],
                                  ["  |  ".join(captions[i:i + 3]) + "   (photo, CCP labels, parser)"
                                   for i in range(0, len(rows), 3)]), out / f"ccp_val_{how}.png")
    if viton_root:
        pairs = read_dataset(viton_root, "test", "paired")[:limit]
        full, merged = Confusion(NUM_PARSE), Confusion(len(MERGED_LABELS))
        for pair in tqdm(pairs, desc="parser on VITON test"):
            photo = load_image(pair.person)
            body = None
            if gate:
                try:
                    pose, mask = detector.detect(photo)
                    body = (crop_person_mask(mask, photo.size, (0, 0, *photo.size), height, width), pose)
                except TryOnError:
                    pass  # no pose found: the parse is taken as it is
            pred = parse_box(parser, photo, (0, 0, *photo.size), height, width, body)
            truth = np.asarray(Image.fromarray(PARSE_LUTS[pair.parse_format][load_label_map(pair.parse)])
                               .resize((width, height), Image.NEAREST))
            full.add(truth, pred)
            merged.add(MERGED_LUT[truth], MERGED_LUT[pred])
        report["viton_test"] = {"pixel_acc": full.scores(range(NUM_PARSE))["pixel_acc"],
                                "miou_13": full.scores([str(i) for i in range(NUM_PARSE)])["miou"],
                                "merged": merged.scores(MERGED_LABELS), "n": len(pairs)}
    if out:
        write_text(out / "metrics.json", json.dumps(report, indent=1))
    return report


def evaluate_garments(segmenter, viton_root, ccp_root=None, limit: int | None = None, seed: int = 1) -> dict:
    """Garment IoU of the pipeline's cut-out (with `segmenter`, and of the plain-background rule alone) on VITON
    test garments (and CCP val bottoms and dresses) laid on unseen backgrounds, a fixed draw."""
    ccp_val = read_ccp(ccp_root, "val") if ccp_root else []
    ds = GarmentPhotoDataset(read_dataset(viton_root, "test", "paired"), ccp_val, augment=False, seed=seed,
                             backgrounds=Backgrounds(ccp_background_strips(ccp_val)))
    scores = {"pipeline": [], "plain_background_rule": []}  # the pipeline: the rule on plain, the segmenter else
    for i in tqdm(range(len(ds) if limit is None else min(limit, len(ds))), desc="garment cut-out"):
        s = ds[i]
        truth = s["labels"].numpy().astype(bool)
        if not truth.any():
            continue
        image = Image.fromarray(((s["image"].numpy().transpose(1, 2, 0) + 1) * 127.5 + 0.5).astype(np.uint8))
        for name, seg in (("pipeline", segmenter), ("plain_background_rule", None)):
            try:
                mask = garment_mask(image, seg)
            except TryOnError:
                mask = np.zeros_like(truth)
            scores[name].append(float((mask & truth).sum() / (mask | truth).sum()))
    return {name: {"mean_iou": round(float(np.mean(v)), 4), "median_iou": round(float(np.median(v)), 4),
                   "share_at_0.9": round(float(np.mean(np.array(v) >= 0.9)), 4), "n": len(v)}
            for name, v in scores.items()}


def garment_sheet(paths: list[Path], segmenter, out: Path, columns: int = 10) -> dict:
    """Cut-outs of garment photos (the photo, then the garment on grey) into sheets of 50 under `out`, captioned
    with their number; returns {"failed": [(name, error)]}."""
    failed, tiles = [], []
    for n, path in enumerate(tqdm(paths, desc="garment cut-outs")):
        photo = load_image(path)
        photo.thumbnail((SHEET_TILE[0] * 2, SHEET_TILE[1] * 2))
        try:
            mask = garment_mask(photo, segmenter)
            cut = np.where(mask[..., None], np.asarray(photo), 128).astype(np.uint8)
        except TryOnError as e:
            failed.append((path.name, str(e)))
            cut = np.full((*np.asarray(photo).shape[:2], 3), (200, 60, 60), np.uint8)
        tiles.append((f"{n}", np.asarray(photo), cut))
    per_sheet = 50
    for s in range(0, len(tiles), per_sheet):
        chunk = tiles[s:s + per_sheet]
        rows = [sum(([t[1], t[2]] for t in chunk[i:i + columns // 2]), []) for i in range(0, len(chunk), columns // 2)]
        rows[-1] += [np.full_like(chunk[0][1], 255)] * (columns - len(rows[-1]))
        captions = [" ".join(t[0] for t in chunk[i:i + columns // 2]) for i in range(0, len(chunk), columns // 2)]
        save_image(_sheet(rows, captions), out / f"garments_{s // per_sheet:02d}.jpg")
    return {"failed": failed}
