"""How the models chain on a batch (the dataset's keys), shared by training and the pipeline: loading a trained
model (or two versions of it averaged), the person representation, the warp, the mirrored batch."""
from pathlib import Path

import torch
import torch.nn.functional as F

from tryon.data.labels import JOINT_FLIP, PARSE_FLIP, J
from tryon.errors import TryOnError
from tryon.models.generator import TryOnGenerator
from tryon.models.parser import HumanParser
from tryon.models.pose_warp import pose_grid
from tryon.models.warp import GeometricMatcher, warp
from tryon.preprocess.person import person_repr

# each model of a pipeline folder (model_index.json), by its folder name
MODEL_CLASSES = {"parser": HumanParser, "fullbody_parser": HumanParser, "garment_segmenter": HumanParser,
                 "warp": GeometricMatcher, "fullbody_warp": GeometricMatcher,
                 "generator": TryOnGenerator, "fullbody_generator": TryOnGenerator}


def load_pretrained(cls, path, subfolder: str):
    """Load a model saved with save_pretrained, from its own folder or from a pipeline folder holding it."""
    p = Path(path)
    if (p / "config.json").is_file():
        return cls.from_pretrained(p)
    if (p / subfolder / "config.json").is_file():
        return cls.from_pretrained(p, subfolder=subfolder)
    raise TryOnError(f"{p}: no saved {subfolder} model here (expected config.json in it or in {subfolder}/)")


def average_pretrained(subfolder: str, a, b, alpha: float):
    """Two saved versions of the model `subfolder` names in a pipeline folder (warp, generator, parser, ...),
    interpolated weight by weight: (1 - alpha) * a + alpha * b, in float32. Both must be built alike."""
    if not 0.0 <= alpha <= 1.0:
        raise TryOnError(f"alpha is B's share of each weight, in [0, 1], not {alpha}")
    cls = MODEL_CLASSES.get(subfolder)
    if cls is None:
        raise TryOnError(f"unknown model {subfolder!r}: choose from {', '.join(MODEL_CLASSES)}")
    first, second = load_pretrained(cls, a, subfolder).float(), load_pretrained(cls, b, subfolder).float()
    built = lambda model: {k: v for k, v in model.config.items() if not k.startswith("_")}  # not where it came from
    if built(first) != built(second):
        raise TryOnError(f"{a} and {b}: the two {subfolder} models are built differently; only alike ones average")
    theirs = second.state_dict()
    first.load_state_dict({k: v.lerp(theirs[k], alpha) if v.is_floating_point() else v
                           for k, v in first.state_dict().items()})
    return first


def batch_repr(batch) -> torch.Tensor:
    """The person representation of a batch: [N, PERSON_REPR_CHANNELS, H, W]."""
    return person_repr(batch["agnostic"], batch["agnostic_mask"], batch["parse"], batch["pose"])


def print_grid(tps: torch.Tensor, flow: torch.Tensor, prints: torch.Tensor) -> torch.Tensor:
    """Where a warp lays each garment's print (`prints`, [N, 1, H, W] in the garment's frame), at the flow's size
    [N, h, w, 2]: its TPS grid `tps` moved by the flow refiners' mean correction `flow` ([N, 2, h, w]) over the
    print, which keeps where the flow moves the print and drops how it squashes it."""
    weight = warp(prints.float(), tps, fill=0.0)
    shift = (flow * weight).sum((2, 3)) / weight.sum((2, 3)).clamp(min=1e-6)
    return tps + shift[:, None, None, :]


def mirror_grid(grid: torch.Tensor) -> torch.Tensor:
    """A sampling grid [N, H, W, 2] read in the mirror image: mirrored left-right, its x negated. Its own inverse."""
    mirrored = grid.flip(2).clone()
    mirrored[..., 0] = -mirrored[..., 0]
    return mirrored


