"""Framing: cut a person photo and a garment photo to the frame the models were trained on, and paste results back.

The numbers are measured on the VITON training data (256x192), so that a raw photo reaches the models framed as
their training photos were:
- person (402 photos, mediapipe pose): the neck-to-mid-hip distance is 0.469 of the frame height (median; the
  spread is about +-11%) and the torso's midpoint sits at 0.497 of the width and 0.559 of the height;
- garment (803 cloth masks): centred, and as large as fits (aspect kept) in 0.95 of the width and 0.96 of the
  height, on white.
A box is (left, top, right, bottom) in photo pixels, right and bottom exclusive; it may reach past the photo's
edges, where the crop repeats the edge pixels.
"""
import numpy as np
from PIL import Image
from scipy import ndimage

from tryon.data.labels import J
from tryon.errors import TryOnError

TORSO_HEIGHT = 0.469  # neck to mid-hip, as a fraction of the frame height
TORSO_CENTRE = (0.497, 0.559)  # the torso's midpoint, as fractions of the frame's width and height
GARMENT_FIT = (0.95, 0.96)  # the box (fractions of width and height) a garment is fit into
MIN_TORSO = 24  # pixels: a smaller person is too far away to render
KEEP_SCALE = 0.01  # a garment within 1% of the size it would be fit to is framed as it is, not resampled
MAX_SCALE = 4  # the try-on is rendered at the person crop's size in the photo, up to this many times the models'


def person_box(pose: np.ndarray, height: int, width: int) -> tuple[int, int, int, int]:
    """The box, of the models' aspect (`height` x `width`), that frames the person of `pose` ([18, 3], photo pixels)."""
    neck = (pose[J["l_shoulder"], :2] + pose[J["r_shoulder"], :2]) / 2
    hip = (pose[J["l_hip"], :2] + pose[J["r_hip"], :2]) / 2
    torso = float(np.hypot(*(neck - hip)))
    if torso < MIN_TORSO:
        raise TryOnError("the person is too small in the photo: use a photo taken closer, showing them from the "
                         "head to at least the hips")
    box_h = torso / TORSO_HEIGHT
    box_w = box_h * width / height
    cx, cy = (neck + hip) / 2
    left = round(cx - TORSO_CENTRE[0] * box_w)
    top = round(cy - TORSO_CENTRE[1] * box_h)
    return left, top, left + round(box_w), top + round(box_h)


# Full-body framing (lower-body and dress garments), in torso lengths (neck to mid-hip) of a standing adult.
HEAD_ABOVE_NECK = 0.6  # the top of the head above the neck
FEET_BELOW_HIP = 1.75  # the soles below the mid-hip, when the photo shows no ankle
SOLE_BELOW_ANKLE = 0.15
FULL_MARGIN = 0.04  # of the box's height, above the head and below the feet


def full_body_box(pose: np.ndarray, height: int, width: int) -> tuple[int, int, int, int]:
    """The box, of the models' aspect, that frames the person of `pose` from the head to the feet (the lowest ankle
    seen, or where the feet of a standing person would be); never tighter than `person_box`."""
    upper = person_box(pose, height, width)  # also refuses a person too small to render
    neck = (pose[J["l_shoulder"], :2] + pose[J["r_shoulder"], :2]) / 2
    hip = (pose[J["l_hip"], :2] + pose[J["r_hip"], :2]) / 2
    torso = float(np.hypot(*(neck - hip)))
    ankles = [pose[J[name], 1] for name in ("l_ankle", "r_ankle") if pose[J[name], 2] > 0]
    head = neck[1] - HEAD_ABOVE_NECK * torso
    feet = max(ankles) + SOLE_BELOW_ANKLE * torso if ankles else hip[1] + FEET_BELOW_HIP * torso
    box_h = max((feet - head) / (1 - 2 * FULL_MARGIN), upper[3] - upper[1])
    box_w = box_h * width / height
    left = round((neck[0] + hip[0]) / 2 - box_w / 2)
    top = round(head - FULL_MARGIN * box_h)
    return left, top, left + round(box_w), top + round(box_h)


def category_box(pose: np.ndarray, category: str, height: int, width: int) -> tuple[int, int, int, int]:
    """The box for a garment of `category`: head to hips for a top, head to feet for a lower-body garment or a
    dress (whose try-on needs the legs)."""
    return person_box(pose, height, width) if category == "upper" else full_body_box(pose, height, width)


