import shutil

import numpy as np
import pytest
import torch
from scipy import ndimage

from tryon.cli import main as cli
from tryon.data import Augment, TryOnDataset, detect_layout, read_dataset
from tryon.data.dataset import studio_person, to_tensor
from tryon.data.labels import J, PARSE_FLIP, P
from tryon.data.layouts import read_pose
from tryon.data.synthetic import make_synthetic_dataset
from tryon.errors import DatasetError, TryOnError
from tryon.preprocess.person import AGNOSTIC_GREY
from tryon.training.sampler import StepBatchSampler

GREY = to_tensor(np.full((1, 1, 3), AGNOSTIC_GREY, np.uint8))[0, 0, 0]


@pytest.fixture(scope="module", params=["viton", "viton_hd", "dresscode"])
def layout_root(request, tmp_path_factory):
    size = (256, 192) if request.param == "viton" else (512, 384)  # read back at 256x192: resizing is exercised
    root = make_synthetic_dataset(tmp_path_factory.mktemp(request.param), layout=request.param, n_train=4, n_test=2,
                                  height=size[0], width=size[1], seed=3)
    return request.param, root


def _copy(root, tmp_path):
    dst = tmp_path / "data"
    shutil.copytree(root, dst)
    return dst


def test_each_layout_is_detected_and_read_in_both_settings(layout_root):
    layout, root = layout_root
    assert detect_layout(root) == layout
    per_split = 3 if layout == "dresscode" else 1  # DressCode: upper_body, lower_body and dresses
    train = read_dataset(root, "train")
    assert len(train) == 4 * per_split and all(p.paired for p in train)
    test_paired = read_dataset(root, "test", "paired")
    test_unpaired = read_dataset(root, "test", "unpaired")
    assert len(test_paired) == len(test_unpaired) == 2 * per_split
    assert all(p.paired for p in test_paired) and not any(p.paired for p in test_unpaired)
    cats = {p.category for p in train}
    assert cats == ({"upper", "lower", "dress"} if layout == "dresscode" else {"upper"})


def test_samples_have_every_map_at_the_requested_size(layout_root):
    _, root = layout_root
    ds = TryOnDataset(root, "train", height=256, width=192)
    for i in range(len(ds)):
        s = ds[i]
        for key, shape in [("person", (3, 256, 192)), ("cloth", (3, 256, 192)), ("cloth_mask", (1, 256, 192)),
                           ("parse", (256, 192)), ("pose", (18, 3)),
                           ("agnostic", (3, 256, 192)), ("agnostic_mask", (1, 256, 192))]:
            assert tuple(s[key].shape) == shape, key
        assert s["person"].min() >= -1 and s["person"].max() <= 1
        assert s["cloth_mask"].mean() > 0.1  # a garment was found (DressCode: from the white background)
        seen = s["pose"][:, 2] > 0
        assert seen.sum() >= 10 and (s["pose"][seen, 0] < 192).all() and (s["pose"][seen, 1] < 256).all()
        # the agnostic person: no garment pixel survives, the face is untouched
        garment = {"upper": [P["upper"], P["dress"]], "lower": [P["lower"]], "dress": [P["upper"], P["lower"], P["dress"]]}[s["category"]]
        g = torch.isin(s["parse"], torch.tensor(garment))
        assert g.any() and (s["agnostic"][:, g] == GREY).all()
        face = s["parse"] == P["face"]
        assert face.any() and torch.equal(s["agnostic"][:, face], s["person"][:, face])


def test_flip_keeps_maps_labels_and_joints_consistent(synth_viton):
    plain = TryOnDataset(synth_viton, "train")
    flipped = TryOnDataset(synth_viton, "train", augment=Augment(flip=1.0, jitter=0.0))
    a, b = plain[0], flipped[0]
    assert torch.equal(b["person"], a["person"].flip(-1))
    assert torch.equal(b["parse"], torch.from_numpy(PARSE_FLIP)[a["parse"].flip(-1)])
    # the pose-drawn part of the agnostic region is re-rasterised from mirrored joints: equal up to edge pixels
    assert (b["agnostic_mask"] == a["agnostic_mask"].flip(-1)).float().mean() > 0.99
    # the person's own left stays on the image's right; joints move with their pixels
    for s in (a, b):
        assert s["pose"][J["l_shoulder"], 0] > s["pose"][J["r_shoulder"], 0]
        cols = torch.arange(192).float()
        left_x = cols[(s["parse"] == P["left_arm"]).any(0)].mean()
        right_x = cols[(s["parse"] == P["right_arm"]).any(0)].mean()
        assert left_x > right_x
    assert b["pose"][J["l_wrist"], 0] == pytest.approx(191 - a["pose"][J["r_wrist"], 0])
    assert b["pose"][J["l_wrist"], 1] == pytest.approx(a["pose"][J["r_wrist"], 1])


