"""Procedural try-on datasets for tests and smoke-training runs, in the VITON, VITON-HD or DressCode layout.

A sample is a flat garment on white and a person wearing that same garment (its texture mapped onto the body part
by part), with a parse map, the 18 OpenPose joints and a person mask that agree with the drawing: a pixel's label
is that of the part drawn last there. Everything comes from one `numpy.random.default_rng(seed)`, so the seed and
the arguments fix every byte written.
"""

import colorsys
import json
import pathlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from tryon.data.labels import BODY25_TO_COCO18, J, JOINTS, NUM_JOINTS
from tryon.data.layouts import DRESSCODE_CATEGORIES, DRESSCODE_POSE_SIZE, LAYOUTS
from tryon.errors import TryOnError

MIN_SIZE = (64, 48)  # (height, width)
JPEG_QUALITY = 95
GREY = (128, 128, 128)

# Parse maps are drawn in LIP labels, with 20 = neck as in CP-VTON+'s image-parse-new.
HAIR, UPPER, DRESS, PANTS, SKIRT, FACE = 2, 5, 6, 9, 12, 13
L_ARM, R_ARM, L_LEG, R_LEG, L_SHOE, R_SHOE, NECK = 14, 15, 16, 17, 18, 19, 20
GARMENT_LABEL = {"tshirt": UPPER, "dress": DRESS, "trousers": PANTS, "skirt": SKIRT}
# The original VITON image-parse has no neck label: those pixels are background there (as in the real files).
LIP_TO_OLD_LIP = np.array([*range(20), 0], dtype=np.uint8)
# VITON-HD image-parse-v3 (CIHP-style): 10 is torso skin, where the neck and chest show.
LIP_TO_CIHP = np.array([*range(20), 10], dtype=np.uint8)
# DressCode label_maps: 11 is the head (face and neck).
LIP_TO_DRESSCODE = np.array([0, 1, 2, 0, 3, 4, 7, 4, 0, 6, 7, 17, 5, 11, 14, 15, 12, 13, 9, 10, 11], dtype=np.uint8)
# The palette of VITON's P-mode parse maps (LIP colours), reused for VITON-HD.
LIP_PALETTE = (
    0, 0, 0, 128, 0, 0, 254, 0, 0, 0, 85, 0, 169, 0, 51, 254, 85, 0, 0, 0, 85, 0, 119, 220, 85, 85, 0, 0, 85, 85,
    85, 51, 0, 52, 86, 128, 0, 128, 0, 0, 0, 254, 51, 169, 220, 0, 254, 254, 85, 254, 169, 169, 254, 85, 254, 254,
    0, 254, 169, 0,
)
SKIN_TONES = ((255, 219, 172), (241, 194, 167), (224, 172, 105), (198, 134, 66), (141, 85, 36), (92, 56, 30))
HAIR_COLOURS = ((30, 22, 18), (70, 45, 25), (120, 80, 40), (200, 160, 90), (160, 60, 30), (90, 90, 90))
# 5x7 block letters for the garment text.
GLYPHS = {
    "T": ("11111", "00100", "00100", "00100", "00100", "00100", "00100"),
    "R": ("11110", "10001", "10001", "11110", "10100", "10010", "10001"),
    "Y": ("10001", "10001", "01010", "00100", "00100", "00100", "00100"),
    "0": ("01110", "10001", "10011", "10101", "11001", "10001", "01110"),
    "1": ("00100", "01100", "00100", "00100", "00100", "00100", "01110"),
    "2": ("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
    "3": ("11110", "00001", "00001", "01110", "00001", "00001", "11110"),
    "4": ("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    "5": ("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
    "6": ("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
    "7": ("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
    "8": ("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
    "9": ("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
}


@dataclass
class Garment:
    """A flat garment: its pattern over the whole canvas, its silhouette and its parts.

    `parts` maps a part name to (polygon, anchor quad) in flat-image pixels; the anchor quad is what gets mapped
    onto the matching quad of the body.
    """

    kind: str
    texture: np.ndarray
    mask: np.ndarray
    parts: dict

    @property
    def image(self):
        return np.where(self.mask[..., None], self.texture, np.uint8(255))


@dataclass
class Body:
    """A person's pose and looks: `points` holds the 18 OpenPose joints (absolute pixels) and the head centre."""

    h: float  # head height, the unit of every body measure
    points: dict
    skin: tuple
    hair: tuple
    background: tuple
    shoes: tuple
    long_hair: bool
    top_hem: float  # below the hips, in head units
    skirt_hem: float  # below the hips, in head units
    dress_hem: float  # below the knees, in head units
    flare: float  # half-width added at a skirt or dress hem, in head units


@dataclass
class Sample:
    """One person wearing one garment; `parse` in LIP labels with 20 = neck, `joints` (18, 3) as (x, y, confidence)."""

    person: np.ndarray
    parse: np.ndarray
    joints: np.ndarray
    garment: np.ndarray
    garment_mask: np.ndarray


# ---------------------------------------------------------------- drawing helpers


def _colour(rng, saturation=(0.4, 0.85), value=(0.35, 0.9), hue=None):
    hue = rng.random() if hue is None else hue % 1.0
    rgb = colorsys.hsv_to_rgb(hue, rng.uniform(*saturation), rng.uniform(*value))
    return tuple(int(round(255 * c)) for c in rgb)


def _shape(size, draw):
    """Boolean (H, W) mask of what `draw(ImageDraw)` fills."""
    height, width = size
    image = Image.new("L", (width, height))
    draw(ImageDraw.Draw(image))
    return np.asarray(image) > 0


def _points(points):
    return [(float(x), float(y)) for x, y in points]


def _ellipse(centre, rx, ry):
    x, y = centre
    return [x - rx, y - ry, x + rx, y + ry]


def _limb(draw, points, widths):
    """A tapering limb through `points`, with half-widths `widths` at them and round inner joints."""
    for (p, q), (wp, wq) in zip(zip(points[:-1], points[1:]), zip(widths[:-1], widths[1:])):
        d = np.subtract(q, p)
        n = np.array([-d[1], d[0]]) / max(np.hypot(*d), 1e-6)
        draw.polygon(_points([p + wp * n, q + wq * n, q - wq * n, p - wp * n]), fill=255)
    for p, w in zip(points[1:-1], widths[1:-1]):
        draw.ellipse(_ellipse(p, w, w), fill=255)


def _homography(src, dst):
    """The 8 coefficients of the perspective map sending `src` quad points to `dst` ones (PIL's order)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    return np.linalg.solve(np.array(rows, float), np.array(rhs, float))


def _apply(coeffs, points):
    a, b, c, d, e, f, g, h = coeffs
    x, y = np.asarray(points, float).T
    w = g * x + h * y + 1
    return np.stack([(a * x + b * y + c) / w, (d * x + e * y + f) / w], axis=1)


def _stamp_text(texture, text, centre, box, ink, vertical=False):
    """Block letters from GLYPHS, as large as fit in `box` (width, height), centred at `centre`."""
    gap = np.zeros((7, 1), bool)
    glyphs = [np.array([[c == "1" for c in row] for row in GLYPHS[ch]]) for ch in text]
    bitmap = np.hstack([part for glyph in glyphs for part in (gap, glyph)][1:])
    if vertical:  # reads top to bottom
        bitmap = np.rot90(bitmap, -1)
    cell = max(1, int(min(box[0] / bitmap.shape[1], box[1] / bitmap.shape[0])))
    big = np.kron(bitmap, np.ones((cell, cell), bool))
    top, left = int(round(centre[1] - big.shape[0] / 2)), int(round(centre[0] - big.shape[1] / 2))
    texture[top : top + big.shape[0], left : left + big.shape[1]][big] = ink


def _stamp_logo(texture, centre, radius, colour, star):
    """A filled five-pointed star or disc."""
    if star:
        angles = np.pi / 5 * np.arange(10) - np.pi / 2
        radii = np.where(np.arange(10) % 2 == 0, radius, 0.45 * radius)
        polygon = np.stack([centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)], axis=1)
        mask = _shape(texture.shape[:2], lambda d: d.polygon(_points(polygon), fill=255))
    else:
        mask = _shape(texture.shape[:2], lambda d: d.ellipse(_ellipse(centre, radius, radius), fill=255))
    texture[mask] = colour


# ---------------------------------------------------------------- flat garments


def _top_parts(rng, height, width, top, bottom, shoulder, hem, waist=None):
    """Body and sleeve polygons of a T-shirt or dress lying flat, centred; `waist` = (y, half-width) or None."""
    cx = width / 2
    neck_w, neck_d, slope = width * rng.uniform(0.08, 0.11), height * rng.uniform(0.03, 0.06), height * 0.03
    armpit_y = top + height * rng.uniform(0.18, 0.23)
    angle, length = np.deg2rad(rng.uniform(30, 50)), width * rng.uniform(0.12, 0.16)
    t = np.linspace(0, np.pi, 9)
    neckline = np.stack([cx - neck_w * np.cos(t), top + neck_d * np.sin(t)], axis=1)
    edge = [(shoulder, top + slope), (0.93 * shoulder, armpit_y), *([waist[::-1]] if waist else []), (hem, bottom)]
    body = [*neckline, *[(cx + x, y) for x, y in edge], *[(cx - x, y) for x, y in reversed(edge)]]
    quad = [(cx - shoulder, top + slope), (cx + shoulder, top + slope), (cx + hem, bottom), (cx - hem, bottom)]
    parts = {"body": (np.array(body), np.array(quad))}
    for s, name in ((-1, "r_sleeve"), (1, "l_sleeve")):
        start, armpit = np.array([cx + s * shoulder, top + slope]), np.array([cx + s * 0.93 * shoulder, armpit_y])
        along = np.array([s * np.cos(angle), np.sin(angle)])
        quad = np.array([start, start + length * along, armpit + 0.45 * length * along, armpit])
        parts[name] = (quad, quad)
    return parts


def _trouser_parts(rng, height, width):
    """Two legs joined at the waist, each mapped from waist to ankle."""
    cx, top, bottom = width / 2, height * rng.uniform(0.04, 0.08), height * rng.uniform(0.92, 0.96)
    waist, flare, gap = width * rng.uniform(0.24, 0.28), width * rng.uniform(0.01, 0.05), width * 0.04
    crotch = top + height * rng.uniform(0.25, 0.3)
    parts = {}
    for s, name in ((-1, "r_leg"), (1, "l_leg")):
        quad = np.array([(cx + s * waist, top), (cx, top), (cx + s * gap, bottom), (cx + s * (waist + flare), bottom)])
        parts[name] = (np.insert(quad, 2, (cx, crotch), axis=0), quad)
    return parts


def _skirt_parts(rng, height, width):
    cx, top, bottom = width / 2, height * rng.uniform(0.15, 0.2), height * rng.uniform(0.72, 0.8)
    waist, hem = width * rng.uniform(0.2, 0.24), width * rng.uniform(0.32, 0.38)
    quad = np.array([(cx - waist, top), (cx + waist, top), (cx + hem, bottom), (cx - hem, bottom)])
    return {"skirt": (quad, quad)}


def _texture(rng, size, parts, kind, plain):
    """Base colour, stripes, a 'TRY' + digits text and a logo, over the whole canvas (plain: base colour only)."""
    height, width = size
    base = _colour(rng)
    texture = np.empty((height, width, 3), np.uint8)
    texture[:] = base
    if plain:
        return texture
    hue = colorsys.rgb_to_hsv(*(c / 255 for c in base))[0]
    stripe = _colour(rng, hue=hue + rng.uniform(0.25, 0.75))
    period = height * rng.uniform(0.06, 0.1)
    yy, xx = np.mgrid[0:height, 0:width]
    coord = (yy, xx, xx + yy)[rng.integers(3)]
    texture[(coord + rng.uniform(0, period)) % period < 0.4 * period] = stripe
    x0, y0, x1, y1 = _bounds(parts)
    ink = _colour(rng, saturation=(0.5, 0.9), value=(0.1, 0.25))
    text = f"TRY{rng.integers(100):02d}"
    if kind == "trousers":  # text down one leg, logo on the other thigh
        leg = (x1 - x0) / 2
        _stamp_text(texture, text, (x0 + 0.4 * leg, y0 + 0.45 * (y1 - y0)), (0.5 * leg, 0.5 * (y1 - y0)), ink, True)
        logo_at = (x1 - leg / 2, y0 + 0.25 * (y1 - y0))
    else:
        chest = y0 + {"tshirt": 0.3, "dress": 0.18, "skirt": 0.3}[kind] * (y1 - y0)
        _stamp_text(texture, text, (width / 2, chest), (0.45 * width, height), ink)
        logo_at = (width / 2 + width * rng.uniform(-0.1, 0.1), chest + 0.16 * height)
    logo = _colour(rng, saturation=(0.8, 1.0), value=(0.75, 0.9), hue=hue + rng.uniform(0.1, 0.2))
    _stamp_logo(texture, logo_at, width * rng.uniform(0.05, 0.08), logo, star=rng.random() < 0.5)
    return texture


def _bounds(parts):
    points = np.vstack([polygon for polygon, _ in parts.values()])
    return (*points.min(axis=0), *points.max(axis=0))


def make_garment(rng, kind, size, plain=False):
    """A flat garment of `kind` ('tshirt', 'dress', 'trousers', 'skirt') on an (H, W) canvas."""
    height, width = size
    u = rng.uniform
    if kind == "tshirt":
        parts = _top_parts(rng, height, width, height * u(0.08, 0.12), height * u(0.86, 0.92),
                           width * u(0.25, 0.29), width * u(0.24, 0.28))
    elif kind == "dress":
        parts = _top_parts(rng, height, width, height * u(0.04, 0.07), height * u(0.92, 0.96),
                           width * u(0.19, 0.23), width * u(0.3, 0.38), waist=(height * 0.42, width * u(0.15, 0.18)))
    elif kind == "trousers":
        parts = _trouser_parts(rng, height, width)
    else:
        parts = _skirt_parts(rng, height, width)
    texture = _texture(rng, size, parts, kind, plain)
    mask = _shape(size, lambda d: [d.polygon(_points(polygon), fill=255) for polygon, _ in parts.values()])
    return Garment(kind, texture, mask, parts)


def make_text_garment(rng, size, text):
    """A T-shirt (flat, on an (H, W) canvas) carrying `text` in large bold letters across the chest and a logo under
    it: the garments that show whether a try-on keeps lettering legible. Returns (Garment, text mask [H, W] bool:
    the box around the lettering and the logo). The font is DejaVu Sans Bold from matplotlib's data (PIL's own font
    without it)."""
    from tryon.ads.text import default_font_path, load_font

    height, width = size
    u = rng.uniform
    parts = _top_parts(rng, height, width, height * u(0.08, 0.12), height * u(0.86, 0.92),
                       width * u(0.25, 0.29), width * u(0.24, 0.28))
    base = _colour(rng, saturation=(0.0, 0.6), value=(0.1, 0.95))
    ink = (255, 255, 255) if sum(base) < 3 * 110 else _colour(rng, saturation=(0.6, 0.9), value=(0.1, 0.3))
    canvas = Image.new("RGB", (width, height), base)
    draw = ImageDraw.Draw(canvas)
    x0, y0, x1, y1 = _bounds({"body": parts["body"]})
    box_w = 0.62 * (x1 - x0)
    font = load_font(default_font_path(bold=True), max(8, int(height * 0.12)))
    scale = box_w / max(1, draw.textlength(text, font=font))
    font = load_font(default_font_path(bold=True), max(8, int(height * 0.12 * min(scale, 1.5))))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    at = (width / 2 - (left + right) / 2, y0 + 0.3 * (y1 - y0) - (top + bottom) / 2)
    draw.text(at, text, fill=ink, font=font)
    texture = np.array(canvas)
    radius = 0.07 * (x1 - x0)
    logo_at = (width / 2, at[1] + bottom + 1.6 * radius)
    _stamp_logo(texture, logo_at, radius, ink, star=rng.random() < 0.5)
    mask = _shape(size, lambda d: [d.polygon(_points(polygon), fill=255) for polygon, _ in parts.values()])
    text_mask = np.zeros(size, bool)
    ty0, ty1 = int(at[1] + top), int(logo_at[1] + radius) + 1
    text_mask[max(ty0, 0):ty1, int(at[0] + left):int(at[0] + right) + 1] = True
    return Garment("tshirt", texture, mask, parts), text_mask & mask


# ---------------------------------------------------------------- the person


def _arm_angles(rng):
    """(upper arm, forearm) angles from straight down in radians; positive = away from the body."""
    style = rng.choice(3, p=(0.5, 0.25, 0.25))
    if style == 0:  # hanging
        upper = rng.uniform(3, 15)
        lower = upper + rng.uniform(-8, 5)
    elif style == 1:  # hand on the hip
        upper, lower = rng.uniform(25, 45), -rng.uniform(20, 50)
    else:  # forearm in front of the torso
        upper, lower = rng.uniform(0, 10), -rng.uniform(65, 95)
    return np.deg2rad(upper), np.deg2rad(lower)


def make_body(rng, size):
    """A random standing person facing the camera, placed inside the frame horizontally."""
    height, width = size
    h = height * rng.uniform(0.9, 1.2) / 7.6
    shoulder, hip, yaw = h * rng.uniform(0.85, 1.05), h * rng.uniform(0.42, 0.55), h * rng.uniform(-0.06, 0.06)
    p = {
        "head": (0.5 * yaw, 0.5 * h), "nose": (yaw, 0.62 * h), "neck": (0.0, 1.3 * h),
        "r_eye": (yaw - 0.15 * h, 0.45 * h), "l_eye": (yaw + 0.15 * h, 0.45 * h),
        "r_ear": (-0.35 * h, 0.52 * h), "l_ear": (0.35 * h, 0.52 * h),
    }
    for s, side in ((-1, "r"), (1, "l")):
        upper, lower = _arm_angles(rng)
        p[f"{side}_shoulder"] = np.array([s * shoulder, 1.35 * h])
        p[f"{side}_elbow"] = p[f"{side}_shoulder"] + 1.45 * h * np.array([s * np.sin(upper), np.cos(upper)])
        p[f"{side}_wrist"] = p[f"{side}_elbow"] + 1.3 * h * np.array([s * np.sin(lower), np.cos(lower)])
        p[f"{side}_hip"] = np.array([s * hip, 3.55 * h])
        p[f"{side}_ankle"] = np.array([s * (hip + h * rng.uniform(-0.1, 0.3)), 7.1 * h])
        p[f"{side}_knee"] = (p[f"{side}_hip"] + p[f"{side}_ankle"]) / 2
    xs = np.array([x for x, _ in p.values()])
    lo, hi = 0.45 * h - xs.min(), width - 0.45 * h - xs.max()
    offset = np.array([rng.uniform(lo, hi) if hi > lo else (lo + hi) / 2, height * rng.uniform(0.01, 0.05)])
    tone = np.array(SKIN_TONES[rng.integers(len(SKIN_TONES))]) + rng.integers(-8, 9, 3)
    return Body(
        h=h, points={k: np.asarray(v, float) + offset for k, v in p.items()},
        skin=tuple(int(c) for c in np.clip(tone, 0, 255)),
        hair=HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))],
        background=tuple(int(c) for c in rng.integers(150, 246, 3)),
        shoes=_colour(rng, value=(0.1, 0.6)),
        long_hair=bool(rng.random() < 0.5),
        top_hem=rng.uniform(0.1, 0.45), skirt_hem=rng.uniform(0.9, 1.6), dress_hem=rng.uniform(-0.4, 0.3),
        flare=rng.uniform(0.45, 0.8),
    )


def _anchor_quads(body, kind):
    """Where each part of a garment of `kind` lands on the body: part name -> quad (4, 2)."""
    h, p = body.h, body.points
    mid = (p["r_hip"] + p["l_hip"]) / 2
    hip_half = (p["l_hip"][0] - p["r_hip"][0]) / 2
    waist_y = mid[1] - 0.4 * h
    if kind == "skirt":
        hem_y, hem_half = mid[1] + body.skirt_hem * h, hip_half + body.flare * h
        waist = [(mid[0] - hip_half - 0.33 * h, waist_y), (mid[0] + hip_half + 0.33 * h, waist_y)]
        return {"skirt": np.array([*waist, (mid[0] + hem_half, hem_y), (mid[0] - hem_half, hem_y)])}
    if kind == "trousers":
        quads = {}
        for s, side in ((-1, "r"), (1, "l")):
            ankle = p[f"{side}_ankle"] + (0, 0.1 * h)
            quads[f"{side}_leg"] = np.array([(p[f"{side}_hip"][0] + s * 0.33 * h, waist_y), (mid[0], waist_y),
                                             ankle + (-s * 0.17 * h, 0), ankle + (s * 0.22 * h, 0)])
        return quads
    if kind == "dress":
        knees = (p["r_knee"] + p["l_knee"]) / 2
        hem_y, hem_half = knees[1] + body.dress_hem * h, (p["l_knee"][0] - p["r_knee"][0]) / 2 + body.flare * h
    else:
        hem_y, hem_half = mid[1] + body.top_hem * h, hip_half + 0.35 * h
    outer = {s: p[f"{side}_shoulder"] + (s * 0.12 * h, -0.12 * h) for s, side in ((-1, "r"), (1, "l"))}
    quads = {"body": np.array([outer[-1], outer[1], (mid[0] + hem_half, hem_y), (mid[0] - hem_half, hem_y)])}
    for s, side in ((-1, "r"), (1, "l")):
        shoulder, elbow = p[f"{side}_shoulder"], p[f"{side}_elbow"]
        along = (elbow - shoulder) / np.hypot(*(elbow - shoulder))
        out = np.array([along[1], -along[0]]) * (1 if along[1] * s > 0 else -1)
        cuff = shoulder + 0.5 * (elbow - shoulder)
        quads[f"{side}_sleeve"] = np.array([outer[s], cuff + 0.3 * h * out, cuff - 0.3 * h * out,
                                            shoulder + (-s * 0.2 * h, 0.5 * h)])
    return quads


class _Canvas:
    """A person image and its parse map, painted together so a pixel's label is that of its last paint."""

    def __init__(self, size, background):
        self.size = size
        self.rgb = np.empty((*size, 3), np.uint8)
        self.rgb[:] = background
        self.parse = np.zeros(size, np.uint8)

    def paint(self, mask, colour, label):
        self.rgb[mask] = colour[mask] if isinstance(colour, np.ndarray) else colour
        self.parse[mask] = label

    def shape(self, draw, colour, label):
        self.paint(_shape(self.size, draw), colour, label)

    def wear(self, garment, body, names):
        """Map the garment's parts `names` onto the body, each by the perspective map of its anchor quad."""
        quads = _anchor_quads(body, garment.kind)
        texture = Image.fromarray(garment.texture)
        height, width = self.size
        for name in names:
            polygon, quad = garment.parts[name]
            to_flat = _homography(quads[name], quad)
            warped = np.asarray(texture.transform((width, height), Image.Transform.PERSPECTIVE, tuple(to_flat),
                                                  resample=Image.Resampling.BILINEAR))
            on_body = _apply(_homography(quad, quads[name]), polygon)
            self.shape(lambda d: d.polygon(_points(on_body), fill=255), warped, GARMENT_LABEL[garment.kind])


def draw_person(body, size, top, bottom=None, tucked=False):
    """Paint the body wearing `top` (a T-shirt or dress) and `bottom` (over the top's hem if `tucked`).

    Returns the RGB image and its parse map in LIP labels with 20 = neck.
    """
    h, p, skin = body.h, body.points, body.skin
    canvas = _Canvas(size, body.background)
    head = p["head"]
    if body.long_hair:
        canvas.shape(lambda d: d.rounded_rectangle([head[0] - 0.48 * h, head[1] - 0.1 * h, head[0] + 0.48 * h,
                                                    head[1] + 1.15 * h], radius=0.3 * h, fill=255), body.hair, HAIR)
    for side, leg in (("r", R_LEG), ("l", L_LEG)):
        ankle = p[f"{side}_ankle"]
        joints = [p[f"{side}_hip"] - (0, 0.3 * h), p[f"{side}_knee"], ankle, ankle + (0, 0.2 * h)]
        canvas.shape(lambda d: _limb(d, joints, (0.3 * h, 0.2 * h, 0.13 * h, 0.12 * h)), skin, leg)
    if bottom is not None and not tucked:
        canvas.wear(bottom, body, bottom.parts)
    for s, side, shoe in ((-1, "r", R_SHOE), (1, "l", L_SHOE)):
        centre = p[f"{side}_ankle"] + (s * 0.06 * h, 0.25 * h)
        canvas.shape(lambda d: d.ellipse(_ellipse(centre, 0.22 * h, 0.14 * h), fill=255), body.shoes, shoe)
    neck = p["neck"]
    canvas.shape(lambda d: d.polygon(_points([head + (-0.16 * h, 0.35 * h), head + (0.16 * h, 0.35 * h),
                                              neck + (0.45 * h, 0.45 * h), neck + (-0.45 * h, 0.45 * h)]), fill=255),
                 skin, NECK)
    arms = (("r", R_ARM), ("l", L_ARM))
    for side, label in arms:
        joints = [p[f"{side}_shoulder"], p[f"{side}_elbow"]]
        canvas.shape(lambda d: _limb(d, joints, (0.22 * h, 0.17 * h)), skin, label)
    canvas.wear(top, body, ["body"])
    if bottom is not None and tucked:
        canvas.wear(bottom, body, bottom.parts)
    canvas.wear(top, body, [name for name in top.parts if name.endswith("sleeve")])
    for side, label in arms:
        elbow, wrist = p[f"{side}_elbow"], p[f"{side}_wrist"]
        hand = wrist + 0.15 * h * (wrist - elbow) / np.hypot(*(wrist - elbow))

        def forearm(d):
            d.ellipse(_ellipse(elbow, 0.17 * h, 0.17 * h), fill=255)
            _limb(d, [elbow, wrist], (0.16 * h, 0.12 * h))
            d.ellipse(_ellipse(hand, 0.15 * h, 0.15 * h), fill=255)

        canvas.shape(forearm, skin, label)
    _draw_head(canvas, body)
    return canvas.rgb, canvas.parse


def _draw_head(canvas, body):
    """Hair, ears, face with eyes and mouth, then the fringe over the forehead."""
    h, p = body.h, body.points
    head = p["head"]
    hair = [head[0] - 0.45 * h, head[1] - 0.55 * h, head[0] + 0.45 * h, head[1] + 0.35 * h]
    canvas.shape(lambda d: d.ellipse(hair, fill=255), body.hair, HAIR)
    canvas.shape(lambda d: [d.ellipse(_ellipse(p[ear], 0.07 * h, 0.12 * h), fill=255) for ear in ("r_ear", "l_ear")]
                 + [d.ellipse(_ellipse(head, 0.36 * h, 0.47 * h), fill=255)], body.skin, FACE)
    dark = tuple(c // 4 for c in body.hair)
    canvas.shape(lambda d: [d.ellipse(_ellipse(p[eye], 0.045 * h, 0.03 * h), fill=255) for eye in ("r_eye", "l_eye")],
                 dark, FACE)
    canvas.shape(lambda d: d.ellipse(_ellipse(p["nose"] + (0, 0.17 * h), 0.1 * h, 0.025 * h), fill=255),
                 (170, 60, 60), FACE)
    fringe = _shape(canvas.size, lambda d: d.ellipse(hair, fill=255))
    fringe[max(0, int(head[1] - 0.22 * h)):] = False
    canvas.paint(fringe, body.hair, HAIR)


def body_joints(rng, body, size):
    """The 18 joints as (x, y, confidence); off-frame joints and now and then an ankle or ear are (0, 0, 0)."""
    height, width = size
    confidence = rng.uniform(0.45, 0.95, NUM_JOINTS)
    joints = np.zeros((NUM_JOINTS, 3))
    for i, name in enumerate(JOINTS):
        x, y = body.points[name]
        if 0 <= x <= width - 1 and 0 <= y <= height - 1:
            joints[i] = (x, y, confidence[i])
    if rng.random() < 0.3:
        joints[J[("r_ankle", "l_ankle", "r_ear", "l_ear")[rng.integers(4)]]] = 0
    return np.round(joints, 4)


def make_sample(rng, size, category="upper"):
    """A person wearing a textured garment of `category` ('upper', 'lower' or 'dress') and plain other clothes."""
    body = make_body(rng, size)
    if category == "upper":
        garment = make_garment(rng, "tshirt", size)
        top, bottom = garment, make_garment(rng, ("trousers", "skirt")[rng.integers(2)], size, plain=True)
    elif category == "lower":
        garment = make_garment(rng, ("trousers", "skirt")[rng.integers(2)], size)
        top, bottom = make_garment(rng, "tshirt", size, plain=True), garment
    else:
        garment = top = make_garment(rng, "dress", size)
        bottom = None
    person, parse = draw_person(body, size, top, bottom, tucked=category == "lower")
    return Sample(person, parse, body_joints(rng, body, size), garment.image, garment.mask)


# ---------------------------------------------------------------- writers


def _save(array, path, palette=None):
    image = Image.fromarray(array)
    if palette is not None:
        image.putpalette(palette)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jpg":
        image.save(path, quality=JPEG_QUALITY)
    else:
        image.save(path)


def _save_json(obj, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _save_pairs(path, pairs):
    path.write_text("".join(f"{a} {b}\n" for a, b in pairs))


def _unpaired(pairs):
    """Each person with the next pair's garment (another one's whenever there are two or more)."""
    return [(person, garment) for (person, _), (_, garment) in zip(pairs, pairs[1:] + pairs[:1])]


def _splits(n_train, n_test):
    return {"train": range(n_train), "test": range(n_train, n_train + n_test)}


def _mask_image(mask):
    return np.where(mask, np.uint8(255), np.uint8(0))


def _write_viton(root, rng, n_train, n_test, size):
    for split, ids in _splits(n_train, n_test).items():
        d, names = root / split, []
        for i in ids:
            s, name = make_sample(rng, size), f"{i:06d}"
            _save(s.person, d / "image" / f"{name}_0.jpg")
            _save(s.garment, d / "cloth" / f"{name}_1.jpg")
            _save(_mask_image(s.garment_mask), d / "cloth-mask" / f"{name}_1.jpg")
            _save(s.parse, d / "image-parse-new" / f"{name}_0.png")
            _save(LIP_TO_OLD_LIP[s.parse], d / "image-parse" / f"{name}_0.png", palette=LIP_PALETTE)
            _save(_mask_image(s.parse > 0), d / "image-mask" / f"{name}_0.png")
            person = {"face_keypoints": [], "pose_keypoints": s.joints.ravel().tolist(),
                      "hand_right_keypoints": [], "hand_left_keypoints": []}
            _save_json({"version": 1.0, "people": [person]}, d / "pose" / f"{name}_0_keypoints.json")
            names.append(name)
        pairs = [(f"{n}_0.jpg", f"{n}_1.jpg") for n in names]
        _save_pairs(root / f"{split}_pairs.txt", pairs)
        if split == "test":
            _save_pairs(root / "test_pairs_unpaired.txt", _unpaired(pairs))


def _body25(joints):
    """OpenPose BODY_25 (x, y, c) * 25 from the 18 COCO joints: mid-hip from the hips, no foot points."""
    out = np.zeros((25, 3))
    out[list(BODY25_TO_COCO18)] = joints
    hips = joints[[J["r_hip"], J["l_hip"]]]
    if (hips[:, 2] > 0).all():
        out[8] = (*hips[:, :2].mean(axis=0), hips[:, 2].min())
    return np.round(out, 4).ravel().tolist()


def _grow(mask, radius):
    """Binary dilation by a square of side 2 * radius + 1, one axis at a time."""
    for axis in (0, 1):
        n = mask.shape[axis]
        padded = np.pad(mask, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)])
        mask = np.logical_or.reduce([padded.take(range(k, k + n), axis=axis) for k in range(2 * radius + 1)])
    return mask


def agnostic(person, cihp_parse, radius):
    """VITON-HD agnostic person: upper clothes, arms and neck painted grey, grown by `radius`, head and legs kept."""
    grown = _grow(np.isin(cihp_parse, (5, 6, 7, 10, 14, 15)), radius)
    grown &= ~np.isin(cihp_parse, (1, 2, 4, 13, 9, 12, 16, 17, 18, 19))
    out = person.copy()
    out[grown] = GREY
    return out


def _write_viton_hd(root, rng, n_train, n_test, size):
    for split, ids in _splits(n_train, n_test).items():
        d, names = root / split, []
        for i in ids:
            s, name = make_sample(rng, size), f"{i:05d}_00"
            cihp = LIP_TO_CIHP[s.parse]
            _save(s.person, d / "image" / f"{name}.jpg")
            _save(s.garment, d / "cloth" / f"{name}.jpg")
            _save(_mask_image(s.garment_mask), d / "cloth-mask" / f"{name}.jpg")
            _save(cihp, d / "image-parse-v3" / f"{name}.png", palette=LIP_PALETTE)
            _save(agnostic(s.person, cihp, max(1, size[1] // 64)), d / "agnostic-v3.2" / f"{name}.jpg")
            person = {"person_id": [-1], "pose_keypoints_2d": _body25(s.joints), "face_keypoints_2d": [],
                      "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": [], "pose_keypoints_3d": [],
                      "face_keypoints_3d": [], "hand_left_keypoints_3d": [], "hand_right_keypoints_3d": []}
            _save_json({"version": 1.3, "people": [person]}, d / "openpose_json" / f"{name}_keypoints.json")
            names.append(f"{name}.jpg")
        pairs = list(zip(names, names))
        _save_pairs(root / f"{split}_pairs.txt", pairs if split == "train" else _unpaired(pairs))


def _write_dresscode(root, rng, n_train, n_test, size):
    height, width = size
    scale = np.array(DRESSCODE_POSE_SIZE) / (width, height)
    for c, (folder, category) in enumerate(DRESSCODE_CATEGORIES.items()):
        d, first = root / folder, c * (n_train + n_test)
        for split, ids in _splits(n_train, n_test).items():
            pairs = []
            for i in ids:
                s, name = make_sample(rng, size, category), f"{first + i:06d}"
                _save(s.person, d / "images" / f"{name}_0.jpg")
                _save(s.garment, d / "images" / f"{name}_1.jpg")
                _save(LIP_TO_DRESSCODE[s.parse], d / "label_maps" / f"{name}_4.png")
                rows = [[*np.round(joint[:2] * scale, 3).tolist(), float(joint[2] > 0), k]
                        for k, joint in enumerate(s.joints)]
                _save_json({"keypoints": rows}, d / "keypoints" / f"{name}_2.json")
                pairs.append((f"{name}_0.jpg", f"{name}_1.jpg"))
            d.mkdir(parents=True, exist_ok=True)
            if split == "train":
                _save_pairs(d / "train_pairs.txt", pairs)
            else:
                _save_pairs(d / "test_pairs_paired.txt", pairs)
                _save_pairs(d / "test_pairs_unpaired.txt", _unpaired(pairs))


WRITERS = {"viton": _write_viton, "viton_hd": _write_viton_hd, "dresscode": _write_dresscode}


def make_synthetic_dataset(root, layout="viton", n_train=8, n_test=4, height=256, width=192, seed=0):
    """Write a synthetic try-on dataset in `layout` under `root` (new or empty) and return the root.

    `n_train`/`n_test` count samples (per category for DressCode); the same arguments write the same bytes.
    """
    if layout not in WRITERS:
        raise TryOnError(f"Unknown dataset layout {layout!r}: choose one of {', '.join(LAYOUTS)}.")
    if height < MIN_SIZE[0] or width < MIN_SIZE[1]:
        raise TryOnError(f"Synthetic images must be at least {MIN_SIZE[0]}x{MIN_SIZE[1]} (height x width).")
    if n_train < 0 or n_test < 0:
        raise TryOnError("The numbers of train and test samples cannot be negative.")
    root = pathlib.Path(root)
    if root.is_dir() and any(root.iterdir()):
        raise TryOnError(f"{root} is not empty: synthetic data goes into a new or empty folder (nothing was changed)")
    root.mkdir(parents=True, exist_ok=True)
    WRITERS[layout](root, np.random.default_rng(seed), n_train, n_test, (height, width))
    return root

