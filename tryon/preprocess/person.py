"""The person representation the models read, built the same way from a dataset sample and from a raw photo.

- pose heatmaps: one Gaussian per OpenPose joint, made on the fly from the joints;
- the agnostic mask: where the garment of a category, and the skin it may cover, are erased (from the parse map,
  widened along the pose so the old garment's silhouette does not leak), never touching what the category keeps
  (face and hair always; the lower body for an upper garment);
- the agnostic person: the photo with that region painted neutral grey;
- the paste region: the part of the agnostic region the try-on really changes (the old garment and where the
  warped new garment lands), so the shopper's own arms, neck and hands stay theirs wherever no garment covers them;
- the garment interior: where the warped garment lies whole, and the try-on shows its own pixels;
- `person_repr` / `generator_input`: the stacked tensors the warp and generator take.
"""
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from tryon.data.labels import CATEGORIES, GARMENT_LABELS, KEEP_LABELS, NUM_JOINTS, NUM_PARSE, SKIN_LABELS, J, P
from tryon.errors import TryOnError

PERSON_REPR_CHANNELS = 3 + 1 + NUM_PARSE + NUM_JOINTS  # agnostic RGB, agnostic mask, agnostic parse, pose
CLOTH_CHANNELS = 4  # garment RGB + mask
GENERATOR_CHANNELS = PERSON_REPR_CHANNELS + CLOTH_CHANNELS  # + warped garment RGB + warped mask
AGNOSTIC_GREY = 128  # the uint8 value the erased region is painted
IN_FRONT_LABELS = (P["left_arm"], P["right_arm"], P["face"], P["hair"])  # may lie over a garment


def check_category(category: str) -> str:
    if category not in CATEGORIES:
        raise TryOnError(f"unknown garment category {category!r}: choose one of {', '.join(CATEGORIES)}")
    return category


def pose_heatmaps(pose: torch.Tensor, height: int, width: int, sigma: float | None = None) -> torch.Tensor:
    """[N, 18, 3] joints (x, y in pixels, confidence) -> [N, 18, H, W] Gaussians (all zero for a missing joint).

    Built on the joints' device, so a training batch carries 18 numbers per joint rather than 18 maps.
    """
    sigma = sigma if sigma is not None else height / 64.0
    ys = torch.arange(height, dtype=torch.float32, device=pose.device).view(1, 1, height, 1)
    xs = torch.arange(width, dtype=torch.float32, device=pose.device).view(1, 1, 1, width)
    x, y, c = (pose[..., i].float()[..., None, None] for i in range(3))
    return torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2)) * (c > 0)


def _joint(pose, name):
    x, y, c = pose[J[name]]
    return (float(x), float(y)) if c > 0 else None


def pose_region(pose: np.ndarray, category: str, height: int, width: int) -> np.ndarray:
    """Limbs and torso drawn from the joints the category's garment may cover, as a bool [H, W] mask."""
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    ls, rs = _joint(pose, "l_shoulder"), _joint(pose, "r_shoulder")
    span = np.hypot(ls[0] - rs[0], ls[1] - rs[1]) if ls and rs else height / 6
    limb = max(2, int(round(span / 4)))
    chains = []
    if category in ("upper", "dress"):
        chains += [("r_shoulder", "r_elbow", "r_wrist"), ("l_shoulder", "l_elbow", "l_wrist")]
        torso = [_joint(pose, n) for n in ("r_shoulder", "l_shoulder", "l_hip", "r_hip")]
        if all(torso):
            draw.polygon(torso, fill=255)
    if category in ("lower", "dress"):
        chains += [("r_hip", "r_knee", "r_ankle"), ("l_hip", "l_knee", "l_ankle"), ("r_hip", "l_hip")]
    for chain in chains:
        pts = [_joint(pose, n) for n in chain]
        for a, b in zip(pts, pts[1:]):
            if a and b:
                draw.line([a, b], fill=255, width=limb)
        for p in pts:
            if p:
                draw.ellipse([p[0] - limb / 2, p[1] - limb / 2, p[0] + limb / 2, p[1] + limb / 2], fill=255)
    return np.asarray(canvas) > 0


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Dilation by a (2 radius + 1) square, as shifted ORs along each axis (20x faster than a max-pool here)."""
    rows = mask.copy()
    for k in range(1, radius + 1):
        rows[k:] |= mask[:-k]
        rows[:-k] |= mask[k:]
    out = rows.copy()
    for k in range(1, radius + 1):
        out[:, k:] |= rows[:, :-k]
        out[:, :-k] |= rows[:, k:]
    return out


WAIST_ABOVE_HIPS = 0.25  # a waistband's height above the hip joints, in thighs (CCP train median 0.24)


def skirt_of_dress(parse: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Bool [H, W]: the dress pixels below the waist (WAIST_ABOVE_HIPS of a thigh above the hip joints, where the pose
    layout puts a waistband too): the part of a dress that a lower-body garment replaces, the top staying (parsers
    often read a long skirt as a dress). Empty without both hips."""
    hips = [_joint(pose, n) for n in ("r_hip", "l_hip")]
    if not all(hips):
        return np.zeros(parse.shape, bool)
    hip_y = (hips[0][1] + hips[1][1]) / 2
    knees = [k for k in (_joint(pose, "r_knee"), _joint(pose, "l_knee")) if k]
    thigh = np.mean([k[1] for k in knees]) - hip_y if knees else 0.0
    rows = np.arange(parse.shape[0])[:, None]
    return (parse == P["dress"]) & (rows >= hip_y - WAIST_ABOVE_HIPS * max(thigh, 0.0))


