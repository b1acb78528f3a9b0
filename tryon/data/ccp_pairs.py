"""Paired try-on data made from CCP's street photos: lower-body garments and dresses (there is no paired set for
them here) and, on request, tops (street persons, where VITON has only studio ones).

Each CCP photo whose trousers, shorts, skirt or dress shows large enough becomes one sample: the person framed
head to feet as the pipeline frames a lower-body or dress try-on (mediapipe pose, tryon.preprocess.framing), the
worn garment cut out by its labels from the full photo, laid on white and bent out of its pose by a random affine
and a smooth random warp (so the warp model has to learn the real geometry), and the photo itself as the ground
truth. With "upper" among the categories, each photo whose top shows large enough also becomes a tops sample,
framed head to hips as the pipeline frames a top. CCP's one skin label is split along the pose into face, neck,
arms and legs, as the agnostic person needs.

The samples are written in the DressCode layout (tryon.data.layouts.read_dresscode), at 512x384, with the
garments' masks beside it (masks/, which DressCode itself lacks):

    OUT/{upper_body,lower_body,dresses}/images/NAME_0.jpg (person) NAME_1.jpg (garment)   keypoints/NAME_2.json
    OUT/{upper_body,lower_body,dresses}/label_maps/NAME_4.png    masks/NAME_1.png    train_pairs.txt
    OUT/{upper_body,lower_body,dresses}/test_pairs_paired.txt    test_pairs_unpaired.txt

CCP's validation photos (tryon.data.ccp.in_val_split) are the test split, so they stay out of training. Photos
without a usable pose or garment are listed in OUT/skipped.txt.
"""
import json
import logging
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage
from tqdm import tqdm

from tryon.data.ccp import in_val_split, load_ccp, read_ccp
from tryon.data.labels import LEGS_ANY, SKIN_ANY, P
from tryon.errors import DatasetError, TryOnError
from tryon.files import write_text
from tryon.preprocess import framing
from tryon.preprocess.image_io import save_image
from tryon.preprocess.parse import SKIN_PARTS, part_distances
from tryon.preprocess.pose import PoseDetector

log = logging.getLogger(__name__)

