import numpy as np
import pytest
import torch

from tryon.data.labels import J, NUM_JOINTS, P
from tryon.errors import TryOnError
from tryon.preprocess.person import (GENERATOR_CHANNELS, PERSON_REPR_CHANNELS, agnostic_mask, agnostic_person,
                                     generator_input, paste_region, person_repr, pose_heatmaps)

H, W = 64, 48


def _figure():
    """A stick person: face, neck, a shirt, arms, trousers; joints to match."""
    parse = np.zeros((H, W), np.uint8)
    parse[4:14, 18:30] = P["face"]
    parse[2:5, 17:31] = P["hair"]
    parse[14:17, 21:27] = P["neck"]
    parse[17:38, 14:34] = P["upper"]
    parse[17:36, 9:14] = P["right_arm"]
    parse[17:36, 34:39] = P["left_arm"]
    parse[38:60, 15:33] = P["lower"]
    pose = np.zeros((NUM_JOINTS, 3), np.float32)
    for name, x, y in [("nose", 24, 9), ("neck", 24, 16), ("r_shoulder", 14, 18), ("l_shoulder", 34, 18),
                       ("r_elbow", 11, 27), ("l_elbow", 36, 27), ("r_wrist", 11, 35), ("l_wrist", 36, 35),
                       ("r_hip", 19, 38), ("l_hip", 29, 38), ("r_knee", 19, 50), ("l_knee", 29, 50)]:
        pose[J[name]] = (x, y, 1.0)
    return parse, pose


def test_agnostic_removes_the_garment_and_arms_and_keeps_face_hair_lower_body():
    parse, pose = _figure()
    m = agnostic_mask(parse, pose, "upper")
    for label in ("upper", "left_arm", "right_arm"):
        assert m[parse == P[label]].all(), label
    for label in ("face", "hair", "lower"):
        assert not m[parse == P[label]].any(), label
    person = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    ag = agnostic_person(person, m)
    assert (ag[m] == 128).all()
    assert (ag[parse == P["face"]] == person[parse == P["face"]]).all()


def test_agnostic_for_lower_and_dress_categories():
    parse, pose = _figure()
    lower = agnostic_mask(parse, pose, "lower")
    assert lower[parse == P["lower"]].all() and not lower[parse == P["upper"]].any()
    dress = agnostic_mask(parse, pose, "dress")
    assert dress[(parse == P["upper"]) | (parse == P["lower"])].all() and not dress[parse == P["face"]].any()
    with pytest.raises(TryOnError, match="unknown garment category"):
        agnostic_mask(parse, pose, "hat")


def test_agnostic_hides_the_garment_silhouette_along_the_pose():
    parse, pose = _figure()
    parse[parse == P["right_arm"]] = P["background"]  # an arm the parser missed is still removed, from the pose
    m = agnostic_mask(parse, pose, "upper")
    assert m[27, 11] and m[33, 11]


def test_paste_region_is_the_old_and_new_garment_and_keeps_uncovered_skin():
    parse, pose = _figure()
    agnostic = agnostic_mask(parse, pose, "upper")
    short = np.zeros((H, W), bool)
    short[17:38, 14:34] = True  # a new garment over the old shirt only: both arms keep their own pixels
    region = paste_region(parse, agnostic, short, "upper")
    assert region[parse == P["upper"]].all() and not (region & ~agnostic).any()
    assert not region[25:36, 9:12].any() and not region[25:36, 37:39].any()  # the arms, beyond the grown edge
    assert not region[parse == P["face"]].any() and not region[parse == P["lower"]].any()
    long = short.copy()
    long[17:36, 9:39] = True  # long sleeves: now the arms are repainted too
    region = paste_region(parse, agnostic, long, "upper")
    assert region[(parse == P["left_arm"]) | (parse == P["right_arm"])].all()
    face_cover = np.zeros((H, W), bool)
    face_cover[4:14, 18:30] = True  # a warp that strays onto the face never pastes there
    assert not paste_region(parse, agnostic, face_cover, "upper")[parse == P["face"]].any()
    with pytest.raises(TryOnError, match="unknown garment category"):
        paste_region(parse, agnostic, short, "hat")


def test_pose_heatmaps_peak_at_joints_and_are_empty_for_missing_joints():
    _, pose = _figure()
    maps = pose_heatmaps(torch.from_numpy(pose)[None], H, W)[0].numpy()
    assert maps.shape == (NUM_JOINTS, H, W)
    y, x = np.unravel_index(maps[J["l_wrist"]].argmax(), (H, W))
    assert (x, y) == (36, 35) and maps[J["l_wrist"]].max() == pytest.approx(1.0)
    assert maps[J["l_ankle"]].max() == 0


def test_model_inputs_stack_in_a_fixed_order():
    parse, pose = _figure()
    m = torch.from_numpy(agnostic_mask(parse, pose)).float()[None, None]
    r = person_repr(torch.zeros(1, 3, H, W), m, torch.from_numpy(parse).long()[None],
                    torch.from_numpy(pose)[None])
    assert r.shape == (1, PERSON_REPR_CHANNELS, H, W)
    onehot = r[:, 4:17]
    assert onehot[0, P["upper"]].sum() == 0  # the old garment's shape is blanked
    assert onehot[0, P["face"]].sum() == (parse == P["face"]).sum()
    g = generator_input(r, torch.zeros(1, 3, H, W), torch.zeros(1, 1, H, W))
    assert g.shape == (1, GENERATOR_CHANNELS, H, W)


@pytest.mark.parametrize("radius", [0, 1, 2, 5])
def test_dilation_matches_a_square_max_pool(radius):
    from tryon.preprocess.person import _dilate

    mask = np.random.default_rng(radius).random((40, 30)) > 0.97
    mask[0, 0] = mask[-1, 7] = True  # edges and corners
    t = torch.from_numpy(mask.astype(np.float32))[None, None]
    expected = torch.nn.functional.max_pool2d(t, 2 * radius + 1, stride=1, padding=radius)[0, 0].numpy() > 0
    assert np.array_equal(_dilate(mask, radius), expected)
