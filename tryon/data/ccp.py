"""The CCP reader (Clothing Co-Parsing): street photos with a pixel label per photo, for training and checking the
body parser (and the lower-body and dress models) on photos like the ones shoppers bring.

Layout (see ../shared/datasets/ccp/README.md):
    photos/0001.jpg   RGB photo, about 550x830
    labels/0001.png   8-bit PNG, the same size, one CCP tag (0-58, tryon.data.labels.CCP_TAGS) per pixel

Labels are mapped to tryon.data.labels.PARSE_LABELS; CCP's one `skin` tag becomes the partial label SKIN_ANY and
tights or stockings LEGS_ANY (the parser's loss accepts any skin, or either leg, there).

The split is fixed by the photo's number: the 100 photos whose number is divisible by 9 are the validation split
(`val`), kept out of every training set (the parser's, and the photo-quality development set's persons); the
rest are `train`.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tryon.data.labels import PARSE_LUTS, SOURCE_NUM_LABELS
from tryon.errors import DatasetError, TryOnError
from tryon.preprocess.image_io import load_image, load_label_map

SPLITS = ("train", "val", "all")
VAL_EVERY = 9  # a photo whose number is a multiple of this is in the validation split


@dataclass(frozen=True)
class CCPPhoto:
    photo: Path
    labels: Path

    @property
    def name(self) -> str:
        return self.photo.stem


def in_val_split(name: str) -> bool:
    """Whether the CCP photo called `name` (its number, e.g. "0099") belongs to the validation split."""
    return int(name) % VAL_EVERY == 0


def read_ccp(root, split: str = "train") -> list[CCPPhoto]:
    """The photos of a CCP folder in `split` ("train", "val" or "all"), sorted by number; each has its label file."""
    if split not in SPLITS:
        raise DatasetError(f"unknown CCP split {split!r}: choose one of {', '.join(SPLITS)}")
    root = Path(root)
    photos_dir, labels_dir = root / "photos", root / "labels"
    if not photos_dir.is_dir() or not labels_dir.is_dir():
        raise DatasetError(f"{root}: not a CCP folder (it needs photos/ and labels/)")
    out = []
    for photo in sorted(photos_dir.glob("*.jpg")):
        if not photo.stem.isdigit():
            raise DatasetError(f"{photo}: CCP photos are named by their number (0001.jpg)")
        if split != "all" and in_val_split(photo.stem) != (split == "val"):
            continue
        labels = labels_dir / f"{photo.stem}.png"
        if not labels.is_file():
            raise DatasetError(f"{photo}: its label file {labels} is missing")
        out.append(CCPPhoto(photo, labels))
    if not out:
        raise DatasetError(f"{root}: no CCP photos in the {split} split")
    return out


def load_ccp(item: CCPPhoto) -> tuple[np.ndarray, np.ndarray]:
    """One CCP photo -> (RGB [H, W, 3] uint8, parse targets [H, W] uint8 in PARSE_LABELS plus partial labels)."""
    try:
        photo = load_image(item.photo)
        raw = load_label_map(item.labels, expected_size=photo.size)
    except TryOnError as e:
        raise DatasetError(str(e)) from None
    if raw.max() >= SOURCE_NUM_LABELS["ccp"]:
        raise DatasetError(f"{item.labels}: tag {raw.max()} is outside CCP's 0-{SOURCE_NUM_LABELS['ccp'] - 1}")
    return np.asarray(photo), PARSE_LUTS["ccp"][raw]
