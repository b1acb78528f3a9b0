"""wild-dev: the try-on on real photos and lettered garments, rendered into contact sheets and measured.

The set (built from the research datasets in place; nothing is copied):
- persons: the CCP validation split (tryon.data.ccp: the 100 street photos whose number is divisible by 9, kept
  out of every training set) and the first VITON test persons;
- garments: CC0 phone photos that today's garment cut-out separates from their floor or bed (CC0_GARMENTS, picked
  by eye; most of the 421 need the garment segmenter that is on its way), the most textured VITON test garments,
  and synthetic T-shirts with bold lettering and a logo at 1024x768 (tryon.data.synthetic.make_text_garment,
  written into the output folder). Each person wears one garment, taken in turn.

Measures, on the person crop at the size it has in the photo (at most MAX_SCALE times the models' size), against
the garment photo framed at that size and warped there by the pipeline's own warp (TPS evaluated at that size, the
flow refiners' field upsampled bicubically), inside the new garment (its interior, in the photo, off arms, face and
hair):
- detail ratio: the try-on's gradient energy (mean squared difference of neighbouring pixels' luminance) over that
  warped garment's: 1 keeps the garment's detail, a blurred garment scores far less. Where the warp shrinks the
  garment, bilinear sampling aliases its finest stripes and that reference counts the aliasing as detail, so a second
  ratio (detail_ratio_aa) is taken against the garment antialiased first as the pipeline does before it samples
  (tryon.pipeline.shrink_for_grid): the garment's own detail at the try-on's scale;
- text SSIM, on the lettered garments: SSIM (tryon.metrics) over the lettering and logo's box warped along.
"""
import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy import ndimage
from tqdm import tqdm

from tryon.data.ccp import read_ccp
from tryon.data.dataset import to_tensor
from tryon.data.labels import P
from tryon.data.synthetic import make_text_garment
from tryon.errors import TryOnError
from tryon.files import write_text
from tryon.metrics import ssim
from tryon.models.warp import warp
from tryon.pipeline import shrink_for_grid
from tryon.preprocess import framing
from tryon.preprocess.garment import garment_mask
from tryon.preprocess.image_io import load_image, save_image

log = logging.getLogger(__name__)

MAX_SCALE = 4  # crops are measured at their size in the photo, at most this many times the models' size
VITON_PERSONS = 8
VITON_GARMENTS = 10
# CC0 upper garments (sku in catalog.csv) whose background today's cut-out removes whole: stripes, prints, lettering
CC0_GARMENTS = ("0406b620", "05d01bf9", "06a5caaa", "060062e8", "00d9cc6e", "07b294ee", "0386a2d3", "01ace8a7")
TEXTS = ("FILA 95", "SPORT", "TRYON", "NO 23", "REEBOK", "MAX 7")
TEXT_SIZE = (1024, 768)
TEXTURED = 6.0  # a garment whose mean |luminance - its sigma-2 blur| (levels, at the models' size) passes this
PASS_LABELS = (P["left_arm"], P["right_arm"], P["face"], P["hair"])  # not garment, even where the warp lays it
SHEET_HEIGHT = 384
SHEET_ROWS = 6


@dataclass
class Item:
    name: str
    source: str  # ccp, viton, cc0, text
    path: Path
    text_mask: Path | None = None  # the lettering's box, for text garments


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def texture_score(rgb: np.ndarray, mask: np.ndarray) -> float:
    """Mean |luminance - its Gaussian blur (sigma 2)| inside the eroded mask: about 3 for a plain garment."""
    y = _luma(rgb)
    inside = ndimage.binary_erosion(mask, iterations=3)
    return float(np.abs(y - ndimage.gaussian_filter(y, 2))[inside].mean()) if inside.any() else 0.0


def gradient_energy(rgb: np.ndarray, region: np.ndarray) -> float:
    """Mean squared forward difference of the luminance (x and y summed) over `region` (both pixels in it)."""
    y = _luma(rgb)
    dx, dy = np.diff(y, axis=1) ** 2, np.diff(y, axis=0) ** 2
    mx, my = region[:, 1:] & region[:, :-1], region[1:] & region[:-1]
    return float(dx[mx].mean() + dy[my].mean())


