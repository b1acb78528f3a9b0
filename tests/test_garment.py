import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tryon.errors import TryOnError
from tryon.preprocess.garment import garment_mask


def _shirt(size=(192, 256)) -> np.ndarray:
    """A T-shirt silhouette, bool [H, W]."""
    w, h = size
    im = Image.new("L", size, 0)
    d = ImageDraw.Draw(im)
    d.polygon([(0.3 * w, 0.1 * h), (0.7 * w, 0.1 * h), (0.95 * w, 0.3 * h), (0.85 * w, 0.42 * h), (0.75 * w, 0.35 * h),
               (0.75 * w, 0.92 * h), (0.25 * w, 0.92 * h), (0.25 * w, 0.35 * h), (0.15 * w, 0.42 * h),
               (0.05 * w, 0.3 * h)], fill=255)
    return np.asarray(im) > 127


def _photo(shape: np.ndarray, garment_rgb, background: np.ndarray, quality=90) -> Image.Image:
    """The shape in `garment_rgb` (with a little shading) over `background` [H, W, 3], through JPEG."""
    h, w = shape.shape
    shade = np.linspace(-4, 4, w)[None, :, None]
    rgb = np.where(shape[..., None], np.clip(np.asarray(garment_rgb, np.float32) + shade, 0, 255), background)
    buf = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_a_white_garment_on_white_keeps_its_mask():
    """Off-white (12 levels below the white background): a plain threshold at 18 found nothing at all here."""
    shape = _shirt()
    mask = garment_mask(_photo(shape, (243, 243, 243), np.full(shape.shape + (3,), 255.0)))
    assert _iou(mask, shape) > 0.95


def test_a_garment_on_a_soft_gradient_background():
    shape = _shirt()
    h, w = shape.shape
    background = np.repeat(np.linspace(200, 226, h)[:, None, None], w, 1).repeat(3, 2)  # a studio backdrop
    mask = garment_mask(_photo(shape, (60, 90, 160), background))
    assert _iou(mask, shape) > 0.95


def test_a_white_print_inside_the_garment_stays_garment():
    shape = _shirt()
    photo = np.array(_photo(shape, (30, 30, 30), np.full(shape.shape + (3,), 255.0)))
    photo[110:150, 80:112] = 255  # a white print, cut off from the background by the garment
    assert _iou(garment_mask(Image.fromarray(photo)), shape) > 0.95


def test_a_garment_cut_by_the_frame():
    shape = np.zeros((256, 192), bool)
    shape[:, 20:172] = True  # from the top edge to the bottom one
    mask = garment_mask(_photo(shape, (150, 40, 40), np.full((256, 192, 3), 245.0)))
    assert _iou(mask, shape) > 0.9


def test_alpha_is_the_mask_and_a_blank_image_is_refused():
    shape = _shirt()
    rgba = np.zeros(shape.shape + (4,), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = shape * 255
    assert _iou(garment_mask(Image.fromarray(rgba, "RGBA")), shape) > 0.98
    with pytest.raises(TryOnError, match="blank"):
        garment_mask(Image.new("RGB", (192, 256), (250, 250, 250)))


def test_viton_test_garments_match_their_masks(viton_root):
    """The dataset's own masks are wrong for a few garments, so the bar is on the mean and the median."""
    from tryon.data.layouts import read_dataset
    from tryon.preprocess.image_io import load_image, load_mask

    ious = []
    for pair in read_dataset(viton_root, "test")[::4]:
        cloth = load_image(pair.cloth, keep_alpha=True)
        ious.append(_iou(garment_mask(cloth), load_mask(pair.cloth_mask, expected_size=cloth.size)))
    assert np.mean(ious) > 0.94 and np.median(ious) > 0.98
