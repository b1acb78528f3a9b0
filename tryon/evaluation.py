"""Evaluate the whole pipeline on a dataset, from the raw photos, and write metrics, a report and a grid.

Every pair goes through TryOnPipeline as a shopper's photo would: mediapipe pose, the trained parser, the crop and
the paste back; the dataset's own parse maps and keypoints are used only to score (the garment region of the
ground truth). Paired mode scores SSIM and PSNR against the person photo, over the whole photo and inside the
garment region; unpaired mode has no ground truth. Two trivial baselines run through the same steps with the
generator replaced: "grey" leaves the repainted region grey, "paste" pastes the flat garment, resized, into the
bounding box of the parsed garment region. LPIPS (paired), FID and KID come from torchmetrics, only with local
weight files.
"""
import json
import logging
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from tryon.data.dataset import to_tensor
from tryon.data.labels import GARMENT_LABELS, KEEP_LABELS, PARSE_LUTS, J, P
from tryon.data.layouts import read_dataset
from tryon.errors import TryOnError
from tryon.files import write_text
from tryon.metrics import psnr, ssim
from tryon.preprocess import framing
from tryon.preprocess.image_io import load_image, load_label_map, save_image
from tryon.preprocess.person import pose_region

log = logging.getLogger(__name__)

METHODS = ("model", "grey", "paste")
GRID_ROWS = 4  # best and worst cases each
THUMB_HEIGHT = 256


def _paste_garment(batch: dict) -> torch.Tensor:
    """The "paste" baseline: the agnostic person with the flat garment resized into the parsed garment's box."""
    out = batch["agnostic"].clone()
    for i, category in enumerate(batch["category"]):
        region = torch.isin(batch["parse"][i], torch.tensor(GARMENT_LABELS[category], device=out.device))
        if not region.any():
            region = batch["agnostic_mask"][i, 0] > 0.5
        if not region.any():
            continue
        ys, xs = torch.nonzero(region, as_tuple=True)
        y0, y1, x0, x1 = ys.min().item(), ys.max().item() + 1, xs.min().item(), xs.max().item() + 1
        cm = batch["cloth_mask"][i, 0] > 0.5
        cy, cx = torch.nonzero(cm, as_tuple=True)
        box = (slice(cy.min().item(), cy.max().item() + 1), slice(cx.min().item(), cx.max().item() + 1))
        rgbm = torch.cat([batch["cloth"][i], batch["cloth_mask"][i]])[:, box[0], box[1]]
        rgbm = F.interpolate(rgbm[None].float(), size=(y1 - y0, x1 - x0), mode="bilinear", align_corners=False)[0]
        on = rgbm[3:] > 0.5
        out[i, :, y0:y1, x0:x1] = torch.where(on, rgbm[:3].to(out.dtype), out[i, :, y0:y1, x0:x1])
    return out


def render(pipe, framed: list, categories: list[str], method: str = "model",
           with_masks: bool = False) -> list[Image.Image] | tuple[list[Image.Image], list[np.ndarray], list[np.ndarray],
                                                                  list[np.ndarray]]:
    """Try-ons (photo size) of framed inputs by the model or a baseline, through the pipeline's own steps; with
    `with_masks`, also each try-on's warped garment mask, paste mask and the pipeline's parse of the person, at
    the models' size (bool, float, uint8 labels)."""
    with torch.inference_mode():
        batch = pipe.represent(framed, categories)
        if method == "model":
            result = pipe.render(batch)
            composites = pipe.compose(batch, result)
            images, warped_mask = pipe.paste_composites(batch, composites), result.warped_mask
            pastes = [np.asarray(Image.fromarray(c.paste_mask.astype(np.float32), "F").resize(
                pipe.size[::-1], Image.BILINEAR)) for c in composites]
        else:
            warped, warped_mask = pipe.warp_garment(batch)  # the baselines too: it decides where the paste goes
            if method == "grey":
                rendered = batch["agnostic"]
            elif method == "paste":
                rendered = _paste_garment(batch)
            else:
                raise TryOnError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
            images, pastes = pipe.paste(batch, rendered, warped_mask)
        if not with_masks:
            return images
        return images, list((warped_mask[:, 0] > 0.5).cpu().numpy()), pastes, list(batch["parse"].cpu().numpy())


KEPT_IN_FRONT = (P["shoes"], P["accessory"])  # kept by a lower-body or dress try-on, worn over the legs
FULL_LENGTH = 0.7  # a worn lower garment reaching this far from the knees to the ankles is full length
COVERED = 0.9  # a band counts as covered when the new garment lies over this share of it


