"""The torch Dataset every training stage reads: one try-on sample per pair, at a chosen resolution.

A sample (dict) holds, at `height` x `width`:
  person [3,H,W], cloth [3,H,W], agnostic [3,H,W]      float in [-1, 1]
  cloth_mask [1,H,W], agnostic_mask [1,H,W]            float in {0, 1}
  parse [H,W]                                          long, tryon.data.labels.PARSE_LABELS
  pose [18,3]                                          float: x, y in pixels at H x W, confidence (0: missing)
                                                       (heatmaps: tryon.preprocess.person.pose_heatmaps)
  name, category (str), paired (bool)
The agnostic person is built by tryon.preprocess.person, as the pipeline builds it from a raw photo.
With `Augment.street` and `backgrounds`, a share of the persons photographed on a plain backdrop is laid over a
street photo (`studio_person`: the studio's wall made a city's), so the models read busy backgrounds around the
person, as on shoppers' photos.
"""
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage

from tryon.data.labels import (JOINT_FLIP, KEEP_LABELS, PARSE_FLIP, PARSE_LUTS, SKIN_LABELS, SOURCE_NUM_LABELS,
                               J, P)
from tryon.data.layouts import Pair, read_dataset, read_pose
from tryon.errors import DatasetError, TryOnError
from tryon.preprocess.garment import garment_mask, print_region
from tryon.preprocess.image_io import load_image, load_label_map, load_mask
from tryon.preprocess.person import agnostic_mask, agnostic_person, grow_agnostic


@dataclass(frozen=True)
class Augment:
    """Training augmentations; each applied to every map of a sample alike."""

    flip: float = 0.5  # probability of a horizontal flip (labels and joints swap left/right)
    jitter: float = 0.1  # colour jitter strength (brightness/contrast/saturation, +-jitter), same on person and garment
    grow_agnostic: float = 0.0  # bottoms and dresses: grow the agnostic region by up to this share of the height
    street: float = 0.0  # probability of laying a person on a plain backdrop over one of the dataset's `backgrounds`
    lengthen: float = 0.0  # bottoms and dresses showing bare legs: probability of repainting them as under a long one


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """[H, W, 3] uint8 -> [3, H, W] float in [-1, 1]."""
    return torch.from_numpy(rgb.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0)


def _jitter(rgb: np.ndarray, b: float, c: float, s: float) -> np.ndarray:
    """Brightness b, then contrast c about the mean, then saturation s about each pixel's grey, folded into one
    affine map: b c (s x + (1 - s) grey) + b mean (1 - c)."""
    x = rgb.astype(np.float32)
    grey = x @ np.full(3, 1 / 3, np.float32)
    offset = (b * c * (1 - s)) * grey + (b * float(x.mean()) * (1 - c) + 0.5)
    return np.clip((b * c * s) * x + offset[..., None], 0, 255).astype(np.uint8)


PLAIN_LEVELS = 30  # a pixel within this many levels (each channel) of a backdrop's median colour is the backdrop
PLAIN_SHARE = 0.9  # of the parse's background pixels, for a backdrop to count as plain


def studio_person(rgb: np.ndarray, parse: np.ndarray) -> np.ndarray | None:
    """Bool [H, W]: the person in a photo taken on a plain backdrop (a studio's: PLAIN_SHARE of the pixels the parse
    calls background within PLAIN_LEVELS of their median colour), or None for any other photo (a street's).

    The person is what the parse labels, and whatever it leaves unlabelled that is not the backdrop's colour (VITON's
    parse maps miss necks and parts of skirts), without specks and holes."""
    wall = parse == P["background"]
    if wall.sum() < 0.05 * wall.size:
        return None
    colour = np.median(rgb[wall], axis=0)
    off = np.abs(rgb.astype(np.float32) - colour).max(-1) > PLAIN_LEVELS
    if (off & wall).sum() > (1 - PLAIN_SHARE) * wall.sum():
        return None
    return ndimage.binary_fill_holes(ndimage.binary_opening(~wall | off, iterations=2) | ~wall)


def lay_over(rgb: np.ndarray, person: np.ndarray, background: np.ndarray) -> np.ndarray:
    """[H, W, 3] uint8 photo -> the same person (`person`, bool [H, W]: their pixels) over `background`
    ([H, W, 3] uint8), the cut-out's edge feathered by about a pixel."""
    a = np.asarray(Image.fromarray((person * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.7)),
                   np.float32)[..., None] / 255
    return np.clip(rgb.astype(np.float32) * a + background.astype(np.float32) * (1 - a) + 0.5, 0, 255).astype(np.uint8)


LENGTHEN_MIN_LEGS = 0.1  # of the height: the bare legs below a garment's hem that a longer old garment may have hidden


