import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tryon.data.labels import J
from tryon.data.synthetic import make_sample
from tryon.errors import TryOnError
from tryon.preprocess.pose import PoseDetector

HOPPER = Path(__import__("matplotlib").get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="module")
def detector():
    return PoseDetector()


def test_joints_match_the_drawn_person_in_openpose_order(detector):
    s = make_sample(np.random.default_rng(3), (512, 384))
    pose = detector(Image.fromarray(s.person))
    assert pose.shape == (18, 3) and pose.dtype == np.float32
    for name in ("nose", "r_shoulder", "l_shoulder", "r_hip", "l_hip", "r_elbow", "l_elbow"):
        assert pose[J[name], 2] > 0.5, name
        assert np.hypot(*(pose[J[name], :2] - s.joints[J[name], :2])) < 0.05 * 512, name
    # the person's left is on the image's right, as in OpenPose; the neck is the shoulders' midpoint
    assert pose[J["l_shoulder"], 0] > pose[J["r_shoulder"], 0]
    np.testing.assert_allclose(pose[J["neck"], :2], (pose[J["l_shoulder"], :2] + pose[J["r_shoulder"], :2]) / 2)


def test_large_photos_are_detected_in_their_own_pixels(detector):
    person = Image.fromarray(make_sample(np.random.default_rng(3), (512, 384)).person)
    small = detector(person)
    big = detector(person.resize((1536, 2048), Image.BICUBIC))  # reduced for detection, reported full size
    seen = (small[:, 2] > 0) & (big[:, 2] > 0)
    np.testing.assert_allclose(big[seen, :2] / 4, small[seen, :2], atol=0.02 * 512)


def test_no_person(detector):
    gradient = np.tile(np.linspace(0, 255, 256, dtype=np.uint8)[None, :, None], (256, 1, 3))
    with pytest.raises(TryOnError, match="no person"):
        detector(Image.fromarray(gradient))


def test_person_cut_off_above_the_hips(detector):
    s = make_sample(np.random.default_rng(3), (512, 384))
    top = Image.fromarray(s.person[: int(s.joints[J["r_elbow"], 1])])
    with pytest.raises(TryOnError, match="shoulders to the hips"):
        detector(top)


@pytest.mark.skipif(not HOPPER.is_file(), reason="matplotlib's sample photo is not installed")
def test_a_real_head_and_shoulders_portrait_is_refused(detector):
    """Grace Hopper's official portrait (public domain, shipped by matplotlib): shoulders, no hips."""
    with pytest.raises(TryOnError, match="hips"):
        detector(Image.open(HOPPER).convert("RGB"))


def test_one_detector_serves_several_threads(detector):
    photos = [Image.fromarray(make_sample(np.random.default_rng(seed), (256, 192)).person) for seed in (3, 5, 6)]
    expected = [detector(p) for p in photos]
    results = {}

    def work(i):
        results[i] = detector(photos[i % 3])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(6):
        np.testing.assert_array_equal(results[i], expected[i % 3])


def test_matches_openpose_on_real_photos(detector, viton_root):
    from tryon.data.layouts import read_pose

    errors = []
    for path in sorted((viton_root / "test" / "image").glob("*.jpg"))[:8]:
        pose = detector(Image.open(path).convert("RGB"))
        ref = read_pose(viton_root / "test" / "pose" / f"{path.stem}_keypoints.json", "openpose", (192, 256))
        for name in ("r_shoulder", "l_shoulder", "r_hip", "l_hip", "neck"):
            if ref[J[name], 2] > 0:
                errors.append(np.hypot(*(pose[J[name], :2] - ref[J[name], :2])) / 256)
    assert np.median(errors) < 0.04


def test_hips_on_the_bottom_edge_are_kept_as_openpose_keeps_them(detector, viton_root):
    """VITON photos framed tight at the hips: OpenPose reports the hips at confidence 0.1-0.3; so must we."""
    for stem in ("000607_0", "016126_0"):
        pose = detector(Image.open(viton_root / "test" / "image" / f"{stem}.jpg").convert("RGB"))
        assert pose[J["r_hip"], 2] > 0 and pose[J["l_hip"], 2] > 0
        assert pose[J["r_hip"], 1] <= 255 and pose[J["l_hip"], 1] <= 255