def agnostic_mask(parse: np.ndarray, pose: np.ndarray, category: str = "upper") -> np.ndarray:
    """Bool [H, W]: the region a new garment of `category` repaints.

    It holds every pixel of the current garment (whatever else happens; for a lower-body garment the skirt of a
    dress too, `skirt_of_dress`), the skin the garment may cover, and the pose-drawn limbs and torso, slightly
    dilated; minus what the category keeps (face, hair, ...; for a top the skirt of a dress, which stays as a
    skirt under a top would).
    """
    check_category(category)
    height, width = parse.shape
    garment = np.isin(parse, GARMENT_LABELS[category])
    skirt = skirt_of_dress(parse, pose)
    if category == "lower":
        garment |= skirt
    elif category == "upper":
        garment &= ~skirt
    region = garment | np.isin(parse, SKIN_LABELS[category]) | pose_region(pose, category, height, width)
    region = _dilate(region, max(1, height // 128))
    region &= ~np.isin(parse, KEEP_LABELS[category])
    if category == "upper":
        region &= ~skirt
    return region | garment


def grow_agnostic(mask: np.ndarray, parse: np.ndarray, category: str, pixels: int) -> np.ndarray:
    """Bool [H, W]: the agnostic `mask` grown `pixels` into what surrounds it (background, bare legs), never into
    what the category keeps. A training augmentation for bottoms and dresses: at inference a new garment is often
    narrower or shorter than the old one (shorts for a maxi skirt), and the generator must then paint the street
    and the legs around it, which the paired data never asks for."""
    if pixels < 1:
        return mask
    return mask | (_dilate(mask, int(pixels)) & ~np.isin(parse, KEEP_LABELS[category]))


def paste_region(parse: np.ndarray, agnostic: np.ndarray, warped_mask: np.ndarray,
                 category: str = "upper") -> np.ndarray:
    """Bool [H, W]: the pixels a try-on replaces in the photo, within the agnostic mask `agnostic`.

    The generator repaints the whole agnostic region (it never sees the arms, so it can draw them where an old
    long sleeve was), but only the current garment and the warped new garment (`warped_mask`), grown as the
    agnostic mask is, go back into the photo: skin that neither garment covers keeps its own pixels. For a
    lower-body garment, a dress inside the agnostic region (its skirt) counts as the current garment.
    """
    check_category(category)
    garments = np.isin(parse, GARMENT_LABELS[category] + ((P["dress"],) if category == "lower" else ())) | warped_mask
    return _dilate(garments, max(1, parse.shape[0] // 128)) & agnostic


SHOWN_PAST = 1 / 16  # of the height: how far past the agnostic region a garment laid out by the pose may show


def shown_region(parse: np.ndarray, agnostic: np.ndarray, category: str, laid_by_pose: bool) -> np.ndarray:
    """Bool [H, W]: where the new garment's own silhouette may show in the try-on. Within the agnostic region
    `agnostic` for a learnt warp (its mask can spill); for a garment laid out by the pose (tryon.models.pose_warp,
    whose silhouette is the garment's own) up to SHOWN_PAST beyond it, so a long or wide garment shows past the old
    one's region (a long skirt over the gap between the legs where a short one was, wide trousers for slim ones),
    never over what the category keeps (the top, the hands, the shoes, a bag), and never far off the body, where
    the layout's grid runs on past the garment."""
    check_category(category)
    if not laid_by_pose:
        return agnostic
    return _dilate(agnostic, max(1, round(parse.shape[0] * SHOWN_PAST))) & ~np.isin(parse, KEEP_LABELS[category])


def garment_interior(parse: np.ndarray, warped_mask: np.ndarray, inset: int) -> np.ndarray:
    """Bool [H, W]: where the warped new garment lies whole, so the try-on shows its own pixels there: the warped
    mask `inset` pixels in from its edge (the generator blends the edge), off the arms, face and hair the parse
    `parse` finds (an arm or long hair in front of the garment stays in front)."""
    inner = ~_dilate(~warped_mask, inset)
    return inner & ~_dilate(np.isin(parse, IN_FRONT_LABELS), 1)


def agnostic_person(person: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[H, W, 3] uint8 photo -> the same with the masked region painted neutral grey (128)."""
    out = person.copy()
    out[mask] = AGNOSTIC_GREY
    return out


def person_repr(agnostic: torch.Tensor, agnostic_mask: torch.Tensor, parse: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    """Stack what the warp and generator know of the person: [N, PERSON_REPR_CHANNELS, H, W].

    agnostic [N,3,H,W] in [-1,1]; agnostic_mask [N,1,H,W] in {0,1}; parse [N,H,W] long; pose [N,18,3] joints.
    The parse map is one-hot and blanked inside the agnostic region, so it never shows the old garment's shape.
    """
    onehot = F.one_hot(parse.long(), NUM_PARSE).permute(0, 3, 1, 2).to(agnostic.dtype)
    pose_map = pose_heatmaps(pose, agnostic.shape[-2], agnostic.shape[-1]).to(agnostic.dtype)
    return torch.cat([agnostic, agnostic_mask, onehot * (1 - agnostic_mask), pose_map], 1)


def generator_input(repr_: torch.Tensor, warped_cloth: torch.Tensor, warped_mask: torch.Tensor) -> torch.Tensor:
    """[N, GENERATOR_CHANNELS, H, W]: the person representation with the warped garment and its mask."""
    return torch.cat([repr_, warped_cloth, warped_mask], 1)
