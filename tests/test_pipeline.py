import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from tryon.cli import main
from tryon.errors import TryOnError
from tryon.pipeline import INTERMEDIATE_FILES, TryOnPipeline, TryOnPipelineOutput, load_pipeline


def _on_canvas(person: Image.Image, size, at) -> Image.Image:
    """The person photo pasted into a larger photo (width, height) of a plain colour, its top-left corner at `at`."""
    canvas = Image.new("RGB", size, (180, 200, 215))
    canvas.paste(person, at)
    return canvas


@pytest.mark.parametrize("size", [(389, 517), (768, 1024), (3024, 4032)], ids=["odd", "1024x768", "phone-portrait"])
def test_the_try_on_has_the_photo_size(tiny_pipeline, synthetic_person, size):
    person, garment = synthetic_person(3, (1024, 768))
    photo = person.resize(size, Image.BICUBIC)
    out = tiny_pipeline(photo, garment).images[0]
    assert out.size == size and out.mode == "RGB"


def test_only_the_garment_region_changes(tiny_pipeline, synthetic_person):
    person, garment = synthetic_person(3, (512, 384))
    photo = _on_canvas(person, (1000, 1100), (500, 520))  # far from every edge: room all around the crop
    out = tiny_pipeline(photo, garment, return_intermediates=True)
    a, b = np.asarray(out.images[0]), np.asarray(photo)
    changed = (a != b).any(-1)
    assert changed.any()
    left, top, right, bottom = out.crop_boxes[0]
    outside = np.ones_like(changed)
    outside[max(top, 0):bottom, max(left, 0):right] = False
    assert not changed[outside].any()  # outside the crop: every pixel exactly as it was
    # inside it, only where the paste mask (model size, mapped to the photo with a pixel of slack) is on
    mask = np.asarray(out.paste_mask[0]) > 0
    mask = np.asarray(Image.fromarray(mask).resize((right - left, bottom - top), Image.NEAREST))
    from scipy import ndimage

    reach = ndimage.binary_dilation(mask, iterations=3)
    inside = changed[top:bottom, left:right]
    assert not inside[~reach].any()


def test_deterministic_and_a_batch_equals_one_by_one(tiny_pipeline, synthetic_person):
    pairs = [synthetic_person(seed, (512, 384)) for seed in (3, 6)]
    persons, garments = [p for p, _ in pairs], [g for _, g in pairs]
    batch = tiny_pipeline(persons, garments).images
    again = tiny_pipeline(persons, garments).images
    single = [tiny_pipeline(p, g).images[0] for p, g in pairs]
    for b, a, s in zip(batch, again, single):
        assert np.array_equal(np.asarray(b), np.asarray(a))
        assert np.array_equal(np.asarray(b), np.asarray(s))


def _represented(pipe, synthetic_person, seeds=(3, 6)):
    pairs = [synthetic_person(seed, (512, 384)) for seed in seeds]
    return pipe.represent([pipe.frame(p, g) for p, g in pairs], ["upper"] * len(pairs))


def test_mirror_batch_swaps_sides_and_mirrors_back(tiny_pipeline, synthetic_person):
    from tryon.data.labels import J, P
    from tryon.models.chain import batch_repr, mirror_batch

    batch = _represented(tiny_pipeline, synthetic_person)
    batch["parse"] = batch["parse"].clone()
    batch["parse"][:, 100:150, 20:40] = P["left_arm"]  # an untrained parser finds no arms: draw one each side
    batch["parse"][:, 100:150, 160:170] = P["right_arm"]
    batch["repr"] = batch_repr(batch)
    mirrored = mirror_batch(batch)
    assert torch.equal(mirrored["person"], batch["person"].flip(-1))
    left = batch["parse"] == P["left_arm"]
    assert left.any() and (mirrored["parse"].flip(-1)[left] == P["right_arm"]).all()
    width = batch["person"].shape[-1]
    assert torch.allclose(mirrored["pose"][:, J["l_wrist"], 0], width - 1 - batch["pose"][:, J["r_wrist"], 0])
    back = mirror_batch(mirrored)
    for key in ("person", "cloth", "cloth_mask", "agnostic", "agnostic_mask", "parse"):
        assert torch.equal(back[key], batch[key]), key
    assert torch.allclose(back["pose"], batch["pose"], atol=1e-4)
    assert torch.allclose(back["repr"], batch["repr"], atol=1e-3)