def crop(image: Image.Image, box, height: int, width: int) -> Image.Image:
    """The `box` of an RGB photo (edge pixels repeated outside it), resized to `width` x `height`."""
    left, top, right, bottom = box
    W, H = image.size
    inner = image.crop((max(left, 0), max(top, 0), min(right, W), min(bottom, H)))
    pad = ((max(0, -top), max(0, bottom - H)), (max(0, -left), max(0, right - W)), (0, 0))
    if any(p for side in pad for p in side):
        inner = Image.fromarray(np.pad(np.asarray(inner), pad, mode="edge"))
    return inner.resize((width, height), Image.BICUBIC, reducing_gap=3.0)


def crop_map(values: np.ndarray, box, height: int, width: int, resample=Image.NEAREST) -> np.ndarray:
    """A map over a photo ([h, w] uint8 labels, or float32 such as a mask's probabilities), cut to `box` (in the
    map's own pixels, fractions allowed) as `crop` cuts the photo, edges repeated past it; resized to `width` x
    `height` by `resample` (NEAREST keeps labels whole)."""
    left, top, right, bottom = box
    pad = int(np.ceil(max(0, -left, -top, right - values.shape[1], bottom - values.shape[0]))) + 1
    padded = Image.fromarray(np.pad(values, pad, mode="edge"))
    return np.asarray(padded.resize((width, height), resample, box=(left + pad, top + pad, right + pad, bottom + pad)))


def pose_in_box(pose: np.ndarray, box, height: int, width: int) -> np.ndarray:
    """Joints in photo pixels -> in the pixels of the box resized to `width` x `height` (missing joints stay zero)."""
    left, top, right, bottom = box
    out = pose.astype(np.float32).copy()
    seen = out[:, 2] > 0
    out[seen, 0] = (out[seen, 0] - left) * width / (right - left)
    out[seen, 1] = (out[seen, 1] - top) * height / (bottom - top)
    return out


def frame_garment(image: Image.Image, mask: np.ndarray, height: int, width: int,
                  extend: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """An RGB garment photo and its bool mask -> the garment centred and fit like the training garments, on white.

    With `extend`, the pixels off the garment take the colour of the garment next to them instead of white (see
    `extend_colours`), so that resampling the frame (warping it at a photo's resolution) never blends the background
    into the garment's edge: no light fringe where the try-on shows it (the mask says where the garment ends).
    A garment within KEEP_SCALE of the size it is fit to keeps its pixels as they are (a resampling by a hair, as
    `garment_frame_size`'s rounding asks, would blur them by up to half a pixel).
    Returns ([height, width, 3] uint8, [height, width] bool).
    """
    y0, y1, x0, x1 = extent(mask)
    rgb = np.array(image.crop((x0, y0, x1, y1)).convert("RGB"))
    m = mask[y0:y1, x0:x1]
    if extend:
        rgb = extend_colours(rgb, m)
    else:
        rgb[~m] = 255
    scale = min(GARMENT_FIT[0] * width / (x1 - x0), GARMENT_FIT[1] * height / (y1 - y0))
    if abs(scale - 1) < KEEP_SCALE:
        scale = 1.0
    w, h = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
    if (h, w) != m.shape:
        rgb = np.asarray(Image.fromarray(rgb).resize((w, h), Image.BICUBIC, reducing_gap=3.0))
        m = np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((w, h), Image.BILINEAR,
                                                                         reducing_gap=3.0)) > 127
    left, top = (width - w) // 2, (height - h) // 2
    out_mask = np.zeros((height, width), bool)
    out_mask[top:top + h, left:left + w] = m
    if extend:
        return np.pad(rgb, ((top, height - top - h), (left, width - left - w), (0, 0)), mode="edge"), out_mask
    out = np.full((height, width, 3), 255, np.uint8)
    out[top:top + h, left:left + w] = np.where(m[..., None], rgb, 255)
    return out, out_mask


def extent(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), bottom and right exclusive, of a bool mask's on pixels (some are on)."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


FILL_CELL = 4  # pixels: `extend_colours` runs the garment's colours past its edge in cells of this side


