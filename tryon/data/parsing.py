"""Training and validation samples for the body parser: VITON and CCP photos made to look like shoppers' photos.

A sample is {"image": [3, H, W] in [-1, 1], "labels": [H, W] long, "name"}: the labels are
tryon.data.labels.PARSE_LABELS, the partial labels SKIN_ANY / LEGS_ANY (CCP) and IGNORE.

- CCP street photos are framed as the pipeline frames a person (the box's height a random 0.6 to 1.3 of the
  person's, its top just above the head: from head-and-torso shots to full-body ones; with `framing="full"`, for
  the full-body parser, 1.0 to 1.3: head to feet only), at a random small angle.
- VITON studio photos (all but a share `studio` of them, kept as they are) are cut out by their own parse and
  laid, at a random scale and position, over a real background (`backgrounds`: photos of floors, beds and streets
  with nobody in them, or a plain colour), so a plain light background stops being a cue for "not a person".
- Then, on every photo: a horizontal flip (left and right labels swap), colour and lighting, blur and JPEG.
Labels move with the pixels (nearest-neighbour resampling, the same transform); nothing of the augmentation
needs the pose. Randomness comes from (seed, epoch, index), so a resumed run replays the same samples.
"""
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from tryon.data.ccp import CCPPhoto, load_ccp
from tryon.data.dataset import _jitter, lay_over, to_tensor
from tryon.data.labels import IGNORE, PARSE_FLIP, PARSE_LUTS, P
from tryon.data.layouts import Pair
from tryon.errors import DatasetError, TryOnError
from tryon.preprocess.image_io import load_image, load_label_map

UPPER_FRAMING = (0.77, 0.09)  # the pipeline's crop: about 0.77 of a standing person's height, top 0.09 above the head
# Training framings, (least, most) of the box's height in person heights and of its top above the head in box heights:
# the pipeline's head-to-feet box is about 1.09 and 0.04 (tryon.preprocess.framing.full_body_box).
UPPER_FRAMINGS = ((0.6, 1.3), (0.0, 0.14))
FULL_FRAMING = ((1.0, 1.3), (0.0, 0.1))


def has_person(labels: np.ndarray) -> bool:
    return bool(((labels != P["background"]) & (labels != IGNORE)).any())


def person_bbox(labels: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the labelled person (every label but background and IGNORE), exclusive."""
    ys, xs = np.nonzero((labels != P["background"]) & (labels != IGNORE))
    if len(ys) == 0:
        raise DatasetError("no person is labelled in this photo")
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def framing_box(bbox, rel_height: float, rel_top: float, shift: float, width: int, height: int):
    """A box of the models' aspect over a person: `rel_height` of their height tall, its top `rel_top` of its own
    height above the head, centred on them but `shift` of its width aside. (left, top, right, bottom), floats."""
    left, top, right, bottom = bbox
    box_h = rel_height * (bottom - top)
    box_w = box_h * width / height
    cx = (left + right) / 2 + shift * box_w
    y0 = top - rel_top * box_h
    return cx - box_w / 2, y0, cx + box_w / 2, y0 + box_h


def warp_to_box(image: np.ndarray, labels: np.ndarray, box, angle: float, width: int, height: int,
                fill_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Resample the `box` of a photo (rotated by `angle` degrees about its centre) to `width` x `height`.

    Outside the photo the image repeats its edge pixels, as tryon.preprocess.framing.crop does, and the labels are
    `fill_labels`. Image bicubic, labels nearest: a label stays on the pixel it labels.
    """
    left, top, right, bottom = box
    sx, sy = (right - left) / width, (bottom - top) / height
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    cx, cy = (left + right) / 2, (top + bottom) / 2
    # output pixel (u, v) -> photo (x, y): scale about the output centre, rotate, move to the box centre
    a, b = c * sx, -s * sy
    d, e = s * sx, c * sy
    u0, v0 = width / 2, height / 2
    coeffs = (a, b, cx - a * u0 - b * v0, d, e, cy - d * u0 - e * v0)
    pad = max(image.shape[:2]) // 2
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    shifted = (a, b, coeffs[2] + pad, d, e, coeffs[5] + pad)
    img = Image.fromarray(padded).transform((width, height), Image.AFFINE, shifted, Image.BICUBIC)
    lab = Image.fromarray(labels).transform((width, height), Image.AFFINE, coeffs, Image.NEAREST, fillcolor=fill_labels)
    return np.asarray(img), np.asarray(lab)


def photometric(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A phone camera's colour, lighting, blur and JPEG, at random."""
    b, c, s = 1 + rng.uniform(-0.3, 0.3), 1 + rng.uniform(-0.3, 0.3), 1 + rng.uniform(-0.4, 0.3)
    rgb = _jitter(rgb, b, c, s)
    if rng.random() < 0.3:  # a colour cast (white balance)
        rgb = np.clip(rgb.astype(np.float32) * rng.uniform(0.85, 1.15, size=3), 0, 255).astype(np.uint8)
    im = Image.fromarray(rgb)
    if rng.random() < 0.25:
        im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.4)))
    if rng.random() < 0.35:
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=int(rng.integers(30, 90)))
        im = Image.open(buf).convert("RGB")
    return np.asarray(im)


