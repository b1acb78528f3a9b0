import json

import pytest
from PIL import Image

from tryon.errors import TryOnError
from tryon.products import load_catalog, normalize_category


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "img"
    folder.mkdir()
    for name in ("a", "b", "c"):
        Image.new("RGB", (40, 40), "red").save(folder / f"{name}.png")
    return folder


def _csv(tmp_path, text):
    path = tmp_path / "catalog.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_catalog_reads_rows_paths_synonyms_and_extra_columns(tmp_path, images):
    path = _csv(tmp_path, "\ufeffSKU, Image ,category,name,price,colour,style\n"
                          f"A1,img/a.png,T-Shirt,Crème Tee,49.99,navy,casual\n"
                          f"B2,{images / 'b.png'},trousers,Chinos,,,\n"
                          "\n"
                          "C3,img/c.png,dress,Midi,0,beige,\n")
    a, b, c = load_catalog(path)
    assert (a.sku, a.image, a.category, a.name, a.price) == ("A1", images / "a.png", "upper", "Crème Tee", 49.99)
    assert a.extra == {"colour": "navy", "style": "casual"}
    assert (b.image, b.category, b.price, b.extra) == (images / "b.png", "lower", None, {})
    assert (c.category, c.price) == ("dress", 0.0)


def test_jsonl_catalog_keeps_list_extras(tmp_path, images):
    path = tmp_path / "catalog.jsonl"
    rows = [{"sku": 7, "image": "img/a.png", "category": "top", "name": "Tee", "price": "19.5",
             "tags": ["casual", "summer"]},
            {"sku": "8", "image": "img/b.png", "category": "skirt", "name": "Skirt", "price": 30}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    a, b = load_catalog(path)
    assert (a.sku, a.price, a.category, a.tags("tags", "style")) == ("7", 19.5, "upper", ["casual", "summer"])
    assert (b.sku, b.category) == ("8", "lower")


def test_folder_catalog_uses_file_stems(images):
    (images / "notes.txt").write_text("not an image")
    (images / "blue_linen-shirt.jpg").write_bytes((images / "a.png").read_bytes())
    products = load_catalog(images, default_category="dress")
    assert [p.sku for p in products] == ["a", "b", "blue_linen-shirt", "c"]
    assert products[2].name == "Blue linen shirt"
    assert all(p.price is None and p.category == "dress" for p in products)


def test_tags_split_strings():
    from tryon.products import Product

    p = Product("x", None, "upper", "X", extra={"style": "Casual, street|Boho", "tags": ["Summer"]})
    assert p.tags("style", "tags", "missing") == ["casual", "street", "boho", "summer"]


@pytest.mark.parametrize("text, match", [
    ("sku,image,name,price\nA,img/a.png,Tee,1\n", r"line 1: missing column\(s\) category"),
    ("sku,image,category,name,price\nA,img/a.png,upper,Tee,1\nA,img/b.png,upper,Tee,2\n",
     r"line 3: sku 'A' is already used on line 2"),
    ("sku,image,category,name,price\nA,img/a.png,upper,Tee,abc\n", r"line 2: bad price 'abc'"),
    ("sku,image,category,name,price\nA,img/a.png,upper,Tee,-3\n", r"line 2: bad price '-3'"),
    ("sku,image,category,name,price\nA,img/a.png,upper,Tee,nan\n", r"line 2: bad price 'nan'"),
    ("sku,image,category,name,price\nA,img/zzz.png,upper,Tee,1\n", r"line 2: image file not found: .*zzz.png"),
    ("sku,image,category,name,price\nA,img/a.png,hat,Tee,1\n", r"line 2: unknown category 'hat'"),
    ("sku,image,category,name,price\n,img/a.png,upper,Tee,1\n", r"line 2: the sku is empty"),
    ("sku,image,category,name,price\nA,img/a.png,upper,Tee,1,extra\n", r"line 2: more values than columns"),
    ("sku,image,category,name,price\n", r"no products"),
    ("", r"empty"),
])
def test_bad_csv_catalogs_name_file_and_line(tmp_path, images, text, match):
    path = _csv(tmp_path, text)
    with pytest.raises(TryOnError, match=match) as e:
        load_catalog(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("line, match", [
    ("{not json", r"line 2: not valid JSON"),
    ("[1, 2]", r"line 2: each line must be a JSON object"),
    ('{"sku": "B", "image": "img/b.png"}', r"line 2: missing field\(s\) category, name, price"),
    ('{"sku": "B", "image": "img/b.png", "category": "upper", "name": "T", "price": true}', r"line 2: bad price"),
])
def test_bad_jsonl_catalogs_name_the_line(tmp_path, images, line, match):
    path = tmp_path / "c.jsonl"
    path.write_text('{"sku": "A", "image": "img/a.png", "category": "upper", "name": "T", "price": 1}\n' + line + "\n")
    with pytest.raises(TryOnError, match=match):
        load_catalog(path)


def test_missing_catalog_wrong_type_and_empty_folder(tmp_path):
    with pytest.raises(TryOnError, match="catalog not found"):
        load_catalog(tmp_path / "nope.csv")
    (tmp_path / "c.xlsx").write_text("x")
    with pytest.raises(TryOnError, match=r"\.csv or \.jsonl"):
        load_catalog(tmp_path / "c.xlsx")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TryOnError, match="no garment images"):
        load_catalog(tmp_path / "empty")


def test_categories_and_synonyms():
    assert [normalize_category(c) for c in ("Upper", "t-shirt", "Pants", "skirt", "DRESS", "upper body")] == \
        ["upper", "upper", "lower", "lower", "dress", "upper"]
    with pytest.raises(TryOnError, match="unknown category 'shoes'"):
        normalize_category("shoes")
