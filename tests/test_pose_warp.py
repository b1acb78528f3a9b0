"""The pose-laid warp of trousers, shorts and skirts (tryon.models.pose_warp) and its place in the pipeline."""
import numpy as np
import torch
from PIL import Image, ImageDraw
from scipy import ndimage

from tryon.data.labels import NUM_JOINTS, J
from tryon.models.pose_warp import garment_shape, pose_grid
from tryon.models.warp import warp
from tryon.pipeline import TryOnPipeline
from tryon.preprocess.person import PERSON_REPR_CHANNELS, pose_region

H, W = 256, 192
TINY = dict(parser_channels=4, parser_depth=2, warp_channels=16, ngf=4)


def _pose(joints: dict) -> np.ndarray:
    pose = np.zeros((NUM_JOINTS, 3), np.float32)
    for name, (x, y) in joints.items():
        pose[J[name]] = (x, y, 1.0)
    return pose


# a person framed head to feet at the models' size (adult proportions), legs a little apart
STANDING = _pose({"r_shoulder": (74, 60), "l_shoulder": (118, 60), "r_hip": (84, 120), "l_hip": (108, 120),
                  "r_knee": (82, 177), "l_knee": (110, 177), "r_ankle": (80, 232), "l_ankle": (112, 232)})


def _trousers(leg_end: int = 235, spread: int = 22) -> np.ndarray:
    """A flat pair of trousers as a product photo shows them: a waistband 72 pixels wide from row 30, legs parting
    at row 95 and spreading `spread` pixels outwards down to row `leg_end`."""
    canvas = Image.new("L", (W, H), 0)
    draw = ImageDraw.Draw(canvas)
    draw.rectangle([60, 30, 132, 95], fill=255)
    draw.polygon([(60, 95), (95, 95), (95 - spread + 8, leg_end), (60 - spread, leg_end)], fill=255)
    draw.polygon([(97, 95), (132, 95), (132 + spread, leg_end), (97 + spread - 8, leg_end)], fill=255)
    return np.asarray(canvas) > 0


def _skirt() -> np.ndarray:
    canvas = Image.new("L", (W, H), 0)
    ImageDraw.Draw(canvas).polygon([(66, 40), (126, 40), (150, 200), (42, 200)], fill=255)
    return np.asarray(canvas) > 0


def _laid(mask: np.ndarray, pose: np.ndarray = STANDING) -> np.ndarray:
    grid = pose_grid(pose, mask)
    assert grid is not None
    return warp(torch.from_numpy(mask)[None, None].float(), grid[None], fill=0.0)[0, 0].numpy() > 0.5


def _covered(laid: np.ndarray, top: float, bottom: float) -> float:
    """The share of the pose-drawn legs between rows top and bottom that the laid garment covers."""
    rows = np.arange(H)[:, None]
    band = pose_region(STANDING, "lower", H, W) & (rows >= top) & (rows <= bottom)
    return (laid & band).sum() / band.sum()


def test_the_garment_shape_finds_two_legs_or_a_skirt():
    trousers = garment_shape(_trousers())
    assert trousers.legs is not None and abs(trousers.crotch - 95) <= 3
    assert trousers.waist == 30 and abs(trousers.waist_width - 73) <= 1
    (rows, a, b), (rows_r, a_r, _) = trousers.legs
    assert a[-1] < a[0] and a_r[-1] > a_r[0]  # the left leg spreads left, the right one right
    assert rows[-1] >= 230
    assert garment_shape(_skirt()).legs is None
    assert garment_shape(np.zeros((H, W), bool)) is None


def test_full_length_trousers_cover_the_legs_to_the_ankles_and_nothing_above_the_waist():
    laid = _laid(_trousers())
    assert _covered(laid, 120, 177) >= 0.95
    assert _covered(laid, 177, 232) >= 0.95
    assert not laid[:100].any()  # the waist sits a quarter of a thigh above the hips (row 120), not higher
    assert not laid[200, 94:98].any()  # the legs stay apart
    assert laid[200, 81] and laid[200, 111]


def test_shorts_stop_above_the_knees():
    laid = _laid(_trousers(leg_end=105, spread=6))  # as long as the waist is wide
    assert _covered(laid, 120, 140) >= 0.9
    assert _covered(laid, 177, 232) < 0.05


def test_a_skirt_covers_both_legs_and_the_gap_between():
    laid = _laid(_skirt())
    assert _covered(laid, 120, 165) >= 0.95
    assert laid[150, 94:100].all()


def test_a_leaning_garment_is_turned_upright_before_it_is_read():
    leaning = ndimage.rotate(_trousers().astype(np.uint8), 20, reshape=False, order=0) > 0
    assert garment_shape(leaning).legs is not None
    laid = _laid(leaning)
    assert _covered(laid, 120, 177) >= 0.9 and _covered(laid, 177, 232) >= 0.8


def test_without_knees_or_hips_or_sitting_there_is_no_pose_laid_warp():
    no_knees = STANDING.copy()
    no_knees[[J["r_knee"], J["l_knee"]], 2] = 0
    assert pose_grid(no_knees, _trousers()) is None
    no_hip = STANDING.copy()
    no_hip[J["l_hip"], 2] = 0
    assert pose_grid(no_hip, _trousers()) is None
    sitting = STANDING.copy()
    sitting[J["r_knee"], :2], sitting[J["l_knee"], :2] = (40, 130), (60, 128)  # thighs towards the camera's left
    assert pose_grid(sitting, _trousers()) is None


def test_the_pipeline_lays_bottoms_by_the_pose_and_leaves_tops_and_dresses_alone():
    pipe = TryOnPipeline.untrained(**TINY)
    torch.manual_seed(0)
    mask = torch.from_numpy(np.stack([_trousers()] * 3)).float()[:, None]
    batch = {"repr": torch.randn(3, PERSON_REPR_CHANNELS, H, W), "cloth": torch.rand(3, 3, H, W) * 2 - 1,
             "cloth_mask": mask, "pose": torch.from_numpy(np.stack([STANDING] * 3)),
             "category": ["upper", "lower", "dress"]}
    laid = pipe.warp_parts(batch)
    pipe.pose_layout = False
    learnt = pipe.warp_parts(batch)
    for i in (0, 2):  # a top and a dress: the learnt warp's
        assert torch.equal(laid.mask[i], learnt.mask[i])
        assert torch.equal(laid.control_points[i], learnt.control_points[i])
    expected = torch.from_numpy(_laid(_trousers())).float()
    assert (laid.mask[1, 0] - expected).abs().mean() < 0.03  # the flow carries the pose-laid grid at half size
    assert (learnt.mask[1, 0] - expected).abs().mean() > 0.1