def test_augmentation_is_reproducible_per_epoch(synth_viton):
    ds = TryOnDataset(synth_viton, "train", augment=Augment(flip=0.5, jitter=0.2), seed=7)
    assert torch.equal(ds[(2, 0)]["person"], ds[(2, 0)]["person"])
    assert any(not torch.equal(ds[(i, 0)]["person"], ds[(i, 1)]["person"]) for i in range(4))


class _Wall:
    """A Backgrounds stand-in: every draw one colour."""

    colour = (10, 200, 30)

    def draw(self, rng, width, height):
        return np.broadcast_to(np.array(self.colour, np.uint8), (height, width, 3)).copy()


def test_studio_person_fills_what_the_parse_misses_and_skips_streets():
    rgb = np.full((64, 48, 3), 235, np.uint8)  # a studio wall
    parse = np.zeros((64, 48), np.uint8)
    rgb[10:60, 10:38] = (200, 60, 60)
    parse[10:60, 10:38] = P["upper"]
    parse[12:16, 20:26] = P["background"]  # a neck the parse left unlabelled, not the wall's colour
    parse[50:60, 12:20] = P["background"]  # a skirt's corner, likewise
    person = studio_person(rgb, parse)
    assert person[10:60, 10:38].all() and not person[:8].any() and not person[:, :8].any()
    street = np.random.default_rng(0).integers(0, 256, (64, 48, 3), dtype=np.uint8)  # a busy background
    street[10:60, 10:38] = (200, 60, 60)
    assert studio_person(street, parse) is None


def test_street_augmentation_lays_studio_persons_over_backgrounds(synth_viton):
    plain = TryOnDataset(synth_viton, "train")
    street = TryOnDataset(synth_viton, "train", augment=Augment(flip=0.0, jitter=0.0, street=1.0), backgrounds=_Wall())
    a, b = plain[0], street[0]
    person = studio_person(((a["person"].numpy().transpose(1, 2, 0) + 1) * 127.5 + 0.5).astype(np.uint8),
                           a["parse"].numpy())
    inner, far = ndimage.binary_erosion(person, iterations=3), ndimage.binary_erosion(~person, iterations=3)
    assert far.sum() > 1000 and inner.sum() > 1000
    assert torch.allclose(b["person"][:, inner], a["person"][:, inner], atol=1e-6)  # the person as they were
    assert torch.allclose(b["person"][:, far], to_tensor(np.array([[_Wall.colour]], np.uint8))[:, 0], atol=0.01)
    kept = ~b["agnostic_mask"][0].bool() & torch.from_numpy(far)
    assert torch.equal(b["agnostic"][:, kept], b["person"][:, kept])  # the model reads the new street
    assert torch.equal(b["parse"], a["parse"])
    with pytest.raises(TryOnError, match="backgrounds"):
        TryOnDataset(synth_viton, "train", augment=Augment(street=0.5))


def test_missing_file_named_by_pairs_line(synth_viton, tmp_path):
    root = _copy(synth_viton, tmp_path)
    victim = sorted((root / "train" / "image").iterdir())[1]
    victim.unlink()
    with pytest.raises(DatasetError, match=rf"train_pairs.txt, line 2 .*{victim.name}"):
        read_dataset(root, "train")


def test_pairs_line_naming_a_missing_id(synth_viton, tmp_path):
    root = _copy(synth_viton, tmp_path)
    with open(root / "train_pairs.txt", "a") as f:
        f.write("999999_0.jpg 999999_1.jpg\n")
    with pytest.raises(DatasetError, match="999999_0.jpg"):
        read_dataset(root, "train")
    (root / "train_pairs.txt").write_text("only_one_field.jpg\n")
    with pytest.raises(DatasetError, match="line 1: expected"):
        read_dataset(root, "train")


