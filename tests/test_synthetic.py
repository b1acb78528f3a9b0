"""The synthetic dataset generator: layouts, determinism and agreement between image, parse, joints and masks."""
import json

import numpy as np
import pytest
from PIL import Image

from tryon.data.labels import DRESSCODE_LABELS, J, LIP_LABELS, NUM_JOINTS
from tryon.cli import main as cli
from tryon.data.synthetic import make_synthetic_dataset
from tryon.errors import TryOnError

H, W = 256, 192


def _open(path):
    with Image.open(path) as image:
        image.load()
        return image


def _array(path):
    return np.asarray(_open(path))


def _lines(path):
    return [line.split() for line in path.read_text().splitlines()]


def _inner(mask, margin=2):
    """The mask without its `margin`-pixel rim, where JPEG blends neighbouring colours."""
    out = mask.copy()
    for axis in (0, 1):
        for shift in range(-margin, margin + 1):
            out &= np.roll(mask, shift, axis=axis)
    return out


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def viton(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("viton"), "viton", n_train=4, n_test=3, seed=1)


def test_viton_layout(viton):
    assert _lines(viton / "train_pairs.txt") == [[f"{i:06d}_0.jpg", f"{i:06d}_1.jpg"] for i in range(4)]
    assert _lines(viton / "test_pairs.txt") == [[f"{i:06d}_0.jpg", f"{i:06d}_1.jpg"] for i in range(4, 7)]
    unpaired = _lines(viton / "test_pairs_unpaired.txt")
    assert [p for p, _ in unpaired] == ["000004_0.jpg", "000005_0.jpg", "000006_0.jpg"]
    assert sorted(g for _, g in unpaired) == ["000004_1.jpg", "000005_1.jpg", "000006_1.jpg"]
    assert all(p[:6] != g[:6] for p, g in unpaired)
    for split, ids in (("train", range(4)), ("test", range(4, 7))):
        d = viton / split
        for i in ids:
            n = f"{i:06d}"
            expected = {
                f"image/{n}_0.jpg": "RGB", f"cloth/{n}_1.jpg": "RGB", f"cloth-mask/{n}_1.jpg": "L",
                f"image-parse-new/{n}_0.png": "L", f"image-parse/{n}_0.png": "P", f"image-mask/{n}_0.png": "L",
            }
            for name, mode in expected.items():
                image = _open(d / name)
                file_format = "JPEG" if name.endswith(".jpg") else "PNG"
                assert (image.mode, image.size, image.format) == (mode, (W, H), file_format)
            new, old = _array(d / f"image-parse-new/{n}_0.png"), _array(d / f"image-parse/{n}_0.png")
            assert new.max() < len(LIP_LABELS) and {0, 5, 13, 20} <= set(np.unique(new).tolist())
            assert old.max() < 20 and (old[new == 20] == 0).all() and (old[new != 20] == new[new != 20]).all()
            assert len(_open(d / f"image-parse/{n}_0.png").getpalette()) == 60
            assert set(np.unique(_array(d / f"image-mask/{n}_0.png")).tolist()) == {0, 255}
            pose = json.loads((d / f"pose/{n}_0_keypoints.json").read_text())
            assert pose["version"] == 1.0 and len(pose["people"]) == 1
            person = pose["people"][0]
            assert set(person) == {"face_keypoints", "pose_keypoints", "hand_right_keypoints", "hand_left_keypoints"}
            assert len(person["pose_keypoints"]) == 3 * NUM_JOINTS


