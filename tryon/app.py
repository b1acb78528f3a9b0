"""The Gradio app: shoppers try garments on their own photo (or live on the webcam), designers turn a try-on into
ad creatives. `app_gradio.py` parses the command line and calls `load_content`, `build_app` and `launch`; tests
build the app in-process the same way.

Named API endpoints (see the README): `/tryon` (person photo, garment photo, category -> the try-on at
the photo's size) and `/ad` (try-on, garment, category, shopper, product, price, locale, formats -> creatives and
a zip of them).

What reaches the disk: gradio writes into one private folder (`TEMP_DIR`, removed at exit). Every image
the app receives is read by `UploadStore` and its upload file deleted by the first request that uses it; results,
explanations and creatives are deleted by gradio's `delete_cache` an hour after they were made; webcam frames go
both ways inline and never touch the disk. Every image is opened by tryon.preprocess.image_io, so a bad file is
refused with the same readable message as everywhere else.
"""
import atexit
import base64
import binascii
import functools
import io
import logging
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
import zipfile
from collections import OrderedDict
from pathlib import Path


def _private_temp_dir() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="tryon-app-", dir=os.environ.get("GRADIO_TEMP_DIR")))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


# Gradio reads these when it is imported: no calls to outside hosts, and every file it writes goes into TEMP_DIR,
# this process's own folder (inside $GRADIO_TEMP_DIR or the system temp folder, readable by this user only),
# removed at exit.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
TEMP_DIR = _private_temp_dir()
os.environ["GRADIO_TEMP_DIR"] = str(TEMP_DIR)

import gradio as gr  # noqa: E402
from PIL import Image  # noqa: E402

from tryon.ads.colors import color_name, dominant_colors  # noqa: E402
from tryon.ads.creatives import ad_texts  # noqa: E402
from tryon.ads.layout import FORMATS, Brand, check_formats, palette, render_creative  # noqa: E402
from tryon.ads.profile import load_profile  # noqa: E402
from tryon.ads.text import LOCALES, format_price  # noqa: E402
from tryon.data.labels import CATEGORIES  # noqa: E402
from tryon.data.layouts import read_dataset  # noqa: E402
from tryon.errors import DatasetError, TryOnError  # noqa: E402
from tryon.pipeline import PARSE_COLOURS, TryOnPipeline, TryOnPipelineOutput, draw_pose  # noqa: E402
from tryon.preprocess.garment import garment_mask  # noqa: E402
from tryon.preprocess.image_io import load_image, save_image  # noqa: E402
from tryon.products import Product, load_catalog, normalize_category  # noqa: E402

log = logging.getLogger(__name__)

EXAMPLES = Path(__file__).resolve().parent / "assets" / "examples"
MAX_UPLOAD = "16mb"  # a phone photo is 2-10 MB
CONCURRENCY = 2  # try-ons at once (the pose detector takes turns; the models share the cores)
QUEUE_SIZE = 64  # requests waiting beyond that are refused with "the queue is full"
LIVE_SECONDS = 120  # one webcam session, after which the next shopper gets a turn
DELETE_CACHE = (600, 3600)  # every 10 minutes, delete results older than an hour
KEEP_UPLOAD_S = 900  # an upload stays in memory this long after its last use
KEEP_UPLOAD_BYTES = 256 * 2**20
MAX_EXAMPLES = 8  # persons taken from an --examples dataset (and garments, 3x as many)


