"""The product catalog shared by catalog rendering and ads: a CSV or JSONL file, or a plain folder of garment images.

A catalog row has `sku, image, category, name, price`; image paths are relative to the catalog file or absolute;
`price` may be empty (no price shown). Any other column (colour, style, tags, sizes, ...) is kept in
`Product.extra`. Categories are `upper`, `lower` or `dress`, or one of the synonyms in `CATEGORY_SYNONYMS`.
A folder catalog takes every image in the folder: sku = file stem, name from the stem, no price, one category.
"""
import csv
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from tryon.data.labels import CATEGORIES
from tryon.errors import TryOnError

REQUIRED_COLUMNS = ("sku", "image", "category", "name", "price")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
CATEGORY_SYNONYMS = {
    "top": "upper", "tops": "upper", "shirt": "upper", "t-shirt": "upper", "tshirt": "upper", "tee": "upper",
    "blouse": "upper", "sweater": "upper", "jumper": "upper", "hoodie": "upper", "jacket": "upper",
    "upper_body": "upper", "upper-body": "upper",
    "bottom": "lower", "bottoms": "lower", "pants": "lower", "trousers": "lower", "jeans": "lower",
    "shorts": "lower", "skirt": "lower", "lower_body": "lower", "lower-body": "lower",
    "dresses": "dress", "gown": "dress", "jumpsuit": "dress",
}


@dataclass(frozen=True)
class Product:
    """One garment for sale; `price` is None when the catalog gives none, `extra` holds the other columns."""

    sku: str
    image: Path
    category: str
    name: str
    price: float | None = None
    extra: dict = field(default_factory=dict)

    def tags(self, *keys: str) -> list[str]:
        """Lower-cased values of the extra columns `keys`, each a list or a string split on , ; or |."""
        out = []
        for key in keys:
            value = self.extra.get(key)
            items = value if isinstance(value, list) else re.split(r"[,;|]", str(value or ""))
            out += [str(v).strip().lower() for v in items if str(v).strip()]
        return out


def normalize_category(value) -> str:
    """`upper`, `lower` or `dress` from the category or a synonym (top, shirt, pants, skirt, ...); else TryOnError."""
    key = str(value).strip().lower().replace(" ", "_")
    category = key if key in CATEGORIES else CATEGORY_SYNONYMS.get(key)
    if category is None:
        raise TryOnError(f"unknown category {value!r}: use one of {', '.join(CATEGORIES)} "
                         f"(or a synonym such as top, shirt, pants, skirt)")
    return category


def safe_name(text: str) -> str:
    """`text` as part of a file name: each run of characters other than letters, digits, `.`, `_` and `-` becomes
    one `-` (never empty)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip(".-") or "item"


def load_catalog(path, *, default_category: str = "upper") -> list[Product]:
    """The products of a CSV or JSONL catalog, or of a folder of images (all of `default_category`), in file order.

    Raises TryOnError naming the file and line for a missing column, an empty or duplicate sku, a bad price,
    a missing image file or an unknown category.
    """
    path = Path(path)
    if path.is_dir():
        return _from_folder(path, normalize_category(default_category))
    if not path.is_file():
        raise TryOnError(f"{path}: catalog not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path)
    elif suffix in (".jsonl", ".ndjson"):
        rows = _jsonl_rows(path)
    else:
        raise TryOnError(f"{path}: a catalog is a .csv or .jsonl file, or a folder of garment images")
    products, seen = [], {}
    for line, row in rows:
        product = _product(row, path.parent, f"{path}, line {line}")
        if product.sku in seen:
            raise TryOnError(f"{path}, line {line}: sku {product.sku!r} is already used on line {seen[product.sku]}")
        seen[product.sku] = line
        products.append(product)
    if not products:
        raise TryOnError(f"{path}: the catalog has no products")
    return products


def _csv_rows(path: Path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            raise TryOnError(f"{path}: the catalog is empty")
        columns = [(c or "").strip().lower() for c in reader.fieldnames]
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise TryOnError(f"{path}, line 1: missing column(s) {', '.join(missing)} "
                             f"(a catalog needs {', '.join(REQUIRED_COLUMNS)})")
        reader.fieldnames = columns
        for row in reader:
            if None in row:
                raise TryOnError(f"{path}, line {reader.line_num}: more values than columns")
            if any((v or "").strip() for v in row.values()):
                yield reader.line_num, row


def _jsonl_rows(path: Path):
    with open(path, encoding="utf-8-sig") as f:
        for line, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as e:
                raise TryOnError(f"{path}, line {line}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise TryOnError(f"{path}, line {line}: each line must be a JSON object")
            row = {str(k).strip().lower(): v for k, v in row.items()}
            missing = [c for c in REQUIRED_COLUMNS if c not in row]
            if missing:
                raise TryOnError(f"{path}, line {line}: missing field(s) {', '.join(missing)}")
            yield line, row


def _product(row: dict, root: Path, where: str) -> Product:
    sku = str(row["sku"] if row["sku"] is not None else "").strip()
    if not sku:
        raise TryOnError(f"{where}: the sku is empty")
    image = Path(str(row["image"] or "").strip())
    if not str(image) or str(image) == ".":
        raise TryOnError(f"{where}: no image for sku {sku!r}")
    image = image if image.is_absolute() else root / image
    if not image.is_file():
        raise TryOnError(f"{where}: image file not found: {image}")
    try:
        category = normalize_category(row["category"])
    except TryOnError as e:
        raise TryOnError(f"{where}: {e}") from None
    extra = {k: v for k, v in row.items() if k not in REQUIRED_COLUMNS and v not in (None, "")}
    return Product(sku, image, category, str(row["name"] or "").strip(), _price(row["price"], where), extra)


def _price(value, where: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise TryOnError(f"{where}: bad price {value!r}")
    try:
        price = float(value)
    except (TypeError, ValueError):
        raise TryOnError(f"{where}: bad price {value!r}: write a plain number such as 49.99") from None
    if not math.isfinite(price) or price < 0:
        raise TryOnError(f"{where}: bad price {value!r}: it must be a number of 0 or more")
    return price


def _from_folder(folder: Path, category: str) -> list[Product]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise TryOnError(f"{folder}: no garment images in this folder")
    products, seen = [], {}
    for p in files:
        if p.stem in seen:
            raise TryOnError(f"{folder}: {seen[p.stem].name} and {p.name} would both be sku {p.stem!r}")
        seen[p.stem] = p
        name = re.sub(r"[_\-\s]+", " ", p.stem).strip()
        products.append(Product(p.stem, p, category, name[:1].upper() + name[1:]))
    return products
