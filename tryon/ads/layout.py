"""Creative layouts: one per format, each at its exact size, and the brand kit that styles them.

A layout is a set of rectangles that never overlap: the try-on image, the logo, and the text boxes (headline,
product name, price) and call-to-action button. Text is fitted inside its box (see `text.fit_text`), so nothing
overflows or covers the image. Brand kit JSON (every key optional; paths relative to the file):

```json
{"name": "Maison", "logo": "logo.png", "font": "Brand.ttf", "bold_font": "Brand-Bold.ttf", "currency": "EUR",
 "colors": {"background": "#f6f1ea", "text": "#1b1b1b", "accent": "#7a1f3d"},
 "headline": "$name, picked for you", "cta": "Shop now"}
```
A missing background (or "auto") is a light tint of the garment's main colour; a missing accent is that colour.
Without a logo file the brand name is set in the logo box; without a name either, the headline takes that room.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from tryon.ads.colors import contrast, lab_to_rgb, parse_color, rgb_to_lab
from tryon.ads.profile import check_keys
from tryon.ads.text import check_currency, default_font_path, draw_text, fit_text, load_font
from tryon.errors import TryOnError
from tryon.preprocess.garment import garment_mask
from tryon.preprocess.image_io import load_image

FORMATS = {"feed": (1080, 1080), "story": (1080, 1920), "link": (1200, 628), "mrec": (300, 250),
           "leaderboard": (728, 90)}
FORMAT_ALIASES = {f"{w}x{h}": name for name, (w, h) in FORMATS.items()}
BRAND_KEYS = ("name", "logo", "font", "bold_font", "currency", "colors", "headline", "cta")
COLOR_KEYS = ("background", "text", "accent")
DARK, LIGHT = (27, 27, 27), (255, 255, 255)


@dataclass(frozen=True)
class Slot:
    """A text box (x0, y0, x1, y1), its font size range (px), weight and alignment."""

    box: tuple
    max_size: int
    min_size: int
    bold: bool = False
    align: str = "left"
    valign: str = "top"


@dataclass(frozen=True)
class Layout:
    size: tuple
    image: tuple
    logo: tuple
    headline: Slot
    product: Slot
    price: Slot
    cta: Slot  # the button; its text is fitted inside with a padding

    def text_slots(self) -> dict:
        return {"headline": self.headline, "product": self.product, "price": self.price, "cta": self.cta}


LAYOUTS = {
    "feed": Layout((1080, 1080), image=(0, 0, 560, 1080), logo=(616, 64, 1024, 144),
                   headline=Slot((616, 212, 1024, 520), 80, 36, bold=True),
                   product=Slot((616, 552, 1024, 704), 44, 24),
                   price=Slot((616, 728, 1024, 812), 60, 32, bold=True),
                   cta=Slot((616, 900, 944, 1004), 40, 22, bold=True, align="center", valign="middle")),
    "story": Layout((1080, 1920), image=(0, 0, 1080, 1100), logo=(72, 1148, 1008, 1228),
                    headline=Slot((72, 1268, 1008, 1468), 88, 44, bold=True),
                    product=Slot((72, 1496, 1008, 1596), 48, 28),
                    price=Slot((72, 1624, 1008, 1704), 64, 36, bold=True),
                    cta=Slot((72, 1744, 1008, 1848), 48, 28, bold=True, align="center", valign="middle")),
    "link": Layout((1200, 628), image=(0, 0, 480, 628), logo=(528, 40, 1152, 100),
                   headline=Slot((528, 128, 1152, 300), 60, 30, bold=True),
                   product=Slot((528, 316, 1152, 400), 36, 20),
                   price=Slot((528, 420, 1152, 490), 44, 26, bold=True),
                   cta=Slot((528, 516, 848, 588), 32, 18, bold=True, align="center", valign="middle")),
    "mrec": Layout((300, 250), image=(0, 0, 120, 250), logo=(132, 10, 290, 34),
                   headline=Slot((132, 42, 290, 108), 22, 11, bold=True),
                   product=Slot((132, 118, 290, 152), 15, 9),
                   price=Slot((132, 160, 290, 186), 19, 11, bold=True),
                   cta=Slot((132, 202, 290, 238), 15, 9, bold=True, align="center", valign="middle")),
    "leaderboard": Layout((728, 90), image=(0, 0, 72, 90), logo=(84, 12, 184, 78),
                          headline=Slot((196, 10, 460, 80), 24, 11, bold=True, valign="middle"),
                          product=Slot((472, 10, 616, 46), 14, 9),
                          price=Slot((472, 50, 616, 80), 18, 11, bold=True),
                          cta=Slot((628, 24, 720, 66), 14, 8, bold=True, align="center", valign="middle")),
}


def check_formats(names) -> list[str]:
    """Format names (feed, story, link, mrec, leaderboard, or sizes such as 300x250); TryOnError for others."""
    out = []
    for name in names:
        key = FORMAT_ALIASES.get(str(name).lower(), str(name).lower())
        if key not in FORMATS:
            raise TryOnError(f"unknown format {name!r}: choose from {', '.join(FORMATS)} (or {', '.join(FORMAT_ALIASES)})")
        out.append(key)
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class Brand:
    """A brand kit; colours are RGB triples or None (None: from the garment's palette / by contrast)."""

    name: str = ""
    logo: Path | None = None
    font: Path | None = field(default_factory=default_font_path)
    bold_font: Path | None = field(default_factory=lambda: default_font_path(bold=True))
    currency: str | None = None
    background: tuple | None = None
    text: tuple | None = None
    accent: tuple | None = None
    headline: str = "$name, picked for you"
    cta: str = "Shop now"


def load_brand(path) -> Brand:
    """A Brand from a JSON brand kit; TryOnError names the file and what is wrong."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise TryOnError(f"{path}: brand kit not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TryOnError(f"{path}: the brand kit is not valid JSON ({e})") from None
    try:
        return _brand(data, path.parent)
    except TryOnError as e:
        raise TryOnError(f"{path}: {e}") from None


def _brand(data, root: Path) -> Brand:
    if not isinstance(data, dict):
        raise TryOnError("a brand kit is a JSON object")
    check_keys(data, BRAND_KEYS)
    colors = data.get("colors") or {}
    if not isinstance(colors, dict):
        raise TryOnError("'colors' must be an object such as {\"background\": \"#ffffff\"}")
    check_keys(colors, COLOR_KEYS)
    kwargs = {k: str(data[k]) for k in ("name", "headline", "cta") if data.get(k) is not None}
    for key in ("logo", "font", "bold_font"):
        if data.get(key):
            p = Path(data[key]) if Path(data[key]).is_absolute() else root / data[key]
            if not p.is_file():
                raise TryOnError(f"{key} file not found: {p}")
            kwargs[key] = p
    if "font" in kwargs and "bold_font" not in kwargs:
        kwargs["bold_font"] = kwargs["font"]
    for key in ("font", "bold_font"):
        if key in kwargs:
            load_font(kwargs[key], 12)
    if "logo" in kwargs:
        load_image(kwargs["logo"], keep_alpha=True, min_side=1)
    if data.get("currency"):
        kwargs["currency"] = check_currency(data["currency"])
    for key in COLOR_KEYS:
        if colors.get(key) and colors[key] != "auto":
            kwargs[key] = parse_color(colors[key])[1]
    return Brand(**kwargs)


# ---------------------------------------------------------------- colours


def _readable_on(background) -> tuple:
    return DARK if contrast(DARK, background) >= contrast(LIGHT, background) else LIGHT


def palette(brand: Brand, garment_rgb) -> dict:
    """Background, text, accent and button-text colours: the brand's, else derived from the garment's main colour
    (a light tint as background; the colour itself, darkened until it stands out, as accent; for a neutral
    garment the text colour)."""
    lab = rgb_to_lab(garment_rgb)
    background = brand.background or _rgb(lab_to_rgb([95.0, lab[1] * 0.12, lab[2] * 0.12]))
    text = brand.text or _readable_on(background)
    accent = brand.accent
    if accent is None and np.hypot(lab[1], lab[2]) < 12.0:  # a white, grey or black garment: a neutral button
        accent = text
    if accent is None:
        accent = tuple(garment_rgb)
        step = -8.0 if contrast(background, DARK) > contrast(background, LIGHT) else 8.0  # away from the background
        while contrast(accent, background) < 3.0 and 0.0 < lab[0] < 100.0:
            lab = lab + [step, 0, 0]
            accent = _rgb(lab_to_rgb(lab))
    return {"background": background, "text": text, "accent": accent, "button_text": _readable_on(accent)}


def _rgb(values) -> tuple:
    return tuple(int(round(float(v))) for v in values)


# ---------------------------------------------------------------- image


def person_crop(image: Image.Image, aspect: float, margin: float = 0.04) -> tuple:
    """A crop box (inside the image) of width/height `aspect` around the person: as tight as the whole person
    allows, centred on the person's centre of mass, with the top of the head always inside (the feet go first).
    The person is what differs from the plain background; on a busy background, the whole frame."""
    w, h = image.size
    thumb = image.copy()
    thumb.thumbnail((256, 256))  # the mask is found on a small copy, then scaled back
    try:
        mask = garment_mask(thumb)
    except TryOnError:
        mask = np.ones(thumb.size[::-1], bool)
    if mask.mean() > 0.97:
        mask = np.ones(thumb.size[::-1], bool)
    ys, xs = np.nonzero(mask)
    sx, sy = w / thumb.width, h / thumb.height
    top, bottom, left, right = ys.min() * sy, (ys.max() + 1) * sy, xs.min() * sx, (xs.max() + 1) * sx
    centre_x = (xs.mean() + 0.5) * sx
    pad = margin * (bottom - top)
    ch = max(bottom - top + 2 * pad, (right - left + 2 * pad) / aspect)
    ch = min(ch, h, w / aspect)
    cw = ch * aspect
    x0 = float(np.clip(centre_x - cw / 2, 0, w - cw))
    y0 = float(np.clip(top - pad, 0, h - ch))
    return round(x0), round(y0), round(x0 + cw), round(y0 + ch)


# ---------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Creative:
    """A rendered ad and where each element ended up: `boxes` maps headline, product, price, cta (ink bboxes),
    button, logo and image to canvas rectangles (absent when empty)."""

    image: Image.Image
    boxes: dict


def render_creative(fmt: str, tryon_image: Image.Image, texts: dict, brand: Brand, colors: dict) -> Creative:
    """One ad in format `fmt`: `texts` holds headline, product, price, cta (already templated; empty ones are left
    out); `colors` comes from `palette`. Same inputs, same pixels."""
    layout = LAYOUTS[fmt]
    canvas = Image.new("RGB", layout.size, colors["background"])
    draw = ImageDraw.Draw(canvas)
    boxes = {"image": layout.image}
    x0, y0, x1, y1 = layout.image
    crop = person_crop(tryon_image, (x1 - x0) / (y1 - y0))
    canvas.paste(tryon_image.convert("RGB").resize((x1 - x0, y1 - y0), Image.LANCZOS, box=crop), (x0, y0))
    logo = _draw_logo(canvas, draw, layout.logo, brand, colors["text"])
    if logo:
        boxes["logo"] = logo
    for key, slot in layout.text_slots().items():
        text = texts.get(key, "")
        if not text:
            continue
        box, fill = slot.box, colors["text"]
        if key == "headline" and not logo:  # no logo: the headline may use its room too
            box = union(box, layout.logo)
        if key == "cta":
            draw.rounded_rectangle((box[0], box[1], box[2] - 1, box[3] - 1), radius=(box[3] - box[1]) // 2,
                                   fill=colors["accent"])  # PIL's corners are inclusive; boxes are half-open
            boxes["button"] = box
            pad_x, pad_y = (box[3] - box[1]) // 2, (box[3] - box[1]) // 6
            box, fill = (box[0] + pad_x, box[1] + pad_y, box[2] - pad_x, box[3] - pad_y), colors["button_text"]
        block = fit_text(text, box, brand.bold_font if slot.bold else brand.font, slot.max_size, slot.min_size,
                         align=slot.align, valign=slot.valign)
        draw_text(draw, block, fill)
        if block.bbox:
            boxes[key] = block.bbox
    return Creative(canvas, boxes)


def union(a, b) -> tuple:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _draw_logo(canvas: Image.Image, draw: ImageDraw.ImageDraw, box, brand: Brand, text_color) -> tuple | None:
    """The brand logo fitted (aspect kept) at the left of `box`, vertically centred; else the brand name as text."""
    if brand.logo is None:
        block = fit_text(brand.name, box, brand.bold_font, box[3] - box[1], max(8, (box[3] - box[1]) // 3),
                         valign="middle")
        draw_text(draw, block, text_color)
        return block.bbox
    logo = load_image(brand.logo, keep_alpha=True, min_side=1)
    scale = min((box[2] - box[0]) / logo.width, (box[3] - box[1]) / logo.height)
    size = (max(1, int(logo.width * scale)), max(1, int(logo.height * scale)))
    logo = logo.resize(size, Image.LANCZOS)
    at = (box[0], box[1] + (box[3] - box[1] - size[1]) // 2)
    canvas.paste(logo, at, logo)
    return (*at, at[0] + size[0], at[1] + size[1])
