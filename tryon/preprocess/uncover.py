"""What a shorter or narrower bottom or dress uncovers: the legs and the street, painted from the photo itself.

Shorts tried on a person in a maxi skirt, or a knee-length dress on one in jeans, leave part of the old garment's
place bare. The generator never learnt to paint what lies there (the paired data never asks it to: the garment
always fills its own place), and draws a blur of the old garment's or the new one's colours. Here that place is
painted explicitly instead:

- the street behind: each row's colours carried in from the photo on either side of the hole, a smooth ramp
  between them with the photo's grain mirrored in from the nearer side (`street_fill`): the ground, a wall or a
  kerb runs on behind the legs as it does on either side;
- the legs in front: each a tapered tube along the pose's hip, knee and ankle (`leg_tubes`), as wide as CCP's bare
  legs are for the hips' span (LEG_WIDTHS), or as the legs that show below the hole; coloured like the person's
  own legs where they show (tights stay tights), like their arms, neck or face otherwise (`skin`, `leg_colour`),
  shaded darker towards their sides as a round limb is and in the new garment's shadow just below its hem
  (`hem_shadow`), with the grain the photo's own skin shows (`skin_grain`), so that they are no flat plastic.
"""
from dataclasses import replace

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from tryon.data.labels import SKIN_LABELS, J, P
from tryon.models.pose_warp import Body
from tryon.preprocess.person import WAIST_ABOVE_HIPS

# Full widths of a bare leg across its axis, in the hips' span (tryon.models.pose_warp.Body.span), at points along
# it: 0 the hip joint, 1 the knee, 2 the ankle. CCP train bottoms and dresses at 512x384 (medians of 26 thighs,
# 205 knees, 283 calves, 308 ankles; the knees' upper quartile is two legs together): thigh 0.74, knee 0.63, calf
# 0.55, ankle 0.33. At the hip joint the thighs meet, the pelvis about 1.8 spans wide.
LEG_WIDTHS = ((0.0, 0.8), (0.5, 0.74), (1.0, 0.58), (1.5, 0.55), (2.0, 0.33), (2.25, 0.3))
OTHER_SKIN = SKIN_LABELS["upper"] + (P["face"],)  # arms, neck and face: the legs' colour where no leg shows
# How much darker a leg's sides are than its middle, the mean kept at the leg's colour. Bare legs in CCP train
# (1,926 cuts across the shins at 512x384) are nearly flat on average: luminance over the median 0.96-0.98
# at the sides, 1.00-1.02 in the middle; a lit side's gradient averages out.
SHADE = 0.1
# Bare legs are darker just below a hem. CCP train, 328 legs below a bottom's or dress's hem at 512x384: their median
# luminance, over that 0.25-0.4 thighs below the hem, is 0.78, 0.88, 0.93 and 0.97 at 0-0.05, 0.05-0.1, 0.1-0.15
# and 0.15-0.25 thighs below, which 1 - HEM_SHADOW * exp(-distance / HEM_SHADOW_LENGTH) fits within 0.005.
HEM_SHADOW = 0.29
HEM_SHADOW_LENGTH = 0.09  # in thighs
ARM_WIDTH = 0.8  # of the hips' span: the band along a forearm that `arms` keeps out of the bare place
LEAST_SKIN = 12  # pixels at model size: fewer of the legs (or of any skin) than this, and they give no colour
GRAIN_SAMPLES = 20000  # skin pixels read for its grain


def _width(t: np.ndarray) -> np.ndarray:
    at, width = zip(*LEG_WIDTHS)
    return np.interp(t, at, width)


