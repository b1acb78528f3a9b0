"""Pack a VITON- or DressCode-layout dataset small enough to carry to a GPU machine (at most 64 MiB a call).

Person and garment photos are re-encoded as WebP, masks as 1-bit PNG, parse maps as optimised PNG and pose files
as compact JSON (18 joints, 2 decimals); names keep their stems (the readers find a copy whose extension changed).
Only what training reads is kept (image, cloth, cloth-mask, image-parse-new, pose). `max_pairs` keeps only the
first N pairs of a split (the pairs file is cut to match; its unpaired list is then left out). `cloth_masks`:
"dataset" keeps the dataset's cloth masks; "computed" writes the masks the pipeline cuts from the original garment
photos instead (tryon.preprocess.garment.garment_mask), so that training on the pack sees the masks of inference.
A DressCode-layout folder (`tryon prepare-ccp` writes one) is packed by `pack_dresscode` the same way, category
folder by category folder.
"""
import json
import shutil
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from tryon.data.dataset import check_cloth_masks
from tryon.data.layouts import DRESSCODE_CATEGORIES, read_dresscode, read_pose, read_viton
from tryon.preprocess.garment import garment_mask
from tryon.preprocess.image_io import load_image


def pack_viton(src, out, splits=("train", "test"), quality: int = 80, max_pairs: dict | None = None,
               cloth_masks: str = "dataset") -> int:
    """Write the packed copy of `src` to `out`; returns its size in bytes. `max_pairs`: {split: N} to keep fewer."""
    check_cloth_masks(cloth_masks)
    src, out = Path(src), Path(out)
    for split in splits:
        pairs_name = f"{split}_pairs.txt"
        limit = (max_pairs or {}).get(split)
        (out / split).mkdir(parents=True, exist_ok=True)
        lines = (src / pairs_name).read_text().splitlines(keepends=True)
        (out / pairs_name).write_text("".join(lines[:limit]))
        if limit is None and (src / f"{split}_pairs_unpaired.txt").is_file():
            shutil.copy(src / f"{split}_pairs_unpaired.txt", out / f"{split}_pairs_unpaired.txt")
        for pair in tqdm(read_viton(src, split, pairs_file=out / pairs_name), desc=f"packing {split}", unit="pair", disable=None):
            d = out / split
            for folder in ("image", "cloth", "cloth-mask", "image-parse-new", "pose"):
                (d / folder).mkdir(exist_ok=True)
            Image.open(pair.person).save(d / "image" / f"{pair.person.stem}.webp", quality=quality, method=6)
            Image.open(pair.cloth).save(d / "cloth" / f"{pair.cloth.stem}.webp", quality=quality, method=6)
            if cloth_masks == "computed":
                mask = Image.fromarray(garment_mask(load_image(pair.cloth))).convert("1")
            else:
                mask = Image.open(pair.cloth_mask).convert("L").point(lambda v: 255 if v > 127 else 0).convert("1")
            mask.save(d / "cloth-mask" / f"{pair.cloth_mask.stem}.png", optimize=True)
            Image.open(pair.parse).save(d / "image-parse-new" / pair.parse.name, optimize=True)
            people = [{"pose_keypoints": [round(float(v), 2) for v in row.ravel()]}
                      for row in [read_pose(pair.pose, pair.pose_format, (0, 0))]]
            (d / "pose" / pair.pose.name).write_text(json.dumps({"people": people}, separators=(",", ":")))
    return sum(f.stat().st_size for f in out.rglob("*") if f.is_file())


def pack_dresscode(src, out, splits=("train", "test"), quality: int = 80, categories=None) -> int:
    """Write the packed copy of the DressCode-layout `src` to `out` (each category folder's paired pairs files of
    `splits`, the photos as WebP, garment masks as 1-bit PNG, label maps as optimised PNG, keypoint files as they
    are); returns its size in bytes. `categories`: the category folders to pack (default: all that `src` holds)."""
    src, out = Path(src), Path(out)
    categories = categories or [c for c in DRESSCODE_CATEGORIES if (src / c).is_dir()]
    for folder in categories:
        d = out / folder
        for sub in ("images", "masks", "label_maps", "keypoints"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        for split in splits:
            name = "train_pairs.txt" if split == "train" else f"{split}_pairs_paired.txt"
            shutil.copy(src / folder / name, d / name)
            for pair in tqdm(read_dresscode(src, split, categories=[folder]), desc=f"packing {folder} {split}",
                             unit="pair", disable=None):
                for photo in (pair.person, pair.cloth):
                    Image.open(photo).save(d / "images" / f"{photo.stem}.webp", quality=quality, method=6)
                if pair.cloth_mask is not None:
                    mask = Image.open(pair.cloth_mask).convert("L").point(lambda v: 255 if v > 127 else 0)
                    mask.convert("1").save(d / "masks" / pair.cloth_mask.name, optimize=True)
                Image.open(pair.parse).save(d / "label_maps" / pair.parse.name, optimize=True)
                shutil.copy(pair.pose, d / "keypoints" / pair.pose.name)
    return sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
