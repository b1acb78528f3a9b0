"""The garment representation: a garment photo's mask, from its alpha channel or from its plain background."""
import numpy as np
from PIL import Image
from scipy import ndimage

from tryon.errors import TryOnError


def garment_mask(image: Image.Image, *, threshold: int = 18) -> np.ndarray:
    """Bool [H, W] mask of the garment in an RGB(A) product photo.

    With an alpha channel, the alpha (> 127). Otherwise the background colour is read from the image border and
    everything that differs from it by more than `threshold` (max over channels) is garment, with holes filled
    (white prints inside the garment stay garment) and specks removed. Raises TryOnError for a blank image.
    """
    a = np.asarray(image)
    if image.mode == "RGBA":
        mask = a[..., 3] > 127
        if not mask.all():
            return _clean(mask)
        a = a[..., :3]
    rgb = a.astype(np.int16)
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    background = np.median(border, axis=0)
    mask = np.abs(rgb - background).max(axis=-1) > threshold
    return _clean(mask)


def _clean(mask: np.ndarray) -> np.ndarray:
    mask = ndimage.binary_opening(mask, iterations=1)
    mask = ndimage.binary_fill_holes(mask)
    if mask.mean() < 0.01:
        raise TryOnError("the garment image looks blank: no garment could be told apart from its background")
    return mask
