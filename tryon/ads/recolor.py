"""Colour variants: a garment recoloured to a target colour inside its mask, keeping texture, print and shading.

In CIELAB every garment pixel is moved by the same offset, the one that takes the garment's median colour to the
target: lightness and chroma differences between pixels (shading, stripes, text) are kept, only the base colour
changes. Near-white and near-black print (white text on a red tee, black ink) is not the garment's colour and stays
as it is, unless the garment itself is that light or dark. Pixels outside the mask are returned untouched.
"""
import numpy as np
from PIL import Image

from tryon.ads.colors import lab_to_rgb, parse_color, rgb_to_lab
from tryon.preprocess.garment import garment_mask


def recolor(image: Image.Image, target, mask: np.ndarray | None = None) -> Image.Image:
    """`image` (RGB or RGBA) with its garment recoloured to `target` (a colour name, hex code or RGB triple).

    `mask` defaults to `garment_mask(image)`; alpha, if any, is kept.
    """
    rgb_target = parse_color(target)[1] if isinstance(target, str) else tuple(target)
    if mask is None:
        mask = garment_mask(image)
    pixels = np.asarray(image)
    rgb = pixels[..., :3]
    lab = rgb_to_lab(rgb[mask])
    base = np.median(lab, axis=0)
    offset = rgb_to_lab(rgb_target) - base
    weight = 1.0 - np.maximum(_print_weight(lab, base, white=True), _print_weight(lab, base, white=False))
    new = lab_to_rgb(lab + weight[:, None] * offset)
    out = pixels.copy()
    out[..., :3][mask] = np.clip(np.round(new), 0, 255).astype(np.uint8)
    return Image.fromarray(out, image.mode)


def _ramp(x, lo, hi):
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def _print_weight(lab: np.ndarray, base: np.ndarray, *, white: bool) -> np.ndarray:
    """0-1: how much a pixel is near-white (or near-black) neutral print on a garment that is not itself so."""
    lightness, chroma = lab[:, 0], np.hypot(lab[:, 1], lab[:, 2])
    neutral = 1.0 - _ramp(chroma, 8.0, 20.0)
    if white:
        extreme, garment_is_extreme = _ramp(lightness, 85.0, 95.0), base[0] > 80.0
    else:
        extreme, garment_is_extreme = 1.0 - _ramp(lightness, 8.0, 20.0), base[0] < 25.0
    return np.zeros(len(lab)) if garment_is_extreme else extreme * neutral
