"""Personalized ads: colours, profile, ranking, recolouring, text fitting, layouts, creatives and the CLI."""
import io
import json
import sys
import types

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tryon.ads import Brand, load_brand, load_profile, make_ads, recolor, recommend
from tryon.ads.colors import COLORS, color_name, delta_e, dominant_colors, parse_color, rgb_to_lab
from tryon.ads.layout import FORMATS, LAYOUTS, check_formats, person_crop, render_creative, union
from tryon.ads.text import check_locale, default_font_path, fill_template, fit_text, format_price
from tryon.errors import TryOnError
from tryon.products import Product

SIZE = (128, 96)  # (height, width) of the test garments
LONG_NAME = ("Ünïcödé Crème Brûlée Ärmelloses Oberteil mit Rüschen, Schleife und außergewöhnlich langem "
             "Produktnamen für Übergrößen – Édition Spéciale Çà et Là")


def _tee_mask(size=SIZE):
    h, w = size
    im = Image.new("L", (w, h))
    ImageDraw.Draw(im).polygon([(0.3 * w, 0.1 * h), (0.7 * w, 0.1 * h), (0.95 * w, 0.3 * h), (0.82 * w, 0.42 * h),
                                (0.75 * w, 0.36 * h), (0.75 * w, 0.92 * h), (0.25 * w, 0.92 * h),
                                (0.25 * w, 0.36 * h), (0.18 * w, 0.42 * h), (0.05 * w, 0.3 * h)], fill=255)
    return np.asarray(im) > 0


