"""How the models chain on a batch (the dataset's keys), shared by training and the pipeline: loading a trained
model, the person representation, the warp, the mirrored batch."""
from pathlib import Path

import torch

from tryon.data.labels import JOINT_FLIP, PARSE_FLIP
from tryon.errors import TryOnError
from tryon.models.warp import warp
from tryon.preprocess.person import person_repr


def load_pretrained(cls, path, subfolder: str):
    """Load a model saved with save_pretrained, from its own folder or from a pipeline folder holding it."""
    p = Path(path)
    if (p / "config.json").is_file():
        return cls.from_pretrained(p)
    if (p / subfolder / "config.json").is_file():
        return cls.from_pretrained(p, subfolder=subfolder)
    raise TryOnError(f"{p}: no saved {subfolder} model here (expected config.json in it or in {subfolder}/)")


def batch_repr(batch) -> torch.Tensor:
    """The person representation of a batch: [N, PERSON_REPR_CHANNELS, H, W]."""
    return person_repr(batch["agnostic"], batch["agnostic_mask"], batch["parse"], batch["pose"])


def warp_garment(matcher, batch, person: torch.Tensor):
    """Run the warp on a batch whose person representation is `person` (batch_repr, computed once by the caller,
    who also feeds it to the generator): (warped garment RGB, warped mask, TPS control points)."""
    cloth_rgbm = torch.cat([batch["cloth"], batch["cloth_mask"]], 1)
    grid, control_points = matcher(person, cloth_rgbm, return_control_points=True)
    return warp(batch["cloth"], grid), warp(batch["cloth_mask"], grid, fill=0.0), control_points


def mirror_batch(batch) -> dict:
    """The batch mirrored left-right, as the dataset's flip augmentation mirrors a sample: images and masks flipped,
    left and right parse labels and joints swapped, joints' x mirrored; `repr` recomputed. Other keys are kept."""
    mirrored = dict(batch)
    for key in ("person", "cloth", "cloth_mask", "agnostic", "agnostic_mask"):
        mirrored[key] = batch[key].flip(-1)
    parse = batch["parse"]
    mirrored["parse"] = torch.from_numpy(PARSE_FLIP).to(parse.device)[parse.long()].flip(-1).to(parse.dtype)
    pose = batch["pose"][:, torch.from_numpy(JOINT_FLIP).to(batch["pose"].device)].clone()
    seen = pose[..., 2] > 0
    pose[..., 0] = torch.where(seen, batch["person"].shape[-1] - 1 - pose[..., 0], pose[..., 0])
    mirrored["pose"] = pose
    mirrored["repr"] = batch_repr(mirrored)
    return mirrored