def extend_colours(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[h, w, 3] uint8 with the pixels off `mask` ([h, w] bool, some on) coloured like the garment next to them:
    in each FILL_CELL-pixel cell the garment reaches, the mean colour of its garment pixels; in every other cell,
    that of the nearest cell it reaches. The garment's own pixels are kept exactly.

    The nearest colour at the cells' scale, not each pixel's: a resampling kernel reading a few pixels past the
    edge sees the garment's colours all the same, for a fraction of the cost of a per-pixel distance transform."""
    h, w = mask.shape
    image, alpha = Image.fromarray(rgb), Image.fromarray(mask.astype(np.uint8) * 255)
    rgba = image.copy()
    rgba.putalpha(alpha)
    cells = np.asarray(rgba.convert("RGBa").reduce(FILL_CELL).convert("RGBA"))  # mean of the garment pixels
    nearest = ndimage.distance_transform_edt(cells[..., 3] == 0, return_distances=False, return_indices=True)
    fill = Image.fromarray(np.ascontiguousarray(cells[..., :3][nearest[0], nearest[1]]))
    fill = fill.resize((w, h), Image.NEAREST, box=(0, 0, w / FILL_CELL, h / FILL_CELL))
    return np.asarray(Image.composite(image, fill, alpha))


def garment_frame_size(mask: np.ndarray, height: int, width: int, max_scale: int = MAX_SCALE) -> tuple[int, int]:
    """The frame (height, width), of the models' aspect, in which the garment of `mask` keeps its own pixel size
    (no upsampling), between the models' size and `max_scale` times it: the garment's full-resolution frame."""
    y0, y1, x0, x1 = extent(mask)
    own = max((y1 - y0) / GARMENT_FIT[1], (x1 - x0) / GARMENT_FIT[0] * height / width)
    frame_h = int(np.clip(np.ceil(own), height, max_scale * height))
    return frame_h, round(frame_h * width / height)


def render_size(box, size: tuple[int, int], max_scale: int = MAX_SCALE) -> tuple[int, int]:
    """The (height, width) a person crop is rendered at: the `box`'s own size in the photo, at most `max_scale`
    times the models' `size` (height, width) in height (the aspect kept): larger photos are rendered at that and
    resized when pasted."""
    left, top, right, bottom = box
    h, w = bottom - top, right - left
    if h > max_scale * size[0]:
        h, w = max_scale * size[0], max(1, round(w * max_scale * size[0] / h))
    return h, w


def soft_mask(mask: np.ndarray, grow: int) -> np.ndarray:
    """A bool mask grown by `grow` pixels and feathered over about `grow` more: float32 in [0, 1], exactly 0 beyond."""
    grown = ndimage.binary_dilation(mask, iterations=grow) if grow > 0 else mask
    return np.clip(ndimage.gaussian_filter(grown.astype(np.float32), sigma=grow / 2, truncate=2.0), 0, 1)


def paste(photo: Image.Image, box, image: np.ndarray, alpha: np.ndarray) -> Image.Image:
    """Blend `image` ([h, w, 3] uint8, the box at any size) into `photo` where `alpha` ([h', w'] in [0, 1], the
    box at any size) is on.

    Both are resized to the box (an image at the box's own size is taken as it is); outside it, and wherever alpha
    is 0, the photo keeps its pixels exactly.
    """
    left, top, right, bottom = box
    W, H = photo.size
    inner = (max(left, 0), max(top, 0), min(right, W), min(bottom, H))
    size = (inner[2] - inner[0], inner[3] - inner[1])

    def source(shape):  # the part of the box inside the photo, in the pixels of an array of `shape`
        sx, sy = shape[1] / (right - left), shape[0] / (bottom - top)
        return (inner[0] - left) * sx, (inner[1] - top) * sy, (inner[2] - left) * sx, (inner[3] - top) * sy

    if image.shape[:2] == (bottom - top, right - left):
        rendered = image[inner[1] - top:inner[3] - top, inner[0] - left:inner[2] - left].astype(np.float32)
    else:
        rendered = np.asarray(Image.fromarray(image).resize(size, Image.BICUBIC, box=source(image.shape)),
                              dtype=np.float32)
    a = np.asarray(Image.fromarray(alpha.astype(np.float32), "F").resize(size, Image.BILINEAR,
                                                                         box=source(alpha.shape)))[..., None]
    out = np.array(photo)
    region = out[inner[1]:inner[3], inner[0]:inner[2]].astype(np.float32)
    blended = region * (1 - a) + rendered * a
    out[inner[1]:inner[3], inner[0]:inner[2]] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(out)