def longer_garment(parse: np.ndarray, pose: np.ndarray, rng: np.random.Generator,
                   category: str = "lower") -> np.ndarray | None:
    """Bool [H, W]: a made-up longer old garment below the hem of a bottom or a dress (`category`), over the bare
    legs and the street around them (a skirt flaring from the hem, or two trouser legs along the hips, knees and
    ankles), ending between halfway down the bare legs and the ankles; None where the photo shows less than
    LENGTHEN_MIN_LEGS of bare legs.

    A training augmentation: repainted as part of the agnostic region, it asks the generator to paint legs and
    street under a shorter new garment (shorts for a maxi skirt), and the warp to keep a dress at its own length,
    which the paired data never asks for; the region the garment itself fills keeps its own edges, so nothing
    teaches the generator to thin it."""
    height, width = parse.shape
    rows, cols = np.nonzero(parse == P["lower" if category == "lower" else "dress"])
    if rows.size == 0:
        return None
    hem = int(np.percentile(rows, 99))
    legs = np.isin(parse, SKIN_LABELS["lower"]) & (np.arange(height)[:, None] > hem)
    ankles = [pose[J[n], 1] for n in ("r_ankle", "l_ankle") if pose[J[n], 2] > 0]
    bottom = float(np.mean(ankles)) if ankles else float(np.nonzero(legs.any(1))[0].max(initial=hem))
    if bottom - hem < LENGTHEN_MIN_LEGS * height or legs.sum() < 0.01 * LENGTHEN_MIN_LEGS * height * width:
        return None
    end = rng.uniform(hem + 0.5 * (bottom - hem), bottom + 0.03 * height)
    at_hem = cols[rows >= hem - 0.03 * height]
    left, right = float(at_hem.min()), float(at_hem.max())
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    if rng.random() < 0.5:  # a skirt: the hem's width, flaring out over the legs
        leg_cols = np.nonzero(legs.any(0))[0]
        flare = rng.uniform(0, 0.1) * width
        draw.polygon([(left, hem - 2), (right, hem - 2), (max(right, leg_cols.max()) + flare, end),
                      (min(left, leg_cols.min()) - flare, end)], fill=255)
    else:  # trousers: each leg a tube as wide as half the hem, or wider
        limb = max(2, round((right - left) / 2 * rng.uniform(0.9, 1.3)))
        for chain in (("r_hip", "r_knee", "r_ankle"), ("l_hip", "l_knee", "l_ankle")):
            pts = [(float(pose[J[n], 0]), float(pose[J[n], 1])) for n in chain if pose[J[n], 2] > 0]
            if len(pts) > 1:
                draw.line(pts, fill=255, width=limb, joint="curve")
        canvas.paste(0, (0, 0, width, max(0, hem - 2)))
    region = np.asarray(canvas) > 0
    region[int(np.ceil(end)):] = False
    return region & ~np.isin(parse, KEEP_LABELS[category])


CLOTH_MASKS = ("dataset", "computed")


def check_cloth_masks(cloth_masks: str) -> str:
    """`cloth_masks` if it names a source of cloth masks (CLOTH_MASKS); TryOnError otherwise."""
    if cloth_masks not in CLOTH_MASKS:
        raise TryOnError(f"cloth_masks must be one of {', '.join(CLOTH_MASKS)}, not {cloth_masks!r}")
    return cloth_masks