class UploadStore:
    """The images an app's requests send, as bytes (or, for files of the app's own, a path), with every upload
    file deleted by the first request that reads it.

    Gradio saves an upload as <temp>/<content hash>/<name> and the page sends that path again when the shopper
    tries another garment on the same photo (as do requests in flight with an identical file). So an upload is
    read once, deleted, and kept in memory for `keep_s` seconds after its last use, `max_bytes` in all (oldest
    dropped first, checked on each read). Webcam stream frames come inline (a data URL) and never touch the disk.
    An upload of the very file of an example or catalog garment lands on that file's path: `kept` paths are
    never deleted.
    """

    def __init__(self, uploads: set, kept: set, keep_s: float = KEEP_UPLOAD_S, max_bytes: int = KEEP_UPLOAD_BYTES):
        self._uploads = uploads  # the paths gradio wrote for uploads (Blocks.upload_file_set)
        self._kept = kept  # files of the app's own (examples, catalog): never deleted
        self._held = OrderedDict()  # path -> (last use, bytes), least recently used first
        self._lock = threading.Lock()
        self.keep_s, self.max_bytes = keep_s, max_bytes

    def read(self, payload: dict | None, what: str) -> bytes | str:
        """The image of a gradio FileData payload: bytes, or the path of an example or catalog file."""
        if payload is None:
            raise TryOnError(f"add {what} first")
        url = payload.get("url") or ""
        if url.startswith("data:"):
            try:
                return base64.b64decode(url.partition(",")[2], validate=True)
            except binascii.Error:
                raise TryOnError(f"{what}: the image data is damaged") from None
        path = payload.get("path") or ""
        with self._lock:
            now = time.monotonic()
            self._drop_old(now)
            if path in self._uploads and path not in self._kept and os.path.isfile(path):
                data = Path(path).read_bytes()
                os.remove(path)  # not its folder: an identical upload may be arriving in it
            else:
                data = self._held.pop(path, (now, None))[1]
            if data is not None:
                self._held[path] = (now, data)  # (back) at the end: the most recently used
                self._drop_old(now)
                return data
        if not os.path.isfile(path):
            raise TryOnError(f"{what} is no longer on the server (uploads are deleted after use): add it again")
        return path

    def _drop_old(self, now: float) -> None:
        total = sum(len(data) for _, data in self._held.values())
        while self._held:
            used, data = next(iter(self._held.values()))
            if now - used <= self.keep_s and total <= self.max_bytes:
                break
            self._held.popitem(last=False)
            total -= len(data)


def _shown(fn):
    """An event handler whose TryOnError reaches the person as its message, and anything unexpected as a short
    apology (the traceback goes to the log, never to the page)."""

    @functools.wraps(fn)
    def handler(*args):
        try:
            return fn(*args)
        except TryOnError as e:
            raise gr.Error(str(e), print_exception=False) from None
        except Exception:
            log.exception("%s failed", fn.__name__)
            raise gr.Error("Something went wrong on our side; please try again.", print_exception=False) from None

    return handler


# ---------------------------------------------------------------- what the app shows


def load_content(catalog=None, examples=None) -> tuple[list[Path], list[Product]]:
    """The example person photos and the garment catalog: from `examples` (a dataset folder in any supported
    layout) and `catalog` (a CSV/JSONL catalog or a folder of garment images, see tryon.products), each falling
    back to the licence-clean examples shipped in tryon/assets/examples."""
    persons = sorted((EXAMPLES / "persons").glob("*.png"))
    products = None
    if examples is not None:
        persons, products = dataset_examples(examples)
    if catalog is not None:
        products = load_catalog(catalog)
    return persons, products or load_catalog(EXAMPLES / "catalog.csv")


def dataset_examples(root, limit: int = MAX_EXAMPLES) -> tuple[list[Path], list[Product]]:
    """Up to `limit` person photos and 3x as many garments from a dataset's test split (else its train split)."""
    try:
        pairs = read_dataset(root, split="test")
    except DatasetError:
        pairs = read_dataset(root, split="train")
    persons = list(dict.fromkeys(p.person for p in pairs))[:limit]
    garments = list(dict.fromkeys((p.cloth, p.category) for p in pairs))[:3 * limit]
    return persons, [Product(path.stem, path, category, path.stem) for path, category in garments]


def caption(product: Product) -> str:
    return f"{product.name} · {format_price(product.price)}" if product.price is not None else product.name


# ---------------------------------------------------------------- the work of each tab


def explanation(out: TryOnPipelineOutput) -> list[tuple[Image.Image, str]]:
    """What the model saw and made, at its own size: pose, body parse, cloth-agnostic person, warped garment and
    composition mask (white: the warped garment is pasted as it is)."""
    return [
        (draw_pose(out.person[0], out.pose[0]), "pose"),
        (Image.fromarray(PARSE_COLOURS[out.parse[0]]), "body parse"),
        (out.agnostic[0], "cloth-agnostic person"),
        (out.warped_garment[0], "warped garment"),
        (out.composition_mask[0], "composition mask"),
    ]


def live_frame(pipe: TryOnPipeline, frame, garment, category: str) -> tuple[Image.Image, str]:
    """One webcam frame tried on: the try-on and how long it took, or the frame itself and why not (nobody in
    view, the torso cut off)."""
    frame = load_image(frame)
    start = time.perf_counter()
    try:
        image = pipe(frame, garment, category=category, mirror_average=False).images[0]  # frame rate first
    except TryOnError as e:
        return frame, str(e)
    seconds = time.perf_counter() - start
    return image, f"{seconds:.2f} s per frame ({1 / seconds:.1f} frames/s on this machine)"