def test_mirror_averaging_makes_the_render_mirror_symmetric(tiny_pipeline, synthetic_person):
    """Averaged with its mirrored pass, the try-on of a mirrored person is the mirrored try-on; one pass of an
    untrained model is far from that."""
    from tryon.models.chain import mirror_batch

    batch = _represented(tiny_pipeline, synthetic_person)
    mirrored = mirror_batch(batch)
    gap = {}
    for average in (False, True):
        direct = tiny_pipeline.render(batch, mirror_average=average)
        other = tiny_pipeline.render(mirrored, mirror_average=average)
        gap[average] = (direct.image - other.image.flip(-1)).abs().mean().item()
        assert torch.equal(direct.warped_mask, tiny_pipeline.warp_garment(batch)[1])  # the paste reads the direct warp
    assert gap[False] > 0.01 and gap[True] < 1e-4


def test_mirror_averaging_is_the_default_and_can_be_turned_off(tiny_pipeline_dir, synthetic_person, tmp_path):
    person, garment = synthetic_person(3, (512, 384))
    averaged = load_pipeline(tiny_pipeline_dir)
    single = load_pipeline(tiny_pipeline_dir, mirror_average=False)
    assert averaged.mirror_average and not single.mirror_average
    a, b = np.asarray(averaged(person, garment).images[0]), np.asarray(single(person, garment).images[0])
    assert not np.array_equal(a, b)
    assert np.array_equal(np.asarray(averaged(person, garment, mirror_average=False).images[0]), b)
    person.save(tmp_path / "me.jpg")
    garment.save(tmp_path / "shirt.png")
    code = main(["run", "--person", str(tmp_path / "me.jpg"), "--garment", str(tmp_path / "shirt.png"),
                 "--out", str(tmp_path / "fast.png"), "--weights", str(tiny_pipeline_dir), "--single-pass"])
    expected = np.asarray(single(tmp_path / "me.jpg", tmp_path / "shirt.png").images[0])
    assert code == 0 and np.array_equal(np.asarray(Image.open(tmp_path / "fast.png")), expected)


def test_concurrent_calls_give_the_same_results(tiny_pipeline, synthetic_person):
    """The app calls one pipeline from several threads."""
    from concurrent.futures import ThreadPoolExecutor

    pairs = [synthetic_person(seed, (256, 192)) for seed in (3, 5, 6)]
    expected = [np.asarray(tiny_pipeline(p, g).images[0]) for p, g in pairs]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda i: tiny_pipeline(*pairs[i % 3]).images[0], range(6)))
    for i, image in enumerate(results):
        assert np.array_equal(np.asarray(image), expected[i % 3])


def test_exif_rotated_photo_is_turned_upright(tiny_pipeline, synthetic_person, tmp_path):
    person, garment = synthetic_person(3, (512, 384))
    stored = person.transpose(Image.Transpose.ROTATE_90)  # as a phone stores a portrait shot: sideways + a tag
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    path = tmp_path / "sideways.png"
    stored.save(path, exif=exif)
    out = tiny_pipeline(path, garment).images[0]
    assert out.size == person.size
    assert np.array_equal(np.asarray(out), np.asarray(tiny_pipeline(person, garment).images[0]))


@pytest.mark.parametrize("mode", ["CMYK", "P", "RGBA"])
def test_person_photos_in_other_modes_are_converted(tiny_pipeline, synthetic_person, tmp_path, mode):
    person, garment = synthetic_person(3, (512, 384))
    path = tmp_path / ("p.jpg" if mode == "CMYK" else "p.png")
    (person.convert(mode) if mode != "P" else person.quantize(64)).save(path)
    out = tiny_pipeline(path, garment).images[0]
    assert out.size == person.size and out.mode == "RGB"


@pytest.mark.parametrize("mode", ["L", "I;16"])
def test_grayscale_and_16_bit_garments_are_converted(tiny_pipeline, synthetic_person, tmp_path, mode):
    person, garment = synthetic_person(3, (512, 384))
    grey = np.asarray(garment.convert("L"))
    im = Image.fromarray(grey.astype(np.uint16) * 257) if mode == "I;16" else Image.fromarray(grey)
    assert im.mode == mode
    im.save(tmp_path / "g.png")
    assert tiny_pipeline(person, tmp_path / "g.png").images[0].size == person.size


