"""Readers for the standard try-on dataset layouts: VITON (CP-VTON+), VITON-HD and DressCode.

Each reader turns a dataset folder, a split and a setting (paired: each person with the garment it wears;
unpaired: with another garment) into a list of `Pair` records, checking that every file they name exists.
Files are opened later, by `tryon.data.dataset`; pose files are parsed here by `read_pose`.
"""
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tryon.data.labels import BODY25_TO_COCO18, NUM_JOINTS
from tryon.errors import DatasetError

LAYOUTS = ("viton", "viton_hd", "dresscode")
MODES = ("paired", "unpaired")
DRESSCODE_CATEGORIES = {"upper_body": "upper", "lower_body": "lower", "dresses": "dress"}
DRESSCODE_POSE_SIZE = (384, 512)  # DressCode keypoints are stored in a 384x512 (width x height) frame


@dataclass(frozen=True)
class Pair:
    """One person photo with one garment, and the annotations of the person."""

    person: Path
    cloth: Path
    cloth_mask: Path | None  # None: computed from the garment's background
    parse: Path
    parse_format: str  # "lip", "cihp" or "dresscode" (see tryon.data.labels)
    pose: Path
    pose_format: str  # "openpose" or "dresscode"
    category: str  # "upper", "lower" or "dress"
    paired: bool  # True when the person wears this garment (the photo is the ground truth)

    @property
    def name(self) -> str:
        return f"{self.person.stem}__{self.cloth.stem}"


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise DatasetError(f"unknown mode {mode!r}: choose 'paired' or 'unpaired'")
    return mode


def read_pairs_file(path: Path) -> list[tuple[str, str]]:
    """Lines "person.jpg garment.jpg [anything]" -> [(person, garment)]; blank lines skipped."""
    if not path.is_file():
        raise DatasetError(f"{path}: pairs file not found")
    pairs = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2:
            raise DatasetError(f"{path}, line {n}: expected 'person_image garment_image', got {line.strip()!r}")
        pairs.append((fields[0], fields[1]))
    if not pairs:
        raise DatasetError(f"{path}: the pairs file is empty")
    return pairs


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


def _require(path: Path, what: str, source: str) -> Path:
    """The named file, or the same name with another image extension (a re-encoded copy); else a DatasetError."""
    if path.is_file():
        return path
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        for ext in IMAGE_EXTENSIONS:
            if path.with_suffix(ext).is_file():
                return path.with_suffix(ext)
    raise DatasetError(f"{source} names {what} {path.name}, but {path} does not exist")


def read_viton(root, split="train", mode="paired", pairs_file=None, parse_dir=None) -> list[Pair]:
    """VITON / CP-VTON+ (256x192): root/{split}/{image,cloth,cloth-mask,image-parse-new,pose}, root/{split}_pairs.txt."""
    root, mode = Path(root), _check_mode(mode)
    d = root / split
    if pairs_file is None:
        pairs_file = root / (f"{split}_pairs.txt" if mode == "paired" or split == "train" else f"{split}_pairs_unpaired.txt")
    pairs_file = Path(pairs_file)
    if parse_dir is None:
        parse_dir = "image-parse-new" if (d / "image-parse-new").is_dir() else "image-parse"
    records = []
    for n, (person, cloth) in enumerate(read_pairs_file(pairs_file), 1):
        src = f"{pairs_file}, line {n}"
        stem = Path(person).stem
        records.append(Pair(
            person=_require(d / "image" / person, "the person image", src),
            cloth=_require(d / "cloth" / cloth, "the garment", src),
            cloth_mask=_require(d / "cloth-mask" / cloth, "the garment mask", src),
            parse=_require(d / parse_dir / f"{stem}.png", "the parse map", src),
            parse_format="lip",
            pose=_require(d / "pose" / f"{stem}_keypoints.json", "the pose file", src),
            pose_format="openpose",
            category="upper",
            paired=Path(person).stem.rsplit("_", 1)[0] == Path(cloth).stem.rsplit("_", 1)[0],
        ))
    return records


def read_viton_hd(root, split="train", mode="paired", pairs_file=None) -> list[Pair]:
    """VITON-HD (1024x768): root/{split}/{image,cloth,cloth-mask,image-parse-v3,openpose_json}.

    Paired: each person with its same-named garment. Unpaired: the pairs file (VITON-HD's own test_pairs.txt is
    unpaired; pass `pairs_file` to choose another).
    """
    root, mode = Path(root), _check_mode(mode)
    d = root / split
    if mode == "paired" and pairs_file is None:
        if not (d / "image").is_dir():
            raise DatasetError(f"{d / 'image'}: folder not found (is {root} a VITON-HD dataset?)")
        pairs = [(p.name, p.name) for p in sorted((d / "image").glob("*.jpg"))]
    else:
        pairs_file = Path(pairs_file or root / f"{split}_pairs.txt")
        pairs = read_pairs_file(pairs_file)
    records = []
    for n, (person, cloth) in enumerate(pairs, 1):
        src = f"{pairs_file}, line {n}" if pairs_file else f"{d / 'image'}"
        stem = Path(person).stem
        records.append(Pair(
            person=_require(d / "image" / person, "the person image", src),
            cloth=_require(d / "cloth" / cloth, "the garment", src),
            cloth_mask=_require(d / "cloth-mask" / cloth, "the garment mask", src),
            parse=_require(d / "image-parse-v3" / f"{stem}.png", "the parse map", src),
            parse_format="cihp",
            pose=_require(d / "openpose_json" / f"{stem}_keypoints.json", "the pose file", src),
            pose_format="openpose",
            category="upper",
            paired=person == cloth,
        ))
    return records


