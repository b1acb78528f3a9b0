"""The body parse kept on the person: background can never become clothing.

mediapipe's pose segmentation (tryon.preprocess.pose) finds the person on any photo; the parser, trained on a few
thousand photos, can still take a railing, a wall or a bag on a bench for clothing or hair. Outside the person's
mask (probability PERSON_THRESHOLD or more), grown by GROW of the crop's height for what the mask's soft edge
misses (loose hair, a coat's hem), every label becomes background.
"""
import numpy as np
from PIL import Image
from scipy import ndimage

from tryon.data.labels import P
from tryon.preprocess.framing import crop_map

PERSON_THRESHOLD = 0.3
GROW = 1 / 64  # of the crop's height


def crop_person_mask(mask: np.ndarray, photo_size: tuple[int, int], box, height: int, width: int) -> np.ndarray:
    """The person mask of a whole photo ([h, w] probabilities at any scale of the photo's (W, H) `photo_size`) cut
    to a person `box` in photo pixels, as tryon.preprocess.framing.crop cuts the photo (edges repeated outside it):
    bool [height, width]."""
    scale_x, scale_y = mask.shape[1] / photo_size[0], mask.shape[0] / photo_size[1]
    box = (box[0] * scale_x, box[1] * scale_y, box[2] * scale_x, box[3] * scale_y)
    return crop_map(mask.astype(np.float32), box, height, width, Image.BILINEAR) >= PERSON_THRESHOLD


def keep_on_person(labels: np.ndarray, person: np.ndarray) -> np.ndarray:
    """Parse labels [H, W] with every pixel outside the grown person mask `person` (bool [H, W]) set to background."""
    grown = ndimage.binary_dilation(person, iterations=max(1, round(labels.shape[0] * GROW)))
    return np.where(grown, labels, P["background"]).astype(labels.dtype)
