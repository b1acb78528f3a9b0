import io

import numpy as np
import pytest
from PIL import Image

from tryon.errors import TryOnError
from tryon.preprocess.image_io import load_image, load_label_map, load_mask


def _photo(w=64, h=48):
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = (200, 30, 30)  # left half red, right half blue: orientation is visible
    a[:, w // 2 :] = (30, 30, 200)
    return Image.fromarray(a)


def test_rgb_photo_loads_from_path_bytes_and_pil(tmp_path):
    p = tmp_path / "a.png"
    _photo().save(p)
    for src in (p, str(p), p.read_bytes(), Image.open(p), np.asarray(Image.open(p))):
        im = load_image(src)
        assert im.mode == "RGB" and im.size == (64, 48)
    assert np.array_equal(np.asarray(load_image(np.asarray(Image.open(p)))), np.asarray(load_image(p)))


@pytest.mark.parametrize("source, match", [
    (np.zeros((48, 64, 3), np.float32), "an image array must be uint8"),
    (np.zeros((2, 48, 64, 3), np.uint8), "an image array must be uint8"),
    (None, "not NoneType"),
    (3, "not int"),
])
def test_what_is_not_an_image_is_named(source, match):
    with pytest.raises(TryOnError, match=match):
        load_image(source)


def test_a_folder_is_not_an_image(tmp_path):
    with pytest.raises(TryOnError, match="a folder, not an image file"):
        load_image(tmp_path)


@pytest.mark.parametrize("make, match", [
    (lambda p: None, "not found"),
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_text("name,price\nshirt,10\n"), "not an image"),
])
def test_missing_empty_and_non_image_files(tmp_path, make, match):
    p = tmp_path / "x.jpg"
    make(p)
    with pytest.raises(TryOnError, match=match):
        load_image(p)


def test_truncated_jpeg_names_the_file(tmp_path):
    p = tmp_path / "cut.jpg"
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 192, 3), dtype=np.uint8)).save(buf, "JPEG")
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(TryOnError, match=r"cut\.jpg.*truncated"):
        load_image(p)


def test_decompression_bomb_refused_before_decoding(tmp_path):
    p = tmp_path / "bomb.png"
    Image.new("L", (9000, 5000)).save(p)  # 45 MP of zeros: a tiny file
    assert p.stat().st_size < 200_000
    with pytest.raises(TryOnError, match="too large"):
        load_image(p)
    with pytest.raises(TryOnError, match="too large"):
        load_image(_photo(), max_pixels=1000)


def test_tiny_image_refused():
    with pytest.raises(TryOnError, match="too small"):
        load_image(Image.new("RGB", (20, 300)))


def test_exif_rotation_is_applied(tmp_path):
    p = tmp_path / "rot.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    _photo().save(p, exif=exif, quality=95)
    im = load_image(p)
    assert im.size == (48, 64)
    a = np.asarray(im).astype(int)
    assert a[2, 24, 0] > 150 and a[-3, 24, 2] > 150  # red (left half) ends up on top


@pytest.mark.parametrize("mode", ["CMYK", "L", "P", "I;16", "LA", "RGBA", "1", "F"])
def test_odd_modes_are_converted_to_rgb(tmp_path, mode):
    src = _photo()
    if mode == "I;16":
        im = Image.fromarray(np.asarray(src.convert("L")).astype(np.uint16) * 257)
    elif mode == "F":
        im = Image.fromarray(np.asarray(src.convert("L")).astype(np.float32) / 255.0)
    else:
        im = src.convert(mode)
    out = load_image(im)
    assert out.mode == "RGB" and out.size == src.size
    gray_left = np.asarray(out)[:, :10].mean()
    assert 30 < gray_left < 230  # not blank, not saturated


def test_alpha_is_composited_on_white_or_kept():
    a = np.zeros((40, 40, 4), np.uint8)
    a[10:30, 10:30] = (0, 0, 255, 255)
    im = Image.fromarray(a, "RGBA")
    rgb = np.asarray(load_image(im))
    assert (rgb[0, 0] == 255).all() and (rgb[20, 20] == (0, 0, 255)).all()
    assert load_image(im, keep_alpha=True).mode == "RGBA"


def test_label_map_mode_and_size_checked(tmp_path):
    p = tmp_path / "parse.png"
    Image.fromarray(np.full((10, 8), 5, np.uint8), "L").resize((40, 32)).save(p)
    assert load_label_map(p).max() == 5
    with pytest.raises(TryOnError, match=r"parse\.png.*expected 64x48"):
        load_label_map(p, expected_size=(64, 48))
    q = tmp_path / "rgb.png"
    _photo().save(q)
    with pytest.raises(TryOnError, match="grayscale or palette"):
        load_label_map(q)


def test_mask_threshold_ignores_jpeg_noise(tmp_path):
    a = np.zeros((64, 48), np.uint8)
    a[16:48, 12:36] = 255
    p = tmp_path / "m.jpg"
    Image.fromarray(a).save(p, quality=60)
    m = load_mask(p)
    assert m.dtype == bool and m[32, 24] and not m[2, 2]
    assert abs(int(m.sum()) - 32 * 24) < 40
