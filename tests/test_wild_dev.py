"""wild-dev's detail measure (tryon.wild_dev.detail_ratios) on a synthetic striped garment shrunk 4x by the warp."""
import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from tryon.data.dataset import to_tensor
from tryon.models.warp import warp
from tryon.pipeline import shrink_for_grid
from tryon.wild_dev import detail_ratios

SIZE = (96, 72)  # the try-on crop; the garment frame is 4x larger


def _striped_garment() -> np.ndarray:
    y, x = np.mgrid[:4 * SIZE[0], :4 * SIZE[1]]
    stripes = (((x + 2 * y) // 3) % 2) * 200 + 30  # 3-pixel diagonal stripes: finer than the crop can hold
    coarse = ((y // 40) % 2) * 60  # and bands it can
    return np.repeat(np.clip(stripes + coarse - 30, 0, 255)[..., None], 3, axis=2).astype(np.uint8)


def _as_uint8(t: torch.Tensor) -> np.ndarray:
    return ((t[0].clamp(-1, 1) + 1) * 127.5).permute(1, 2, 0).round().numpy().astype(np.uint8)


def test_the_antialiased_ratio_scores_a_faithful_shrink_as_whole_and_a_blur_as_lost():
    garment = _striped_garment()
    grid = F.affine_grid(torch.eye(2, 3)[None], [1, 3, *SIZE], align_corners=False)
    lands = np.ones(SIZE, bool)
    region = np.zeros(SIZE, bool)
    region[8:-8, 8:-8] = True
    frame = to_tensor(garment)[None]
    sampled = warp(frame, grid)
    faithful = _as_uint8(warp(shrink_for_grid(frame, grid, lands), grid))  # as the pipeline samples the garment
    aliased = _as_uint8(sampled)
    blurred = ndimage.gaussian_filter(faithful.astype(np.float32), (2, 2, 0))
    ratios = lambda crop: detail_ratios(crop, frame, sampled, grid, lands, region)  # noqa: E731

    ratio, ratio_aa = ratios(faithful)
    assert 0.95 < ratio_aa < 1.05
    assert ratio < 0.8  # the plain reference counts the aliased stripes as detail the garment would have had

    ratio, ratio_aa = ratios(aliased)
    assert 0.95 < ratio < 1.05 and ratio_aa > 1.25

    ratio, ratio_aa = ratios(blurred)
    assert ratio < 0.3 and ratio_aa < 0.3