def read_dresscode(root, split="train", mode="paired", pairs_file=None, categories=None) -> list[Pair]:
    """DressCode (1024x768): root/{upper_body,lower_body,dresses}/{images,keypoints,label_maps} and pairs files.

    DressCode's garments have no mask files: their mask is computed from the white background. A category folder
    may hold them in masks/ (as tryon.data.ccp_pairs writes), named as the garment with .png; they are read then.
    `categories`: the category folders to read (default: those of the three that `root` holds).
    """
    root, mode = Path(root), _check_mode(mode)
    if categories is None:
        categories = [c for c in DRESSCODE_CATEGORIES if (root / c).is_dir()]
        if not categories:
            raise DatasetError(f"{root}: no DressCode category folder ({', '.join(DRESSCODE_CATEGORIES)})")
    records = []
    for folder in categories:
        if folder not in DRESSCODE_CATEGORIES:
            raise DatasetError(f"unknown DressCode category {folder!r}: choose from {', '.join(DRESSCODE_CATEGORIES)}")
        d = root / folder
        if pairs_file is not None:
            pf = Path(pairs_file)
        elif split == "train":
            pf = d / "train_pairs.txt"
        else:
            pf = d / f"{split}_pairs_{mode}.txt"
        for n, (person, cloth) in enumerate(read_pairs_file(pf), 1):
            src = f"{pf}, line {n}"
            stem = Path(person).stem.rsplit("_", 1)[0]
            mask = d / "masks" / f"{Path(cloth).stem}.png"
            records.append(Pair(
                person=_require(d / "images" / person, "the person image", src),
                cloth=_require(d / "images" / cloth, "the garment", src),
                cloth_mask=mask if mask.is_file() else None,
                parse=_require(d / "label_maps" / f"{stem}_4.png", "the label map", src),
                parse_format="dresscode",
                pose=_require(d / "keypoints" / f"{stem}_2.json", "the keypoints file", src),
                pose_format="dresscode",
                category=DRESSCODE_CATEGORIES[folder],
                paired=stem == Path(cloth).stem.rsplit("_", 1)[0],
            ))
    return records


READERS = {"viton": read_viton, "viton_hd": read_viton_hd, "dresscode": read_dresscode}


def detect_layout(root) -> str:
    """Which layout a dataset folder is in, from the folders it holds."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    if any((root / c).is_dir() for c in DRESSCODE_CATEGORIES):
        return "dresscode"
    for split in ("train", "test"):
        if (root / split / "image-parse-v3").is_dir() or (root / split / "openpose_json").is_dir():
            return "viton_hd"
        if (root / split / "pose").is_dir():
            return "viton"
    raise DatasetError(f"{root}: not a VITON, VITON-HD or DressCode dataset (no known folders found)")


def read_dataset(root, split="train", mode="paired", layout=None, pairs_file=None) -> list[Pair]:
    """Read any supported layout (detected when `layout` is None)."""
    layout = layout or detect_layout(root)
    if layout not in READERS:
        raise DatasetError(f"unknown layout {layout!r}: choose from {', '.join(LAYOUTS)}")
    return READERS[layout](root, split=split, mode=mode, pairs_file=pairs_file)


def read_pose(path, fmt: str, image_size: tuple[int, int]) -> np.ndarray:
    """A pose file -> float32 [18, 3] (x, y in the person image's pixels, confidence; missing joints all zero).

    openpose: {"people": [{"pose_keypoints" | "pose_keypoints_2d": [x, y, c] * (18 | 25)}]} (BODY_25 is mapped to
    the 18 COCO joints); dresscode: {"keypoints": [[x, y, score, id] * 18]} in a 384x512 frame.
    `image_size` is the person image's (width, height). No person in the file gives all-zero joints.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        if fmt == "openpose":
            people = data["people"]
            if not people:
                return np.zeros((NUM_JOINTS, 3), np.float32)
            person = people[0]
            flat = person["pose_keypoints_2d"] if "pose_keypoints_2d" in person else person["pose_keypoints"]
            kp = np.asarray(flat, dtype=np.float32).reshape(-1, 3)
            if len(kp) == 25:
                kp = kp[list(BODY25_TO_COCO18)]
            scale = (1.0, 1.0)
        elif fmt == "dresscode":
            kp = np.asarray(data["keypoints"], dtype=np.float32).reshape(-1, 4)[:, :3]
            scale = (image_size[0] / DRESSCODE_POSE_SIZE[0], image_size[1] / DRESSCODE_POSE_SIZE[1])
        else:
            raise DatasetError(f"{path}: unknown pose format {fmt!r}")
    except DatasetError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, IndexError, TypeError, ValueError) as e:
        raise DatasetError(f"{path}: malformed pose file ({type(e).__name__}: {e})") from None
    if kp.shape != (NUM_JOINTS, 3) or not np.isfinite(kp).all():
        raise DatasetError(f"{path}: malformed pose file (expected 18 or 25 finite joints, got {kp.shape[0]})")
    kp = kp.copy()
    kp[:, 0] *= scale[0]
    kp[:, 1] *= scale[1]
    kp[kp[:, 2] <= 0] = 0  # a missing joint is all zero, whatever the file wrote
    return kp
