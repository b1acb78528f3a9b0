"""Colours: fashion colour names <-> sRGB, CIELAB, CIEDE2000 distance, and a garment's dominant colours."""
import re

import numpy as np
from PIL import Image

from tryon.errors import TryOnError
from tryon.preprocess.garment import garment_mask

# Common fashion colour names (sRGB). A name is what a shopper writes in a profile and what a reason says.
COLORS = {
    "black": (20, 20, 20), "charcoal": (54, 69, 79), "grey": (128, 128, 128), "silver": (192, 192, 192),
    "white": (250, 250, 250), "ivory": (255, 250, 235), "cream": (245, 236, 206), "beige": (222, 203, 164),
    "camel": (193, 154, 107), "khaki": (195, 176, 145), "tan": (210, 180, 140), "brown": (110, 70, 40),
    "chocolate": (75, 45, 30), "burgundy": (128, 0, 32), "maroon": (110, 20, 30), "red": (200, 30, 35),
    "coral": (255, 120, 90), "rust": (183, 65, 14), "orange": (240, 130, 20), "mustard": (215, 170, 40),
    "yellow": (250, 220, 50), "olive": (110, 110, 40), "khaki green": (138, 134, 93), "green": (40, 140, 60),
    "emerald": (0, 150, 100), "mint": (160, 225, 190), "teal": (0, 128, 128), "turquoise": (64, 200, 200),
    "sky blue": (135, 195, 235), "blue": (40, 80, 200), "royal blue": (50, 70, 180), "cobalt": (0, 71, 171),
    "denim": (70, 100, 140), "navy": (25, 35, 80), "lavender": (190, 170, 220), "lilac": (200, 160, 210),
    "purple": (110, 50, 140), "plum": (95, 40, 80), "magenta": (200, 30, 140), "fuchsia": (230, 60, 170),
    "pink": (240, 150, 180), "blush": (235, 195, 190), "dusty rose": (200, 140, 140),
}
ALIASES = {"gray": "grey", "off white": "ivory", "off-white": "ivory", "wine": "burgundy", "bordeaux": "burgundy",
           "light blue": "sky blue", "dark blue": "navy", "navy blue": "navy", "violet": "purple", "gold": "mustard"}
_HEX = re.compile(r"#?([0-9a-f]{6}|[0-9a-f]{3})")


def parse_color(value) -> tuple[str, tuple[int, int, int]]:
    """(name, rgb) for a colour name (case and spaces ignored) or a hex code (#1f2a44, #f00: named after the
    nearest colour in COLORS); else TryOnError."""
    text = re.sub(r"[\s_]+", " ", str(value).strip().lower())
    text = ALIASES.get(text, text)
    if text in COLORS:
        return text, COLORS[text]
    m = _HEX.fullmatch(text)
    if m:
        h = m.group(1) if len(m.group(1)) == 6 else "".join(c * 2 for c in m.group(1))
        rgb = tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))
        return color_name(rgb), rgb
    raise TryOnError(f"unknown colour {value!r}: use a hex code such as #1f2a44 or a name such as "
                     f"{', '.join(list(COLORS)[:8])}, ...")


def _linear(rgb) -> np.ndarray:
    """sRGB 0-255 -> linear light 0-1."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    return np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)


def contrast(a, b) -> float:
    """WCAG contrast ratio (1-21) between two sRGB colours."""
    la, lb = sorted((float(_linear(a) @ [0.2126, 0.7152, 0.0722]), float(_linear(b) @ [0.2126, 0.7152, 0.0722])))[::-1]
    return (la + 0.05) / (lb + 0.05)


def rgb_to_lab(rgb) -> np.ndarray:
    """sRGB (0-255, any shape [..., 3]) -> CIELAB (D65)."""
    xyz = _linear(rgb) @ np.array([[0.4124564, 0.2126729, 0.0193339],
                        [0.3575761, 0.7151522, 0.1191920],
                        [0.1804375, 0.0721750, 0.9503041]]) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def lab_to_rgb(lab) -> np.ndarray:
    """CIELAB (D65, [..., 3]) -> sRGB as float 0-255, clipped to the gamut."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    xyz = np.where(f > 6 / 29, f ** 3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * np.array([0.95047, 1.0, 1.08883])
    c = xyz @ np.array([[3.2404542, -0.9692660, 0.0556434],
                        [-1.5371385, 1.8760108, -0.2040259],
                        [-0.4985314, 0.0415560, 1.0572252]])
    c = np.clip(c, 0.0, 1.0)
    c = np.where(c > 0.0031308, 1.055 * c ** (1 / 2.4) - 0.055, 12.92 * c)
    return c * 255.0