def render_ads(tryon_image, garment, category: str, shopper: str, product: str, price, locale: str,
               formats) -> list[tuple[str, Image.Image]]:
    """The ad creatives of tryon.ads for one try-on, as (format, image), in the order of `formats`: the headline
    names the shopper, the product's name and price are set for the locale, and the colours follow the garment."""
    formats = check_formats(formats or [])
    if not formats:
        raise TryOnError("choose at least one format")
    if price is not None and price < 0:
        raise TryOnError(f"the price must be 0 or more, not {price}")
    image, cloth = _load(tryon_image, "try-on image"), _load(garment, "garment image", keep_alpha=True)
    rgb = dominant_colors(cloth, garment_mask(cloth))[0][0]
    profile = load_profile({"name": shopper or "", "locale": locale})
    item = Product(sku=product or "item", image=Path(), category=normalize_category(category), name=product or "",
                   price=price)  # ad_texts reads its name, price and category, not its image
    brand = Brand()
    texts, look = ad_texts(brand, profile, item, color_name(rgb)), palette(brand, rgb)
    return [(fmt, render_creative(fmt, image, texts, brand, look).image) for fmt in formats]


def inline_image(image: Image.Image) -> dict:
    """An image as a gradio image payload holding a JPEG data URL: the page shows it, nothing is written to disk."""
    data = io.BytesIO()
    image.save(data, format="JPEG", quality=90)
    return {"url": "data:image/jpeg;base64," + base64.b64encode(data.getvalue()).decode("ascii"),
            "meta": {"_type": "gradio.FileData"}}


def _load(source, what: str, **options) -> Image.Image:
    try:
        return load_image(source, **options)
    except TryOnError as e:
        raise TryOnError(f"{what}: {e}") from None


def output_path(stem: str, suffix: str) -> Path:
    """A new file name in the private temp folder's outputs/, for gradio to serve. (Given an image, gradio would
    write it to a path made from its content, rewriting the file in place, maybe while another request with the
    same result is downloading it.)"""
    folder = TEMP_DIR / "outputs"
    folder.mkdir(exist_ok=True)
    return folder / f"{stem}-{secrets.token_hex(6)}{suffix}"


def zip_creatives(creatives: list[tuple[str, Image.Image]]) -> Path:
    """The creatives as PNGs in one zip, in the private temp folder."""
    path = output_path("creatives", ".zip")
    with zipfile.ZipFile(path, "w") as z:
        for fmt, image in creatives:
            data = io.BytesIO()
            image.save(data, format="PNG")
            z.writestr(f"{fmt}_{image.width}x{image.height}.png", data.getvalue())
    return path


# ---------------------------------------------------------------- the page


