"""Ad copy: fonts, locale-aware prices, safe templates, and text that always fits its box.

Fitting: the text wraps at word boundaries (a word wider than the box breaks between letters); if it is still too
tall it shrinks one point at a time down to the minimum size; at the minimum it keeps the lines that fit and cuts
the last one with an ellipsis. Placement is by the measured ink box, so what is drawn lies inside the box.
"""
import importlib.util
import logging
import re
import string
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

from PIL import ImageDraw, ImageFont

from tryon.errors import TryOnError

log = logging.getLogger(__name__)
ELLIPSIS = "\u2026"
NBSP, NNBSP = "\u00a0", "\u202f"

# locale -> (decimal mark, group mark, pattern with ¤ = currency symbol and # = number, default currency)
LOCALES = {
    "en_US": (".", ",", "¤#", "USD"),
    "en_GB": (".", ",", "¤#", "GBP"),
    "en_IE": (".", ",", "¤#", "EUR"),
    "de_DE": (",", ".", "#" + NBSP + "¤", "EUR"),
    "de_AT": (",", NBSP, "¤" + NBSP + "#", "EUR"),
    "fr_FR": (",", NNBSP, "#" + NBSP + "¤", "EUR"),
    "es_ES": (",", ".", "#" + NBSP + "¤", "EUR"),
    "it_IT": (",", ".", "#" + NBSP + "¤", "EUR"),
    "nl_NL": (",", ".", "¤" + NBSP + "#", "EUR"),
    "ja_JP": (".", ",", "¤#", "JPY"),
}
# currency -> (symbol, decimals)
CURRENCIES = {"USD": ("$", 2), "EUR": ("€", 2), "GBP": ("£", 2), "JPY": ("¥", 0), "CHF": ("CHF", 2)}


def check_locale(value) -> str:
    """The LOCALES key for `de_DE`, `de-DE`, `de-de` or a bare language (`de` -> de_DE); else TryOnError."""
    text = str(value).strip().replace("-", "_")
    lang, _, region = text.partition("_")
    key = f"{lang.lower()}_{region.upper()}" if region else next((k for k in LOCALES if k.startswith(lang.lower() + "_")), "")
    if key not in LOCALES:
        raise TryOnError(f"unknown locale {value!r}: use one of {', '.join(LOCALES)}")
    return key


def check_currency(value) -> str:
    code = str(value).strip().upper()
    if code not in CURRENCIES:
        raise TryOnError(f"unknown currency {value!r}: use one of {', '.join(CURRENCIES)}")
    return code


def format_price(price: float | None, locale: str = "en_US", currency: str | None = None) -> str:
    """`49.99` -> "$49.99" (en_US), "49,99 €" (de_DE, fr_FR), "£49.99" (en_GB), "¥4,999" (ja_JP); None -> ""."""
    if price is None:
        return ""
    decimal_mark, group_mark, pattern, default = LOCALES[check_locale(locale)]
    symbol, decimals = CURRENCIES[check_currency(currency or default)]
    amount = Decimal(str(price)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    number = f"{amount:,.{decimals}f}".replace(",", "\0").replace(".", decimal_mark).replace("\0", group_mark)
    return pattern.replace("#", number).replace("¤", symbol)


def fill_template(template: str, fields: dict) -> str:
    """Substitute `$field` / `${field}` with string.Template.safe_substitute (nothing is evaluated; unknown fields
    stay as written), then tidy what empty fields leave: "$name, for you" with no name -> "For you"."""
    text = string.Template(template).safe_substitute({k: str(v) for k, v in fields.items()})
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    text = re.sub(r"([,;:])(?=[,.!?;:])", "", text).strip()
    tidy = re.sub(r"^[\s,;:.!?\-]+", "", text)
    if tidy != text:
        tidy = tidy[:1].upper() + tidy[1:]
    return tidy


def default_font_path(bold: bool = False) -> Path | None:
    """DejaVu Sans (free licence, wide Latin/Greek/Cyrillic coverage) as shipped in matplotlib's data, if installed."""
    spec = importlib.util.find_spec("matplotlib")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "mpl-data" / "fonts" / "ttf" / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=256)