def lower_body_checks(pose: np.ndarray, warped_mask: np.ndarray, paste_mask: np.ndarray, category: str,
                      truth: np.ndarray | None = None, changed: np.ndarray | None = None,
                      kept: np.ndarray | None = None, person: np.ndarray | None = None) -> dict:
    """Whether a lower-body or dress try-on (all at the models' size) covers the legs, from the pose alone:
    "hips_to_knees" / "knees_to_ankles", the share of the pose-drawn legs (tryon.preprocess.person.pose_region)
    in each band that the new garment (`warped_mask`) covers where the try-on shows it (`paste_mask` 0.5 or
    more). What the try-on keeps in front of a new garment (a top's hem over the hips, a hand on the thigh, a boot
    over a trouser leg, a bag held before the thighs: the drawn legs pass under them) is left out of the bands:
    `kept` (bool; in paired data what the ground truth labels as kept by the category, KEEP_LABELS; otherwise,
    by the pipeline's parse, only the shoes and accessories, KEPT_IN_FRONT, so that a parse that takes legs for
    arms or a top is not excused), and so is what is not the person (`person`, bool: in paired data the ground
    truth's labels, otherwise mediapipe's person mask): the drawn legs are as wide as a thigh down to the ankles,
    and the street beside a slim trouser's hem is no part of the legs to cover. In paired data the ankles' band
    ends at the worn garment's hem, where that is above the ankles (a cropped trouser cannot be asked to reach
    them). With the ground truth's labels `truth` (our labels, paired data):
    "worn_hips_to_knees", the same share for the worn garment (a short one cannot cover the band, nor can its
    try-on be asked to), "full_length" (the worn garment reaches FULL_LENGTH of the way from the knees to the
    ankles), "old_left", the share of the worn garment the try-on does not repaint (`paste_mask` under 0.5), and
    for a lower-body garment, with `changed` (bool, pixels the try-on changed), "upper_changed", the share of the
    upper body's pixels (top, arms, neck, face, hair) it changed."""
    height, width = warped_mask.shape
    legs = pose_region(pose, "lower", height, width)
    if kept is not None:
        legs &= ~kept
    if person is not None:
        legs &= person
    seen = lambda names: [pose[J[n], 1] for n in names if pose[J[n], 2] > 0]
    hips, knees, ankles = seen(("r_hip", "l_hip")), seen(("r_knee", "l_knee")), seen(("r_ankle", "l_ankle"))
    rows = np.arange(height)[:, None]
    out = {}
    shown = warped_mask & (paste_mask >= 0.5)
    worn = None if truth is None else np.isin(truth, GARMENT_LABELS[category])
    hem = np.nonzero(worn.any(1))[0].max() if worn is not None and worn.any() else height
    for name, top, bottom in (("hips_to_knees", hips, knees), ("knees_to_ankles", knees, ankles)):
        if top and bottom:
            end = np.mean(bottom) if name == "hips_to_knees" else min(np.mean(bottom), hem)
            band = legs & (rows >= np.mean(top)) & (rows <= end)
            if band.any():
                out[name] = float((shown & band).sum() / band.sum())
                if worn is not None and name == "hips_to_knees":
                    out["worn_hips_to_knees"] = float((worn & band).sum() / band.sum())
    if truth is not None:
        if worn.any():
            out["old_left"] = float((worn & (paste_mask < 0.5)).sum() / worn.sum())
            if knees and ankles:
                out["full_length"] = bool(hem >= np.mean(knees) + FULL_LENGTH * (np.mean(ankles) - np.mean(knees)))
        if category == "lower" and changed is not None:
            upper = np.isin(truth, [P[n] for n in ("upper", "left_arm", "right_arm", "neck", "face", "hair")])
            if upper.any():
                out["upper_changed"] = float((changed & upper).sum() / upper.sum())
    return out


