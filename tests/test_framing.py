import numpy as np
import pytest
from PIL import Image

from tryon.data.labels import J, NUM_JOINTS
from tryon.errors import TryOnError
from tryon.preprocess import framing


def _pose(neck=(96, 84), hip=(96, 204), shoulder=78):
    pose = np.zeros((NUM_JOINTS, 3), np.float32)
    for name, dx in (("r_shoulder", -shoulder / 2), ("l_shoulder", shoulder / 2)):
        pose[J[name]] = (neck[0] + dx, neck[1], 1)
    for name, dx in (("r_hip", -20), ("l_hip", 20)):
        pose[J[name]] = (hip[0] + dx, hip[1], 1)
    pose[J["neck"]] = (*neck, 1)
    return pose


def test_a_viton_framed_person_gets_the_whole_frame_back():
    box = framing.person_box(_pose(), 256, 192)  # the median VITON person
    assert np.allclose(box, (0, 0, 192, 256), atol=4)


def test_the_box_follows_the_person_and_keeps_the_aspect():
    box = framing.person_box(_pose(neck=(500, 300), hip=(500, 540)), 256, 192)  # twice the VITON size
    left, top, right, bottom = box
    assert (right - left) * 4 == pytest.approx((bottom - top) * 3, abs=4)
    assert bottom - top == pytest.approx(512, abs=4)
    assert (left + right) / 2 == pytest.approx(500, abs=4)


def test_a_tiny_person_is_refused():
    with pytest.raises(TryOnError, match="too small"):
        framing.person_box(_pose(neck=(50, 20), hip=(50, 30)), 256, 192)


def test_crop_repeats_the_edges_outside_the_photo():
    photo = np.zeros((40, 30, 3), np.uint8)
    photo[:, :15] = (255, 0, 0)
    photo[:, 15:] = (0, 0, 255)
    out = np.asarray(framing.crop(Image.fromarray(photo), (-30, -10, 60, 50), 60, 90))
    assert out.shape == (60, 90, 3)
    assert (out[:, :10] == (255, 0, 0)).all() and (out[:, -10:] == (0, 0, 255)).all()


def test_pose_in_box_maps_pixels_and_keeps_missing_joints():
    pose = _pose()
    pose[J["nose"]] = 0
    out = framing.pose_in_box(pose, (-96, -128, 288, 384), 256, 192)  # a box twice the photo, centred
    np.testing.assert_allclose(out[J["neck"], :2], ((96 + 96) / 2, (84 + 128) / 2))
    assert (out[J["nose"]] == 0).all()


def test_garment_is_centred_and_fit_like_the_training_garments():
    im = np.full((300, 500, 3), 255, np.uint8)
    im[50:150, 100:160] = (200, 20, 20)  # a small garment off centre, on a wide photo
    mask = np.zeros((300, 500), bool)
    mask[50:150, 100:160] = True
    rgb, m = framing.frame_garment(Image.fromarray(im), mask, 256, 192)
    ys, xs = np.nonzero(m)
    assert (ys.max() + 1 - ys.min()) / 256 == pytest.approx(framing.GARMENT_FIT[1], abs=0.01)  # height limits
    assert (ys.min() + ys.max() + 1) / 2 == pytest.approx(128, abs=1)
    assert (xs.min() + xs.max() + 1) / 2 == pytest.approx(96, abs=1)
    assert (rgb[~m] == 255).all() and (np.abs(rgb[m].astype(int) - (200, 20, 20)) < 30).mean() > 0.95


def _striped_garment(h=600, w=450):
    """A round-shouldered garment with diagonal red and blue stripes on white, and its mask."""
    yy, xx = np.mgrid[0:h, 0:w]
    mask = ((xx - w / 2) / (0.4 * w)) ** 2 + ((yy - h / 2) / (0.45 * h)) ** 4 < 1
    mask[int(0.2 * h):int(0.35 * h), int(0.05 * w):int(0.95 * w)] = True  # sleeves
    stripes = ((xx + yy) // 7 % 2).astype(bool)
    photo = np.where(stripes[..., None], np.uint8([200, 30, 30]), np.uint8([30, 40, 190]))
    photo[~mask] = 255
    return photo, mask


@pytest.mark.parametrize("frame", [None, (256, 192)], ids=["own size", "model size"])
def test_the_extended_garment_frame_is_the_garment_inside_and_its_colours_just_outside(frame):
    from scipy import ndimage

    photo, mask = _striped_garment()
    size = frame or framing.garment_frame_size(mask, 256, 192)
    plain, m = framing.frame_garment(Image.fromarray(photo), mask, *size)
    extended, m2 = framing.frame_garment(Image.fromarray(photo), mask, *size, extend=True)
    assert (m == m2).all() and extended.shape == plain.shape
    if frame is None:  # the garment keeps its pixels: the frame holds them as they are
        assert (extended[m] == plain[m]).all()
    else:  # resampled: the same inside, but where the resampling kernel reached past the edge (white or garment)
        inner = ndimage.binary_erosion(m, iterations=3)
        assert np.abs(extended[inner].astype(int) - plain[inner]).max() <= 1
    band = ndimage.binary_dilation(m, iterations=12) & ~m
    assert not (extended[band] > 150).all(-1).any()  # no white, nor a light blend of white
    # each pixel of the band takes a colour of the garment near it: close to a per-pixel nearest-colour fill's
    nearest = ndimage.distance_transform_edt(~m, return_distances=False, return_indices=True)
    exact = extended[nearest[0], nearest[1]].astype(int)
    assert np.abs(extended[band].astype(int) - exact[band]).mean() < 40  # the stripes are 7 pixels wide


def test_soft_mask_is_one_inside_and_exactly_zero_beyond_its_reach():
    mask = np.zeros((64, 48), bool)
    mask[20:40, 10:30] = True
    alpha = framing.soft_mask(mask, grow=2)
    assert alpha.dtype == np.float32 and (alpha[mask] > 0.95).all()
    far = np.ones_like(mask)
    far[20 - 5:40 + 5, 10 - 5:30 + 5] = False
    assert (alpha[far] == 0).all()


def test_paste_changes_only_where_alpha_is_on_even_past_the_photo_edges():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 255, (101, 77, 3), dtype=np.uint8)
    image = np.zeros((64, 48, 3), np.uint8)
    alpha = np.zeros((64, 48), np.float32)
    alpha[16:48, 12:36] = 1
    box = (-10, -20, 70, 87)  # reaches past the top and left
    out = np.asarray(framing.paste(Image.fromarray(photo), box, image, alpha))
    assert out.shape == photo.shape
    changed = (out != photo).any(-1)
    # the alpha's support mapped to the photo, x: -10 + [12, 36] * 80/48 = [10, 50], y: -20 + [16, 48] * 107/64
    # = [6.75, 60.25], give or take the bilinear filter's pixel
    ys, xs = np.nonzero(changed)
    assert xs.min() >= 9 and xs.max() <= 51 and ys.min() >= 5 and ys.max() <= 61
    assert (out[30:50, 20:40] == 0).all()  # well inside: the pasted image