def test_truncated_image_names_the_file(synth_viton, tmp_path):
    root = _copy(synth_viton, tmp_path)
    ds = TryOnDataset(root, "train")
    data = ds.pairs[0].person.read_bytes()
    ds.pairs[0].person.write_bytes(data[: len(data) // 3])
    with pytest.raises(TryOnError, match=rf"{ds.pairs[0].person.name}.*truncated"):
        ds[0]


@pytest.mark.parametrize("content, match", [
    ("{not json", "malformed pose file"),
    ('{"people": [{"pose_keypoints": [1, 2, 3]}]}', "malformed pose file"),
    ('{"people": [{"face_keypoints": []}]}', "malformed pose file"),
    ('{"people": [{"pose_keypoints": ' + str([float("nan")] * 54).replace("nan", "NaN") + "}]}", "finite"),
])
def test_malformed_pose_file(synth_viton, tmp_path, content, match):
    root = _copy(synth_viton, tmp_path)
    ds = TryOnDataset(root, "train")
    ds.pairs[0].pose.write_text(content)
    with pytest.raises(DatasetError, match=rf"{ds.pairs[0].pose.name}: {match}|{ds.pairs[0].pose.name}.*{match}"):
        ds[0]


def test_pose_reads_body25_and_no_person(tmp_path):
    p = tmp_path / "k.json"
    body25 = np.arange(75, dtype=float).reshape(25, 3) + 1
    p.write_text('{"people": [{"pose_keypoints_2d": %s}]}' % body25.ravel().tolist())
    kp = read_pose(p, "openpose", (192, 256))
    assert kp[J["r_hip"], 0] == body25[9, 0]  # BODY_25's mid-hip (8) is skipped
    p.write_text('{"people": []}')
    assert (read_pose(p, "openpose", (192, 256)) == 0).all()


def test_parse_map_of_the_wrong_size_or_label_set(synth_viton, tmp_path):
    from PIL import Image

    root = _copy(synth_viton, tmp_path)
    ds = TryOnDataset(root, "train")
    parse_path = ds.pairs[0].parse
    Image.open(parse_path).resize((96, 128), Image.NEAREST).save(parse_path)
    with pytest.raises(DatasetError, match=rf"{parse_path.name}.*96x128, expected 192x256"):
        ds[0]
    Image.fromarray(np.full((256, 192), 77, np.uint8)).save(parse_path)
    with pytest.raises(DatasetError, match=rf"{parse_path.name}: label 77 is outside"):
        ds[0]


def test_check_data_command_lists_bad_files(synth_viton, tmp_path, capsys):
    root = _copy(synth_viton, tmp_path)
    assert cli(["check-data", str(root)]) == 0
    bad = sorted((root / "train" / "cloth").iterdir())[0]
    bad.write_bytes(b"\x00" * 100)
    assert cli(["check-data", str(root)]) == 1
    out = capsys.readouterr().out
    assert bad.name in out and "7 good samples, 1 bad" in out


def test_step_sampler_is_deterministic_resumable_and_sharded():
    take = lambda s, k: [b for _, b in zip(range(k), s)]
    full = take(StepBatchSampler(10, 2, seed=5), 12)
    assert take(StepBatchSampler(10, 2, seed=5, start=7), 5) == full[7:]
    epoch0 = sorted(i for b in full[:5] for i, e in b)
    assert epoch0 == list(range(10)) and all(e == 1 for b in full[5:10] for _, e in b)
    shards = [take(StepBatchSampler(10, 1, seed=5, rank=r, world=2), 5) for r in (0, 1)]
    assert sorted(i for s in shards for b in s for i, _ in b) == list(range(10))
    with pytest.raises(TryOnError, match="fewer than one batch"):
        StepBatchSampler(3, 2, world=2)


def test_every_real_viton_sample_loads_and_the_agnostic_removes_the_upper_clothes(viton_root):
    """Loads all 6,424 train and 400 test pairs once (about a minute on 2 cores)."""
    total = removed = count = 0
    for split in ("train", "test"):
        ds = TryOnDataset(viton_root, split)
        loader = torch.utils.data.DataLoader(ds, batch_size=32, num_workers=2, collate_fn=lambda items: [
            ((it["parse"] == P["upper"]).sum().item(), ((it["parse"] == P["upper"]) & (it["agnostic_mask"][0] > 0)).sum().item())
            for it in items])
        for batch in loader:
            for t, r in batch:
                total, removed, count = total + t, removed + r, count + 1
    assert count == 6424 + 400
    assert removed / total >= 0.99


def test_a_reencoded_copy_with_another_extension_is_found(synth_viton, tmp_path):
    from PIL import Image

    root = _copy(synth_viton, tmp_path)
    jpg = sorted((root / "train" / "image").iterdir())[0]
    Image.open(jpg).save(jpg.with_suffix(".webp"), quality=90)
    jpg.unlink()
    pairs = read_dataset(root, "train")
    assert pairs[0].person == jpg.with_suffix(".webp")
    assert TryOnDataset(pairs=pairs)[0]["person"].shape == (3, 256, 192)


def test_colour_jitter_is_brightness_then_contrast_then_saturation():
    from tryon.data.dataset import _jitter

    rgb = np.random.default_rng(0).integers(0, 256, (32, 24, 3), dtype=np.uint8)
    assert np.array_equal(_jitter(rgb, 1.0, 1.0, 1.0), rgb)
    for b, c, s in [(1.1, 0.9, 1.2), (0.9, 1.1, 0.8)]:
        x = rgb.astype(np.float64) * b  # step by step, as the docstring says
        x = (x - x.mean()) * c + x.mean()
        grey = x.mean(axis=-1, keepdims=True)
        x = (x - grey) * s + grey
        expected = np.clip(x + 0.5, 0, 255).astype(np.uint8)
        assert np.abs(_jitter(rgb, b, c, s).astype(int) - expected).max() <= 1


def test_packed_copy_reads_like_the_original_and_keeps_the_first_pairs(synth_viton, tmp_path):
    from tryon.data.pack import pack_viton

    pack_viton(synth_viton, tmp_path / "packed", quality=90, max_pairs={"test": 2})
    for split, n in (("train", len(read_dataset(synth_viton, "train"))), ("test", 2)):
        original, packed = TryOnDataset(synth_viton, split), TryOnDataset(tmp_path / "packed", split)
        assert len(packed) == n and packed.pairs[0].person.suffix == ".webp"
        for i in range(n):
            a, b = original[i], packed[i]
            assert a["name"] == b["name"]
            assert torch.equal(a["parse"], b["parse"]) and torch.equal(a["cloth_mask"], b["cloth_mask"])
            assert torch.allclose(a["pose"], b["pose"], atol=0.01)
            mse = ((a["person"] - b["person"]) ** 2).mean().item() / 4  # on [0, 1]
            assert 10 * np.log10(1 / mse) > 30
    assert not (tmp_path / "packed" / "test_pairs_unpaired.txt").exists()


def test_a_dresscode_layout_packs_category_by_category_and_reads_like_the_original(tmp_path):
    from tryon.data.pack import pack_dresscode

    src = make_synthetic_dataset(tmp_path / "dc", "dresscode", n_train=2, n_test=1, height=128, width=96, seed=5)
    pack_dresscode(src, tmp_path / "packed", splits=("train",), quality=90, categories=["upper_body"])
    assert not (tmp_path / "packed" / "lower_body").exists()
    original = [p for p in read_dataset(src, "train") if p.category == "upper"]
    packed = read_dataset(tmp_path / "packed", "train")
    assert [p.person.name for p in packed] == [p.person.stem + ".webp" for p in original]
    a, b = TryOnDataset(src, "train"), TryOnDataset(tmp_path / "packed", "train")
    for i in range(len(packed)):
        x, y = a[[s.name for s in a.pairs].index(b.pairs[i].name)], b[i]
        assert x["category"] == y["category"] == "upper"
        assert torch.equal(x["parse"], y["parse"]) and torch.equal(x["pose"], y["pose"])
        mse = ((x["person"] - y["person"]) ** 2).mean().item() / 4  # on [0, 1]
        assert 10 * np.log10(1 / mse) > 30


def test_cloth_masks_can_be_computed_as_the_pipeline_does(synth_viton, tmp_path):
    from PIL import Image

    from tryon.preprocess.garment import garment_mask
    from tryon.preprocess.image_io import load_image

    root = tmp_path / "data"
    shutil.copytree(synth_viton, root)
    pair = read_dataset(root, "train")[0]
    Image.new("L", Image.open(pair.cloth_mask).size, 0).save(pair.cloth_mask)  # a broken mask file: all background
    from_file = TryOnDataset(root, "train")[0]["cloth_mask"]
    computed = TryOnDataset(root, "train", cloth_masks="computed")[0]["cloth_mask"]
    assert from_file.sum() == 0
    expected = garment_mask(load_image(pair.cloth))
    assert computed.shape == from_file.shape and expected.shape == tuple(computed.shape[1:])
    assert torch.equal(computed[0].bool(), torch.from_numpy(expected))
    with pytest.raises(TryOnError, match="cloth_masks"):
        TryOnDataset(root, "train", cloth_masks="gt")
    # a pack can carry the computed masks, cut from the original garment photos
    from tryon.data.pack import pack_viton

    pack_viton(root, tmp_path / "packed", splits=("train",), quality=90, cloth_masks="computed")
    assert torch.equal(TryOnDataset(tmp_path / "packed", "train")[0]["cloth_mask"], computed)
