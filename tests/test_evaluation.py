import importlib.util
import json

import numpy as np
import pytest
from PIL import Image

from tryon.cli import main
from tryon.data import TryOnDataset
from tryon.data.labels import NUM_PARSE
from tryon.data.synthetic import make_synthetic_dataset
from tryon.errors import TryOnError
from tryon.evaluation import evaluate


@pytest.fixture(scope="module")
def synth_test(tmp_path_factory):
    """Five synthetic VITON test pairs at 256x192; mediapipe finds most of these people, not all."""
    return make_synthetic_dataset(tmp_path_factory.mktemp("eval"), layout="viton", n_train=1, n_test=5, seed=3)


def test_evaluate_writes_metrics_report_and_grid(tiny_pipeline_dir, synth_test, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--data", str(synth_test), "--split", "test", "--out", str(out),
                 "--weights", str(tiny_pipeline_dir), "--batch-size", "2"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] >= 2 and metrics["n"] + metrics["failures"]["count"] == metrics["pairs"] == 5
    for key in ("ssim", "psnr", "ssim_garment", "psnr_garment"):
        assert np.isfinite(metrics[key]), key
    assert 0 < metrics["ssim"] <= 1 and metrics["psnr_garment"] < metrics["psnr"]  # the garment region is the hard part
    assert len(metrics["cases"]) == metrics["n"] and metrics["mirror_average"] is True
    report = (out / "report.md").read_text()
    assert "| ssim |" in report and "grid.png" in report
    grid = Image.open(out / "grid.png")
    assert grid.height == 256 * min(8, 2 * ((metrics["n"] + 1) // 2))
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == metrics["n"]


def test_failures_are_counted_with_reasons(tiny_pipeline, synth_test, tmp_path):
    blank = synth_test / "test" / "image" / "000002_0.jpg"  # a person photo with no person in it
    Image.new("RGB", (192, 256), (200, 190, 180)).save(blank)
    metrics = evaluate(tiny_pipeline, synth_test, tmp_path / "eval", limit=3)
    assert metrics["failures"]["count"] >= 1
    assert any("no person" in reason for reason in metrics["failures"]["by_reason"])
    assert any(c["name"].startswith("000002_0") for c in metrics["failures"]["cases"])


@pytest.mark.parametrize("method", ["grey", "paste"])
def test_the_trivial_baselines_run_through_the_same_command(tiny_pipeline, synth_test, tmp_path, method):
    metrics = evaluate(tiny_pipeline, synth_test, tmp_path / method, method=method, limit=3)
    assert metrics["method"] == method and metrics["n"] >= 1 and np.isfinite(metrics["psnr_garment"])
    assert (tmp_path / method / "grid.png").is_file()


def test_unpaired_mode_has_no_ground_truth_metrics(tiny_pipeline, synth_test, tmp_path):
    metrics = evaluate(tiny_pipeline, synth_test, tmp_path / "u", mode="unpaired", limit=3)
    assert metrics["mode"] == "unpaired" and metrics["n"] >= 1 and "ssim" not in metrics


def test_a_bad_limit_or_batch_size_is_refused(tiny_pipeline, synth_test, tmp_path):
    for kw in (dict(limit=-2), dict(limit=0), dict(batch_size=0)):
        with pytest.raises(TryOnError, match="must be 1 or more"):
            evaluate(tiny_pipeline, synth_test, tmp_path / "e", **kw)
    assert not (tmp_path / "e").exists()


def test_perceptual_metrics_need_torchmetrics(tiny_pipeline, synth_test, tmp_path):
    if importlib.util.find_spec("torchmetrics") is not None:
        pytest.skip("torchmetrics is installed: the message for its absence cannot be seen")
    with pytest.raises(TryOnError, match="torchmetrics"):
        evaluate(tiny_pipeline, synth_test, tmp_path / "e", limit=1, inception_weights=tmp_path / "w.pth")


def test_evaluate_on_real_viton_photos(tiny_pipeline, viton_root, tmp_path):
    metrics = evaluate(tiny_pipeline, viton_root, tmp_path / "viton", limit=4, batch_size=4)
    assert metrics["n"] == 4 and metrics["failures"]["count"] == 0


# tryon prepare ------------------------------------------------------------------------------------------------------
def test_prepare_writes_a_dataset_that_loads_and_trains(tiny_pipeline_dir, synthetic_person, tmp_path, capsys):
    persons, garments = tmp_path / "persons", tmp_path / "garments"
    persons.mkdir()
    garments.mkdir()
    for seed in (3, 6):
        person, garment = synthetic_person(seed, (512, 384))
        person.save(persons / f"look{seed}.jpg")
        garment.save(garments / f"look{seed}.png")
    Image.new("RGB", (384, 512), (120, 160, 200)).save(persons / "empty.jpg")  # no person
    Image.new("RGB", (192, 256), "white").save(garments / "empty.png")
    synthetic_person(5, (512, 384))[0].save(persons / "lonely.jpg")  # no garment of that name
    out = tmp_path / "dataset"
    assert main(["prepare", "--persons", str(persons), "--garments", str(garments), "--out", str(out),
                 "--height", "512", "--width", "384", "--weights", str(tiny_pipeline_dir)]) == 0
    bad = (out / "train_bad_photos.txt").read_text()
    assert "empty.jpg" in bad and "no person" in bad and "lonely.jpg" in bad

    ds = TryOnDataset(out, "train", height=256, width=192)
    assert sorted(p.name for p in ds.pairs) == ["look3__look3", "look6__look6"]
    s = ds[0]
    assert s["person"].shape == (3, 256, 192) and s["parse"].max() < NUM_PARSE
    assert (s["pose"][:, 2] > 0).sum() >= 10 and s["agnostic_mask"].sum() > 0

    from tryon.training.config import TrainConfig
    from tryon.training.trainer import train

    cfg = TrainConfig(stage="parser", data=str(out), output_dir=str(tmp_path / "run"), steps=1, batch_size=2,
                      num_workers=0, parser_channels=4, augment=False, log_every=1)
    assert (train(cfg) / "config.json").is_file()


def test_prepare_with_a_pairs_file_and_parse_labels_read_back(tiny_pipeline, synthetic_person, tmp_path):
    from tryon.prepare import prepare_dataset

    persons, garments = tmp_path / "p", tmp_path / "g"
    persons.mkdir()
    garments.mkdir()
    person, garment = synthetic_person(3, (512, 384))
    person.save(persons / "model_01.jpg")
    garment.save(garments / "sku_9.jpg")
    (tmp_path / "pairs.txt").write_text("model_01.jpg sku_9.jpg\nmodel_01.jpg missing.jpg\n")
    written, problems = prepare_dataset(tiny_pipeline, persons, garments, tmp_path / "out", tmp_path / "pairs.txt",
                                        height=256, width=192)
    assert written == 1 and len(problems) == 1 and "missing.jpg" in problems[0]
    d = tmp_path / "out" / "train"
    expected = tiny_pipeline.parse([tiny_pipeline.frame_person(persons / "model_01.jpg", (256, 192))])
    s = TryOnDataset(tmp_path / "out", "train", height=256, width=192)[0]
    # the parse map was written in CIHP values and read back as our labels (the JPEG round trip may move a few)
    assert (s["parse"].numpy() == expected[0]).mean() > 0.9

    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    for persons_again in (persons, d / "image"):  # the same photos again; the written crops as the photos
        with pytest.raises(TryOnError, match="already holds a dataset"):
            prepare_dataset(tiny_pipeline, persons_again, garments, tmp_path / "out", height=256, width=192)
    assert {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()} == before