def _category_summary(cases: list[dict], paired: bool) -> dict:
    """Per category: the pairs scored, the mean scores, and for lower-body garments and dresses how often the new
    garment covers the legs (COVERED of each band; the ankles only for full-length garments; in paired data the
    hips-to-knees band also over the pairs whose worn garment covers it)."""
    out = {}
    for category in sorted({c["category"] for c in cases}):
        own = [c for c in cases if c["category"] == category]
        summary = {"n": len(own)}
        if paired:
            for key in ("ssim", "psnr", "ssim_garment", "psnr_garment"):
                summary[key] = float(np.mean([c[key] for c in own]))
        knees = [c["hips_to_knees"] for c in own if "hips_to_knees" in c]
        if knees:
            summary["covers_hips_to_knees"] = float(np.mean(np.array(knees) >= COVERED))
            long = [c["hips_to_knees"] for c in own if c.get("worn_hips_to_knees", 0) >= COVERED]
            if long:
                summary["covers_hips_to_knees_knee_length"] = float(np.mean(np.array(long) >= COVERED))
                summary["knee_length_n"] = len(long)
            ankles = [c["knees_to_ankles"] for c in own if c.get("full_length") and "knees_to_ankles" in c]
            if ankles:
                summary["covers_ankles_full_length"] = float(np.mean(np.array(ankles) >= COVERED))
                summary["full_length_n"] = len(ankles)
            for key in ("old_left", "upper_changed"):
                values = [c[key] for c in own if key in c]
                if values:
                    summary[key] = float(np.mean(values))
        out[category] = summary
    return out


def _labels(pair, size) -> np.ndarray:
    """The ground truth's parse (our labels, uint8 [H, W] at the photo's size), from the dataset's parse map."""
    return PARSE_LUTS[pair.parse_format][load_label_map(pair.parse, expected_size=size)]


