"""A warp for trousers, shorts, skirts (and dresses) laid out by the body's pose instead of learnt.

The learnt full-body warp saw 441 worn garments; on a flat product photo with the legs apart it draws the legs thin
and short, or leaves a patch at the hip. The geometry of a lower-body garment is simple enough to write down, part
by part, so that nothing can fold:
- the garment (`GarmentShape`, from its mask at model size, turned upright when it leans): per row, its outer
  edges; and when rows below a crotch hold two runs down to the hem (trousers, shorts), each leg's run per row;
- the person (from the pose at model size): the waist a quarter of a thigh above the hip joints and 1.5 hip spans
  wide, the crotch a third of a thigh below the joints, each leg along hip -> knee -> ankle (over the top of the
  foot); a garment whose length for its waist's width is a full-length one reaches the ankles, a shorter one
  as far down the legs as that length says (LENGTH_PER_WAIST: the legs' length, not the hip joints' span, which
  mediapipe places unsurely), both legs alike (a leg folded shorter in the photo is as long as the other);
  widths follow the garment's, scaled as its waist is, never thinner than a quarter of a thigh.
- each person pixel reads the garment part it lies in: between the waist and the crotch (a skirt: down to its hem)
  the same fraction of the way down the garment and the same fraction across its row; on a leg, the same fraction
  along the garment's leg and the same share of its half-width, on the same side.
These proportions are the medians of CCP's train photos (worn trousers against mediapipe's joints, `tryon
prepare-ccp`). A dress (`_dress`) is read as one silhouette (no legs) and laid along the body's axis: its top on
the shoulders, its waist (its narrowest row in the upper half) part way down to the hips, its hem as its length
says, never narrower than the body under it.

`pose_grid` returns the sampling grid for `tryon.models.warp.warp`, or None where the pose or the garment does not
allow it (no hips or knee seen, thighs not pointing down, for a dress no shoulders; a garment mask too small): the
caller falls back to a learnt warp.
"""
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from tryon.data.labels import J
from tryon.preprocess.person import WAIST_ABOVE_HIPS

WAIST_HALF = 0.75  # the worn waist's half-width, in hip-joint spans (CCP: 1.0 at the top row, 1.7 at the hip row)
HIP_HALF = 0.9
CROTCH_BELOW_HIPS = 0.35  # in thighs (CCP: 0.32 to 0.49; legs together read lower)
MIN_LEG_HALF = 0.14  # a leg's least half-width, in thighs (CCP: legs are 0.30 thighs wide at the knee)
FOOT = 0.12  # a full-length leg reaches past the ankle by this share of the shin
# a flat garment's length, per its waist's width, as a share of the person's length from the waist to past the
# ankles: a flat waist (half the waist around) is 1.45 times a worn one seen from the front, 2 * WAIST_HALF hip spans,
# and CCP's persons' hip span is 0.201 of that length (median; 0.14 to 0.24 for 90% of them: mediapipe's hip joints
# are too unsure, and turn with the body, to scale a length by, so the garment's length follows the legs instead)
LENGTH_PER_WAIST = 1.45 * 2 * WAIST_HALF * 0.201
FULL_LENGTH = 0.8  # a garment reaching this share of the way from the waist to the ankles is full length
DRESS_WAIST = 0.6  # a dress's waist, the share of the way from the shoulders to the hips
MIN_PIXELS = 200
LEG_SHARE = 0.5  # each of two legs runs at least this share of the way from the crotch to the hem
SHARE = 1.6  # past a leg's edge by this share of its half-width, a pixel reads there (just off the garment)
THIGH_PER_TORSO = 0.79  # hip to knee, in shoulders-to-hips lengths (CCP train median; 0.71 to 0.88 for 80%)
FACING = 0.5  # the hip joints' span, in shoulder widths, of a person facing the camera (CCP: 5th percentile 0.50)