def load_font(path, size: int) -> ImageFont.FreeTypeFont:
    """A TrueType font at `size` px (basic layout, so the same on every machine); None -> PIL's built-in font."""
    if path is None:
        log.warning("no TrueType font found (matplotlib's DejaVu Sans); accented letters may not render")
        return ImageFont.load_default(size=size)
    try:
        return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)
    except OSError as e:
        raise TryOnError(f"{path}: not a usable font file ({e})") from None


@dataclass(frozen=True)
class TextBlock:
    """Lines placed for drawing: (x, y) baseline-left origins, the font, and the ink bbox on the canvas (None if empty)."""

    lines: tuple
    font: ImageFont.FreeTypeFont | None
    bbox: tuple | None


def fit_text(text: str, box, font_path, max_size: int, min_size: int, *, align: str = "left",
             valign: str = "top") -> TextBlock:
    """Place `text` inside `box` (x0, y0, x1, y1): wrap, then shrink to `min_size`, then cut with an ellipsis."""
    words = " ".join(str(text).split()).split(" ")
    if words == [""]:
        return TextBlock((), None, None)
    width, height = box[2] - box[0], box[3] - box[1]
    for size in range(max_size, min_size - 1, -1):
        font = load_font(font_path, size)
        lines = _wrap(words, font, width)
        if _ink_height(lines, font) <= height:
            return _place(lines, font, box, align, valign)
    font = load_font(font_path, min_size)
    lines = _wrap(words, font, width)
    while len(lines) > 1 and _ink_height(lines, font) > height:
        lines = lines[:-1]
    lines[-1] = _with_ellipsis(lines[-1], font, width)
    if _ink_height(lines, font) > height:
        raise TryOnError(f"a text box of {width}x{height} px is too small for {min_size} px text")
    return _place(lines, font, box, align, valign)


def draw_text(draw: ImageDraw.ImageDraw, block: TextBlock, fill) -> None:
    for xy, line in block.lines:
        draw.text(xy, line, font=block.font, fill=fill, anchor="ls")


def _line_height(font) -> int:
    ascent, descent = font.getmetrics()
    return round((ascent + descent) * 1.12)


def _ink(line: str, font):
    return font.getbbox(line, anchor="ls")


def _ink_height(lines, font) -> int:
    top = min(_ink(line, font)[1] + i * _line_height(font) for i, line in enumerate(lines))
    bottom = max(_ink(line, font)[3] + i * _line_height(font) for i, line in enumerate(lines))
    return bottom - top


def _fits(line: str, font, width: int) -> bool:
    left, _, right, _ = _ink(line, font)
    return right - left <= width


def _wrap(words, font, width: int) -> list[str]:
    lines, line = [], ""
    for word in words:
        candidate = f"{line} {word}" if line else word
        if _fits(candidate, font, width):
            line = candidate
            continue
        if line:
            lines.append(line)
        while not _fits(word, font, width):  # a word wider than the box breaks between letters
            lo, hi = 1, len(word) - 1  # the longest prefix that fits (at least one letter), by bisection
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if _fits(word[:mid], font, width) else (lo, mid - 1)
            lines.append(word[:lo])
            word = word[lo:]
        line = word
    if line:
        lines.append(line)
    return lines


def _with_ellipsis(line: str, font, width: int) -> str:
    line = line.rstrip()
    while line and not _fits(line + ELLIPSIS, font, width):
        line = line[:-1].rstrip()
    return line + ELLIPSIS


def _place(lines, font, box, align: str, valign: str) -> TextBlock:
    """Origins so that the block's ink is left- or centre-aligned and top- or middle-aligned in `box`."""
    step = _line_height(font)
    inks = [_ink(line, font) for line in lines]
    top = min(ink[1] + i * step for i, ink in enumerate(inks))
    bottom = max(ink[3] + i * step for i, ink in enumerate(inks))
    y0 = box[1] - top if valign == "top" else box[1] + (box[3] - box[1] - (bottom - top)) // 2 - top
    placed, x_min, x_max = [], box[2], box[0]
    for i, (line, (left, _, right, _)) in enumerate(zip(lines, inks)):
        x = box[0] - left if align == "left" else box[0] + (box[2] - box[0] - (right - left)) // 2 - left
        placed.append(((x, y0 + i * step), line))
        x_min, x_max = min(x_min, x + left), max(x_max, x + right)
    return TextBlock(tuple(placed), font, (x_min, y0 + top, x_max, y0 + bottom))