def detail_ratios(crop: np.ndarray, frame: torch.Tensor, sampled: torch.Tensor, grid: torch.Tensor,
                  lands: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """The try-on `crop`'s gradient energy over `region` against the garment's: (ratio to the garment `frame`
    ([1, 3, H, W] in [-1, 1]) `sampled` as it is by `grid` ([1, h, w, 2], at the crop's size), ratio to the frame
    antialiased first by the warp's scale where it `lands`, as the pipeline samples it)."""
    as_rgb = lambda t: ((t[0].clamp(-1, 1) + 1) * 127.5).permute(1, 2, 0).numpy()
    energy = gradient_energy(crop.astype(np.float32), region)
    plain = gradient_energy(as_rgb(sampled), region)
    antialiased = gradient_energy(as_rgb(warp(shrink_for_grid(frame, grid, lands), grid)), region)
    return energy / max(plain, 1e-6), energy / max(antialiased, 1e-6)


def persons(ccp, viton) -> list[Item]:
    out = []
    if ccp and Path(ccp).is_dir():
        out += [Item(f"ccp{p.name}", "ccp", p.photo) for p in read_ccp(ccp, "val")]
    if viton and Path(viton).is_dir():
        names = [line.split()[0] for line in Path(viton, "test_pairs.txt").read_text().splitlines() if line.strip()]
        out += [Item(f"viton{Path(n).stem}", "viton", Path(viton, "test", "image", n)) for n in names[:VITON_PERSONS]]
    return out


def garments(cc0, viton, folder: Path) -> list[Item]:
    """The garments, the text garments written into `folder` (PNG and their text masks)."""
    out = []
    if cc0 and Path(cc0).is_dir():
        rows = {r["sku"]: r for r in csv.DictReader(open(Path(cc0, "catalog.csv"), newline=""))}
        out += [Item(f"cc0{s}", "cc0", Path(cc0, rows[s]["image"])) for s in CC0_GARMENTS if s in rows]
    if viton and Path(viton).is_dir():
        scored = []
        for path in sorted(Path(viton, "test", "cloth").glob("*.jpg")):
            image = load_image(path)
            scored.append((texture_score(np.asarray(image), garment_mask(image)), path))
        scored.sort(key=lambda sp: -sp[0])
        out += [Item(f"viton{p.stem}", "viton", p) for _, p in scored[:VITON_GARMENTS]]
    folder.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(TEXTS):
        garment, text_mask = make_text_garment(np.random.default_rng(i), TEXT_SIZE, text)
        path, mask_path = folder / f"text{i}.png", folder / f"text{i}_mask.png"
        save_image(Image.fromarray(garment.image), path)
        save_image(Image.fromarray(text_mask), mask_path)
        out.append(Item(f"text{i}", "text", path, mask_path))
    return out


def pairs(person_items: list[Item], garment_items: list[Item]) -> list[tuple[Item, Item]]:
    """Each person with one garment, the garments taken in turn."""
    return [(p, garment_items[i % len(garment_items)]) for i, p in enumerate(person_items)]


def crop_size(box, model_size) -> tuple[int, int]:
    """(height, width) at which a person crop is measured: its size in the photo, at most MAX_SCALE x the model's."""
    h, w = box[3] - box[1], box[2] - box[0]
    scale = min(1.0, MAX_SCALE * model_size[0] / h)
    return max(1, round(h * scale)), max(1, round(w * scale))


@torch.inference_mode()
def reference_warp(pipe, batch, size) -> torch.Tensor:
    """The sampling grid of the pipeline's warp for batch item 0 at `size` (height, width): the TPS evaluated there,
    the flow refiners' correction upsampled bicubically (not low-passed, as the pipeline's own is), the print laid
    as the pipeline lays it (TryOnPipeline.warp_passes): [1, H, W, 2]."""
    parts = pipe.warp_passes(batch)[0]
    matcher = pipe.models_for(batch["category"][0])[0]
    return matcher.sampling_grid(parts.control_points[:1], None if parts.flow is None else parts.flow[:1], *size,
                                 flow_mode="bicubic")


def _frame_full(path, size, text_mask=None):
    """The garment photo framed (as the pipeline frames it for the models) at `size`: (RGB, mask, framed text mask
    or None)."""
    image = load_image(path, keep_alpha=True)
    mask = garment_mask(image)
    if image.mode == "RGBA":
        image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image).convert("RGB")
    rgb, m = framing.frame_garment(image, mask, *size)
    text = None
    if text_mask is not None:
        t = np.asarray(load_image(text_mask))
        text = (framing.frame_garment(Image.fromarray(255 - t), mask, *size)[0][..., 0] < 128) & m
    return rgb, m, text