def test_garment_alpha_channel_is_the_mask(tiny_pipeline, synthetic_person):
    person, _ = synthetic_person(3, (512, 384))
    rgba = np.zeros((300, 200, 4), np.uint8)
    rgba[..., :3] = (40, 200, 40)  # the hidden background is green, not white
    rgba[60:240, 50:150] = (200, 30, 30, 255)
    framed = tiny_pipeline.frame(person, Image.fromarray(rgba, "RGBA"))
    assert (framed.cloth[~framed.cloth_mask] == 255).all()  # what alpha hides becomes white
    assert (np.abs(framed.cloth[framed.cloth_mask].astype(int) - (200, 30, 30)) < 40).all(-1).mean() > 0.95


def _bad_inputs(tmp_path, person, garment):
    """(name, person, garment, message pattern) for every kind of bad input."""
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a photo\n")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    buf = io.BytesIO()
    person.save(buf, "JPEG")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    bomb = tmp_path / "bomb.png"
    Image.new("L", (9000, 6000)).save(bomb)  # 54 megapixels, a few kB on disk
    tiny = Image.new("RGB", (20, 20), "white")
    landscape = Image.fromarray(np.tile(np.linspace(0, 255, 384, dtype=np.uint8)[None, :, None], (512, 1, 3)))
    cut_off = person.crop((0, 0, person.width, person.height // 3))
    blank = Image.new("RGB", (192, 256), "white")
    return [
        ("not an image", text, garment, "person photo: .*not an image"),
        ("empty file", empty, garment, "person photo: .*empty"),
        ("truncated", truncated, garment, "person photo: .*truncated"),
        ("decompression bomb", bomb, garment, "person photo: .*too large"),
        ("tiny", tiny, garment, "person photo: .*too small"),
        ("no person", landscape, garment, "person photo: no person"),
        ("torso missing", cut_off, garment, "person photo: the photo must show the upper body"),
        ("blank garment", person, blank, "garment image: .*blank"),
        ("garment not an image", person, text, "garment image: .*not an image"),
    ]


def test_every_bad_input_raises_one_readable_error(tiny_pipeline, synthetic_person, tmp_path):
    person, garment = synthetic_person(3, (512, 384))
    for name, p, g, pattern in _bad_inputs(tmp_path, person, garment):
        with pytest.raises(TryOnError, match=pattern):
            tiny_pipeline(p, g)


def test_bad_arguments(tiny_pipeline, synthetic_person):
    person, garment = synthetic_person(3, (512, 384))
    with pytest.raises(TryOnError, match="one garment per photo"):
        tiny_pipeline([person, person], [garment])
    with pytest.raises(TryOnError, match="unknown garment category"):
        tiny_pipeline(person, garment, category="hat")
    with pytest.raises(TryOnError, match="no person photo given"):
        tiny_pipeline([], [])
    with pytest.raises(TryOnError, match="person photo: an image must be a path, bytes, a PIL image or a uint8 array"):
        tiny_pipeline(None, garment)
    as_arrays = tiny_pipeline(np.asarray(person), np.asarray(garment)).images[0]  # what gradio hands over
    assert np.array_equal(np.asarray(as_arrays), np.asarray(tiny_pipeline(person, garment).images[0]))


def test_intermediates(tiny_pipeline, synthetic_person, tmp_path):
    person, garment = synthetic_person(3, (512, 384))
    out = tiny_pipeline(person, garment, return_intermediates=True)
    assert isinstance(out, TryOnPipelineOutput)
    assert out.pose[0].shape == (18, 3) and out.parse[0].shape == (256, 192)
    for name in ("person", "agnostic", "garment", "warped_garment", "composition_mask", "paste_mask"):
        assert getattr(out, name)[0].size == (192, 256), name
    out.save_intermediates(tmp_path / "why")
    written = {p.name for p in (tmp_path / "why").iterdir()}
    assert {"pose.png", "pose.json", "parse.png", "agnostic.png", "warped_garment.png", "composition_mask.png"} <= written
    assert np.asarray(json.loads((tmp_path / "why" / "pose.json").read_text())["people"][0]["pose_keypoints_2d"]).size == 54
    assert tiny_pipeline(person, garment).pose is None


def test_save_and_load_round_trip(tiny_pipeline, tiny_pipeline_dir, synthetic_person, tmp_path):
    assert (tiny_pipeline_dir / "model_index.json").is_file()
    assert {"parser", "warp", "generator"} <= {p.name for p in tiny_pipeline_dir.iterdir()}
    assert tiny_pipeline.dtype == torch.float32 and not tiny_pipeline.generator.training
    tiny_pipeline.save_pretrained(tmp_path / "copy")
    again = TryOnPipeline.from_pretrained(tmp_path / "copy")
    person, garment = synthetic_person(3, (512, 384))
    assert np.array_equal(np.asarray(again(person, garment).images[0]), np.asarray(tiny_pipeline(person, garment).images[0]))


def test_float16_export_loads_as_float32_and_stays_close(tiny_pipeline, synthetic_person, tmp_path):
    from safetensors import safe_open

    tiny_pipeline.save_pretrained(tmp_path / "half", dtype=torch.float16)
    assert tiny_pipeline.dtype == torch.float32  # the pipeline itself is untouched
    with safe_open(tmp_path / "half" / "generator" / "diffusion_pytorch_model.safetensors", "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    assert TryOnPipeline.from_pretrained(tmp_path / "half").dtype == torch.float32
    half = load_pipeline(tmp_path / "half")
    assert half.dtype == torch.float32 and half.device.type == "cpu"
    person, garment = synthetic_person(3, (512, 384))
    a = np.asarray(tiny_pipeline(person, garment).images[0]).astype(int)
    b = np.asarray(half(person, garment).images[0]).astype(int)
    assert np.abs(a - b).mean() < 1.0 and (a != b).any(-1).mean() < 0.05


def test_a_lower_precision_can_be_chosen(tiny_pipeline_dir, tiny_pipeline, synthetic_person):
    """bfloat16 here (CPU); float16 is for GPUs. Outputs stay close to float32."""
    low = load_pipeline(tiny_pipeline_dir, dtype=torch.bfloat16)
    assert low.dtype == torch.bfloat16
    person, garment = synthetic_person(3, (512, 384))
    a = np.asarray(tiny_pipeline(person, garment).images[0]).astype(int)
    b = np.asarray(low(person, garment).images[0]).astype(int)
    assert b.shape == a.shape and np.abs(a - b).mean() < 2.0


def test_export_assembles_three_trained_models(tiny_pipeline, tmp_path):
    from tryon.pipeline import export_weights

    for name in ("parser", "warp", "generator"):
        getattr(tiny_pipeline, name).save_pretrained(tmp_path / "runs" / name / "best")
    out = export_weights(*(tmp_path / "runs" / n / "best" for n in ("parser", "warp", "generator")), tmp_path / "w")
    loaded = load_pipeline(out)
    for name in ("parser", "warp", "generator"):
        for k, v in getattr(tiny_pipeline, name).state_dict().items():
            torch.testing.assert_close(getattr(loaded, name).state_dict()[k], v.half().float())


def test_missing_weights_say_what_to_do(tmp_path):
    with pytest.raises(TryOnError, match="model_index.json"):
        load_pipeline(tmp_path)


def test_a_device_this_machine_lacks_is_refused_before_loading(tiny_pipeline_dir, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device, message in (("cuda", "no CUDA GPU here"), ("cuda:1", "no CUDA GPU here"),
                            ("banana", "unknown device 'banana'"), ("meta", "device meta is not supported")):
        with pytest.raises(TryOnError, match=message):
            load_pipeline(tiny_pipeline_dir, device=device)


# the `tryon run` command -------------------------------------------------------------------------------------------
def test_run_writes_the_try_on_and_intermediates(tiny_pipeline_dir, synthetic_person, tmp_path, capsys):
    person, garment = synthetic_person(3, (512, 384))
    person.save(tmp_path / "me.jpg")
    garment.save(tmp_path / "shirt.png")
    code = main(["run", "--person", str(tmp_path / "me.jpg"), "--garment", str(tmp_path / "shirt.png"),
                 "--out", str(tmp_path / "out" / "me_in_shirt.png"), "--weights", str(tiny_pipeline_dir),
                 "--intermediates", str(tmp_path / "why")])
    assert code == 0
    assert Image.open(tmp_path / "out" / "me_in_shirt.png").size == person.size
    assert sorted(p.name for p in (tmp_path / "why").iterdir()) == sorted(INTERMEDIATE_FILES)


def test_run_replaces_no_input_and_no_existing_file_unasked(tiny_pipeline_dir, synthetic_person, tmp_path, capsys,
                                                           monkeypatch):
    person, garment = synthetic_person(3, (512, 384))
    person.save(tmp_path / "me.jpg")
    garment.save(tmp_path / "shirt.png")
    (tmp_path / "why").mkdir()
    (tmp_path / "why" / "parse.png").write_bytes(b"the user's own file")
    (tmp_path / "old.png").write_bytes(b"an earlier result")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    run = ["run", "--person", str(tmp_path / "me.jpg"), "--garment", str(tmp_path / "shirt.png"),
           "--weights", str(tiny_pipeline_dir)]
    refusals = [(["--out", str(tmp_path / "me.jpg")], "is an input of this run"),
                (["--out", str(tmp_path / "me.jpg"), "--overwrite"], "is an input of this run"),
                (["--out", str(tmp_path / "shirt.png"), "--overwrite"], "is an input of this run"),
                (["--out", str(tmp_path / "old.png")], "old.png exists: pass --overwrite"),
                (["--out", str(tmp_path / "why"), "--overwrite"], "why is a folder"),
                (["--out", str(tmp_path / "new.png"), "--intermediates", str(tmp_path / "why")], "parse.png exists"),
                (["--out", str(tmp_path / "new.gif2")], "cannot write images of type '.gif2'")]
    with monkeypatch.context() as m:  # each is refused before the pipeline is even loaded
        m.setattr("tryon.pipeline.load_pipeline", lambda *a, **k: pytest.fail("the pipeline was loaded"))
        for extra, message in refusals:
            assert main(run + extra) != 0, extra
            assert message in capsys.readouterr().err, extra
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert main(run + ["--out", str(tmp_path / "old.png"), "--overwrite"]) == 0
    assert Image.open(tmp_path / "old.png").size == person.size


def test_run_on_bad_input_exits_non_zero_and_writes_nothing(tiny_pipeline_dir, synthetic_person, tmp_path, capsys):
    person, garment = synthetic_person(3, (512, 384))
    garment.save(tmp_path / "shirt.png")
    out = tmp_path / "out"
    out.mkdir()
    cases = _bad_inputs(tmp_path, person, garment)
    for name, p, g, _ in cases:
        for i, x in enumerate((p, g)):
            if isinstance(x, Image.Image):
                x.save(tmp_path / f"{name}_{i}.png")
        p = p if not isinstance(p, Image.Image) else tmp_path / f"{name}_0.png"
        g = g if not isinstance(g, Image.Image) else tmp_path / f"{name}_1.png"
        code = main(["run", "--person", str(p), "--garment", str(g), "--out", str(out / "x.png"),
                     "--weights", str(tiny_pipeline_dir)])
        err = capsys.readouterr().err.strip()
        assert code != 0, name
        assert err.startswith("tryon: error:") and "\n" not in err, (name, err)
        assert list(out.iterdir()) == [], name
    person.save(tmp_path / "me.png")
    assert main(["run", "--person", str(tmp_path / "me.png"), "--garment", str(tmp_path / "shirt.png"),
                 "--out", str(out / "x.gif2"), "--weights", str(tiny_pipeline_dir)]) != 0
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("mode", ["L", "I;16"])
def test_grayscale_and_16_bit_person_photos_are_converted(tiny_pipeline, viton_root, tmp_path, mode):
    grey = Image.open(viton_root / "test" / "image" / "000003_0.jpg").convert("L")
    photo = Image.fromarray(np.asarray(grey).astype(np.uint16) * 257) if mode == "I;16" else grey
    assert photo.mode == mode
    photo.save(tmp_path / "p.png")
    out = tiny_pipeline(tmp_path / "p.png", viton_root / "test" / "cloth" / "000003_1.jpg").images[0]
    assert out.size == (192, 256) and out.mode == "RGB"
