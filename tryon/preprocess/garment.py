"""The garment representation: a garment photo's mask, from its alpha channel, its plain background, or the
garment segmenter (a photo on a floor, a bed, a carpet or a hanger)."""
import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage

from tryon.errors import TryOnError

MIN_TOLERANCE = 5  # colour levels (max over channels): a white garment is often only 10-15 levels off a white background
FAR = 18  # colour levels: a pixel this far from the background colour is garment wherever it is
PLAIN_BORDER = 18  # colour levels: a border three quarters of whose pixels are this close to its median colour is plain
PLAIN_SHARE = 75  # percent: the rest of the border may be the garment itself, cut by the frame
SEGMENT_HEIGHT = 256  # the segmenter reads the photo at this height (its width in proportion, a multiple of 32)
MAX_OTHER = 0.25  # garment pixels outside the largest piece, as a share of it, beyond which no single garment is seen
MAX_COVER = 0.9  # of the photo: a garment mask larger than this has found no background
REFINE_KEEP = 0.45  # a GrabCut mask keeping less than this share of the segmenter's is a colour model gone wrong
PRINT_EDGE = 24.0  # luma levels per pixel (Sobel, normalised): an edge this strong inside a garment is a print's
PRINT_MARGIN = 4  # pixels (at 256x192) along the garment's outline where no edge counts as a print
PRINT_GROW = 6  # pixels: a print's edges grown by this much cover its letters and the fabric between them
PRINT_SOFTEN = 3.0  # pixels: the Gaussian that softens the print region's edge


def garment_mask(image: Image.Image, segmenter=None) -> np.ndarray:
    """Bool [H, W] mask of the garment in an RGB(A) garment photo.

    With an alpha channel, the alpha (> 127). On a plain background (the border's colours within PLAIN_BORDER
    levels of their median), or without a `segmenter`, the background rule below. Otherwise the segmenter (a
    HumanParser with two labels, tryon.training.stages.GarmentStage) cuts the garment out (`segment_garment`).

    The background rule: the background is what reaches the image border through
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
    elif segmenter is None or is_plain_background(a[..., :3]):
        mask = _off_background(a[..., :3].astype(np.int16))
    else:
        return segment_garment(segmenter, image)
    if mask.mean() < 0.01:
        raise TryOnError("the garment image looks blank: no garment could be told apart from its background")
    return mask


def is_plain_background(rgb: np.ndarray) -> bool:
    """Whether an [H, W, 3] photo's border is mostly one plain colour (a product shot, the garment perhaps touching
    the frame), up to noise and a soft gradient: on VITON's 400 test garments all are, of the 421 CC0 phone photos
    on floors and beds about one in twenty."""
    border = _border(rgb.astype(np.int16))
    spread = np.abs(border - np.median(border, axis=0)).max(axis=-1)
    return float(np.percentile(spread, PLAIN_SHARE)) <= PLAIN_BORDER


@torch.inference_mode()
def segment_garment(segmenter, image: Image.Image) -> np.ndarray:
    """The garment segmenter's mask of a garment photo (bool [H, W] at its size): its largest garment piece, the
    edge settled by the photo's colours (`refine_cutout`), holes filled. Raises TryOnError when no single garment
    stands out from the background."""
    rgb = image.convert("RGB")
    width = int(np.clip(round(SEGMENT_HEIGHT * rgb.width / rgb.height / 32) * 32, 96, 4 * SEGMENT_HEIGHT))
    small = np.asarray(rgb.resize((width, SEGMENT_HEIGHT), Image.BILINEAR, reducing_gap=3.0))
    x = torch.from_numpy(small.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1)[None]
    seen = segmenter.predict(x.to(segmenter.device, segmenter.dtype))[0].cpu().numpy() == 1
    pieces, n = ndimage.label(seen)
    sizes = np.bincount(pieces.ravel(), minlength=n + 1)[1:]
    if n == 0 or sizes.max() < 0.02 * seen.size:
        raise TryOnError("no garment could be found in the garment photo: photograph one garment, laid flat or "
                         "hung, filling most of the picture")
    largest = int(np.argmax(sizes)) + 1
    if (sizes.sum() - sizes.max()) > MAX_OTHER * sizes.max():
        raise TryOnError("no single garment could be separated in the garment photo (it shows several things "
                         "apart): photograph one garment on its own")
    cut = refine_cutout(small, ndimage.binary_fill_holes(pieces == largest))
    mask = F.interpolate(torch.from_numpy(cut.astype(np.float32))[None, None], size=(rgb.height, rgb.width),
                         mode="bilinear", align_corners=False)[0, 0].numpy() > 0.5
    mask = ndimage.binary_fill_holes(mask)
    if mask.mean() > MAX_COVER:
        raise TryOnError("the garment could not be told apart from its background: leave some floor or wall "
                         "around it in the photo")
    return mask


def refine_cutout(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The segmenter's garment mask `mask` (bool [H, W]) of the photo `rgb` ([H, W, 3] uint8, same size), cleaned
    by colour: GrabCut (OpenCV) learns colour models of the garment (inside the mask) and the background (outside
    it) and labels every pixel of the mask again. The segmenter often takes in the floor or sheet between a pair
    of trousers' legs, or paper or a cushion beside a garment, and is sure of it (probabilities above 0.99, so
    keeping its sure pixels would keep those); they differ in colour from the garment, and this takes them out.
    It only takes pixels away: let to grow, it reaches into a background of the garment's colours. The largest
    piece left is returned, or the mask as given when that piece keeps less than REFINE_KEEP of it (a white
    garment on a white sheet: the colour models overlap; a stripe of the background's colour across the garment:
    it falls apart) or when the mask leaves no background to learn from. On the synthetic test photos, whose
    drawn backgrounds often share the garment's colours, it costs a little (`tryon evaluate-garments`: mean IoU
    0.923 -> 0.912; at 0.9 or more: 82% -> 80%)."""
    if not mask.any() or mask.all():
        return mask
    labels = np.where(mask, cv2.GC_PR_FGD, cv2.GC_BGD).astype(np.uint8)
    cv2.setRNGSeed(0)
    cv2.grabCut(np.ascontiguousarray(rgb[..., ::-1]), labels, None, np.zeros((1, 65)), np.zeros((1, 65)), 5,
                cv2.GC_INIT_WITH_MASK)
    pieces, n = ndimage.label(mask & (labels == cv2.GC_PR_FGD))
    if n == 0:
        return mask
    cut = pieces == int(np.argmax(np.bincount(pieces.ravel())[1:])) + 1
    return cut if (cut & mask).sum() >= REFINE_KEEP * mask.sum() else mask


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


def print_region(cloth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Float32 [H, W] in [0, 1]: where a framed garment (RGB [H, W, 3] uint8 at the models' size, its bool mask)
    carries a print, lettering, a logo or stripes: strong edges (PRINT_EDGE) inside it, away from its outline,
    grown to cover the letters and the cloth between them (PRINT_GROW) and softened (PRINT_SOFTEN). 0 on plain
    fabric and along the outline. Scaled by the garment's size at 256x192: PRINT_* are pixels there."""
    scale = cloth.shape[0] / 256
    luma = cloth.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    edges = np.hypot(ndimage.sobel(luma, 0), ndimage.sobel(luma, 1)) / 8
    inside = ndimage.binary_erosion(mask, iterations=max(1, round(PRINT_MARGIN * scale)))
    prints = ndimage.binary_dilation((edges > PRINT_EDGE) & inside, iterations=max(1, round(PRINT_GROW * scale)))
    return ndimage.gaussian_filter((prints & inside).astype(np.float32), PRINT_SOFTEN * scale)