class PerceptualMetrics:
    """LPIPS (paired), FID and KID via torchmetrics, from local weight files only (nothing is downloaded).

    `lpips_weights`: torchvision's AlexNet ImageNet checkpoint (alexnet-owt-7be5be79.pth; torchmetrics ships the
    LPIPS layers). `inception_weights`: the FID Inception-v3 weights of torch-fidelity
    (weights-inception-2015-12-05-6726825d.pth).
    """

    def __init__(self, lpips_weights=None, inception_weights=None, paired=True, expected=0):
        try:
            import torchmetrics  # noqa: F401
        except ImportError:
            raise TryOnError("LPIPS, FID and KID need torchmetrics (and torch-fidelity for FID/KID): "
                             "pip install torchmetrics torch-fidelity; the weights stay local") from None
        self.lpips = self.fid = self.kid = None
        if lpips_weights and paired:
            self.lpips = self._lpips(Path(lpips_weights))
        if inception_weights:
            from torchmetrics.image.fid import FrechetInceptionDistance, NoTrainInceptionV3
            from torchmetrics.image.kid import KernelInceptionDistance

            path = Path(inception_weights)
            if not path.is_file():
                raise TryOnError(f"{path}: Inception weights file not found")
            extractor = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                           feature_extractor_weights_path=str(path))
            self.fid = FrechetInceptionDistance(feature=extractor, normalize=True)
            self.kid = KernelInceptionDistance(feature=extractor, normalize=True,
                                               subset_size=max(2, min(1000, expected // 2)))

    @staticmethod
    def _lpips(path: Path):
        """torchmetrics LPIPS (AlexNet), its backbone read from `path` through a private torch hub folder."""
        import tempfile

        from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity
        from torchvision.models import AlexNet_Weights

        if not path.is_file():
            raise TryOnError(f"{path}: AlexNet weights file not found")
        hub = Path(tempfile.mkdtemp(prefix="tryon_hub_"))
        (hub / "checkpoints").mkdir()
        (hub / "checkpoints" / Path(AlexNet_Weights.IMAGENET1K_V1.url).name).symlink_to(path.resolve())
        previous = torch.hub.get_dir()
        torch.hub.set_dir(str(hub))
        try:
            return LearnedPerceptualImagePatchSimilarity(net_type="alex", normalize=False)
        finally:
            torch.hub.set_dir(previous)

    def update(self, fake: torch.Tensor, real: torch.Tensor):
        """One try-on and its real photo, [1, 3, H, W] in [-1, 1]."""
        if self.lpips is not None:
            self.lpips.update(fake.clamp(-1, 1), real)
        for m in (self.fid, self.kid):
            if m is not None:
                m.update((real + 1) / 2, real=True)
                m.update((fake.clamp(-1, 1) + 1) / 2, real=False)

    def compute(self) -> dict:
        out = {}
        if self.lpips is not None:
            out["lpips"] = self.lpips.compute().item()
        if self.fid is not None:
            out["fid"] = self.fid.compute().item()
            kid_mean, kid_std = self.kid.compute()
            out["kid"], out["kid_std"] = kid_mean.item(), kid_std.item()
        return out


def contact_grid(rows: list[list[Image.Image]], height: int = THUMB_HEIGHT) -> Image.Image:
    """Rows of images laid out as a sheet, each image scaled to `height` pixels (its aspect kept), on white."""
    rows = [[im.convert("RGB").resize((max(1, round(im.width * height / im.height)), height), Image.BICUBIC)
             for im in row] for row in rows]
    width = max(sum(im.width for im in row) for row in rows)
    canvas = Image.new("RGB", (width, height * len(rows)), "white")
    for r, row in enumerate(rows):
        x = 0
        for im in row:
            canvas.paste(im, (x, r * height))
            x += im.width
    return canvas


def _report(summary: dict, shown: list[tuple[str, dict]]) -> str:
    lines = [f"# Try-on evaluation: {summary['method']}", "",
             f"- data: `{summary['data']}` (split {summary['split']}, {summary['mode']}), weights: `{summary['weights']}`",
             f"- pairs: {summary['pairs']}, scored: {summary['n']}, failed: {summary['failures']['count']}", "",
             "| metric | value |", "| --- | --- |"]
    for key in ("ssim", "psnr", "ssim_garment", "psnr_garment", "lpips", "fid", "kid"):
        if key in summary:
            lines.append(f"| {key} | {summary[key]:.4f} |")
    by_category = summary.get("by_category", {})
    if len(by_category) > 1 or any(c != "upper" for c in by_category):
        keys = ("n", "ssim", "psnr", "ssim_garment", "psnr_garment", "covers_hips_to_knees",
                "covers_hips_to_knees_knee_length", "covers_ankles_full_length", "old_left", "upper_changed")
        shown_keys = [k for k in keys if any(k in v for v in by_category.values())]
        lines += ["", "| category | " + " | ".join(shown_keys) + " |", "| --- |" + " --- |" * len(shown_keys)]
        for category, values in by_category.items():
            cells = ["-" if k not in values else f"{values[k]:.4f}" if isinstance(values[k], float)
                     else f"{values[k]}" for k in shown_keys]
            lines.append(f"| {category} | " + " | ".join(cells) + " |")
        lines += ["", f"Lower-body garments and dresses: covers_hips_to_knees is the share of pairs whose new garment "
                  f"lies over at least {COVERED:.0%} of the pose-drawn legs from the hips to the knees; "
                  "covers_hips_to_knees_knee_length the same over the pairs whose worn garment covers that band "
                  "itself (a short skirt or dress cannot); covers_ankles_full_length the same from the knees to the "
                  "ankles, over the pairs whose worn garment is full length; old_left the share of the worn garment "
                  "left unrepainted; upper_changed the share of the upper body's pixels a lower-body try-on changed."]
    if summary["mode"] == "paired":
        lines += ["", "SSIM and PSNR compare the try-on with the person photo (the ground truth), over the whole photo "
                  "and inside the garment region of the dataset's parse map. The try-on keeps every pixel outside the "
                  "region it repaints, so whole-photo scores run higher than papers' (which score the generator's "
                  "whole output): compare the garment-region scores."]
    else:
        lines += ["", "Unpaired: no ground truth, so no SSIM/PSNR."]
    lines += ["", "## Grid", "", "Columns: person photo, garment, try-on. Rows: "
              + ", ".join(f"{label} `{case['name']}`" for label, case in shown), "", "![grid](grid.png)"]
    if summary["failures"]["count"]:
        lines += ["", "## Failures", "", "| reason | count |", "| --- | --- |"]
        lines += [f"| {reason} | {count} |" for reason, count in summary["failures"]["by_reason"].items()]
    return "\n".join(lines) + "\n"


def evaluate(pipe, data, out_dir, split="test", mode="paired", pairs_file=None, layout=None, limit=None,
             method="model", batch_size=8, lpips_weights=None, inception_weights=None, weights_name="") -> dict:
    """Run `method` ("model", "grey" or "paste") on a dataset's pairs and write metrics.json, report.md and
    grid.png into `out_dir`; returns the metrics. Photos the pipeline refuses are counted, with reasons."""
    if method not in METHODS:
        raise TryOnError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    if batch_size < 1 or (limit is not None and limit < 1):
        raise TryOnError(f"the batch size and the limit must be 1 or more, not {batch_size} and {limit}")
    pairs = read_dataset(data, split, mode, layout, pairs_file)[:limit]
    paired = mode == "paired"
    extra = (PerceptualMetrics(lpips_weights, inception_weights, paired, len(pairs))
             if lpips_weights or inception_weights else None)
    cases, failures = [], []
    bar = tqdm(total=len(pairs), desc=f"evaluate {method}", unit="pair")
    for start in range(0, len(pairs), batch_size):
        chunk, framed = [], []
        for index in range(start, min(start + batch_size, len(pairs))):
            pair = pairs[index]
            try:
                framed.append(pipe.frame(pair.person, pair.cloth, category=pair.category))
                chunk.append(index)
            except TryOnError as e:
                reason = str(e).replace(f"{pair.person}: ", "").replace(f"{pair.cloth}: ", "")
                failures.append({"name": pair.name, "reason": reason})
        images, warped, pastes, parses = render(pipe, framed, [pairs[i].category for i in chunk], method,
                                                with_masks=True) if framed else ([], [], [], [])
        for index, f, image, warped_mask, paste_mask, parse in zip(chunk, framed, images, warped, pastes, parses):
            pair = pairs[index]
            case = {"name": pair.name, "index": index, "category": pair.category}
            fake, real = to_tensor(np.asarray(image))[None], to_tensor(np.asarray(f.photo))[None]
            truth = _labels(pair, f.photo.size) if paired else None
            if paired:
                region = torch.from_numpy(np.isin(truth, GARMENT_LABELS[pair.category]))[None, None]
                case.update(ssim=ssim(fake, real).item(), psnr=psnr(fake, real).item(),
                            ssim_garment=ssim(fake, real, region).item(), psnr_garment=psnr(fake, real, region).item())
            if pair.category != "upper":  # the legs' coverage, at the models' size
                changed = np.abs(np.asarray(image, np.int16) - np.asarray(f.photo, np.int16)).max(-1) > 4
                labels = None if truth is None else framing.crop_map(truth, f.box, *pipe.size)
                case.update(lower_body_checks(
                    f.pose, warped_mask, paste_mask, pair.category, labels,
                    framing.crop_map(changed.astype(np.uint8), f.box, *pipe.size) > 0,
                    np.isin(parse, KEPT_IN_FRONT) if labels is None else np.isin(labels, KEEP_LABELS[pair.category]),
                    f.person_mask if labels is None else labels != P["background"]))
            if extra is not None:
                extra.update(fake, real)
            cases.append(case)
        bar.update(min(batch_size, len(pairs) - start))
    bar.close()
    if not cases:
        raise TryOnError(f"no pair of {data} ({split}, {mode}) could be evaluated; first failure: "
                         f"{failures[0]['reason'] if failures else 'the dataset is empty'}")

    summary = {"method": method, "data": str(data), "split": split, "mode": mode, "weights": weights_name,
               **({"mirror_average": pipe.mirror_average, "pose_layout": pipe.pose_layout}
                  if method == "model" else {}),
               "pairs": len(pairs), "n": len(cases)}
    if paired:
        for key in ("ssim", "psnr", "ssim_garment", "psnr_garment"):
            summary[key] = float(np.mean([c[key] for c in cases]))
    summary["by_category"] = _category_summary(cases, paired)
    if extra is not None:
        summary.update(extra.compute())
    reasons = Counter(f["reason"] for f in failures)
    summary["failures"] = {"count": len(failures), "by_reason": dict(reasons.most_common()), "cases": failures}

    if paired:
        ranked = sorted(cases, key=lambda c: c["ssim"], reverse=True)
        k = min(GRID_ROWS, (len(ranked) + 1) // 2)
        shown = [("best", c) for c in ranked[:k]] + [("worst", c) for c in ranked[len(ranked) - k:]]
    else:
        shown = [("sample", c) for c in cases[:2 * GRID_ROWS]]
    rows = []
    for _, case in shown:  # re-rendered: the pipeline is deterministic, so nothing had to be kept in memory
        pair = pairs[case["index"]]
        f = pipe.frame(pair.person, pair.cloth, category=pair.category)
        rows.append([f.photo, load_image(pair.cloth), render(pipe, [f], [pair.category], method)[0]])

    out = Path(out_dir)
    write_text(out / "metrics.json", json.dumps({**summary, "cases": cases}, indent=1))
    write_text(out / "report.md", _report(summary, shown))
    save_image(contact_grid(rows), out / "grid.png")
    log.info("evaluated %d of %d pairs: %s", len(cases), len(pairs),
             ", ".join(f"{k} {summary[k]:.4f}" for k in ("ssim", "psnr", "ssim_garment", "psnr_garment") if k in summary))
    return summary