def measure(pipe, person: Item, garment: Item) -> tuple[dict, Image.Image, Image.Image]:
    """One try-on measured: (metrics, the try-on's person crop, the garment thumbnail)."""
    tryon = pipe(person.path, garment.path).images[0]
    framed = pipe.frame(person.path, garment.path)
    batch = pipe.represent([framed], ["upper"])
    size = crop_size(framed.box, pipe.size)
    grid = reference_warp(pipe, batch, size)
    rgb, m, text = _frame_full(garment.path, size, garment.text_mask)
    tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a)).float()
    frame = to_tensor(rgb)[None]
    warped = warp(frame, grid)[0]
    warped_mask = warp(tensor(m)[None, None], grid, fill=0.0)[0, 0].numpy() > 0.5
    crop = np.asarray(framing.crop(tryon, framed.box, *size))
    left, top, right, bottom = framed.box
    sy, sx = size[0] / (bottom - top), size[1] / (right - left)
    in_photo = np.zeros(size, bool)
    in_photo[max(0, round(-top * sy)):round((tryon.height - top) * sy),
             max(0, round(-left * sx)):round((tryon.width - left) * sx)] = True
    parse = batch["parse"][0].to(torch.uint8).cpu().numpy()
    parse = np.asarray(Image.fromarray(parse).resize(size[::-1], Image.NEAREST))
    region = (ndimage.binary_erosion(warped_mask, iterations=max(2, size[0] // 100)) & in_photo
              & ~np.isin(parse, PASS_LABELS))
    result = {"person": person.name, "garment": garment.name, "garment_path": str(garment.path),
              "source": f"{person.source}+{garment.source}",
              "size": list(size), "region_px": int(region.sum()),
              "texture": round(texture_score(framed.cloth, framed.cloth_mask), 2)}
    if region.sum() >= 100:
        ratio, ratio_aa = detail_ratios(crop, frame, warped[None], grid, warped_mask, region)
        result["detail_ratio"], result["detail_ratio_aa"] = round(ratio, 4), round(ratio_aa, 4)
    if text is not None:
        text_area = (warp(tensor(text)[None, None], grid, fill=0.0)[0, 0].numpy() > 0.5) & in_photo
        if text_area.sum() >= 100:
            area = torch.from_numpy(text_area)[None, None]
            result["text_ssim"] = round(ssim(to_tensor(crop)[None], warped[None], area).item(), 4)
    thumb = load_image(garment.path)
    thumb.thumbnail((SHEET_HEIGHT, SHEET_HEIGHT))
    return result, Image.fromarray(crop), thumb


def _height(image: Image.Image, height: int) -> Image.Image:
    return image.resize((max(1, round(image.width * height / image.height)), height), Image.LANCZOS)


def contact_sheet(rows: list[list[Image.Image]], labels: list[str], height: int = SHEET_HEIGHT) -> Image.Image:
    """Rows of images scaled to `height`, each row labelled at its left."""
    rows = [[_height(im, height) for im in row] for row in rows]
    width = max(sum(im.width for im in row) for row in rows)
    sheet = Image.new("RGB", (width, height * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (row, label) in enumerate(zip(rows, labels)):
        x = 0
        for im in row:
            sheet.paste(im, (x, r * height))
            x += im.width
        draw.text((4, r * height + 4), label, fill=(255, 0, 0))
    return sheet


def summarise(results: list[dict]) -> dict:
    is_textured = lambda r: "detail_ratio" in r and (r["texture"] >= TEXTURED or r["garment"].startswith("text"))
    textured = [r["detail_ratio"] for r in results if is_textured(r)]
    textured_aa = [r["detail_ratio_aa"] for r in results if is_textured(r)]
    text = [r["text_ssim"] for r in results if "text_ssim" in r]
    detail = [r["detail_ratio"] for r in results if "detail_ratio" in r]
    summary = {"pairs": len(results), "measured": len(detail),
               "detail_ratio_median_textured": round(float(np.median(textured)), 4) if textured else None,
               "detail_ratio_aa_median_textured": round(float(np.median(textured_aa)), 4) if textured_aa else None,
               "textured_pairs": len(textured),
               "detail_ratio_median_all": round(float(np.median(detail)), 4) if detail else None,
               "text_ssim_mean": round(float(np.mean(text)), 4) if text else None, "text_pairs": len(text)}
    for source in sorted({r["source"] for r in results}):
        values = [r["detail_ratio"] for r in results if r["source"] == source and "detail_ratio" in r]
        if values:
            summary[f"detail_ratio_median_{source}"] = round(float(np.median(values)), 4)
    return summary


def run(pipe, out, ccp=None, viton=None, cc0=None, limit=None) -> dict:
    """Render and measure wild-dev into `out`: metrics.json, crops/ (each try-on's person crop, JPEG) and sheets/
    (person crop beside garment, SHEET_ROWS pairs a sheet). Returns the summary."""
    out = Path(out)
    pair_list = pairs(persons(ccp, viton), garments(cc0, viton, out / "garments"))[:limit]
    if not pair_list:
        raise TryOnError("wild-dev: no persons or garments found (give the CCP, VITON and CC0 folders)")
    results, failures, rows, labels = [], [], [], []
    for person, garment in tqdm(pair_list, desc="wild-dev", unit="pair"):
        try:
            result, crop, thumb = measure(pipe, person, garment)
        except TryOnError as e:
            failures.append({"person": person.name, "garment": garment.name, "reason": str(e)})
            continue
        crop_path = out / "crops" / f"{person.name}__{garment.name}.jpg"
        save_image(_height(crop, min(crop.height, 768)), crop_path, quality=92)
        results.append(result)
        rows.append([thumb, crop])
        labels.append(f"{person.name} {garment.name} detail {result.get('detail_ratio', '-')}"
                      f" text {result.get('text_ssim', '-')}")
    for i in range(0, len(rows), SHEET_ROWS):
        save_image(contact_sheet(rows[i:i + SHEET_ROWS], labels[i:i + SHEET_ROWS]),
                   out / "sheets" / f"sheet_{i // SHEET_ROWS:02d}.png")
    summary = {**summarise(results), "failures": failures}
    write_text(out / "metrics.json", json.dumps({**summary, "cases": results}, indent=1))
    return summary


def compare(before, after, out, names: list[str] | None = None) -> list[Path]:
    """Side-by-side sheets of two wild-dev runs (garment, before, after), SHEET_ROWS pairs a sheet, into `out`."""
    before, after, out = Path(before), Path(after), Path(out)
    a = {c["person"] + "__" + c["garment"]: c for c in json.loads((before / "metrics.json").read_text())["cases"]}
    b = {c["person"] + "__" + c["garment"]: c for c in json.loads((after / "metrics.json").read_text())["cases"]}
    keys = [k for k in (names or sorted(a)) if k in a and k in b]
    written = []
    for i in range(0, len(keys), SHEET_ROWS):
        part = keys[i:i + SHEET_ROWS]
        rows = []
        for k in part:
            garment = load_image(b[k]["garment_path"])
            rows.append([garment, Image.open(before / "crops" / f"{k}.jpg"), Image.open(after / "crops" / f"{k}.jpg")])
        labels = [f"{k}  detail {a[k].get('detail_ratio', '-')} -> {b[k].get('detail_ratio', '-')}  text "
                  f"{a[k].get('text_ssim', '-')} -> {b[k].get('text_ssim', '-')}" for k in part]
        written.append(save_image(contact_sheet(rows, labels), out / f"compare_{i // SHEET_ROWS:02d}.png"))
    return written
