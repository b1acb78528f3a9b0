"""The Gradio app, started for real on a free local port with the tiny pipeline: its /tryon and /ad endpoints
through gradio_client, the page in headless Chromium, readable errors, 16 requests at once, and what is left on
disk afterwards."""
import io
import os
import runpy
import socket
import time
import zipfile
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from tryon.ads.layout import FORMATS
from tryon.errors import TryOnError

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

pytestmark = [  # gradio's queue on this pandas
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(tiny_pipeline):
    from tryon.app import TEMP_DIR, build_app, launch, load_content

    demo = build_app(tiny_pipeline, *load_content())
    url, share_url = launch(demo, port=_free_port())
    assert share_url is None  # never a public link unless asked
    yield SimpleNamespace(url=url, temp=TEMP_DIR)
    demo.close()


@pytest.fixture(scope="module")
def client(app, tmp_path_factory):
    return Client(app.url, download_files=str(tmp_path_factory.mktemp("downloads")), verbose=False,
                  analytics_enabled=False)


@pytest.fixture(scope="module")
def photos(tmp_path_factory, synthetic_person):
    """Two shoppers of different sizes and two garments, as files with names no other test uses."""
    d = tmp_path_factory.mktemp("photos")
    files = []
    for i, (seed, size) in enumerate(((3, (512, 384)), (5, (640, 480)))):
        person, garment = synthetic_person(seed, size)
        person.save(d / f"shopper_{i}.png")
        garment.save(d / f"garment_{i}.png")
        files.append((d / f"shopper_{i}.png", d / f"garment_{i}.png"))
    return files


def _tryon(client, person, garment, category="upper") -> Image.Image:
    path = client.predict(handle_file(person), handle_file(garment), category, api_name="/tryon")
    return Image.open(path).convert("RGB")


def test_tryon_endpoint_returns_the_photo_size(client, photos):
    for person, garment in photos:
        out = _tryon(client, person, garment)
        photo = Image.open(person).convert("RGB")
        assert out.size == photo.size
        assert np.any(np.asarray(out) != np.asarray(photo))  # the garment region was repainted


@pytest.mark.parametrize("bad, message", [
    ("not_a_photo", "person photo: the image: not an image file"),
    ("empty_wall", "person photo: "),
    (None, "add your photo first"),
], ids=["not-an-image", "no-person", "no-photo"])
def test_bad_input_gets_a_readable_error_then_the_app_goes_on(client, photos, tmp_path, bad, message):
    person, garment = photos[0]
    if bad == "not_a_photo":
        (tmp_path / "not_a_photo.png").write_text("this is not a photo")
    elif bad == "empty_wall":
        Image.new("RGB", (384, 512), (200, 200, 190)).save(tmp_path / "empty_wall.png")
    with pytest.raises(AppError) as e:
        client.predict(handle_file(tmp_path / f"{bad}.png") if bad else None, handle_file(garment), "upper",
                       api_name="/tryon")
    assert str(e.value).startswith(message)
    assert "Traceback" not in str(e.value) and "File \"" not in str(e.value)
    assert _tryon(client, person, garment).size == Image.open(person).size


def test_16_concurrent_tryons_all_come_back_right(client, photos):
    expected = [np.asarray(_tryon(client, p, g), np.int16) for p, g in photos]  # one at a time
    start = time.perf_counter()
    jobs = [client.submit(handle_file(photos[i % 2][0]), handle_file(photos[i % 2][1]), "upper", api_name="/tryon")
            for i in range(16)]
    results = [np.asarray(Image.open(job.result(timeout=300)).convert("RGB"), np.int16) for job in jobs]
    print(f"16 concurrent /tryon calls: {time.perf_counter() - start:.1f} s")
    assert len(results) == 16
    for i, out in enumerate(results):  # each request got its own photo's try-on, none another's
        assert out.shape == expected[i % 2].shape
        assert np.abs(out - expected[i % 2]).mean() < 1.0


def test_ad_endpoint_renders_each_format_at_its_size(client, photos):
    person, garment = photos[0]
    tryon = client.predict(handle_file(person), handle_file(garment), "upper", api_name="/tryon")
    formats = list(FORMATS)
    gallery, zipped = client.predict(handle_file(tryon), handle_file(garment), "upper", "Ana", "Denim tee", 24.9,
                                     "de_DE", formats, api_name="/ad")
    assert [item["caption"].split()[0] for item in gallery] == formats
    for item, fmt in zip(gallery, formats):
        assert Image.open(item["image"]).size == FORMATS[fmt]
    with zipfile.ZipFile(zipped) as z:
        names = z.namelist()
        assert names == [f"{f}_{w}x{h}.png" for f, (w, h) in FORMATS.items()]
        assert Image.open(io.BytesIO(z.read(names[0]))).size == FORMATS[formats[0]]
    with pytest.raises(AppError, match="choose at least one format"):
        client.predict(handle_file(tryon), handle_file(garment), "upper", "Ana", "Denim tee", 24.9, "en_US", [],
                       api_name="/ad")


def test_uploads_are_not_left_on_disk(app, client, photos, tmp_path):
    person, garment = photos[1]
    private = tmp_path / "privacy_check_photo.png"
    private.write_bytes(person.read_bytes())
    bad = tmp_path / "privacy_check_broken.jpg"
    bad.write_bytes(person.read_bytes()[:300])  # a truncated upload: refused, and still removed
    _tryon(client, private, garment)
    with pytest.raises(AppError, match="truncated or corrupt|not an image"):
        client.predict(handle_file(bad), handle_file(garment), "upper", api_name="/tryon")
    files = [Path(root, f) for root, _, names in os.walk(app.temp) for f in names]
    assert files  # the results (and the app's own example copies) are there ...
    assert not [f for f in files if f.name.startswith(("privacy_check", "shopper_", "garment_"))]  # ... no upload
    assert not [f for f in files if f.read_bytes() == person.read_bytes()]


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """One headless Chromium for the module's page tests, its webcam a fake device playing a test pattern (nobody
    in it); each test opens its own page, which is its own app session."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    fake_webcam = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(tmp_path_factory.mktemp("chromium"),
                                                       executable_path=str(CHROMIUM), headless=True,
                                                       args=CHROMIUM_ARGS + fake_webcam,
                                                       viewport={"width": 1280, "height": 900})
        yield browser
        browser.close()


def _open(chromium, app):
    page = chromium.new_page()
    page.goto(app.url)
    page.wait_for_selector("#catalog img")
    return page


def _form(page) -> dict:
    """What the page shows of the shopper's choice: the catalog pick, the category, the try-on and the Explain steps
    on the Try on tab; the try-on, product and price on the Ad creatives tab (looked at, then back)."""
    shown = page.evaluate("""() => ({
        pick: [...document.querySelectorAll('#catalog button.thumbnail-item')]
            .findIndex(t => t.classList.contains('selected')),
        category: (document.querySelector('#category input:checked') || {}).value || null,
        result: !!document.querySelector('#result img'),
        steps: document.querySelectorAll('#steps img').length,
    })""")
    page.get_by_role("tab", name="Ad creatives").click()
    page.wait_for_selector("#product")
    shown.update(page.evaluate("""() => ({
        product: document.querySelector('#product textarea, #product input').value,
        price: document.querySelector('#price input').value,
        ad_tryon: !!document.querySelector('#ad-tryon img'),
    })"""))
    page.get_by_role("tab", name="Try on").click()
    page.wait_for_selector("#catalog img")
    return shown


def _tried_on(page, explain: bool = False):
    page.click("#tryon-button")
    page.wait_for_function("(i => i && i.complete && i.naturalWidth)(document.querySelector('#result img'))",
                           timeout=60_000)
    if explain:
        page.wait_for_function("document.querySelectorAll('#steps img').length == 8", timeout=30_000)


def test_the_page_tries_on_in_chromium(app, chromium, photos, tmp_path):
    from tryon.app import STEPS

    person, garment = photos[0]
    page = _open(chromium, app)
    (tmp_path / "notes.png").write_text("not a photo")
    page.locator("#person input[type=file]").set_input_files(str(tmp_path / "notes.png"))
    page.locator("#garment input[type=file]").set_input_files(str(garment))
    page.wait_for_selector(f"#garment img[src*='{garment.name}']")
    page.click("#tryon-button")
    toast = page.locator("[data-testid='toast-body']").filter(has_text="person photo: ")
    toast.wait_for(timeout=30_000)
    error = toast.inner_text()
    page.locator("#person input[type=file]").set_input_files(str(person))
    page.wait_for_selector(f"#person img[src*='{person.name}']")  # uploaded: the page shows it
    page.click("#explain input")
    _tried_on(page, explain=True)
    page.wait_for_function("[...document.querySelectorAll('#steps img')].every(i => i.complete && i.naturalWidth)")
    width = page.evaluate("document.querySelector('#result img').naturalWidth")
    steps = page.evaluate("""[...document.querySelectorAll('#steps .thumbnail-item')].map(t => {
        const i = t.querySelector('img'), c = t.querySelector('.caption-label');
        return {w: i.clientWidth, h: i.clientHeight, caption: c.innerText,
                cut: c.scrollWidth > c.clientWidth + 1 || c.scrollHeight > c.clientHeight + 1}; })""")
    legend = page.locator("#parse-legend").inner_text()
    result = Image.open(io.BytesIO(page.locator("#result img").screenshot())).convert("L")
    page.close()
    assert "not an image file" in error and "Traceback" not in error  # shown to the shopper as it is
    assert width == Image.open(person).width  # the full-size try-on, not a thumbnail
    assert np.asarray(result, np.float32).std() > 10  # a picture, not a blank box
    assert [s["caption"] for s in steps] == list(STEPS)  # every step, in the pipeline's order, captioned in full
    assert not any(s["cut"] for s in steps)
    assert all(s["w"] >= 192 and s["h"] >= 256 for s in steps), steps  # at least the models' crop size (256x192)
    assert all(word in legend for word in ("background", "hair", "face", "upper", "left arm", "shoes"))


def test_every_creative_format_is_shown_whole_in_chromium(app, chromium, photos):
    person, garment = photos[1]
    page = _open(chromium, app)
    page.locator("#person input[type=file]").set_input_files(str(person))
    page.locator("#catalog button.thumbnail-item").nth(1).click()
    _tried_on(page)
    page.get_by_role("tab", name="Ad creatives").click()
    page.click("#ad-button")
    page.wait_for_function("[...document.querySelectorAll('#creatives img')].length == 5 &&"
                           " [...document.querySelectorAll('#creatives img')].every(i => i.complete && i.naturalWidth)",
                           timeout=60_000)
    shown = []
    for i in range(5):  # each one scrolled into view, as a designer would look at it
        page.locator("#creatives img").nth(i).scroll_into_view_if_needed()
        shown.append(page.evaluate("""i => {
            const img = document.querySelectorAll('#creatives img')[i], r = img.getBoundingClientRect();
            const wrap = document.querySelector('#creatives .grid-wrap').getBoundingClientRect();
            return {caption: img.closest('.thumbnail-item').querySelector('.caption-label').innerText,
                    w: r.width, h: r.height, nw: img.naturalWidth, nh: img.naturalHeight,
                    inView: r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth,
                    inGallery: r.top >= wrap.top && r.bottom <= wrap.bottom && r.left >= wrap.left
                               && r.right <= wrap.right}; }""", i))
    page.close()
    assert [s["caption"] for s in shown] == [f"{f} {w}x{h}" for f, (w, h) in FORMATS.items()]
    for s in shown:
        assert s["inView"] and s["inGallery"], s  # nothing cut off by the page or the gallery
        assert abs(s["w"] / s["h"] - s["nw"] / s["nh"]) < 0.02 * s["nw"] / s["nh"], s  # whole, not cropped
        assert s["h"] >= 60, s  # large enough to read (the leaderboard is 90 pixels tall)


def test_the_choice_shown_is_always_the_current_one_in_chromium(app, chromium, photos, tmp_path):
    from tryon.app import load_content

    products = load_content()[1]
    person, garment = photos[0]
    page = _open(chromium, app)
    page.locator("#person input[type=file]").set_input_files(str(person))
    page.locator("#catalog button.thumbnail-item").nth(4).click()  # a catalog garment fills the ad form
    page.wait_for_selector(f"#garment img[src*='{products[4].image.name}']")  # the server's answer to the pick
    picked = _form(page)
    page.locator("#garment input[type=file]").set_input_files(str(garment))  # then one of the shopper's own
    page.wait_for_selector(f"#garment img[src*='{garment.name}']")
    page.wait_for_selector("#catalog button.thumbnail-item.selected", state="detached")
    uploaded = _form(page)
    page.click("#explain input")
    _tried_on(page, explain=True)
    tried = _form(page)
    page.locator("#catalog button.thumbnail-item").nth(0).click()  # another garment: the try-on no longer applies
    page.wait_for_selector(f"#garment img[src*='{products[0].image.name}']")
    repicked = _form(page)
    _tried_on(page)
    (tmp_path / "broken.png").write_text("not a photo")
    page.locator("#person input[type=file]").set_input_files(str(tmp_path / "broken.png"))
    page.click("#tryon-button")  # a failed try-on leaves nothing of the last one
    page.locator("[data-testid='toast-body']").filter(has_text="person photo: ").wait_for(timeout=30_000)
    failed = _form(page)
    page.close()
    assert picked == {"pick": 4, "category": products[4].category, "product": products[4].name,
                      "price": f"{products[4].price:g}", "result": False, "ad_tryon": False, "steps": 0}
    assert uploaded == {**picked, "pick": -1, "product": "", "price": ""}  # no catalog name, price or highlight
    assert tried == {**uploaded, "result": True, "ad_tryon": True, "steps": 8}
    assert repicked == {"pick": 0, "category": products[0].category, "product": products[0].name,
                        "price": f"{products[0].price:g}", "result": False, "ad_tryon": False, "steps": 0}
    assert failed == {**repicked, "result": False, "ad_tryon": False, "steps": 0}


def test_live_mode_streams_the_webcam_in_chromium(app, chromium):
    page = _open(chromium, app)
    page.get_by_role("tab", name="Live").click()
    page.locator("#camera button").filter(has_text="Click to Access Webcam").click()
    # start streaming only once the camera plays: a click before that streams nothing (seen on a cold start)
    page.wait_for_function("(v => v && v.readyState >= 2)(document.querySelector('#camera video'))", timeout=30_000)
    page.click("#camera button.capture-button")
    page.wait_for_function("document.querySelector('#live-status').innerText.includes('No garment yet')",
                           timeout=60_000)  # said in the panel, not only in a toast
    video, button = (page.locator(s).bounding_box() for s in ("#camera video", "#camera button.capture-button"))
    text = page.evaluate("""(p => ({size: parseFloat(getComputedStyle(p).fontSize),
        opacity: Math.min(...[p, ...document.querySelectorAll('#live-status *:has(p)')]
                              .map(e => parseFloat(getComputedStyle(e).opacity)))}))
        (document.querySelector('#live-status p'))""")
    page.get_by_role("tab", name="Try on").click()
    page.locator("#catalog button.thumbnail-item").first.click()
    page.get_by_role("tab", name="Live").click()
    page.wait_for_function("document.querySelector('#live-status').innerText.includes('person photo')",
                           timeout=30_000)
    src = page.evaluate("document.querySelector('#live img').src")
    status = page.locator("#live-status").inner_text()
    errors = page.locator(".error").count()
    page.close()
    assert src.startswith("data:image/jpeg;base64,")  # frames come back inline, never through the disk
    assert "person photo: " in status and "Traceback" not in status  # why nothing was tried on
    assert errors == 0
    assert button["y"] >= video["y"] + video["height"]  # the stop button sits under the picture, covering nothing
    assert text["size"] >= 20 and text["opacity"] == 1  # the rate and the reasons are legible while it streams


def test_live_tryon_reuses_the_parse_and_warp_while_the_pose_holds(tiny_pipeline, synthetic_person):
    from tryon.live import NO_GARMENT, LiveTryOn

    person, garment = synthetic_person(3, (480, 360))
    live = LiveTryOn(tiny_pipeline)
    first = live(person, garment, "upper")
    assert first.tried_on and first.image.size == person.size and "frames/s" in first.status
    shifted = Image.new("RGB", (520, 480), person.getpixel((0, 0)))
    shifted.paste(person, (40, 0))  # the same pose, 40 pixels to the right: the crop follows it
    again, moved = live(person, garment, "upper"), live(shifted, garment, "upper")
    assert live.key_frames == 1 and again.image.tobytes() == first.image.tobytes() and moved.tried_on
    assert LiveTryOn(tiny_pipeline)(person, garment, "upper").image.tobytes() == first.image.tobytes()
    live(person, garment, "dress")  # another category, garment or pose: a new key frame
    other_garment = synthetic_person(5, (480, 360))[1]
    live(person, other_garment, "dress")
    live(person, other_garment, "upper")
    live(synthetic_person(9, (480, 360))[0], other_garment, "upper")  # (framed head to feet, as for a dress,
    assert live.key_frames == 5  # two drawn persons standing alike can come out within 8 px: the parse is reused)
    wall = Image.new("RGB", (360, 480), (90, 90, 90))
    nobody, no_garment = live(wall, garment, "upper"), live(person, None, "upper")
    assert not nobody.tried_on and nobody.image.size == wall.size and nobody.status.startswith("person photo: ")
    assert not no_garment.tried_on and no_garment.status == NO_GARMENT


def test_choice_drops_what_no_longer_applies():
    from tryon.app import Choice
    from tryon.products import Product

    tee = Product("TEE", Path("tee.png"), "upper", "Linen tee", 29.9)
    picked = Choice().picked(2, tee).cleared()  # a try-on starts
    tried = picked.tried(picked.turn, "/tmp/tryon.png", [("image", "caption")])
    assert (tried.pick, tried.product, tried.price, tried.tryon) == (2, "Linen tee", 29.9, "/tmp/tryon.png")
    for changed in (tried.uploaded(), tried.cleared(), tried.recategorized("dress"), tried.picked(1, tee)):
        assert changed.tryon is None and changed.steps == ()  # nothing of the try-on made from the old choice
    assert tried.uploaded() == Choice(category="upper", turn=tried.turn + 1)  # no catalog name, price or pick
    assert tried.recategorized("dress").pick == 2
    assert tried.typed("My tee", None) == replace(tried, product="My tee", price=None)  # the try-on stays
    repicked = picked.picked(1, tee)  # while the try-on ran: it is not recorded for the new garment
    assert repicked.tried(picked.turn, "/tmp/tryon.png", []) == repicked


def test_the_console_says_where_to_open_the_app():
    from tryon.app import address_lines

    text = address_lines("http://127.0.0.1:7860/", None)
    assert "open http://127.0.0.1:7860/ in your browser" in text
    assert "--share" in text and "share=True" not in text  # the app's flag, not gradio's launch() argument
    assert "https://x.gradio.live" in address_lines("http://127.0.0.1:7860/", "https://x.gradio.live")


def test_upload_store_reads_an_upload_once_then_from_memory(tmp_path):
    from tryon.app import UploadStore

    upload, kept = tmp_path / "h1" / "me.png", tmp_path / "h2" / "example.png"
    for f in (upload, kept):
        f.parent.mkdir()
        f.write_bytes(b"image bytes of " + f.name.encode())
    store = UploadStore({str(upload), str(kept)}, {str(kept)}, keep_s=60)
    assert store.read({"path": str(upload)}, "your photo") == b"image bytes of me.png"
    assert not upload.exists()  # deleted by the first request
    assert store.read({"path": str(upload)}, "your photo") == b"image bytes of me.png"  # the same page again
    assert store.read({"path": str(kept)}, "your photo") == str(kept) and kept.exists()  # the app's own file
    store.keep_s = 0
    time.sleep(0.01)
    store.read({"path": str(kept)}, "your photo")  # any read drops what is past its time
    with pytest.raises(TryOnError, match="your photo is no longer on the server"):
        store.read({"path": str(upload)}, "your photo")
    with pytest.raises(TryOnError, match="add your photo first"):
        store.read(None, "your photo")


def test_examples_come_from_a_dataset_folder(synth_viton):
    from tryon.app import load_content

    persons, products = load_content(examples=synth_viton)
    assert persons and all(p.is_file() and "image" in p.parts for p in persons)
    assert products and all(p.image.is_file() and p.category == "upper" for p in products)
    shipped_persons, shipped = load_content()
    assert len(shipped_persons) == 3 and all(p.price is not None for p in shipped)


def test_the_app_refuses_to_start_without_weights(tmp_path, capsys):
    main = runpy.run_path(str(REPO / "app_gradio.py"))["main"]
    assert main(["--weights", str(tmp_path)]) == 2
    assert "model_index.json is missing" in capsys.readouterr().err


def test_the_app_says_when_its_port_is_taken(tiny_pipeline_dir, capsys):
    import socket

    main = runpy.run_path(str(REPO / "app_gradio.py"))["main"]
    with pytest.raises(SystemExit):
        main(["--weights", str(tiny_pipeline_dir), "--port", "70000"])
    assert "'70000' is not a port" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--weights", str(tiny_pipeline_dir), "--port", str(port)]) == 2
    assert f"cannot serve on 127.0.0.1:{port}" in capsys.readouterr().err