def build_app(pipe: TryOnPipeline, persons: list[Path], products: list[Product]) -> gr.Blocks:
    """The app: Try on, Live and Ad creatives tabs over one pipeline, with its queue set up; start it with
    `launch`. `persons` are example photos, `products` the garment catalog (see `load_content`)."""
    with gr.Blocks(title="tryon: virtual fitting room", analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
        gr.Markdown("# Virtual fitting room\nAdd your photo, pick a garment, and see yourself wearing it.")
        with gr.Tab("Try on"):
            with gr.Row():
                with gr.Column():
                    person_in = gr.Image(label="Your photo", type="filepath", elem_id="person", height=420)
                    gr.Examples([[str(p)] for p in persons], inputs=[person_in], label="Or try an example photo",
                                elem_id="examples")
                with gr.Column():
                    garment_in = gr.Image(label="Garment (pick one below or upload)", type="filepath",
                                          elem_id="garment", height=240)
                    category_in = gr.Radio(list(CATEGORIES), value="upper", label="Category", elem_id="category")
                    catalog = gr.Gallery([(str(p.image), caption(p)) for p in products], label="Catalog",
                                         columns=2, height=360, allow_preview=False, buttons=[], elem_id="catalog")
                    run = gr.Button("Try on", variant="primary", elem_id="tryon-button")
                with gr.Column():
                    result = gr.Image(label="You, wearing it", type="filepath", interactive=False,
                                      elem_id="result", height=420)
                    download = gr.DownloadButton("Download", interactive=False, elem_id="download")
                    explain = gr.Checkbox(label="Explain: show what the model saw", elem_id="explain")
                    steps = gr.Gallery(label="How it was made", columns=3, visible=False, format="png",
                                       object_fit="contain", buttons=[], elem_id="steps")
            seen = gr.State(time_to_live=KEEP_UPLOAD_S)  # the last try-on's intermediates
        with gr.Tab("Live"):
            gr.Markdown("Your webcam, tried on frame by frame with the garment and category chosen on *Try on*.")
            with gr.Row():
                camera = gr.Image(label="Webcam", sources=["webcam"], streaming=True, elem_id="camera")
                live = gr.Image(label="Live try-on", streaming=True, interactive=False, elem_id="live")
            live_status = gr.Markdown(elem_id="live-status")
        with gr.Tab("Ad creatives"):
            with gr.Row():
                with gr.Column():
                    tryon_in = gr.Image(label="Try-on (from the Try on tab, or upload one)", type="filepath",
                                        elem_id="ad-tryon", height=320)
                    shopper_in = gr.Textbox(label="Shopper's name", placeholder="Ana")
                    product_in = gr.Textbox(label="Product name", placeholder="Organic cotton tee")
                    price_in = gr.Number(label="Price", minimum=0)
                    locale_in = gr.Dropdown(list(LOCALES), value="en_US", label="Locale (price format)")
                    formats_in = gr.CheckboxGroup([(f"{f} {w}x{h}", f) for f, (w, h) in FORMATS.items()],
                                                  value=list(FORMATS), label="Formats")
                    make = gr.Button("Make creatives", variant="primary", elem_id="ad-button")
                with gr.Column():
                    creatives = gr.Gallery(label="Creatives", columns=2, object_fit="contain",
                                           elem_id="creatives")
                    zipped = gr.DownloadButton("Download all (zip)", interactive=False, elem_id="ad-zip")

        # Handlers take gradio's raw payloads (preprocess=False): every image goes through `store`.
        @_shown
        def tryon(person, garment, category):
            out = pipe(store.read(person, "your photo"), store.read(garment, "a garment"), category=category,
                       return_intermediates=True)
            return str(save_image(out.images[0], output_path("tryon", ".png"))), explanation(out)

        @_shown
        def pick(evt: gr.SelectData):
            item = products[evt.index]
            return catalog.value[evt.index]["image"]["path"], item.category, item.name, item.price

        def show_steps(on, intermediates):
            return gr.Gallery(value=intermediates if on else None, visible=bool(on and intermediates))

        @_shown
        def stream(frame, garment, category):
            image, status = live_frame(pipe, store.read(frame, "the webcam frame"),
                                       store.read(garment, "a garment (on the Try on tab)"), category)
            return inline_image(image), status

        @_shown
        def ad(tryon, garment, category, shopper, product, price, locale, formats):
            made = render_ads(store.read(tryon, "a try-on"), store.read(garment, "the garment"), category, shopper,
                              product, price, locale, formats)
            shown = [(str(save_image(image, output_path(fmt, ".png"))), f"{fmt} {image.width}x{image.height}")
                     for fmt, image in made]
            return shown, zip_creatives(made)

        catalog.select(pick, None, [garment_in, category_in, product_in, price_in], api_visibility="private")
        (run.click(tryon, [person_in, garment_in, category_in], [result, seen], api_name="tryon", preprocess=False)
         .success(lambda path: (gr.DownloadButton(value=path, interactive=True), path), result,
                  [download, tryon_in], api_visibility="private")
         .then(show_steps, [explain, seen], steps, api_visibility="private"))
        explain.change(show_steps, [explain, seen], steps, api_visibility="private")
        camera.stream(stream, [camera, garment_in, category_in], [live, live_status], preprocess=False,
                      postprocess=False, stream_every=0.1, time_limit=LIVE_SECONDS, concurrency_limit=1,
                      concurrency_id="live", api_visibility="private")
        (make.click(ad, [tryon_in, garment_in, category_in, shopper_in, product_in, price_in, locale_in, formats_in],
                    [creatives, zipped], api_name="ad", preprocess=False)
         .success(lambda: gr.DownloadButton(interactive=True), None, zipped, api_visibility="private"))
    kept = set().union(*(getattr(block, "keep_in_cache", ()) for block in demo.blocks.values()))
    store = UploadStore(demo.upload_file_set, kept)  # made once every component is: the handlers look it up
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, share: bool = False, block: bool = True):
    """Serve the app: until interrupted (Ctrl-C or SIGTERM, after which the temp folder is removed), or in the
    background with block=False (`demo.close()` stops it)."""
    if block:
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C, so atexit handlers run
    return demo.launch(server_name=host, server_port=port, share=share, max_file_size=MAX_UPLOAD, ssr_mode=False,
                       show_error=False, prevent_thread_lock=not block, footer_links=["api"])
