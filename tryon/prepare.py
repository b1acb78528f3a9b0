"""Turn a retailer's raw photos into a training dataset in the VITON-HD layout, with this pipeline's own annotations.

Each model photo is framed as the pipeline frames it (the same crop, so training sees what inference sees) and
written with its pose (openpose_json, 18 joints), parse (image-parse-v3, our labels as CIHP-style values), the
garment framed like the training garments (cloth, cloth-mask) and the agnostic person (agnostic-v3.2):

    OUT/{split}/image/NAME.jpg  cloth/NAME.jpg  cloth-mask/NAME.png  image-parse-v3/NAME.png
    OUT/{split}/openpose_json/NAME_keypoints.json  agnostic-v3.2/NAME.jpg  OUT/{split}_pairs.txt

NAME is the person photo's stem, and each person photo is paired with the garment it wears (VITON-HD's paired
convention). Photos the pipeline refuses are listed in OUT/{split}_bad_photos.txt, and the rest go on.
"""
import json
import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from tryon.data.labels import PARSE_TO_CIHP
from tryon.data.layouts import IMAGE_EXTENSIONS, read_pairs_file
from tryon.errors import TryOnError
from tryon.files import write_text
from tryon.pipeline import FramedPerson
from tryon.preprocess.image_io import save_image
from tryon.preprocess.person import agnostic_mask, agnostic_person

log = logging.getLogger(__name__)

JPEG_QUALITY = 95


def match_pairs(persons_dir: Path, garments_dir: Path, pairs_file=None) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(person, garment) paths: from a pairs file ("person garment" per line, names inside the two folders), or
    else each person photo with the garment photo of the same stem. Returns (pairs, problems)."""
    if pairs_file is not None:
        pairs, problems = [], []
        for person, garment in read_pairs_file(Path(pairs_file)):
            p, g = persons_dir / person, garments_dir / garment
            missing = [str(x) for x in (p, g) if not x.is_file()]
            if missing:
                problems.append(f"{person} {garment}: file not found: {', '.join(missing)}")
            else:
                pairs.append((p, g))
        return pairs, problems
    garments = {g.stem: g for g in sorted(garments_dir.iterdir()) if g.suffix.lower() in IMAGE_EXTENSIONS}
    pairs, problems = [], []
    for p in sorted(persons_dir.iterdir()):
        if p.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        if p.stem in garments:
            pairs.append((p, garments[p.stem]))
        else:
            problems.append(f"{p.name}: no garment photo named {p.stem}.* in {garments_dir}")
    return pairs, problems


def _write_sample(pipe, d: Path, name: str, person: Path, garment: Path, category: str, height: int, width: int):
    f = pipe.frame(person, garment, size=(height, width), category=category)
    model_h, model_w = pipe.size
    small = Image.fromarray(f.person).resize((model_w, model_h), Image.BICUBIC, reducing_gap=3.0)  # as TryOnDataset
    on_person = np.asarray(Image.fromarray(f.person_mask).resize((model_w, model_h), Image.NEAREST))
    pose = f.pose * np.array([model_w / width, model_h / height, 1], np.float32)  # in the parse's pixels
    at_model_size = FramedPerson(photo=f.photo, box=f.box, person=np.asarray(small), pose=pose, person_mask=on_person)
    parse = pipe.parse([at_model_size], category)[0]
    parse = np.asarray(Image.fromarray(parse).resize((width, height), Image.NEAREST))
    mask = agnostic_mask(parse, f.pose, category)
    save_image(Image.fromarray(f.person), d / "image" / f"{name}.jpg", quality=JPEG_QUALITY)
    save_image(Image.fromarray(f.cloth), d / "cloth" / f"{name}.jpg", quality=JPEG_QUALITY)
    save_image(Image.fromarray(f.cloth_mask.astype(np.uint8) * 255), d / "cloth-mask" / f"{name}.png")
    save_image(Image.fromarray(PARSE_TO_CIHP[parse]), d / "image-parse-v3" / f"{name}.png")
    save_image(Image.fromarray(agnostic_person(f.person, mask)), d / "agnostic-v3.2" / f"{name}.jpg", quality=JPEG_QUALITY)
    keypoints = {"version": 1.3, "people": [{"pose_keypoints_2d": f.pose.reshape(-1).round(3).tolist()}]}
    write_text(d / "openpose_json" / f"{name}_keypoints.json", json.dumps(keypoints))


def prepare_dataset(pipe, persons_dir, garments_dir, out, pairs_file=None, split="train", height=1024, width=768,
                    category="upper") -> tuple[int, list[str]]:
    """Write OUT in the VITON-HD layout from raw photos; returns (samples written, problems listed). An OUT that
    already holds that split is refused (its files, the photos themselves perhaps, are never written over)."""
    persons_dir, garments_dir, out = Path(persons_dir), Path(garments_dir), Path(out)
    for folder in (persons_dir, garments_dir):
        if not folder.is_dir():
            raise TryOnError(f"{folder}: folder not found")
    if split not in ("train", "test"):
        raise TryOnError(f"split must be train or test, not {split!r}")
    if height * pipe.size[1] != width * pipe.size[0]:
        raise TryOnError(f"{height}x{width} is not the models' aspect ({pipe.size[0]}x{pipe.size[1]})")
    d = out / split
    if (d.is_dir() and any(d.iterdir())) or (out / f"{split}_pairs.txt").exists():
        raise TryOnError(f"{d} already holds a dataset: prepare into a new folder (nothing was changed)")
    pairs, problems = match_pairs(persons_dir, garments_dir, pairs_file)
    written, seen = [], set()
    with torch.inference_mode():
        for person, garment in tqdm(pairs, desc="prepare", unit="photo"):
            name = person.stem
            if name in seen:
                problems.append(f"{person.name}: listed more than once (one garment per person photo)")
                continue
            seen.add(name)
            try:
                _write_sample(pipe, d, name, person, garment, category, height, width)
                written.append(name)
            except TryOnError as e:
                problems.append(f"{person.name} {garment.name}: {e}")
    write_text(out / f"{split}_pairs.txt", "".join(f"{n}.jpg {n}.jpg\n" for n in written))
    write_text(out / f"{split}_bad_photos.txt", "".join(f"{p}\n" for p in problems))
    log.info("prepared %d samples in %s; %d problems listed in %s", len(written), d, len(problems),
             out / f"{split}_bad_photos.txt")
    return len(written), problems