HEIGHT, WIDTH = 512, 384  # DressCode's keypoint frame (tryon.data.layouts.DRESSCODE_POSE_SIZE): no rescaling
MIN_GARMENT = 0.04  # of the photo: a smaller worn garment is too hidden to learn from
# a dress under a coat or cardigan covering more than half as much as the dress shows is left out: a dress try-on
# repaints the top too, and the ground truth's coat is nothing the garment photo shows
MAX_UPPER_ON_DRESS = 0.5
FOLDERS = {"upper": "upper_body", "lower": "lower_body", "dress": "dresses"}
DEFAULT_CATEGORIES = ("lower", "dress")
# our labels as DressCode label-map values (DressCode has no neck: it is part of the head, as in its own maps)
PARSE_TO_DRESSCODE = np.array([0, 2, 11, 11, 4, 6, 7, 14, 15, 12, 13, 9, 16], dtype=np.uint8)
JPEG_QUALITY = 95
def split_skin(labels: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Labels with CCP's partial skin labels resolved along `pose` (the labels' pixels): each SKIN_ANY pixel
    becomes the face, neck, an arm or a leg, whichever the pose draws nearest; each LEGS_ANY pixel the nearer leg.
    A pixel nothing in the pose reaches becomes neck skin (CIHP's label for bare torso skin)."""
    out = labels.copy()
    for partial, parts in ((SKIN_ANY, list(SKIN_PARTS)), (LEGS_ANY, ["right_leg", "left_leg"])):
        ys, xs = np.nonzero(labels == partial)
        if not len(ys):
            continue
        dist = part_distances(pose, parts, ys, xs)
        choice = np.array([P[p] for p in parts], np.uint8)[dist.argmin(0)]
        out[ys, xs] = np.where(np.isfinite(dist.min(0)), choice, P["neck"] if partial == SKIN_ANY else P["left_leg"])
    return out


def worn_category(labels: np.ndarray) -> str | None:
    """"dress" or "lower" for the larger of the photo's dress and lower garment, if it covers MIN_GARMENT of it
    (and, for a dress, little of it is under a top: MAX_UPPER_ON_DRESS); None otherwise."""
    areas = {"dress": (labels == P["dress"]).mean(), "lower": (labels == P["lower"]).mean()}
    category = max(areas, key=areas.get)
    if areas[category] < MIN_GARMENT:
        return None
    if category == "dress" and (labels == P["upper"]).mean() > MAX_UPPER_ON_DRESS * areas["dress"]:
        return None
    return category


def unpose(rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[Image.Image, np.ndarray]:
    """The worn garment (RGB and bool mask, the photo's pixels) cut out onto white and bent out of its pose: a
    random affine (up to 8 degrees, 15% stretch, 0.12 shear) and a smooth random displacement of up to about 4%
    of its size. Returns (RGB image on white, bool mask), cropped to the garment with a margin."""
    ys, xs = np.nonzero(mask)
    pad = 0.15 * max(np.ptp(ys), np.ptp(xs))
    y0, x0 = max(0, int(ys.min() - pad)), max(0, int(xs.min() - pad))
    y1, x1 = min(mask.shape[0], int(ys.max() + pad) + 1), min(mask.shape[1], int(xs.max() + pad) + 1)
    rgb, mask = rgb[y0:y1, x0:x1].astype(np.float32), mask[y0:y1, x0:x1]
    rgb[~mask] = 255  # on white before resampling, so no street colour bleeds into the garment's edge
    h, w = mask.shape
    angle = np.deg2rad(rng.uniform(-8, 8))
    sx, sy = rng.uniform(0.85, 1.15, size=2)
    shear = rng.uniform(-0.12, 0.12)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    inverse = np.linalg.inv(rot @ np.array([[sy, 0], [shear, sx]]))  # output (y, x) -> input, about the centre
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    coords = np.einsum("ij,jhw->ihw", inverse, np.stack([yy - h / 2, xx - w / 2])) + np.array([h / 2, w / 2])[:, None, None]
    for axis in range(2):
        field = ndimage.gaussian_filter(rng.standard_normal((h, w)).astype(np.float32), max(h, w) / 8)
        coords[axis] += field / (np.abs(field).max() + 1e-6) * rng.uniform(0, 0.04) * max(h, w)
    moved = np.stack([ndimage.map_coordinates(rgb[..., c], coords, order=1, cval=255) for c in range(3)], -1)
    moved_mask = ndimage.map_coordinates(mask.astype(np.float32), coords, order=1, cval=0) > 0.5
    moved[~moved_mask] = 255
    return Image.fromarray(np.clip(moved + 0.5, 0, 255).astype(np.uint8)), moved_mask


def make_sample(rgb: np.ndarray, labels: np.ndarray, pose: np.ndarray, category: str, rng: np.random.Generator,
                height: int = HEIGHT, width: int = WIDTH) -> dict:
    """One CCP photo (RGB, labels in PARSE_LABELS plus partial ones, and its pose in the photo's pixels) -> the
    sample's arrays: person [h, w, 3], labels [h, w] (skin split), pose [18, 3] in the crop's pixels, cloth
    [h, w, 3] on white, cloth_mask [h, w] bool."""
    box = framing.category_box(pose, category, height, width)
    person = np.asarray(framing.crop(Image.fromarray(rgb), box, height, width))
    crop_pose = framing.pose_in_box(pose, box, height, width)
    crop_labels = split_skin(framing.crop_map(labels, box, height, width), crop_pose)
    worn = ndimage.binary_closing(labels == P[category], iterations=2)  # gaps where a hand or a strap crossed it
    cloth_image, cloth_mask = unpose(rgb, worn, rng)
    cloth, cloth_mask = framing.frame_garment(cloth_image, cloth_mask, height, width)
    return {"person": person, "labels": crop_labels, "pose": crop_pose, "cloth": cloth, "cloth_mask": cloth_mask}


def _write(folder: Path, name: str, s: dict):
    save_image(Image.fromarray(s["person"]), folder / "images" / f"{name}_0.jpg", quality=JPEG_QUALITY)
    save_image(Image.fromarray(s["cloth"]), folder / "images" / f"{name}_1.jpg", quality=JPEG_QUALITY)
    save_image(Image.fromarray(s["cloth_mask"].astype(np.uint8) * 255), folder / "masks" / f"{name}_1.png")
    save_image(Image.fromarray(PARSE_TO_DRESSCODE[s["labels"]]), folder / "label_maps" / f"{name}_4.png")
    keypoints = [[round(float(x), 2), round(float(y), 2), round(float(c), 3), k] for k, (x, y, c) in enumerate(s["pose"])]
    write_text(folder / "keypoints" / f"{name}_2.json", json.dumps({"keypoints": keypoints}))


def _worn(labels: np.ndarray, categories) -> list[str]:
    """The categories of `categories` a photo gives a sample of: its top, if it covers MIN_GARMENT of the photo,
    and its lower garment or dress (worn_category)."""
    out = ["upper"] if "upper" in categories and (labels == P["upper"]).mean() >= MIN_GARMENT else []
    lower = worn_category(labels)
    return out + ([lower] if lower in categories else [])


def write_ccp_pairs(ccp_root, out, seed: int = 0, categories=DEFAULT_CATEGORIES) -> dict:
    """Write OUT (see the module doc) from the CCP folder `ccp_root`, for `categories` (of "upper", "lower",
    "dress"); returns {category: {split: samples}}. An OUT that already holds files is refused (nothing is
    written over). A category with no samples gets no folder."""
    unknown = set(categories) - set(FOLDERS)
    if unknown or not categories:
        raise TryOnError(f"categories must be some of {', '.join(FOLDERS)}, not {', '.join(categories) or 'none'}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise TryOnError(f"{out} is not empty: write the CCP pairs into a new folder (nothing was changed)")
    detector = PoseDetector()
    names = {(c, s): [] for c in categories for s in ("train", "test")}
    skipped = []
    for item in tqdm(read_ccp(ccp_root, "all"), desc="ccp pairs", unit="photo"):
        try:
            rgb, labels = load_ccp(item)
            worn = _worn(labels, categories)
            if not worn:
                skipped.append(f"{item.name}: no garment of {', '.join(categories)} large enough "
                               "(or a dress under a coat)")
                continue
            pose, _ = detector.detect(Image.fromarray(rgb))
            samples = {c: make_sample(rgb, labels, pose, c, np.random.default_rng([seed, int(item.name)]))
                       for c in worn}
        except (TryOnError, DatasetError) as e:
            skipped.append(f"{item.name}: {e}")
            continue
        for category, sample in samples.items():
            _write(out / FOLDERS[category], item.name, sample)
            names[category, "test" if in_val_split(item.name) else "train"].append(item.name)
    counts = {}
    for category in categories:
        folder = FOLDERS[category]
        train, test = names[category, "train"], names[category, "test"]
        counts[category] = {"train": len(train), "test": len(test)}
        if not train and not test:
            continue
        line = lambda person, cloth: f"{person}_0.jpg {cloth}_1.jpg\n"
        write_text(out / folder / "train_pairs.txt", "".join(line(n, n) for n in train))
        write_text(out / folder / "test_pairs_paired.txt", "".join(line(n, n) for n in test))
        shifted = test[1:] + test[:1]  # each test person with the next one's garment
        write_text(out / folder / "test_pairs_unpaired.txt", "".join(line(n, m) for n, m in zip(test, shifted)))
    write_text(out / "skipped.txt", "".join(f"{s}\n" for s in skipped))
    log.info("wrote CCP pairs to %s: %s; %d photos skipped (see skipped.txt)", out, counts, len(skipped))
    return counts