def test_viton_hd_layout(tmp_path):
    root = make_synthetic_dataset(tmp_path, "viton_hd", n_train=2, n_test=3, seed=2)
    assert _lines(root / "train_pairs.txt") == [["00000_00.jpg"] * 2, ["00001_00.jpg"] * 2]
    test_pairs = _lines(root / "test_pairs.txt")
    assert [p for p, _ in test_pairs] == ["00002_00.jpg", "00003_00.jpg", "00004_00.jpg"]
    assert all(p != g for p, g in test_pairs)  # unpaired, as in the real VITON-HD
    for split, ids in (("train", range(2)), ("test", range(2, 5))):
        d = root / split
        for i in ids:
            n = f"{i:05d}_00"
            for name, mode in ((f"image/{n}.jpg", "RGB"), (f"cloth/{n}.jpg", "RGB"), (f"cloth-mask/{n}.jpg", "L"),
                               (f"image-parse-v3/{n}.png", "P"), (f"agnostic-v3.2/{n}.jpg", "RGB")):
                assert (_open(d / name).mode, _open(d / name).size) == (mode, (W, H))
            parse = _array(d / f"image-parse-v3/{n}.png")
            assert parse.max() < 20 and {0, 5, 10, 13} <= set(np.unique(parse).tolist())
            agnostic, person = _array(d / f"agnostic-v3.2/{n}.jpg").astype(int), _array(d / f"image/{n}.jpg")
            grey = (np.abs(agnostic - 128) < 12).all(axis=2)
            assert grey[_inner(parse == 5)].mean() > 0.95 and grey[_inner(parse == 10)].mean() > 0.9
            assert grey[parse == 0].mean() < 0.3
            assert np.abs(agnostic[_inner(parse == 13)] - person[_inner(parse == 13)]).mean() < 4  # the face is kept
            pose = json.loads((d / f"openpose_json/{n}_keypoints.json").read_text())
            assert pose["version"] == 1.3
            person = pose["people"][0]
            assert person["person_id"] == [-1]
            body25 = np.array(person["pose_keypoints_2d"]).reshape(25, 3)
            assert body25[1, 2] > 0 and body25[2, 0] < body25[5, 0]  # neck; right shoulder left of left one
            hips = body25[[9, 12]]
            if (hips[:, 2] > 0).all():
                np.testing.assert_allclose(body25[8, :2], hips[:, :2].mean(axis=0), atol=1e-3)


def test_dresscode_layout(tmp_path):
    root = make_synthetic_dataset(tmp_path, "dresscode", n_train=2, n_test=2, height=128, width=96, seed=3)
    garment_label = {"upper_body": {4}, "lower_body": {5, 6}, "dresses": {7}}
    ids = set()
    for category, labels in garment_label.items():
        d = root / category
        assert not (d / "cloth-mask").exists()
        train, paired, unpaired = (_lines(d / f) for f in ("train_pairs.txt", "test_pairs_paired.txt",
                                                          "test_pairs_unpaired.txt"))
        assert len(train) == 2 and len(paired) == 2 and len(unpaired) == 2
        assert all(p[:6] == g[:6] and p.endswith("_0.jpg") and g.endswith("_1.jpg") for p, g in train + paired)
        assert all(p[:6] != g[:6] for p, g in unpaired)
        for person, _ in train + paired:
            n = person[:6]
            ids.add(n)
            for name, mode in ((f"images/{n}_0.jpg", "RGB"), (f"images/{n}_1.jpg", "RGB"),
                               (f"label_maps/{n}_4.png", "L")):
                assert (_open(d / name).mode, _open(d / name).size) == (mode, (96, 128))
            label_map = _array(d / f"label_maps/{n}_4.png")
            assert label_map.max() < len(DRESSCODE_LABELS) and labels & set(np.unique(label_map).tolist())
            rows = json.loads((d / f"keypoints/{n}_2.json").read_text())["keypoints"]
            assert len(rows) == NUM_JOINTS and all(len(row) == 4 for row in rows)
            kp = np.array(rows)
            assert (kp[:, 3] == np.arange(NUM_JOINTS)).all() and set(kp[:, 2].tolist()) <= {0.0, 1.0}
            seen = kp[:, 2] > 0
            assert (kp[seen, 0] < 384).all() and (kp[seen, 1] < 512).all() and (kp[~seen, :2] == 0).all()
            # in 384x512 coordinates whatever the image size (96x128 here): the trunk joints fall on the person
            for name in ("neck", "r_shoulder", "l_shoulder", "r_hip", "l_hip"):
                x, y = kp[J[name], :2] / 4
                assert kp[J[name], 2] == 1 and label_map[int(round(y)), int(round(x))] > 0, name
    assert len(ids) == 12  # ids are unique across categories


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    for layout in ("viton", "viton_hd", "dresscode"):
        args = dict(layout=layout, n_train=1, n_test=1, height=128, width=96)
        a = _tree(make_synthetic_dataset(tmp_path / f"{layout}a", seed=7, **args))
        b = _tree(make_synthetic_dataset(tmp_path / f"{layout}b", seed=7, **args))
        c = _tree(make_synthetic_dataset(tmp_path / f"{layout}c", seed=8, **args))
        assert a == b
        assert a.keys() == c.keys() and a != c