class TryOnDataset(torch.utils.data.Dataset):
    """Pairs of a dataset folder (any supported layout) as model-ready samples.

    `root` is a dataset folder (or pass `pairs`, a list of tryon.data.layouts.Pair); `augment` an Augment or None.
    `cloth_masks`: "dataset" reads the dataset's cloth-mask files where it has them; "computed" cuts every garment out
    of its photo with tryon.preprocess.garment.garment_mask, as the pipeline does at inference.
    Augmentation randomness comes from `seed`, the epoch and the index: index the dataset with (index, epoch)
    (as the training sampler does) for a fresh draw each epoch that replays exactly on resume.
    `backgrounds` (e.g. tryon.data.parsing.Backgrounds: anything with draw(rng, width, height) -> [H, W, 3] uint8)
    are the photos `augment.street` lays persons over.
    """

    def __init__(self, root=None, split="train", mode="paired", *, layout=None, pairs=None, height=256, width=192,
                 augment: Augment | None = None, seed: int = 0, cloth_masks: str = "dataset", backgrounds=None):
        if (root is None) == (pairs is None):
            raise TryOnError("give a dataset folder or a list of pairs (one of the two)")
        self.cloth_masks = check_cloth_masks(cloth_masks)
        self.pairs: list[Pair] = list(pairs) if pairs is not None else read_dataset(root, split, mode, layout)
        self.height, self.width = height, width
        self.augment = augment
        self.seed = seed
        if augment is not None and augment.street > 0 and backgrounds is None:
            raise TryOnError("Augment.street lays persons over background photos: give the dataset `backgrounds`")
        self.backgrounds = backgrounds

    def __len__(self) -> int:
        return len(self.pairs)

    def _resize(self, im: Image.Image, resample) -> np.ndarray:
        return np.array(im.resize((self.width, self.height), resample, reducing_gap=None if resample == Image.NEAREST else 3.0))

    def load(self, pair: Pair) -> dict:
        """Read and resize one pair's files (no augmentation) into numpy arrays; DatasetError names a bad file."""
        try:
            return self._load(pair)
        except DatasetError:
            raise
        except TryOnError as e:
            raise DatasetError(str(e)) from None

    def _load(self, pair: Pair) -> dict:
        person = load_image(pair.person)
        size = person.size
        cloth = load_image(pair.cloth, keep_alpha=False)
        if pair.cloth_mask is not None and self.cloth_masks == "dataset":
            cmask = load_mask(pair.cloth_mask, expected_size=cloth.size)
        else:
            try:
                cmask = garment_mask(cloth)
            except TryOnError as e:
                raise DatasetError(f"{pair.cloth}: {e}") from None  # the mask error does not name the file
        raw = load_label_map(pair.parse, expected_size=size)
        if raw.max() >= SOURCE_NUM_LABELS[pair.parse_format]:
            raise DatasetError(f"{pair.parse}: label {raw.max()} is outside the {pair.parse_format} label set "
                               f"(0-{SOURCE_NUM_LABELS[pair.parse_format] - 1})")
        parse = PARSE_LUTS[pair.parse_format][raw]
        pose = read_pose(pair.pose, pair.pose_format, size)
        pose[:, 0] *= self.width / size[0]
        pose[:, 1] *= self.height / size[1]
        return {
            "person": self._resize(person, Image.BICUBIC),
            "cloth": self._resize(cloth, Image.BICUBIC),
            "cloth_mask": self._resize(Image.fromarray(cmask), Image.NEAREST),
            "parse": self._resize(Image.fromarray(parse), Image.NEAREST),
            "pose": pose,
        }

    def _augment(self, s: dict, rng: np.random.Generator) -> dict:
        a = self.augment
        if rng.random() < a.flip:
            for k in ("person", "cloth", "cloth_mask", "parse"):
                s[k] = np.ascontiguousarray(s[k][:, ::-1])
            s["parse"] = PARSE_FLIP[s["parse"]].astype(np.uint8)
            pose = s["pose"][JOINT_FLIP].copy()
            seen = pose[:, 2] > 0
            pose[seen, 0] = self.width - 1 - pose[seen, 0]
            s["pose"] = pose
        if a.jitter > 0:
            b, c, sat = 1 + rng.uniform(-a.jitter, a.jitter, size=3)
            s["person"] = _jitter(s["person"], b, c, sat)
            s["cloth"] = _jitter(s["cloth"], b, c, sat)
            s["cloth"][~s["cloth_mask"]] = 255  # the garment stays on pure white
        if a.street > 0 and rng.random() < a.street:
            person = studio_person(s["person"], s["parse"])
            if person is not None:  # a street photo keeps its street
                s["person"] = lay_over(s["person"], person, self.backgrounds.draw(rng, self.width, self.height))
        return s

    def __getitem__(self, key: int | tuple[int, int]) -> dict:
        index, epoch = key if isinstance(key, tuple) else (key, 0)
        pair = self.pairs[index]
        s = self.load(pair)
        rng = np.random.default_rng([self.seed, epoch, index])
        if self.augment is not None:
            s = self._augment(s, rng)
        amask = agnostic_mask(s["parse"], s["pose"], pair.category)
        if self.augment is not None and self.augment.grow_agnostic > 0 and pair.category != "upper":
            grow = rng.uniform(0, self.augment.grow_agnostic) * self.height
            amask = grow_agnostic(amask, s["parse"], pair.category, round(grow))
        if self.augment is not None and self.augment.lengthen > 0 and pair.category != "upper" \
                and rng.random() < self.augment.lengthen:
            longer = longer_garment(s["parse"], s["pose"], rng, pair.category)
            if longer is not None:
                amask |= longer
        return {
            "person": to_tensor(s["person"]),
            "cloth": to_tensor(s["cloth"]),
            "cloth_mask": torch.from_numpy(s["cloth_mask"][None].astype(np.float32)),
            "prints": torch.from_numpy(print_region(s["cloth"], s["cloth_mask"] > 0)[None]),
            "parse": torch.from_numpy(s["parse"].astype(np.int64)),
            "pose": torch.from_numpy(s["pose"]),
            "agnostic": to_tensor(agnostic_person(s["person"], amask)),
            "agnostic_mask": torch.from_numpy(amask[None].astype(np.float32)),
            "name": pair.name,
            "category": pair.category,
            "paired": pair.paired,
        }
