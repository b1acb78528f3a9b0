"""How the models chain on a batch (the dataset's keys), shared by training and the pipeline: loading a trained
model, the person representation, the warp, the mirrored batch."""
from pathlib import Path

import torch
import torch.nn.functional as F

from tryon.data.labels import JOINT_FLIP, PARSE_FLIP
from tryon.errors import TryOnError
from tryon.models.pose_warp import pose_grid
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


def warp_garment(matcher, batch, person: torch.Tensor, pose_layout: tuple[str, ...] = ()):
    """Run the warp on a batch whose person representation is `person` (batch_repr, computed once by the caller,
    who also feeds it to the generator): (warped garment RGB, warped mask, TPS control points, the flow refiners'
    correction or None, which garments the pose laid out: bool [N]). Garments of the categories in `pose_layout`
    ("lower", "dress") are laid out by the pose where it allows (tryon.models.pose_warp), carried as the warp's
    parts: the TPS control points at the identity and the pose-laid grid as the flow (at the refiners' size, half
    the models'; the grid is smooth within each part). The learnt warp runs only when some garment of the batch is
    not laid out so."""
    height, width = person.shape[-2:]
    laid = pose_grids(batch, pose_layout)
    if len(laid) == len(batch["category"]):
        points = matcher.lattice.expand(len(laid), *matcher.lattice.shape).clone()
        flow = person.new_zeros(len(laid), 2, height // 2, width // 2, dtype=torch.float32)
    else:
        cloth = torch.cat([batch["cloth"], batch["cloth_mask"]], 1)
        points = matcher.control_points(person, cloth)
        flow = matcher.flow(person, cloth, points) if matcher.refiner is not None else None
        if laid:
            points = points.clone()
            flow = person.new_zeros(len(points), 2, height // 2, width // 2) if flow is None else flow.clone()
    identity = F.affine_grid(torch.eye(2, 3, device=person.device)[None], [1, 1, height, width], align_corners=False)
    for i, grid in laid.items():
        points[i] = matcher.lattice
        offset = (grid.to(person.device) - identity[0]).permute(2, 0, 1)[None]
        flow[i] = F.interpolate(offset, size=flow.shape[-2:], mode="bilinear", align_corners=False)[0].to(flow.dtype)
    grid = matcher.sampling_grid(points, flow, height, width)
    by_pose = torch.tensor([i in laid for i in range(len(points))], device=person.device)
    return warp(batch["cloth"], grid), warp(batch["cloth_mask"], grid, fill=0.0), points, flow, by_pose


def pose_layout_categories(text: str) -> tuple[str, ...]:
    """The categories a comma-separated `text` ("lower", "lower,dress"; "" or "none": none) names for the pose
    layout, checked."""
    names = tuple(n.strip() for n in text.split(",") if n.strip() and n.strip() != "none")
    unknown = [n for n in names if n not in ("lower", "dress")]
    if unknown:
        raise TryOnError(f"the pose lays out lower and dress garments, not {', '.join(unknown)}")
    return names


def pose_grids(batch: dict, categories: tuple[str, ...]) -> dict[int, torch.Tensor]:
    """The pose-laid sampling grid ([H, W, 2]) of each garment of a batch whose category is one of `categories` and
    whose pose and garment allow one (tryon.models.pose_warp.pose_grid), by its index in the batch."""
    laid = {}
    for i, category in enumerate(batch["category"]):
        if category in categories:
            grid = pose_grid(batch["pose"][i].float().cpu().numpy(),
                             batch["cloth_mask"][i, 0].float().cpu().numpy() > 0.5, category)
            if grid is not None:
                laid[i] = grid
    return laid


def mirror_batch(batch) -> dict:
    """The batch mirrored left-right, as the dataset's flip augmentation mirrors a sample: images and masks flipped,
    left and right parse labels and joints swapped, joints' x mirrored; `repr` recomputed. Other keys are kept."""
    mirrored = dict(batch)
    for key in ("person", "cloth", "cloth_mask", "agnostic", "agnostic_mask", "prints"):
        if key in batch:
            mirrored[key] = batch[key].flip(-1)
    parse = batch["parse"]
    mirrored["parse"] = torch.from_numpy(PARSE_FLIP).to(parse.device)[parse.long()].flip(-1).to(parse.dtype)
    pose = batch["pose"][:, torch.from_numpy(JOINT_FLIP).to(batch["pose"].device)].clone()
    seen = pose[..., 2] > 0
    pose[..., 0] = torch.where(seen, batch["person"].shape[-1] - 1 - pose[..., 0], pose[..., 0])
    mirrored["pose"] = pose
    mirrored["repr"] = batch_repr(mirrored)
    return mirrored
