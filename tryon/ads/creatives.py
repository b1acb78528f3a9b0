"""Personalized creatives end to end: pick garments for a shopper, put each on their photo, render every format,
a contact sheet and `ads.json`. The try-on itself is injected (`tryon_fn`), so any pipeline (or a fake) plugs in."""
import json
import logging
import os
from pathlib import Path

from PIL import Image, ImageDraw

from tryon.ads.layout import FORMATS, Brand, check_formats, load_brand, palette, render_creative
from tryon.ads.profile import Profile, load_profile
from tryon.ads.recolor import recolor
from tryon.ads.recommend import recommend
from tryon.ads.text import draw_text, fill_template, fit_text, format_price
from tryon.errors import TryOnError
from tryon.files import is_input_folder, write_text
from tryon.preprocess.image_io import load_image, save_image
from tryon.products import load_catalog, safe_name

log = logging.getLogger(__name__)
SHEET_HEIGHT, SHEET_MAX_WIDTH = 400, 728  # the largest a creative appears on the contact sheet
SHEET_LABEL = 320
SHEET_PAD = 24


def make_ads(photo, profile, products, tryon_fn, out_dir, *, formats=None, top_k: int = 3, brand=None) -> dict:
    """Write creatives for the shopper in `photo` into `out_dir`; return what `ads.json` holds.

    `profile`: a Profile, dict or JSON path; `products`: a list of Product or a catalog path; `brand`: a Brand,
    brand-kit path or None (defaults); `formats`: names from FORMATS (None: all);
    `tryon_fn(person, garment, category) -> PIL.Image`, given RGB images and a category. Files:
    `<rank>_<sku>_<format>.png`, `contact_sheet.png`, `ads.json` (picks with reasons and files, products left out
    with why, failures), each written to a temporary name and renamed. A garment whose try-on fails with a
    TryOnError is recorded under `failed` and the others go on.
    """
    if is_input_folder(products, out_dir):
        raise TryOnError(f"{out_dir} is the catalog's folder: write the creatives to a folder of their own (there, "
                         "the next run would take them for garments)")
    person = load_image(photo)
    profile = profile if isinstance(profile, Profile) else load_profile(profile)
    products = load_catalog(products) if isinstance(products, (str, os.PathLike)) else list(products)
    brand = brand if isinstance(brand, Brand) else (load_brand(brand) if brand else Brand())
    formats = check_formats(formats or FORMATS)
    if top_k < 1:
        raise TryOnError(f"the number of picks (top-k) must be 1 or more, not {top_k}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    picks, excluded = recommend(profile, products, top_k)
    if not picks:
        raise TryOnError("no product in the catalog suits this profile (all are bought, out of budget or unusable)")
    entries, failed, sheet_rows = [], [], []
    for rank, pick in enumerate(picks, 1):
        product = pick.product
        try:
            garment = load_image(product.image, keep_alpha=True)  # alpha, if any, is the best garment mask
            if pick.variant:
                garment = recolor(garment, pick.variant[1])
            result = tryon_fn(person, load_image(garment), product.category)  # flattened on white
            if not isinstance(result, Image.Image):
                raise TryOnError(f"the try-on returned {type(result).__name__}, not an image")
        except TryOnError as e:
            log.warning("%s: try-on failed: %s", product.sku, e)
            failed.append({"sku": product.sku, "error": str(e)})
            continue
        shown = pick.variant or pick.colors[0][:2]  # (name, rgb) of the colour the ad shows
        look = palette(brand, shown[1])
        texts = ad_texts(brand, profile, product, shown[0])
        files, rendered = {}, []
        for fmt in formats:
            creative = render_creative(fmt, result, texts, brand, look)
            files[fmt] = f"{rank:02d}_{safe_name(product.sku)}_{fmt}.png"
            save_image(creative.image, out / files[fmt])
            rendered.append(creative.image)
        entries.append({"rank": rank, "sku": product.sku, "name": product.name, "category": product.category,
                        "price": product.price, "price_text": texts["price"], "score": pick.score,
                        "reason": pick.reason, "colors": [c[0] for c in pick.colors],
                        "variant": pick.variant[0] if pick.variant else None, "files": files})
        sheet_rows.append((f"{rank}. {product.name or product.sku}", pick.reason, rendered))
    if not entries:
        raise TryOnError(f"every try-on failed; the first error: {failed[0]['error']}")
    sheet = contact_sheet(sheet_rows, formats, brand)
    save_image(sheet, out / "contact_sheet.png")
    report = {"profile": profile.name, "locale": profile.locale, "formats": formats, "picks": entries,
              "excluded": [{"sku": s, "reason": why} for s, why in excluded.items()], "failed": failed,
              "contact_sheet": "contact_sheet.png"}
    write_text(out / "ads.json", json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    return report


def ad_texts(brand: Brand, profile: Profile, product, color: str) -> dict:
    """Headline, product name, price and call to action, templated with the profile and product fields."""
    price = format_price(product.price, profile.locale, brand.currency)
    fields = {k: v for k, v in product.extra.items() if isinstance(v, (str, int, float)) and not isinstance(v, bool)}
    fields.update(name=profile.name, size=profile.size, product=product.name, sku=product.sku,
                  category=product.category, price=price, color=color, colour=color, brand=brand.name)
    return {"headline": fill_template(brand.headline, fields), "product": product.name, "price": price,
            "cta": fill_template(brand.cta, fields)}


def contact_sheet(rows, formats, brand: Brand) -> Image.Image:
    """One row per pick: its title and reason, then each format at most SHEET_HEIGHT tall and SHEET_MAX_WIDTH
    wide (never enlarged), bottom-aligned in its column."""
    scales = [min(1.0, SHEET_HEIGHT / FORMATS[f][1], SHEET_MAX_WIDTH / FORMATS[f][0]) for f in formats]
    sizes = [(round(FORMATS[f][0] * s), round(FORMATS[f][1] * s)) for f, s in zip(formats, scales)]
    width = SHEET_PAD + SHEET_LABEL + sum(w + SHEET_PAD for w, _ in sizes)
    height = SHEET_PAD + len(rows) * (SHEET_HEIGHT + SHEET_PAD)
    sheet = Image.new("RGB", (width, height), (238, 238, 238))
    draw = ImageDraw.Draw(sheet)
    for r, (title, reason, images) in enumerate(rows):
        y = SHEET_PAD + r * (SHEET_HEIGHT + SHEET_PAD)
        label_x1 = SHEET_PAD + SHEET_LABEL - SHEET_PAD
        draw_text(draw, fit_text(title, (SHEET_PAD, y, label_x1, y + 96), brand.bold_font, 28, 14), (27, 27, 27))
        draw_text(draw, fit_text(reason, (SHEET_PAD, y + 110, label_x1, y + SHEET_HEIGHT), brand.font, 22, 12),
                  (90, 90, 90))
        x = SHEET_PAD + SHEET_LABEL
        for im, size in zip(images, sizes):
            sheet.paste(im.resize(size, Image.LANCZOS), (x, y + SHEET_HEIGHT - size[1]))
            x += size[0] + SHEET_PAD
    return sheet