def garment(color, *, stripes=None, text=False, background=255, size=SIZE):
    """A shaded T-shirt on a plain background, optionally with stripes and a white print with black letters."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    shade = (0.7 + 0.3 * xx / w)[..., None]
    rgb = np.array(color, float) * shade
    if stripes is not None:
        rgb = np.where(((yy // 6) % 3 == 0)[..., None], np.array(stripes, float) * shade, rgb)
    if text:
        rgb[50:66, 32:64] = 250
        rgb[54:62, 36:60:6] = 15
    mask = _tee_mask(size)
    out = np.where(mask[..., None], rgb, background).astype(np.uint8)
    return Image.fromarray(out), mask


def person(size=(256, 192)):
    """A grey-background figure: head (y 10-50) and a body down to the feet."""
    h, w = size
    im = Image.new("RGB", (w, h), (232, 230, 226))
    d = ImageDraw.Draw(im)
    d.ellipse((w // 2 - 18, 10, w // 2 + 18, 50), fill=(120, 80, 60))
    d.rectangle((w // 2 - 35, 52, w // 2 + 35, 160), fill=(90, 90, 90))
    d.rectangle((w // 2 - 30, 160, w // 2 + 30, 246), fill=(40, 40, 60))
    return im


def fake_tryon(person_image, garment_image, category):
    """Paste the garment over the torso: enough to see which garment each creative shows."""
    out = person_image.copy()
    out.paste(garment_image.resize((90, 110)), (out.width // 2 - 45, 52))
    return out


def catalog(tmp_path, rows):
    """Products from (sku, colour name, category, price, extra) rows, their images written to tmp_path."""
    products = []
    for sku, colour, category, price, extra in rows:
        path = tmp_path / f"{sku}.png"
        garment(COLORS[colour])[0].save(path)
        products.append(Product(sku, path, category, f"{colour.title()} {category}", price, extra))
    return products


# ---------------------------------------------------------------- colours


def test_color_names_hex_and_errors():
    assert parse_color("Navy") == ("navy", COLORS["navy"])
    assert parse_color("gray")[0] == "grey" and parse_color("off-white")[0] == "ivory"
    assert parse_color("#c8102e") == ("red", (200, 16, 46))
    assert parse_color("#f00")[1] == (255, 0, 0)
    with pytest.raises(TryOnError, match="unknown colour 'blurple'"):
        parse_color("blurple")
    assert all(color_name(rgb) == name for name, rgb in COLORS.items())


def test_ciede2000_matches_reference_values():
    # Sharma, Wu, Dalal (2005) test data
    pairs = [((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425), ((50, 2.49, -0.001), (50, -2.49, 0.0009), 7.1792),
             ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644), ((50, 2.5, 0), (73, 25, -18), 27.1492)]
    for a, b, expected in pairs:
        assert float(delta_e(a, b)) == pytest.approx(expected, abs=1e-4)


def test_dominant_colors_inside_the_mask_are_deterministic():
    image, mask = garment(COLORS["navy"], stripes=COLORS["white"], background=(30, 200, 30))
    first = dominant_colors(image, mask)
    assert first == dominant_colors(image, mask)
    (main, share), (second, share2) = first[:2]
    assert color_name(main) in ("navy", "denim") and share > 0.55
    assert color_name(second) in ("white", "silver", "ivory") and 0.2 < share2 < 0.45
    assert all(color_name(rgb) != "green" for rgb, _ in first)  # the background is not measured


# ---------------------------------------------------------------- profile


def test_profile_loads_and_defaults(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"name": "Ana", "preferred_colors": ["navy", "#800020"], "categories": ["top", "dress"],
                                "styles": ["Casual"], "size": "M", "budget": [20, 80.5],
                                "past_purchases": ["S1"], "locale": "de-de"}))
    p = load_profile(path)
    assert [c[0] for c in p.preferred_colors] == ["navy", "burgundy"]
    assert (p.categories, p.styles, p.budget, p.past_purchases, p.locale) == \
        (("upper", "dress"), ("casual",), (20.0, 80.5), frozenset({"S1"}), "de_DE")
    empty = load_profile({})
    assert (empty.name, empty.preferred_colors, empty.budget, empty.locale) == ("", (), None, "en_US")


@pytest.mark.parametrize("data, match", [
    ({"prefered_colors": ["red"]}, "unknown key 'prefered_colors' .did you mean 'preferred_colors'"),
    ({"budget": [80, 20]}, "'budget' must be"),
    ({"budget": 50}, "'budget' must be"),
    ({"budget": [0, "lots"]}, "'budget' must be"),
    ({"preferred_colors": ["blurple"]}, "unknown colour 'blurple'"),
    ({"preferred_colors": "red, blue"}, "unknown colour"),
    ({"categories": ["hats"]}, "unknown category 'hats'"),
    ({"locale": "xx_YY"}, "unknown locale 'xx_YY'"),
    ({"past_purchases": [{"sku": 1}]}, "'past_purchases' must be a list"),
    ({"name": ["Ana"]}, "'name' must be text"),
])
def test_bad_profiles_say_what_is_wrong(tmp_path, data, match):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(data))
    with pytest.raises(TryOnError, match=match) as e:
        load_profile(path)
    assert str(path) in str(e.value)


def test_profile_file_errors(tmp_path):
    with pytest.raises(TryOnError, match="profile not found"):
        load_profile(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{name: Ana}")
    with pytest.raises(TryOnError, match="not valid JSON"):
        load_profile(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(TryOnError, match="a profile is a JSON object"):
        load_profile(tmp_path / "list.json")


# ---------------------------------------------------------------- ranking


@pytest.fixture
def shop(tmp_path):
    return catalog(tmp_path, [
        ("BLUE-1", "blue", "upper", 30.0, {}), ("RED-1", "red", "upper", 30.0, {}),
        ("GREEN-1", "green", "upper", 30.0, {}), ("RED-2", "red", "dress", 45.0, {}),
        ("RED-PRICY", "red", "upper", 300.0, {}), ("RED-OWNED", "red", "upper", 20.0, {}),
        ("MUSTARD-1", "mustard", "lower", 40.0, {"style": "casual, boho"}),
    ])


def test_ranking_follows_the_profile_and_excludes_budget_and_bought(shop):
    profile = load_profile({"preferred_colors": ["red"], "budget": [10, 100], "past_purchases": ["RED-OWNED"]})
    picks, excluded = recommend(profile, shop, top_k=4)
    assert [p.product.sku for p in picks[:2]] == ["RED-1", "RED-2"]
    assert all("red, one of your colours" in p.reason and "within your budget" in p.reason for p in picks[:2])
    assert excluded == {"RED-PRICY": "over your budget", "RED-OWNED": "already bought"}
    for p in picks[2:]:  # the others are picked for no colour of theirs
        assert "colour" not in p.reason and p.reason == "within your budget"


def test_reasons_name_the_true_cause(shop):
    picks, _ = recommend(load_profile({"categories": ["pants"], "styles": ["boho"]}), shop, top_k=2)
    assert picks[0].product.sku == "MUSTARD-1"
    assert picks[0].reason == "a bottom, what you shop for; boho, your style"
    assert picks[1].reason == "more from the catalog"  # nothing in the profile matches it
    picks, _ = recommend(load_profile({"preferred_colors": ["burgundy"]}), shop, top_k=1)
    assert picks[0].reason == "red, close to your burgundy"


def test_diversity_and_colour_variants(tmp_path):
    products = catalog(tmp_path, [
        ("A-TEE", "red", "upper", 10.0, {}), ("B-TEE", "red", "upper", 10.0, {}), ("C-DRESS", "red", "dress", 10.0, {}),
        ("D-GREY", "grey", "upper", 10.0, {"colors": "grey|navy|glitter"})])
    red = load_profile({"preferred_colors": ["red"]})
    assert [p.product.sku for p in recommend(red, products, 2, diversity=0.0)[0]] == ["A-TEE", "B-TEE"]
    assert [p.product.sku for p in recommend(red, products, 2)[0]] == ["A-TEE", "C-DRESS"]
    pick = recommend(load_profile({"preferred_colors": ["navy"]}), products, 1)[0][0]
    assert pick.product.sku == "D-GREY" and pick.variant == ("navy", COLORS["navy"])
    assert pick.reason == "comes in navy, one of your colours"


def test_unreadable_garment_is_left_out_with_its_reason(tmp_path, shop):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    picks, excluded = recommend(load_profile({}), [*shop[:2], Product("BAD", bad, "upper", "Bad", 1.0)], 3)
    assert len(picks) == 2 and excluded["BAD"].startswith("garment image unusable")


def test_size_filter(tmp_path):
    products = catalog(tmp_path, [("S", "red", "upper", 1.0, {"sizes": "S|M"}), ("L", "red", "upper", 1.0, {"sizes": "L"})])
    picks, excluded = recommend(load_profile({"size": "m"}), products, 3)
    assert [p.product.sku for p in picks] == ["S"] and excluded == {"L": "not in your size"}


# ---------------------------------------------------------------- recolouring


def _l_channel(image):
    return rgb_to_lab(np.asarray(image.convert("RGB")))[..., 0]


def _edges(lightness):
    gy, gx = np.gradient(lightness)
    return np.hypot(gx, gy)


def test_recolor_changes_hue_inside_the_mask_only_and_keeps_the_print():
    image, mask = garment(COLORS["olive"], stripes=COLORS["mustard"], text=True)
    noisy = np.asarray(image).copy()
    noisy[~mask] = np.random.default_rng(0).integers(0, 256, (int((~mask).sum()), 3))  # a busy background
    image = Image.fromarray(noisy)
    out = recolor(image, "blue", mask)
    a, b = np.asarray(image), np.asarray(out)
    assert np.array_equal(a[~mask], b[~mask])
    l_in, l_out = _l_channel(image), _l_channel(out)
    assert np.corrcoef(l_in[mask], l_out[mask])[0, 1] > 0.95
    assert np.corrcoef(_edges(l_in)[mask], _edges(l_out)[mask])[0, 1] > 0.95
    base_in, base_out = dominant_colors(image, mask)[0][0], dominant_colors(out, mask)[0][0]
    target = rgb_to_lab(COLORS["blue"])
    assert delta_e(rgb_to_lab(base_out), target) < 5 < 30 < delta_e(rgb_to_lab(base_in), target)
    white = (a[..., 0] == 250) & mask  # the white print stays white, the black letters black
    letters = (a[..., 0] == 15) & mask
    assert np.abs(b[white].astype(int) - 250).max() <= 3 and np.abs(b[letters].astype(int) - 15).max() <= 3


def test_recolor_plain_grey_reaches_the_target_and_keeps_alpha():
    image, mask = garment((128, 128, 128))
    rgba = image.convert("RGBA")
    rgba.putalpha(Image.fromarray(mask.astype(np.uint8) * 255))
    out = recolor(rgba, "#800020")
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], np.asarray(rgba)[..., 3])
    median = np.median(np.asarray(out)[..., :3][mask], axis=0)
    assert delta_e(rgb_to_lab(median), rgb_to_lab((128, 0, 32))) < 3


# ---------------------------------------------------------------- text


def test_prices_follow_the_locale():
    nb = lambda s: s.replace("\u00a0", " ").replace("\u202f", " ")
    assert format_price(49.99, "en_US") == "$49.99"
    assert nb(format_price(49.99, "de_DE")) == "49,99 €"
    assert nb(format_price(49.99, "fr_FR")) == "49,99 €"
    assert format_price(49.99, "en_GB") == "£49.99"
    assert format_price(4999, "ja_JP") == "¥4,999"
    assert format_price(1234567.5, "en_US") == "$1,234,567.50"
    assert nb(format_price(1234567.5, "de_DE")) == "1.234.567,50 €"
    assert nb(format_price(1234.5, "fr_FR")) == "1 234,50 €"
    assert format_price(0.125, "en_US") == "$0.13" and format_price(None, "en_US") == ""
    assert nb(format_price(10, "de_DE", "USD")) == "10,00 $"
    assert check_locale("de") == "de_DE" and check_locale("en-gb") == "en_GB"
    with pytest.raises(TryOnError, match="unknown locale"):
        format_price(1, "xx_YY")


def test_templates_are_safe_and_tidy():
    fields = {"name": "Ana", "product": "Tee", "price": "$5"}
    assert fill_template("$name, your ${product} for $price", fields) == "Ana, your Tee for $5"
    assert fill_template("$name, picked for you", {"name": ""}) == "Picked for you"
    assert fill_template("Hi $name! $unknown {name} ${name.__class__} $$5", fields) == \
        "Hi Ana! $unknown {name} ${name.__class__} $5"
    assert fill_template("Hello $name !", {"name": ""}) == "Hello!"


def _ink_box(block, size):
    """The bbox of the pixels the block actually paints, measured by drawing it."""
    canvas = Image.new("L", size)
    draw = ImageDraw.Draw(canvas)
    for xy, line in block.lines:
        draw.text(xy, line, font=block.font, fill=255, anchor="ls")
    return canvas.getbbox()


def _inside(inner, outer):
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def _disjoint(a, b):
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


@pytest.mark.parametrize("text, box, sizes, cut", [
    (LONG_NAME, (10, 10, 310, 130), (40, 12), False),  # wraps and shrinks
    (LONG_NAME, (10, 10, 150, 40), (20, 10), True),  # cannot fit at the minimum: ellipsis
    ("Ü" * 80, (5, 5, 105, 60), (24, 12), True),  # one endless word breaks between letters
    ("Sale", (0, 0, 400, 100), (48, 12), False),
], ids=["wraps", "ellipsis", "long-word", "short"])
def test_text_fits_its_box(text, box, sizes, cut):
    block = fit_text(text, box, default_font_path(), *sizes)
    measured = _ink_box(block, (box[2] + 50, box[3] + 50))
    assert _inside(measured, box) and _inside(block.bbox, box)
    assert block.lines[-1][1].endswith("…") == cut
    if not cut:
        assert " ".join(line for _, line in block.lines) == text


def test_empty_text_draws_nothing():
    for text in ("", "   "):
        block = fit_text(text, (0, 0, 100, 40), default_font_path(), 20, 10)
        assert block.lines == () and block.bbox is None


# ---------------------------------------------------------------- layouts and creatives


def test_layout_rectangles_are_inside_and_disjoint():
    for fmt, layout in LAYOUTS.items():
        w, h = FORMATS[fmt]
        assert layout.size == (w, h)
        rects = {"image": layout.image, "logo": layout.logo, **{k: s.box for k, s in layout.text_slots().items()}}
        for name, r in rects.items():
            assert 0 <= r[0] < r[2] <= w and 0 <= r[1] < r[3] <= h, (fmt, name)
        names = list(rects)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                assert _disjoint(rects[a], rects[b]), (fmt, a, b)
        headline_room = union(layout.headline.box, layout.logo)  # the headline's room when there is no logo
        for name in ("image", "product", "price", "cta"):
            assert _disjoint(headline_room, rects[name]), (fmt, name)


def test_person_crop_never_cuts_the_head():
    photo = person()
    for layout in LAYOUTS.values():
        x0, y0, x1, y1 = layout.image
        box = person_crop(photo, (x1 - x0) / (y1 - y0))
        assert 0 <= box[0] < box[2] <= photo.width and 0 <= box[1] < box[3] <= photo.height
        assert box[1] <= 10 and box[0] <= 96 - 18 and box[2] >= 96 + 18  # the head (y 10-50, x 78-114) is in
        assert abs((box[2] - box[0]) / (box[3] - box[1]) - (x1 - x0) / (y1 - y0)) < 0.05


EXTREME_TEXTS = {
    "long": {"headline": "Ünïcödé, " + LONG_NAME, "product": LONG_NAME * 2, "price": "1.234.567,89\u00a0€",
             "cta": "Jetzt entdecken und bis zu 70 % sparen – nur heute"},
    "empty": {"headline": "", "product": "Tee", "price": "", "cta": ""},
}


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("case", list(EXTREME_TEXTS))
def test_every_format_renders_at_size_with_text_in_its_boxes(fmt, case):
    colors = {"background": (246, 241, 234), "text": (27, 27, 27), "accent": (122, 31, 61), "button_text": (255, 255, 255)}
    brand = Brand(name="Maison Ünïque")
    creative = render_creative(fmt, person(), EXTREME_TEXTS[case], brand, colors)
    layout = LAYOUTS[fmt]
    assert creative.image.size == FORMATS[fmt]
    boxes = creative.boxes
    assert set(boxes) >= {"image", "logo"} and ("headline" in boxes) == (case == "long")
    slots = layout.text_slots()
    for key in ("headline", "product", "price"):
        if key in boxes:
            assert _inside(boxes[key], slots[key].box), (key, boxes[key])
            assert _disjoint(boxes[key], layout.image)
    if "cta" in boxes:
        assert _inside(boxes["cta"], boxes["button"]) and _disjoint(boxes["button"], layout.image)
    # every pixel outside the image, the logo, the button and the measured text is plain background
    painted = np.zeros(FORMATS[fmt][::-1], bool)
    for key, (x0, y0, x1, y1) in boxes.items():
        painted[y0:y1, x0:x1] = True
    pixels = np.asarray(creative.image)
    assert (pixels[~painted] == colors["background"]).all()


def test_same_inputs_render_the_same_bytes():
    def png(fmt):
        brand = Brand(name="Maison")
        colors = {"background": (255, 255, 255), "text": (0, 0, 0), "accent": (0, 0, 128), "button_text": (255, 255, 255)}
        buf = io.BytesIO()
        render_creative(fmt, person(), EXTREME_TEXTS["long"], brand, colors).image.save(buf, format="PNG")
        return buf.getvalue()

    for fmt in ("mrec", "leaderboard"):
        assert png(fmt) == png(fmt)


def test_formats_accept_names_and_sizes():
    assert check_formats(["300x250", "feed", "mrec"]) == ["mrec", "feed"]
    with pytest.raises(TryOnError, match="unknown format 'poster'"):
        check_formats(["poster"])


def test_brand_kit(tmp_path):
    logo = Image.new("RGBA", (60, 20), (0, 0, 0, 0))
    ImageDraw.Draw(logo).rectangle((0, 0, 59, 19), fill=(200, 0, 0, 255))
    logo.save(tmp_path / "logo.png")
    (tmp_path / "brand.json").write_text(json.dumps({"name": "M", "logo": "logo.png", "currency": "gbp",
                                                     "colors": {"background": "ivory", "accent": "#7a1f3d"}}))
    brand = load_brand(tmp_path / "brand.json")
    assert (brand.logo, brand.currency, brand.background, brand.accent, brand.text) == \
        (tmp_path / "logo.png", "GBP", COLORS["ivory"], (122, 31, 61), None)
    for data, match in [({"logo": "none.png"}, "logo file not found"), ({"colour": {}}, "did you mean 'colors'"),
                        ({"colors": {"background": "plaid"}}, "unknown colour"), ({"currency": "XYZ"}, "unknown currency")]:
        (tmp_path / "bad.json").write_text(json.dumps(data))
        with pytest.raises(TryOnError, match=match):
            load_brand(tmp_path / "bad.json")


# ---------------------------------------------------------------- end to end


def _setup(tmp_path):
    rows = [("RED-1", "red", "upper", 39.5, {"style": "casual"}), ("BLUE-1", "blue", "upper", 20.0, {}),
            ("RED-9", "red", "dress", 500.0, {}), ("OLIVE-1", "olive", "lower", 25.0, {})]
    products = catalog(tmp_path, rows)
    lines = [{"sku": p.sku, "image": p.image.name, "category": p.category,
              "name": LONG_NAME if p.sku == "BLUE-1" else p.name, "price": p.price, **p.extra} for p in products]
    (tmp_path / "catalog.jsonl").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines))
    (tmp_path / "profile.json").write_text(json.dumps({"name": "Zoë", "preferred_colors": ["red"], "budget": [0, 100],
                                                       "locale": "fr_FR"}))
    person().save(tmp_path / "me.png")
    return tmp_path / "me.png", tmp_path / "profile.json", tmp_path / "catalog.jsonl"


def test_make_ads_writes_creatives_sheet_and_report(tmp_path):
    photo, profile, cat = _setup(tmp_path)

    def tryon_fn(p, g, category):
        if category == "lower":
            raise TryOnError("no legs found in the photo")
        return fake_tryon(p, g, category)

    report = make_ads(photo, profile, cat, tryon_fn, tmp_path / "out", formats=["feed", "300x250"], top_k=3)
    out = tmp_path / "out"
    assert [p["sku"] for p in report["picks"]] == ["RED-1", "BLUE-1"]
    assert report["failed"] == [{"sku": "OLIVE-1", "error": "no legs found in the photo"}]
    assert report["excluded"] == [{"sku": "RED-9", "reason": "over your budget"}]
    first = report["picks"][0]
    assert first["reason"].startswith("red, one of your colours") and first["price_text"].replace("\u00a0", " ") == "39,50 €"
    for pick in report["picks"]:
        for fmt, name in pick["files"].items():
            assert Image.open(out / name).size == FORMATS[fmt]
    assert json.loads((out / "ads.json").read_text(encoding="utf-8")) == report
    assert Image.open(out / "contact_sheet.png").size[0] > 300
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left
    garments = tmp_path / "garments"
    garments.mkdir()
    with pytest.raises(TryOnError, match="is the catalog's folder"):
        make_ads(photo, profile, garments, tryon_fn, garments)


def test_make_ads_is_byte_for_byte_repeatable(tmp_path):
    photo, profile, cat = _setup(tmp_path)
    for run in ("a", "b"):
        make_ads(photo, profile, cat, fake_tryon, tmp_path / run, formats=["leaderboard"], top_k=2)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir()) and len(names) == 4
    assert all((tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in names)


def test_cli_ads_end_to_end(tmp_path, monkeypatch, capsys):
    from tryon.cli import main

    photo, profile, cat = _setup(tmp_path)
    loaded = []

    def load_pipeline(weights, mirror_average=True):
        loaded.append((weights, mirror_average))
        return lambda p, g, category="upper": types.SimpleNamespace(images=[fake_tryon(p, g, category)])

    monkeypatch.setitem(sys.modules, "tryon.pipeline", types.SimpleNamespace(load_pipeline=load_pipeline))
    out = tmp_path / "out"
    args = ["ads", "--photo", str(photo), "--profile", str(profile), "--catalog", str(cat), "--out", str(out),
            "--formats", "mrec", "--top-k", "1", "--weights", "W"]
    assert main(args) == 0
    assert loaded == [("W", True)] and "1. RED-1: red, one of your colours" in capsys.readouterr().out
    assert json.loads((out / "ads.json").read_text())["picks"][0]["files"] == {"mrec": "01_RED-1_mrec.png"}
    assert main([*args, "--single-pass"]) == 0 and loaded[-1] == ("W", False)
    profile.write_text(json.dumps({"budget": "cheap"}))
    assert main(args) == 2
    assert "'budget' must be" in capsys.readouterr().err and len(loaded) == 2  # failed before loading the model