@dataclass
class GarmentShape:
    """A lower-body garment's silhouette, upright: for rows `top`..`bottom` of the turned mask, the outer edges
    `left` and `right` (float arrays indexed by row - top; gaps filled in); the waist row `waist` and its width;
    with legs, the crotch row and each leg's (image-left first) edges per row from the crotch to its hem
    (`legs`: [(rows, a, b)], a < b). `back` maps turned (x, y) to the mask's pixels."""

    top: int
    bottom: int
    left: np.ndarray
    right: np.ndarray
    waist: float
    waist_width: float
    back: callable
    crotch: int | None = None
    legs: list | None = None

    @property
    def length(self) -> float:
        return float(self.bottom - self.waist + 1)

    def edges(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The outer edges at (fractional) rows."""
        index = np.arange(self.top, self.bottom + 1)
        return np.interp(rows, index, self.left), np.interp(rows, index, self.right)


def _runs(row: np.ndarray, least: int) -> list[tuple[int, int]]:
    """The [start, end) runs of True in a bool row, at least `least` long."""
    edges = np.diff(np.concatenate([[0], row.astype(np.int8), [0]]))
    return [(a, b) for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]) if b - a >= least]


def _upright(mask: np.ndarray):
    """The mask turned so that its main axis is vertical, when it leans by 5 to 35 degrees and is clearly longer
    than wide, and the map from the turned image's (x, y) back to the mask's; otherwise the mask as it is."""
    ys, xs = np.nonzero(mask)
    centre = np.array([xs.mean(), ys.mean()])
    values, vectors = np.linalg.eigh(np.cov(np.stack([xs, ys])))
    axis = vectors[:, 1] * (1 if vectors[1, 1] >= 0 else -1)  # the long axis, pointing down
    angle = np.arctan2(axis[0], axis[1])  # from vertical
    if values[1] < 1.7 * values[0] or not np.radians(5) < abs(angle) < np.radians(35):
        return mask, lambda p: np.asarray(p, float)
    size = int(np.ceil(np.hypot(*mask.shape))) + 2
    c, s = np.cos(angle), np.sin(angle)
    rotate = np.array([[c, s], [-s, c]])  # turned offsets -> the mask's: the turned image's down is `axis`
    mid = np.array([size / 2, size / 2])

    def back(p):
        return (np.asarray(p, float) - mid) @ rotate.T + centre

    rows, cols = np.mgrid[:size, :size]
    source = back(np.stack([cols, rows], -1).reshape(-1, 2))
    turned = ndimage.map_coordinates(mask.astype(np.uint8), [source[:, 1], source[:, 0]], order=0, cval=0)
    return turned.reshape(size, size) > 0, back


def _filled(rows: np.ndarray, values: list, top: int, bottom: int) -> np.ndarray:
    index = np.arange(top, bottom + 1)
    return np.interp(index, rows, values) if len(rows) else np.zeros(len(index))


def garment_shape(mask: np.ndarray, legs: bool = True) -> GarmentShape | None:
    """The silhouette of a lower-body garment or a dress from its bool mask [H, W] (waist or shoulders at the top,
    as product photos and the framed garments lie), or None when the mask is too small to read; `legs`: look for
    two legs (not in a dress, whose slit would read as two)."""
    if mask.sum() < MIN_PIXELS:
        return None
    turned, back = _upright(mask)
    rows = np.nonzero(turned.any(1))[0]
    top, bottom = int(rows.min()), int(rows.max())
    least = max(2, int(0.02 * turned.shape[1]))
    runs = {y: _runs(turned[y], least) for y in range(top, bottom + 1)}
    seen = np.array([y for y in runs if runs[y]])
    left = _filled(seen, [runs[y][0][0] for y in seen], top, bottom)
    right = _filled(seen, [runs[y][-1][1] - 1 for y in seen], top, bottom)
    width = right - left + 1
    # the waist: the first row at least 60% as wide as the widest of the top third (a hanger's hook is narrower)
    upper = width[: max(1, (bottom - top) // 3)]
    waist = top + int(np.argmax(upper >= 0.6 * upper.max()))
    shape = GarmentShape(top=top, bottom=bottom, left=left, right=right, waist=float(waist),
                         waist_width=float(width[waist - top]), back=back)

    # two legs: a block of two-run rows reaching (near) the hem, at least 15% of the garment long
    length = bottom - waist + 1
    gap, crotch = 0, None
    for y in range(bottom, waist, -1):
        if len(runs[y]) >= 2:
            crotch, gap = y, 0
        elif crotch is not None or bottom - y > 0.15 * length:
            gap += 1
            if gap > 0.03 * length:
                break
    if not legs or crotch is None or bottom - crotch < 0.15 * length or crotch - waist < 0.1 * length:
        return shape
    tracks = []
    for start in sorted(sorted(runs[crotch], key=lambda r: r[1] - r[0])[-2:]):
        track, current = [], start
        for y in range(crotch, bottom + 1):  # follow the leg down: the run nearest the one a row above
            centre = (current[0] + current[1]) / 2
            near = min(runs[y], key=lambda r: abs((r[0] + r[1]) / 2 - centre), default=None)
            if near is None or abs((near[0] + near[1]) / 2 - centre) > current[1] - current[0]:
                break
            track.append((y, near[0], near[1] - 1))
            current = near
        tracks.append(tuple(np.array(v, float) for v in zip(*track)))
    if min(len(rows) for rows, _, _ in tracks) < LEG_SHARE * (bottom - crotch + 1):
        return shape  # a notch or a loose flap at the hem, no leg: a skirt, or shorts as wide as one
    shape.crotch, shape.legs = crotch, tracks
    return shape


def _joint(pose: np.ndarray, name: str) -> np.ndarray | None:
    return pose[J[name], :2].astype(float) if pose[J[name], 2] > 0 else None


def _project(points: np.ndarray, polyline: np.ndarray, extend: bool = False):
    """Each point [P, 2] against a polyline [K, 2]: (arc length of the nearest point, signed distance, positive on
    the image-right of the polyline's direction). With `extend`, the first and last segments carry on past the
    ends (arc lengths below 0 and past the end)."""
    best = np.full(len(points), np.inf)
    arc, side = np.zeros(len(points)), np.zeros(len(points))
    start = 0.0
    last = len(polyline) - 2
    for i, (a, b) in enumerate(zip(polyline, polyline[1:])):
        step = b - a
        length = max(float(np.hypot(*step)), 1e-6)
        direction = step / length
        low, high = -np.inf if extend and i == 0 else 0, np.inf if extend and i == last else length
        t = np.clip((points - a) @ direction, low, high)
        offset = points - (a + t[:, None] * direction)
        distance = np.hypot(offset[:, 0], offset[:, 1])
        closer = distance < best
        best[closer] = distance[closer]
        arc[closer] = start + t[closer]
        side[closer] = (offset @ np.array([direction[1], -direction[0]]))[closer]
        start += length
    return arc, side


def _length(polyline: np.ndarray) -> float:
    return float(np.hypot(*np.diff(polyline, axis=0).T).sum())


@dataclass
class Body:
    """What the layouts read off the pose (pixels at model size): the hips' centre, the thigh's length, the body's
    `down` (hips to knees) and `across` (image right) directions, the hip span (at least a share of the shoulders'),
    each leg as a polyline hip -> knee -> ankle -> top of the foot (image-left leg first), the shoulders' centre and
    width (None and 0 when not both are seen)."""

    centre: np.ndarray
    thigh: float
    down: np.ndarray
    across: np.ndarray
    span: float
    legs: list
    shoulders: np.ndarray | None
    shoulder_width: float


def read_body(pose: np.ndarray) -> Body | None:
    """The Body of joints `pose` ([J, 3]; unseen joints have confidence 0), or None without both hips and a knee
    (or, where no knee is seen, both shoulders of a person facing the camera, the hips at least FACING of the
    shoulders apart: a maxi skirt or a long coat hides the knees from mediapipe, and they are placed
    THIGH_PER_TORSO of the torso below the hips, along the body's axis; a person turned sideways has too narrow a
    waist for the layout to judge a garment's length by), or when the thighs do not point down (more than 60
    degrees from it: a person sitting or lying)."""
    hips = [_joint(pose, n) for n in ("r_hip", "l_hip")]
    if any(h is None for h in hips):
        return None
    centre = (hips[0] + hips[1]) / 2
    chains = [[_joint(pose, side + n) for n in ("hip", "knee", "ankle")] for side in ("r_", "l_")]
    shoulders = [_joint(pose, n) for n in ("r_shoulder", "l_shoulder")]
    if (all(knee is None for _, knee, _ in chains) and all(s is not None for s in shoulders)
            and np.hypot(*(hips[1] - hips[0])) >= FACING * np.hypot(*(shoulders[1] - shoulders[0]))):
        axis = centre - (shoulders[0] + shoulders[1]) / 2
        for chain in chains:
            chain[1] = chain[0] + THIGH_PER_TORSO * axis
    chains.sort(key=lambda chain: chain[0][0])  # image-left leg first, as the garment's
    knees = [k for _, k, _ in chains if k is not None]
    if not knees:
        return None
    thigh = float(np.mean([np.hypot(*(k - h)) for h, k, _ in chains if k is not None]))
    down = np.mean(knees, 0) - centre
    down = down / max(float(np.hypot(*down)), 1e-6)
    if down[1] < 0.5 or thigh < 2:
        return None
    span = float(np.hypot(*(hips[1] - hips[0])))
    seen = all(s is not None for s in shoulders)
    shoulder_width = float(np.hypot(*(shoulders[1] - shoulders[0]))) if seen else 0.0
    span = max(span, 0.55 * shoulder_width, 0.3 * thigh)  # seen from the side, the hip joints come together
    legs = []
    for hip, knee, ankle in chains:
        knee = knee if knee is not None else hip + down * thigh
        ankle = ankle if ankle is not None else knee + (knee - hip)
        legs.append(np.stack([hip, knee, ankle, ankle + FOOT * (ankle - knee)]))
    return Body(centre=centre, thigh=thigh, down=down, across=np.array([down[1], -down[0]]), span=span, legs=legs,
                shoulders=(shoulders[0] + shoulders[1]) / 2 if seen else None, shoulder_width=shoulder_width)


def _stretch(garment_length: float, waist_width: float, full: float) -> float:
    """Garment pixels -> person pixels down the body: a garment whose length per its waist's width reaches
    FULL_LENGTH of `full` (the person's length from where it starts to past the ankles; LENGTH_PER_WAIST) is
    stretched to reach the whole of it, a shorter one reaches the share of it that its length says."""
    reach = garment_length / waist_width * LENGTH_PER_WAIST
    return full / garment_length if reach >= FULL_LENGTH else reach * full / garment_length


def _spread(body: Body, distance: float) -> float:
    """Half the distance across between the legs' axes `distance` below the hips (0 at the hips, the knees' from
    a thigh down)."""
    knees = abs((body.legs[1][1] - body.legs[0][1]) @ body.across) / 2
    return knees * np.clip(distance / body.thigh, 0, 1)


def _lower(garment: GarmentShape, body: Body, pixels: np.ndarray) -> np.ndarray:
    """Trousers, shorts and skirts: the turned garment's (x, y) each person pixel [P, 2] reads (see the module)."""
    span, thigh = body.span, body.thigh
    scale = 2 * WAIST_HALF * span / garment.waist_width  # garment pixels -> person pixels, across
    above = WAIST_ABOVE_HIPS * thigh
    full = above + float(np.mean([_length(p) for p in body.legs]))  # waist to past the ankles
    stretch = _stretch(garment.length, garment.waist_width, full)
    least = MIN_LEG_HALF * thigh
    waist_centre = body.centre - above * body.down
    along = (pixels - waist_centre) @ body.down
    lateral = (pixels - waist_centre) @ body.across
    out = np.zeros((len(pixels), 2))

    def band(rows_below, half_width, start_row, end_row, where):
        """Pixels `where` between the waist and `rows_below` (person pixels down the body) read the garment rows
        start_row..end_row at the same fraction down, and the same fraction across its edges."""
        f = along[where] / rows_below
        half = half_width(f)
        h = (lateral[where] + half) / (2 * half)
        row = start_row + f * (end_row - start_row)
        left, right = garment.edges(row)
        out[where] = np.stack([left + h * (right - left), row], 1)

    if garment.legs is None:
        reach = min(garment.length * stretch, full)
        levels = np.array([0.0, above, 0.57 * reach, reach])
        rows = garment.waist + levels / reach * (garment.bottom - garment.waist)
        left, right = garment.edges(rows)
        halves = np.maximum((right - left + 1) / 2 * scale, [WAIST_HALF * span, HIP_HALF * span, 0, 0])
        halves = np.maximum(halves, [0, 0, _spread(body, levels[2] - above) + least,
                                     _spread(body, reach - above) + least])
        band(reach, lambda f: np.interp(f * reach, levels, halves), garment.waist, garment.bottom, along == along)
        return out
    to_crotch = above + CROTCH_BELOW_HIPS * thigh
    crotch_half = max(HIP_HALF * span, max(abs((p[0] - body.centre) @ body.across) for p in body.legs) + least)
    hips_part = along < to_crotch
    band(to_crotch, lambda f: WAIST_HALF * span + f * (crotch_half - WAIST_HALF * span), garment.waist,
         garment.crotch, hips_part)
    legs = ~hips_part
    hip_to_crotch = CROTCH_BELOW_HIPS * thigh
    fits = []
    for polyline, (rows, a, b) in zip(body.legs, garment.legs):
        # both hems land as far below the waist as the garment's longer leg says, the crotch where the body's is
        hem = min(garment.length * stretch, full)
        reach = max(hem - to_crotch, 0.2 * thigh)
        arc, offset = _project(pixels[legs], polyline)
        t = (arc - hip_to_crotch) / reach
        row = rows[0] + t * (rows[-1] - rows[0])
        ga, gb = np.interp(row, rows, a), np.interp(row, rows, b)
        mid = (ga + gb) / 2
        half = np.maximum((gb - ga + 1) / 2 * scale, least)  # this leg's half-width on the person
        share = offset / half  # -1 at the image-left edge, 1 at the right
        x = mid + np.clip(share, -SHARE, SHARE) * (gb - ga + 1) / 2
        fits.append((np.abs(share), np.stack([x, row], 1)))
    out[legs] = np.where((fits[0][0] <= fits[1][0])[:, None], fits[0][1], fits[1][1])  # the nearer leg's
    return out


def _dress(garment: GarmentShape, body: Body, pixels: np.ndarray) -> np.ndarray | None:
    """A dress: the turned garment's (x, y) each person pixel [P, 2] reads, or None without both shoulders.

    The body's axis runs from the shoulders' centre through the hips' and between the knees and ankles; the
    dress's top row lies on the shoulders, its waist (the narrowest row between a fifth and half of its length)
    at DRESS_WAIST of the way to the hips, and its hem as far below as its length says (the ankles for a long one).
    Across, each person row reads the garment row at the same place down, the same fraction of the way across its
    edges; the person's width follows the garment's, scaled as its waist is, never narrower than the shoulders,
    waist, hips and legs under it."""
    if body.shoulders is None:
        return None
    widths = garment.right - garment.left + 1
    length = garment.bottom - garment.top + 1
    lo, hi = int(0.2 * length), max(int(0.5 * length), int(0.2 * length) + 1)
    waist_row = garment.top + lo + int(np.argmin(widths[lo:hi]))
    mid = lambda i: (body.legs[0][i] + body.legs[1][i]) / 2
    axis = np.stack([body.shoulders, body.centre, mid(1), mid(2), mid(3)])
    torso = float(np.hypot(*(body.centre - body.shoulders)))
    waist_at = DRESS_WAIST * torso
    scale = 2 * WAIST_HALF * body.span / widths[waist_row - garment.top]
    full = _length(axis) - waist_at  # the waist to past the ankles
    below = garment.bottom - waist_row + 1
    hem_at = waist_at + min(below * _stretch(below, widths[waist_row - garment.top], full), full)
    arc, lateral = _project(pixels, axis, extend=True)
    rows = np.interp(arc, [0.0, waist_at, hem_at], [garment.top, waist_row, garment.bottom],
                     left=garment.top - 1, right=garment.bottom + 1)
    # outside the garment's rows the mapping carries on at the scale of its ends
    rows = np.where(arc < 0, garment.top + arc * (waist_row - garment.top) / waist_at, rows)
    rows = np.where(arc > hem_at, garment.bottom + (arc - hem_at) * (garment.bottom - waist_row) / (hem_at - waist_at),
                    rows)
    left, right = garment.edges(rows)
    least = MIN_LEG_HALF * body.thigh
    floor = np.interp(arc, [0.0, waist_at, torso], [body.shoulder_width / 2, WAIST_HALF * body.span,
                                                    HIP_HALF * body.span])
    floor = np.where(arc > torso, np.maximum(floor, _spread(body, arc - torso) + least), floor)
    half = np.maximum((right - left + 1) / 2 * scale, floor)
    h = (lateral + half) / (2 * half)
    return np.stack([left + h * (right - left), rows], 1)


def pose_grid(pose: np.ndarray, cloth_mask: np.ndarray, category: str = "lower") -> torch.Tensor | None:
    """The pose-laid warp of a garment of `category` ("lower" or "dress") with mask `cloth_mask` (bool [H, W],
    model size) onto a person with joints `pose` ([J, 3] pixels at the same size; unseen joints have confidence
    0): a sampling grid [H, W, 2] (float32, normalised for grid_sample), or None without the joints it needs (both
    hips and a knee; a dress both shoulders too) or a readable garment."""
    garment = garment_shape(cloth_mask, legs=category == "lower")
    body = read_body(pose)
    if garment is None or body is None:
        return None
    height, width = cloth_mask.shape
    ys, xs = np.mgrid[:height, :width]
    pixels = np.stack([xs.ravel(), ys.ravel()], 1).astype(float)
    out = _lower(garment, body, pixels) if category == "lower" else _dress(garment, body, pixels)
    if out is None:
        return None
    grid = (2 * garment.back(out) + 1) / np.array([width, height]) - 1
    return torch.from_numpy(grid.reshape(height, width, 2).astype(np.float32))