def leg_tubes(body: Body, shape: tuple[int, int], scale: float = 1.0,
              covered: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each leg of `body` (in the pixels of an image of `shape`) as a tube along its hip, knee and ankle, LEG_WIDTHS
    wide (times `scale`), from WAIST_ABOVE_HIPS of a thigh above the hip joint (where the two tubes make the pelvis)
    down to the top of the foot (a shoe the photo shows stays in front), and only where its axis is off `covered`
    (bool [H, W], the new garment: a leg inside trousers laid slimmer than it never shows at their sides):
    (coverage [H, W] float32 in [0, 1], antialiased over a pixel; across [H, W] float32, a pixel's distance from the
    nearest leg's axis over its half-width, 1 at its side and beyond)."""
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    coverage = np.zeros(shape, np.float32)
    across = np.ones(shape, np.float32)
    for leg in body.legs:
        hip, knee = leg[0], leg[1]
        waist = hip - WAIST_ABOVE_HIPS * (knee - hip)
        for k, (a, b) in enumerate([(waist, hip), (hip, knee), (knee, leg[2]), (leg[2], leg[3])]):
            a, b = a.astype(np.float32), b.astype(np.float32)
            d = b - a
            length2 = max(float(d @ d), 1e-6)
            u = np.clip(((xs - a[0]) * d[0] + (ys - a[1]) * d[1]) / length2, 0.0, 1.0)
            ax, ay = a[0] + u * d[0], a[1] + u * d[1]  # the nearest point of the axis
            dist = np.hypot(xs - ax, ys - ay)
            # along the leg: 0 at the hip joint (and above), 1 the knee, 2 the ankle, on to 2.25 at the foot
            t = np.maximum(k - 1 + u, 0.0) if k < 3 else 2 + 0.25 * u
            half = np.maximum(_width(t) * body.span * scale / 2, 0.5)
            tube = np.clip(half - dist + 0.5, 0, 1)
            if covered is not None:
                iy = np.clip(np.round(ay).astype(int), 0, height - 1)
                ix = np.clip(np.round(ax).astype(int), 0, width - 1)
                tube = tube * ~covered[iy, ix]
            coverage = np.maximum(coverage, tube)
            across = np.minimum(across, np.clip(dist / half, 0, 1))
    return coverage, across


def skin(parse: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Bool [H, W]: the skin that gives the painted legs their colour and grain: the legs the parse `parse` shows
    outside `hidden` (bool, the old garment's place), a pixel in from their edges; the arms, neck and face where the
    legs show fewer than LEAST_SKIN pixels; none where those show too few as well."""
    for labels in (SKIN_LABELS["lower"], OTHER_SKIN):
        where = ndimage.binary_erosion(np.isin(parse, labels)) & ~hidden
        if where.sum() >= LEAST_SKIN:
            return where
    return np.zeros(parse.shape, bool)


def leg_colour(person: np.ndarray, where: np.ndarray) -> np.ndarray:
    """RGB float32 [3] (0-255): the median colour in `person` ([H, W, 3] uint8) of the skin `where` (bool, `skin`);
    a light skin tone where none shows."""
    if where.any():
        return np.median(person[where].astype(np.float32), axis=0)
    return np.array([200.0, 160.0, 140.0], np.float32)


def skin_grain(photo: np.ndarray, where: np.ndarray) -> float:
    """The grain of the skin `where` (bool, `skin`, at model size) in `photo` ([H, W, 3] in -1..1, any size): the
    robust spread (1.4826 median absolute deviations) of its luminance less a 3x3 mean, over at most GRAIN_SAMPLES
    of its pixels (evenly spread); 0 where no skin shows."""
    height, width = photo.shape[:2]
    where = np.asarray(Image.fromarray(where).resize((width, height), Image.NEAREST))
    ys, xs = np.nonzero(where[1:-1, 1:-1])
    if len(ys) < LEAST_SKIN:
        return 0.0
    step = -(-len(ys) // GRAIN_SAMPLES)
    ys, xs = ys[::step] + 1, xs[::step] + 1
    luma = lambda dy, dx: photo[ys + dy, xs + dx] @ np.array([0.299, 0.587, 0.114], np.float32)
    detail = luma(0, 0) - sum(luma(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
    return float(1.4826 * np.median(np.abs(detail - np.median(detail))))


def hem_shadow(garment: np.ndarray, thigh: float) -> np.ndarray:
    """Float32 [H, W]: how much of a bare leg's light reaches each pixel by its distance from `garment` (bool
    [H, W], the new garment), `thigh` pixels to a thigh: 1 - HEM_SHADOW at its edge, 1 far from it."""
    distance = ndimage.distance_transform_edt(~garment) if garment.any() else np.full(garment.shape, np.inf)
    return (1 - HEM_SHADOW * np.exp(-distance / (HEM_SHADOW_LENGTH * thigh))).astype(np.float32)


def _run(inside: np.ndarray, point: np.ndarray, direction: np.ndarray) -> int:
    """How many pixels on from `point` (x, y) along `direction` (unit) stay in `inside` (bool [H, W]), one by one."""
    height, width = inside.shape
    steps = np.arange(1, height + width)
    xs, ys = np.round(point[:, None] + direction[:, None] * steps).astype(int)
    ok = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
    ok[ok] = inside[ys[ok], xs[ok]]
    return int(np.argmin(ok)) if not ok.all() else len(steps)


def leg_scale(parse: np.ndarray, body: Body, hidden: np.ndarray) -> float:
    """How much wider (or narrower) the legs that show below the old garment's place are than LEG_WIDTHS says,
    measured across each leg's shin at the first three points (of 21 from knee to ankle) past `hidden` (all at model
    size): 1 where none show."""
    legs = np.isin(parse, SKIN_LABELS["lower"])
    height, width = parse.shape
    ratios = []
    for leg in body.legs:
        knee, ankle = leg[1], leg[2]
        d = (ankle - knee) / max(float(np.hypot(*(ankle - knee))), 1e-6)
        normal = np.array([d[1], -d[0]])
        seen = 0
        for t in np.linspace(1.0, 2.0, 21):
            point = knee + (t - 1.0) * (ankle - knee)
            x, y = int(round(point[0])), int(round(point[1]))
            if not (0 <= y < height and 0 <= x < width) or hidden[y, x] or not legs[y, x]:
                continue
            run = 1 + _run(legs, point, normal) + _run(legs, point, -normal)
            ratios.append(run / (_width(t) * body.span))
            seen += 1
            if seen == 3:
                break
    if not ratios:
        return 1.0
    return float(np.clip(np.median(ratios), 0.6, 1.5))


def _nearest_known(known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Int [H, W] each: the column of the nearest pixel of `known` (bool [H, W]) at or left of each pixel in its row
    (-1 where none), and at or right of it (W where none)."""
    width = known.shape[1]
    cols = np.broadcast_to(np.arange(width), known.shape)
    left = np.maximum.accumulate(np.where(known, cols, -1), axis=1)
    right = np.minimum.accumulate(np.where(known, cols, width)[:, ::-1], axis=1)[:, ::-1]
    return left, right


def street_fill(photo: np.ndarray, known: np.ndarray) -> np.ndarray:
    """[H, W, 3] float32: `photo` ([H, W, 3] float) with every pixel off `known` (bool [H, W]) filled row by row:
    a straight ramp between the local mean colours of what is known left and right of it (the edge colour where
    only one side is known; the means over a few pixels, so a single pixel of noise does not streak across),
    smoothed down the rows, plus the photo's own texture (its pixels less their local mean) mirrored in from the
    nearer known side (the other where that mirror falls off what is known), so gravel, bricks or grass run on as
    grain, not as a flat wash. Rows with nothing known keep their pixels."""
    height, width = known.shape
    r = max(1, height // 256)
    weight = ndimage.uniform_filter(known.astype(np.float32), (2 * r + 1, 2 * r + 1))
    smooth = ndimage.uniform_filter(photo * known[..., None], (2 * r + 1, 2 * r + 1, 1))
    smooth = smooth / np.maximum(weight, 1e-6)[..., None]
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]
    left, right = _nearest_known(known)
    has_left, has_right = left >= 0, right < width
    lc, rc = smooth[rows, np.clip(left, 0, width - 1)], smooth[rows, np.clip(right, 0, width - 1)]
    t = np.where(has_left & has_right, (cols - left) / np.maximum(right - left, 1), np.where(has_left, 0.0, 1.0))
    ramp = lc + (rc - lc) * t[..., None].astype(np.float32)
    ramp = ndimage.uniform_filter1d(ramp, 4 * r + 1, axis=0)
    by_left, by_right = 2 * left - cols, 2 * right - cols  # mirrors about the gap's edges
    ok_left = has_left & (by_left >= 0) & known[rows, np.clip(by_left, 0, width - 1)]
    ok_right = has_right & (by_right < width) & known[rows, np.clip(by_right, 0, width - 1)]
    nearer_left = (cols - left) <= (right - cols)
    source = np.where(ok_left & (nearer_left | ~ok_right), by_left, by_right)
    found = ok_left | ok_right
    detail = photo - smooth
    grain = np.where(found[..., None], detail[rows, np.clip(source, 0, width - 1)], 0.0)
    filled = np.where((has_left | has_right)[..., None], ramp + grain, photo)
    return np.where(known[..., None], photo, filled).astype(np.float32)


def paint_uncovered(photo: np.ndarray, hole: np.ndarray, known: np.ndarray, legs: np.ndarray, across: np.ndarray,
                    colour: np.ndarray, shadow: np.ndarray | None = None, grain: float = 0.0) -> np.ndarray:
    """[H, W, 3] float32 in the range of `photo` ([H, W, 3], -1..1): what lies in `hole` (bool [H, W], the bare
    place) when the old garment is gone: the street from `known` (bool, the photo pixels to carry in, `street_fill`),
    and in front of it the legs (`legs`, their coverage, and `across`, from `leg_tubes`) in `colour` (RGB 0-255),
    shaded SHADE darker at their sides than along their middle, times `shadow` (float [H, W], `hem_shadow`), with
    luminance noise of spread `grain` (in photo units, `skin_grain`; a fixed draw, so a try-on is repeatable)."""
    fill = street_fill(photo, known & ~hole)
    skin = (colour / 127.5 - 1.0).astype(np.float32)
    shade = 1.0 + SHADE * (1 / 3 - across ** 2)  # across^2 averages 1/3 over a tube's width
    if shadow is not None:
        shade = shade * shadow
    painted = (skin[None, None] + 1.0) * shade[..., None] - 1.0
    if grain > 0:
        painted = painted + grain * np.random.default_rng(0).standard_normal(hole.shape, np.float32)[..., None]
    return fill * (1 - legs[..., None]) + np.clip(painted, -1, 1) * legs[..., None]


def scaled(body: Body, scale: float, origin: tuple[float, float] = (0.0, 0.0)) -> Body:
    """`body` in the pixels of an image `scale` times as large, from its `origin` (x, y) in those pixels."""
    at = lambda p: p * scale - np.asarray(origin, np.float64)
    return replace(body, centre=at(body.centre), thigh=body.thigh * scale, span=body.span * scale,
                   legs=[at(leg) for leg in body.legs],
                   shoulders=None if body.shoulders is None else at(body.shoulders),
                   shoulder_width=body.shoulder_width * scale)


def arms(pose: np.ndarray, size: tuple[int, int], span: float) -> np.ndarray:
    """Bool [H, W] (`size`): a band ARM_WIDTH of the hips' `span` wide along each forearm of `pose` (elbow to wrist,
    on past the hand), where a bare place may be an arm or a sleeve, not the street."""
    height, width = size
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    limb = max(2, round(ARM_WIDTH * span))
    for side in ("r_", "l_"):
        elbow, wrist = pose[J[side + "elbow"]], pose[J[side + "wrist"]]
        if elbow[2] > 0 and wrist[2] > 0:
            hand = wrist[:2] + 0.5 * (wrist[:2] - elbow[:2])
            draw.line([tuple(elbow[:2]), tuple(hand)], fill=255, width=limb)
            draw.ellipse([hand[0] - limb / 2, hand[1] - limb / 2, hand[0] + limb / 2, hand[1] + limb / 2], fill=255)
    return np.asarray(canvas) > 0
