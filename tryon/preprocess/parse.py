"""The body parse checked against what works on any photo: the person's mask and the pose.

mediapipe's pose segmentation (tryon.preprocess.pose) finds the person on any photo; the parser, trained on a few
thousand photos, can still take a railing, a wall or a bag on a bench for clothing or hair. Outside the person's
mask (probability PERSON_THRESHOLD or more), grown by GROW of the crop's height for what the mask's soft edge
misses (loose hair, a coat's hem), every label becomes background (`keep_on_person`). The street parser also
takes bare legs for arms or for the face (legs crossed, a hand on the thigh); which part of the body a pixel of
skin belongs to is the pose's to say (`skin_by_pose`). And it marks a few pixels of shoes in crops framed head to
hips, which show no feet; shoes are only where the pose puts the feet, below the knees (`shoes_at_feet`).
"""
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage

from tryon.data.dataset import to_tensor
from tryon.data.labels import J, P
from tryon.preprocess.framing import crop, crop_map

PERSON_THRESHOLD = 0.3
GROW = 1 / 64  # of the crop's height
HAND = 0.4  # a hand's length past the wrist, in forearms
# the parts of the skin, each drawn from the pose as joints and bones (CCP's one skin label is split into them)
SKIN_PARTS = {
    "face": [("nose",), ("r_eye",), ("l_eye",), ("r_ear",), ("l_ear",)],
    "neck": [("neck",)],
    "right_arm": [("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist")],
    "left_arm": [("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist")],
    "right_leg": [("r_hip", "r_knee"), ("r_knee", "r_ankle")],
    "left_leg": [("l_hip", "l_knee"), ("l_knee", "l_ankle")],
}