class Backgrounds:
    """Background photos to lay studio persons over, read on demand: image paths, or (path, box) pairs to use only
    that box of the photo (see `ccp_background_strips`). One draw in five, and every draw with no photos, is a plain
    colour gradient."""

    def __init__(self, photos=()):
        self.photos = [(Path(p), None) if isinstance(p, (str, Path)) else (Path(p[0]), tuple(p[1])) for p in photos]

    def draw(self, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
        if not self.photos or rng.random() < 0.2:
            top, bottom = rng.integers(0, 256, size=(2, 3))
            ramp = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
            return np.broadcast_to(top * (1 - ramp) + bottom * ramp, (height, width, 3)).astype(np.uint8)
        path, box = self.photos[int(rng.integers(len(self.photos)))]
        im = load_image(path)
        im = im.crop(box) if box else im
        scale = max(width / im.width, height / im.height) * rng.uniform(1.0, 2.0)
        w, h = max(width, round(im.width * scale)), max(height, round(im.height * scale))
        x, y = int(rng.integers(0, w - width + 1)), int(rng.integers(0, h - height + 1))
        return np.asarray(im.resize((w, h), Image.BILINEAR).crop((x, y, x + width, y + height)))


def ccp_background_strips(photos: list[CCPPhoto], min_width: int = 80) -> list[tuple[Path, tuple]]:
    """The strips of CCP street photos beside the labelled person (at least `min_width` pixels wide): street
    backgrounds with nobody in them, as (photo, box) pairs for `Backgrounds`."""
    strips = []
    for item in photos:
        labels = load_ccp(item)[1]
        if not has_person(labels):
            continue
        left, _, right, _ = person_bbox(labels)
        width, height = labels.shape[1], labels.shape[0]
        margin = 8  # hair and shadows the labels miss
        if left - margin >= min_width:
            strips.append((item.photo, (0, 0, left - margin, height)))
        if width - right - margin >= min_width:
            strips.append((item.photo, (right + margin, 0, width, height)))
    return strips


class ParserDataset(torch.utils.data.Dataset):
    """VITON pairs (their person photo and parse) and CCP photos as parser samples, augmented or not.

    Without augmentation (validation), a CCP photo is framed from its labelled extent with the proportions of the
    pipeline's boxes (`framing`: "upper", head to hips, or "full", head to feet; no pose needed) and a VITON photo is
    read as it is. With augmentation, "full" frames CCP photos head to feet only (FULL_FRAMING), "upper" anywhere
    from head and torso to head to feet (UPPER_FRAMINGS).
    """

    def __init__(self, viton: list[Pair] = (), ccp: list[CCPPhoto] = (), *, height: int = 256, width: int = 192,
                 augment: bool = True, backgrounds: Backgrounds | None = None, framing: str = "upper",
                 seed: int = 0, ccp_repeat: int = 1, studio: float = 0.2):
        if framing not in ("upper", "full"):
            raise TryOnError(f"framing must be 'upper' or 'full', not {framing!r}")
        self.items = [("viton", p) for p in viton] + [("ccp", c) for c in ccp] * ccp_repeat
        if not self.items:
            raise DatasetError("the parser dataset is empty: give VITON pairs, CCP photos or both")
        self.height, self.width = height, width
        self.augment, self.framing, self.seed, self.studio = augment, framing, seed, studio
        self.backgrounds = backgrounds or Backgrounds()

    def __len__(self) -> int:
        return len(self.items)

    def _viton(self, pair: Pair, rng) -> tuple[np.ndarray, np.ndarray]:
        try:
            person = load_image(pair.person)
            parse = PARSE_LUTS[pair.parse_format][load_label_map(pair.parse, expected_size=person.size)]
        except TryOnError as e:
            raise DatasetError(str(e)) from None
        size = (self.width, self.height)
        rgb = np.asarray(person.resize(size, Image.BICUBIC))
        parse = np.asarray(Image.fromarray(parse).resize(size, Image.NEAREST))
        if rng is None or rng.random() < self.studio:  # kept in the studio
            return rgb, parse
        # zoomed out by up to 1/0.6, the photo's bottom edge (where VITON cuts the person) kept at the frame's
        scale, angle = rng.uniform(0.6, 1.1), rng.uniform(-6, 6)
        w, h = self.width / scale, self.height / scale
        cx = self.width / 2 + rng.uniform(-0.12, 0.12) * w
        cy = self.height - h / 2
        box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        warped, parse = warp_to_box(rgb, parse, box, angle, self.width, self.height, P["background"])
        # the cut-out's edge: the parse's person pixels, off the edge-repeat padding
        return lay_over(warped, parse != P["background"], self.backgrounds.draw(rng, self.width, self.height)), parse

    def _ccp(self, item: CCPPhoto, rng) -> tuple[np.ndarray, np.ndarray]:
        rgb, labels = load_ccp(item)
        if not has_person(labels):  # a photo left unlabelled (CCP has one) counts for nothing
            labels = np.full_like(labels, IGNORE)
            bbox = (0, 0, labels.shape[1], labels.shape[0])
        else:
            bbox = person_bbox(labels)
        if rng is None:
            rel_h, rel_top = UPPER_FRAMING if self.framing == "upper" else (1.12, 0.04)
            box, angle = framing_box(bbox, rel_h, rel_top, 0.0, self.width, self.height), 0.0
        else:
            heights, tops = FULL_FRAMING if self.framing == "full" else UPPER_FRAMINGS
            box = framing_box(bbox, rng.uniform(*heights), rng.uniform(*tops), rng.uniform(-0.1, 0.1), self.width,
                              self.height)
            angle = rng.uniform(-6, 6)
        return warp_to_box(rgb, labels, box, angle, self.width, self.height, IGNORE)

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        kind, item = self.items[index]
        rng = np.random.default_rng([self.seed, epoch, index]) if self.augment else None
        rgb, parse = (self._viton if kind == "viton" else self._ccp)(item, rng)
        if rng is not None:
            if rng.random() < 0.5:
                rgb, parse = rgb[:, ::-1], PARSE_FLIP[parse[:, ::-1]].astype(np.uint8)
            rgb = photometric(np.ascontiguousarray(rgb), rng)
        name = item.name if kind == "ccp" else item.person.stem
        return {"image": to_tensor(np.ascontiguousarray(rgb)),
                "labels": torch.from_numpy(np.ascontiguousarray(parse).astype(np.int64)), "name": f"{kind}/{name}"}