def delta_e(lab1, lab2) -> np.ndarray:
    """CIEDE2000 colour difference between CIELAB colours (broadcasting); about 2 is just noticeable."""
    lab1, lab2 = np.broadcast_arrays(np.asarray(lab1, np.float64), np.asarray(lab2, np.float64))
    L1, a1, b1 = np.moveaxis(lab1, -1, 0)
    L2, a2, b2 = np.moveaxis(lab2, -1, 0)
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean ** 7 / (c_mean ** 7 + 25.0 ** 7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0, dh)
    dL, dC = L2 - L1, c2p - c1p
    dH = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    L_mean, c_mean_p = (L1 + L2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_mean = np.where(np.abs(h1p - h2p) > 180, np.where(h_sum < 360, h_sum + 360, h_sum - 360), h_sum) / 2
    h_mean = np.where(c1p * c2p == 0, h_sum, h_mean)
    t = (1 - 0.17 * np.cos(np.radians(h_mean - 30)) + 0.24 * np.cos(np.radians(2 * h_mean))
         + 0.32 * np.cos(np.radians(3 * h_mean + 6)) - 0.20 * np.cos(np.radians(4 * h_mean - 63)))
    s_l = 1 + 0.015 * (L_mean - 50) ** 2 / np.sqrt(20 + (L_mean - 50) ** 2)
    s_c = 1 + 0.045 * c_mean_p
    s_h = 1 + 0.015 * c_mean_p * t
    r_t = (-2 * np.sqrt(c_mean_p ** 7 / (c_mean_p ** 7 + 25.0 ** 7))
           * np.sin(np.radians(60 * np.exp(-(((h_mean - 275) / 25) ** 2)))))
    return np.sqrt((dL / s_l) ** 2 + (dC / s_c) ** 2 + (dH / s_h) ** 2 + r_t * (dC / s_c) * (dH / s_h))


_NAMES = list(COLORS)
_NAME_LAB = rgb_to_lab(np.array([COLORS[n] for n in _NAMES]))


def color_name(rgb) -> str:
    """The nearest name in `COLORS` (by CIEDE2000)."""
    return _NAMES[int(np.argmin(delta_e(rgb_to_lab(rgb), _NAME_LAB)))]


def dominant_colors(image: Image.Image, mask: np.ndarray | None = None, *, k: int = 4, min_share: float = 0.05,
                    max_side: int = 128) -> list[tuple[tuple[int, int, int], float]]:
    """The main colours of a garment as [(rgb, share)], largest share first, from its pixels inside its mask.

    k-means in CIELAB (deterministic: farthest-point start from the median colour) over the garment's pixels,
    on a copy at most `max_side` pixels wide; clusters within deltaE 8 are merged, those under `min_share` dropped.
    `mask` defaults to `garment_mask(image)` and is resized with the image.
    """
    image = image.convert("RGB")
    if mask is None:
        mask = garment_mask(image)
    scale = min(1.0, max_side / max(image.size))
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.BILINEAR)
        mask = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.NEAREST)) > 127
    lab = rgb_to_lab(np.asarray(image))[mask]
    if len(lab) == 0:
        raise TryOnError("the garment mask is empty: no colours to measure")
    centres = _kmeans(lab, k)
    labels = np.argmin(((lab[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    clusters = [(lab[labels == i].mean(0), float((labels == i).mean())) for i in range(len(centres)) if (labels == i).any()]
    clusters = _merge(sorted(clusters, key=lambda c: -c[1]))
    out = [(tuple(int(round(v)) for v in lab_to_rgb(c)), share) for c, share in clusters if share >= min_share]
    return out or [(tuple(int(round(v)) for v in lab_to_rgb(clusters[0][0])), clusters[0][1])]


def _kmeans(lab: np.ndarray, k: int, iterations: int = 12) -> np.ndarray:
    centres = [np.median(lab, axis=0)]
    for _ in range(1, k):
        d = np.min([((lab - c) ** 2).sum(-1) for c in centres], axis=0)
        if d.max() < 1.0:
            break
        centres.append(lab[int(np.argmax(d))])
    centres = np.array(centres)
    for _ in range(iterations):
        labels = np.argmin(((lab[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        centres = np.array([lab[labels == i].mean(0) if (labels == i).any() else centres[i] for i in range(len(centres))])
    return centres


def _merge(clusters):
    """Fold each cluster into an earlier (larger) one within deltaE 8, weighting the centres by share."""
    merged = []
    for centre, share in clusters:
        for i, (c, s) in enumerate(merged):
            if delta_e(c, centre) < 8:
                merged[i] = ((c * s + centre * share) / (s + share), s + share)
                break
        else:
            merged.append((centre, share))
    return sorted(merged, key=lambda c: -c[1])