def rigid_prints(tps: torch.Tensor, flow: torch.Tensor, prints: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """The flow refiners' correction `flow` [N, 2, h, w] (added to the TPS grid `tps`) replaced by the print grid
    `grid` ([N, h, w, 2], `print_grid`) where it lays the garment's print (`prints`, [N, 1, H, W] in the garment's
    frame), the flow kept elsewhere. The refiners, trained on pixel losses, squash a print they cannot place
    exactly into a thin smear (a word comes out as a line); the print grid moves it whole, while the flow still
    fits the outline."""
    weight = warp(prints.float(), grid, fill=0.0).clamp(0, 1)
    return flow * (1 - weight) + (grid - tps).permute(0, 3, 1, 2) * weight


def warp_garment(matcher, batch, person: torch.Tensor, pose_layout: tuple[str, ...] = (), lay_prints: bool = False,
                 dress_length: float = 1.0):
    """Run the warp on a batch whose person representation is `person` (batch_repr, computed once by the caller,
    who also feeds it to the generator): (warped garment RGB, warped mask, TPS control points, the flow refiners'
    correction or None, which garments the pose laid out: bool [N]). Garments of the categories in `pose_layout`
    ("lower", "dress") are laid out by the pose where it allows (tryon.models.pose_warp), carried as the warp's
    parts: the TPS control points at the identity and the pose-laid grid as the flow (at the refiners' size, half
    the models'; the grid is smooth within each part). The learnt warp runs only when some garment of the batch is
    not laid out so. With `lay_prints`, each garment's print (batch["prints"]) is laid whole by `print_grid`
    instead of the flow refiners (`rigid_prints`), as the pipeline lays it for one pass. A dress the learnt warp
    lays comes out `dress_length` times as long below the hip joints (`lengthen_below`, folded into the flow; the
    pipeline's DRESS_LENGTH), where the pose shows both hips."""
    height, width = person.shape[-2:]
    laid = pose_grids(batch, pose_layout)
    if len(laid) == len(batch["category"]):
        points = matcher.lattice.expand(len(laid), *matcher.lattice.shape).clone()
        flow = person.new_zeros(len(laid), 2, height // 2, width // 2, dtype=torch.float32)
    else:
        cloth = torch.cat([batch["cloth"], batch["cloth_mask"]], 1)
        points = matcher.control_points(person, cloth)
        flow = matcher.flow(person, cloth, points) if matcher.refiner is not None else None
        if lay_prints and flow is not None:
            tps = matcher.grid(points, *flow.shape[-2:])
            flow = rigid_prints(tps, flow, batch["prints"], print_grid(tps, flow, batch["prints"]))
        flow = lengthen_dresses(matcher, batch, points, flow, height, width, dress_length, laid)
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


def lengthen_below(grid: torch.Tensor, row: float, factor: float) -> torch.Tensor:
    """A sampling grid [N, H, W, 2] whose rows below `row` (in the grid's pixels) read the rows `factor` times
    nearer to it (linearly between two): what it lays out below that row comes out `factor` times as long."""
    rows = torch.arange(grid.shape[1], device=grid.device, dtype=torch.float32)
    source = torch.where(rows > row, row + (rows - row) / factor, rows)
    low = source.floor().long()
    high = (low + 1).clamp(max=grid.shape[1] - 1)
    t = (source - low)[None, :, None, None].to(grid.dtype)
    return grid[:, low] * (1 - t) + grid[:, high] * t


def lengthen_dresses(matcher, batch, points: torch.Tensor, flow: torch.Tensor | None, height: int, width: int,
                     factor: float, laid: dict) -> torch.Tensor | None:
    """The flow ([N, 2, h, w], or None without refiners) with each dress of the batch that the pose does not lay out
    (`laid`) lengthened `factor` times below its person's hip joints (`lengthen_below` on the TPS of `points` plus
    the flow; a new zero flow at half the models' size where there was none). Unchanged where `factor` is 1 or no
    dress has both hips seen."""
    hips = batch["pose"][:, [J["r_hip"], J["l_hip"]]].float()
    dresses = [i for i, category in enumerate(batch["category"])
               if category == "dress" and i not in laid and bool((hips[i, :, 2] > 0).all())]
    if factor == 1.0 or not dresses:
        return flow
    flow = points.new_zeros(len(points), 2, height // 2, width // 2, dtype=torch.float32) if flow is None \
        else flow.clone()
    h = flow.shape[-2]
    for i in dresses:
        tps = matcher.grid(points[i:i + 1], h, flow.shape[-1])
        row = (hips[i, :, 1].mean().item() + 0.5) * h / height - 0.5  # the hips' row at the flow's size
        grid = lengthen_below(tps + flow[i:i + 1].float().permute(0, 2, 3, 1), row, factor)
        flow[i] = (grid - tps)[0].permute(2, 0, 1).to(flow.dtype)
    return flow


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
