"""The garment representation: a garment photo's mask, from its alpha channel or from its plain background."""
import numpy as np
from PIL import Image
from scipy import ndimage

from tryon.errors import TryOnError

MIN_TOLERANCE = 5  # colour levels (max over channels): a white garment is often only 10-15 levels off a white background
FAR = 18  # colour levels: a pixel this far from the background colour is garment wherever it is


def garment_mask(image: Image.Image) -> np.ndarray:
    """Bool [H, W] mask of the garment in an RGB(A) product photo.

    With an alpha channel, the alpha (> 127). Otherwise the background is what reaches the image border through
    pixels close to the border's median colour: within MIN_TOLERANCE levels (max over channels), or more where the
    border itself varies more (JPEG noise, a soft gradient), so that a white garment on white keeps its mask as
    long as an edge, however faint, sets it apart. The rest is garment, and so is every pixel FAR or more from the
    background colour (a garment cut by the frame, whose border is no plain background), with holes filled (white
    prints inside the garment stay garment), specks removed and the one-pixel halo of its edge taken off. Raises
    TryOnError for a blank image.
    """
    a = np.asarray(image)
    if image.mode == "RGBA" and (a[..., 3] <= 127).any():
        mask = ndimage.binary_fill_holes(ndimage.binary_opening(a[..., 3] > 127, iterations=1))
    else:
        mask = _off_background(a[..., :3].astype(np.int16))
    if mask.mean() < 0.01:
        raise TryOnError("the garment image looks blank: no garment could be told apart from its background")
    return mask


def _off_background(rgb: np.ndarray) -> np.ndarray:
    """What the border's background colour does not reach, and what is far from it: the garment, its holes filled
    (the erosion that takes off the edge's halo opens none)."""
    background = np.median(_border(rgb), axis=0)
    distance = np.abs(rgb - background).max(axis=-1)
    tolerance = max(MIN_TOLERANCE, np.percentile(_border(distance), 98) + 2)
    regions, _ = ndimage.label(distance <= tolerance)
    at_border = np.unique(_border(regions))
    mask = ndimage.binary_opening(~np.isin(regions, at_border[at_border > 0]) | (distance > FAR), iterations=1)
    return ndimage.binary_erosion(ndimage.binary_fill_holes(mask), iterations=1)


def _border(a: np.ndarray) -> np.ndarray:
    """The values along the four edges of an [H, W, ...] array, one after another."""
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