def test_parse_joints_and_masks_agree_with_the_drawing(viton):
    for i in range(7):
        d, n = viton / ("train" if i < 4 else "test"), f"{i:06d}"
        person = _array(d / f"image/{n}_0.jpg").astype(int)
        parse = _array(d / f"image-parse-new/{n}_0.png")
        cloth = _array(d / f"cloth/{n}_1.jpg").astype(int)
        cloth_mask = _array(d / f"cloth-mask/{n}_1.jpg") > 127
        # the upper-clothes pixels show the garment's colours (stripes, text, logo), not skin or background
        colours, counts = np.unique(cloth[cloth_mask] // 8 * 8 + 4, axis=0, return_counts=True)
        colours = colours[counts > 0.003 * cloth_mask.sum()]
        upper = person[parse == 5]
        distance = np.sqrt(((upper[:, None, :] - colours[None]) ** 2).sum(axis=2)).min(axis=1)
        assert len(upper) > 0.02 * H * W and (distance < 40).mean() > 0.85
        for label in (14, 15):  # the arms are plain skin, not the garment's pattern
            skin = person[_inner(parse == label, 1)]
            if len(skin):
                assert (np.abs(skin - np.median(skin, axis=0)).sum(axis=1) < 40).mean() > 0.8
        # the joints fall on the person, with the person's left shoulder on the image's right
        mask = _array(d / f"image-mask/{n}_0.png") > 127
        assert ((parse > 0) == mask).all()
        joints = np.array(json.loads((d / f"pose/{n}_0_keypoints.json").read_text())["people"][0]["pose_keypoints"])
        joints = joints.reshape(NUM_JOINTS, 3)
        for name in ("neck", "r_shoulder", "l_shoulder", "nose"):
            assert joints[J[name], 2] > 0, name
        for x, y, c in joints:
            if c > 0:
                assert mask[int(round(y)), int(round(x))]
        assert joints[J["l_shoulder"], 0] > joints[J["r_shoulder"], 0]
        assert joints[J["l_hip"], 0] > joints[J["r_hip"], 0]
        assert 13 in parse[int(joints[J["nose"], 1]), :].tolist()
        # the person's right arm (LIP 15) is on the image's left
        assert np.nonzero(parse == 15)[1].mean() < np.nonzero(parse == 14)[1].mean()


def test_garment_mask_is_its_non_white_pixels(viton):
    for cloth_path in sorted((viton / "train" / "cloth").glob("*.jpg")):
        cloth = _array(cloth_path)
        mask = _array(viton / "train" / "cloth-mask" / cloth_path.name) > 127
        non_white = (cloth < 225).any(axis=2)
        assert (mask == non_white).mean() > 0.98
        assert 0.3 < mask.mean() < 0.8
        columns = np.nonzero(mask.any(axis=0))[0]
        assert 0.55 * W < columns[-1] - columns[0] < 0.9 * W  # spans most of the width, like a flat-lay photo


def test_cli(tmp_path, capsys):
    assert cli(["synth", str(tmp_path / "out"), "--layout", "viton_hd", "--n-train", "1", "--n-test", "2",
                "--height", "128", "--width", "96", "--seed", "4"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out")
    assert len(list((tmp_path / "out" / "test" / "image").glob("*.jpg"))) == 2
    assert cli(["synth", str(tmp_path / "out")]) == 2  # a folder with data in it is never written over
    assert "is not empty" in capsys.readouterr().err
    assert len(list((tmp_path / "out" / "test" / "image").glob("*.jpg"))) == 2
    assert cli(["synth", str(tmp_path / "bad"), "--height", "10"]) == 2
    assert "at least 64x48" in capsys.readouterr().err


def test_bad_arguments(tmp_path):
    with pytest.raises(TryOnError):
        make_synthetic_dataset(tmp_path, layout="coco")
    with pytest.raises(TryOnError):
        make_synthetic_dataset(tmp_path, n_train=-1)