def part_distances(pose: np.ndarray, parts, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """[len(parts), P]: each pixel's (`ys`, `xs`) distance to the nearest joint or bone of each skin part named in
    `parts` (SKIN_PARTS; inf where the pose lacks all of them); a forearm carries on past the wrist by HAND of its
    length, over the hand."""
    ys, xs = ys.astype(np.float32), xs.astype(np.float32)
    return np.stack([_distance_to(pose, SKIN_PARTS[name], ys, xs) for name in parts])


def _distance_to(pose: np.ndarray, part, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    best = np.full(ys.shape, np.inf, np.float32)
    for names in part:
        ends = [pose[J[n]] for n in names]
        if any(e[2] <= 0 for e in ends):
            continue
        a, b = ends[0][:2], ends[-1][:2]
        ab = b - a
        reach = 1 + HAND if names[-1].endswith("wrist") else 1
        t = np.clip(((xs - a[0]) * ab[0] + (ys - a[1]) * ab[1]) / max(float(ab @ ab), 1e-6), 0, reach)
        best = np.minimum(best, np.hypot(xs - (a[0] + t * ab[0]), ys - (a[1] + t * ab[1])))
    return best


def crop_person_mask(mask: np.ndarray, photo_size: tuple[int, int], box, height: int, width: int) -> np.ndarray:
    """The person mask of a whole photo ([h, w] probabilities at any scale of the photo's (W, H) `photo_size`) cut
    to a person `box` in photo pixels, as tryon.preprocess.framing.crop cuts the photo (edges repeated outside it):
    bool [height, width]."""
    scale_x, scale_y = mask.shape[1] / photo_size[0], mask.shape[0] / photo_size[1]
    box = (box[0] * scale_x, box[1] * scale_y, box[2] * scale_x, box[3] * scale_y)
    return crop_map(mask.astype(np.float32), box, height, width, Image.BILINEAR) >= PERSON_THRESHOLD


def parse_photos(parser, photos: list[Image.Image], boxes: list, height: int, width: int,
                 crops: list[np.ndarray] | None = None) -> np.ndarray:
    """Body-parse labels [N, height, width] uint8 of the `boxes` of `photos` (as framing.crop reads a box): each
    box cropped at the size the parser was trained to read (its input_height x input_width: a leg, a shoe or a hem
    is more pixels wide there than at the models' size), parsed with its mirror image (HumanParser.log_probs), the
    log-probabilities brought to height x width (area-averaged) before the argmax. `crops`, the boxes already cut
    at height x width ([H, W, 3] uint8, as the pipeline frames a person), are read as they are by a parser of that
    size instead of cutting them again."""
    size = (parser.config.input_height, parser.config.input_width)
    if crops is None or size != (height, width):
        crops = [np.asarray(crop(photo, box, *size)) for photo, box in zip(photos, boxes)]
    x = torch.stack([to_tensor(c) for c in crops])
    log_p = parser.log_probs(x.to(parser.device, parser.dtype))
    if size != (height, width):
        log_p = F.interpolate(log_p, size=(height, width), mode="area")
    return log_p.argmax(1).to(torch.uint8).cpu().numpy()


def keep_on_person(labels: np.ndarray, person: np.ndarray) -> np.ndarray:
    """Parse labels [H, W] with every pixel outside the grown person mask `person` (bool [H, W]) set to background."""
    grown = ndimage.binary_dilation(person, iterations=max(1, round(labels.shape[0] * GROW)))
    return np.where(grown, labels, P["background"]).astype(labels.dtype)


def shoes_at_feet(labels: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Parse labels [H, W] with no shoes above the knees the pose ([J, 3], the labels' pixels) sees, in or below
    the crop: a pixel of shoes there takes the nearest other label. Left as they are where the pose sees no knee."""
    knees = [pose[J[n], 1] for n in ("r_knee", "l_knee") if pose[J[n], 2] > 0]
    shoes = labels == P["shoes"]
    wrong = shoes & (np.arange(labels.shape[0])[:, None] < min(knees, default=-1))
    if not wrong.any() or shoes.all():
        return labels
    nearest = ndimage.distance_transform_edt(shoes, return_distances=False, return_indices=True)
    out = labels.copy()
    out[wrong] = labels[nearest[0], nearest[1]][wrong]
    return out


TOP_BELOW_HIPS = 0.3  # in thighs: a part of a top that starts this far below the hip joints is a bottom's or dress's


def no_top_below_hips(labels: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Parse labels [H, W] where each separate part of a top (upper label) that starts TOP_BELOW_HIPS of a thigh or
    more below the hip joints the pose ([J, 3], the labels' pixels) sees takes the bottom's or dress's label that
    surrounds it most: a top's hem ends near the hips, and a long coat's lower part hangs from the part above, while
    the street parser reads patches of a lace or red skirt as a top, which a lower-body try-on then kept. Left as
    they are without both hips."""
    hips = [pose[J[n], 1] for n in ("r_hip", "l_hip") if pose[J[n], 2] > 0]
    if len(hips) < 2:
        return labels
    knees = [pose[J[n], 1] for n in ("r_knee", "l_knee") if pose[J[n], 2] > 0]
    thigh = np.mean(knees) - np.mean(hips) if knees else labels.shape[0] / 6
    parts, _ = ndimage.label(labels == P["upper"])
    out = labels.copy()
    for k, box in enumerate(ndimage.find_objects(parts), 1):
        if box[0].start < np.mean(hips) + TOP_BELOW_HIPS * max(thigh, 0.0):
            continue
        near = tuple(slice(max(0, b.start - 2), b.stop + 2) for b in box)  # the part and 2 pixels around it
        part = parts[near] == k
        ring = labels[near][ndimage.binary_dilation(part, iterations=2) & ~part]
        counts = [(ring == P[name]).sum() for name in ("lower", "dress")]
        if max(counts) > 0:
            out[near][part] = P["lower"] if counts[0] >= counts[1] else P["dress"]
    return out


def keep_on_body(labels: np.ndarray, person: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Parse labels [H, W] checked against what works on any photo: kept on the person mask `person`
    (`keep_on_person`), no shoes above the pose's knees (`shoes_at_feet`), no separate part of a top well below
    the hips (`no_top_below_hips`). The pipeline and evaluate-parser both read a parse so."""
    return no_top_below_hips(shoes_at_feet(keep_on_person(labels, person), pose), pose)


def skin_by_pose(labels: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Parse labels [H, W] whose skin pixels (face, neck, arms, legs) are each given the part the pose ([J, 3], the
    labels' pixels) draws nearest (SKIN_PARTS), as CCP's one skin label is split for training
    (tryon.data.ccp_pairs.split_skin). A pixel keeps its label where the pose does not draw the part it was given
    (nothing to compare it with)."""
    codes = np.array([P[n] for n in SKIN_PARTS], labels.dtype)
    ys, xs = np.nonzero(np.isin(labels, codes))
    if not len(ys):
        return labels
    dist = part_distances(pose, SKIN_PARTS, ys, xs)
    given = np.argmax(labels[ys, xs][None] == codes[:, None], axis=0)
    drawn = np.isfinite(dist[given, np.arange(len(ys))])
    out = labels.copy()
    out[ys[drawn], xs[drawn]] = codes[dist[:, drawn].argmin(0)]
    return out
