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
from dataclasses import dataclass, replace
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
from tryon.data.labels import CATEGORIES, PARSE_LABELS  # noqa: E402
from tryon.data.layouts import read_dataset  # noqa: E402
from tryon.errors import DatasetError, TryOnError  # noqa: E402
from tryon.live import LiveTryOn  # noqa: E402
from tryon.data.labels import PARSE_COLOURS  # noqa: E402
from tryon.pipeline import TryOnPipeline, TryOnPipelineOutput, draw_pose  # noqa: E402
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


STEPS = (  # the Explain panel: each intermediate's caption, in the pipeline's order
    "1. Your photo, framed: the crop the models see",
    "2. Pose: the body joints found in the photo",
    "3. Body parse: each pixel's body part (colours below)",
    "4. Cloth-agnostic person: the old garment and the skin it may cover greyed out",
    "5. The garment, cut out from its background",
    "6. The garment warped onto the body",
    "7. Composition mask: white where the warped garment is used as it is, dark where it is redrawn",
    "8. Paste mask: where the new crop replaces your photo",
)


def explanation(out: TryOnPipelineOutput) -> tuple[tuple[Image.Image, str], ...]:
    """What the model saw and made, each with its STEPS caption, at the size the pipeline returns it (the models'
    crop size; the paste mask may be larger)."""
    images = (out.person[0], draw_pose(out.person[0], out.pose[0]), Image.fromarray(PARSE_COLOURS[out.parse[0]]),
              out.agnostic[0], out.garment[0], out.warped_garment[0], out.composition_mask[0], out.paste_mask[0])
    return tuple(zip(images, STEPS))


def parse_legend() -> str:
    """The body parse's colours and what each means, as HTML."""
    items = "".join(f'<span class="swatch"><i style="background:rgb{tuple(int(c) for c in colour)}"></i>'
                    f'{label.replace("_", " ")}</span>' for label, colour in zip(PARSE_LABELS, PARSE_COLOURS))
    return f'<div id="parse-legend"><b>Body parse colours:</b> {items}</div>'


@dataclass(frozen=True)
class Choice:
    """What the shopper has chosen on the Try on tab, and the try-on made from it: the one record that every panel
    shows (`build_app`'s `show`). A new person photo, garment or category, or a try-on starting, drops the try-on
    made from the old ones; an uploaded garment has no catalog name or price until the shopper types one."""

    pick: int | None = None  # the catalog garment picked; None for an uploaded garment, or none yet
    product: str = ""  # the product's name and price: the catalog's for a pick, else what the shopper typed
    price: float | None = None
    category: str = "upper"
    tryon: str | None = None  # the last try-on's file, while it matches the choice
    steps: tuple = ()  # its intermediates (explanation)
    turn: int = 0  # counts the changes of photo, garment or category: a try-on is kept only for its own turn

    def picked(self, index: int, product: Product) -> "Choice":
        return Choice(pick=index, product=product.name, price=product.price, category=product.category,
                      turn=self.turn + 1)

    def uploaded(self) -> "Choice":
        """A garment of the shopper's own (or none): no catalog pick, name or price."""
        return Choice(category=self.category, turn=self.turn + 1)

    def cleared(self) -> "Choice":
        """A new person photo, or a new try-on under way: the last try-on no longer applies."""
        return replace(self, tryon=None, steps=(), turn=self.turn + 1)

    def recategorized(self, category: str) -> "Choice":
        return replace(self.cleared(), category=category)

    def typed(self, product: str, price: float | None) -> "Choice":
        return replace(self, product=product or "", price=price)

    def tried(self, turn: int, path: str, steps) -> "Choice":
        """The try-on made in `turn`, kept only if nothing was chosen since (a garment picked while it ran)."""
        return replace(self, tryon=path, steps=tuple(steps)) if turn == self.turn else self


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


INTRO = """# Virtual fitting room
Add your photo, pick a garment, and see yourself wearing it. **For a good result:** a photo of one person, from the
head to the hips at least, facing the camera; a garment photographed flat or on a hanger against a plain
background (a floor, a bed, a wall)."""
CSS = """
#steps, #creatives, #steps .grid-wrap, #creatives .grid-wrap { height: auto !important; max-height: none !important;
  overflow: visible !important; }
#steps .thumbnail-item, #creatives .thumbnail-item { aspect-ratio: auto; height: auto; overflow: visible;
  display: flex; flex-direction: column; }
#steps .thumbnail-item img { width: 100%; height: auto; }
#steps .grid-container, #creatives .grid-container { padding-top: 2.2rem; }
#creatives .grid-container { display: flex; flex-wrap: wrap; align-items: flex-start; }
#creatives .gallery-item, #creatives .thumbnail-item { flex: 0 0 auto; width: auto; max-width: 100%; }
#creatives .thumbnail-item img { width: auto !important; height: auto !important; max-width: 100%;
  max-height: 280px; }
#steps .caption-label, #creatives .caption-label { position: static; max-width: none; }
#steps .caption-label, #creatives .caption-label, #catalog .caption-label { white-space: normal; overflow: visible;
  text-overflow: clip; }
#parse-legend .swatch { display: inline-block; margin: 0 0.9em 0.3em 0; white-space: nowrap; }
#parse-legend i { display: inline-block; width: 1em; height: 1em; margin-right: 0.3em; vertical-align: -0.15em;
  border: 1px solid #888; }
#live-status .pending { opacity: 1 !important; }  /* a streaming output stays "pending": keep it legible */
#live-status .prose, #live-status .md p { font-size: 1.4rem !important; font-weight: 600; }
#live-status [data-testid=status-tracker] { display: none; }
#camera .button-wrap { position: static; transform: none; margin: 0.5em auto; }
"""


def build_app(pipe: TryOnPipeline, persons: list[Path], products: list[Product]) -> gr.Blocks:
    """The app: Try on, Live and Ad creatives tabs over one pipeline, with its queue set up; start it with
    `launch`. `persons` are example photos, `products` the garment catalog (see `load_content`)."""
    with gr.Blocks(title="tryon: virtual fitting room", analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(INTRO, elem_id="intro")
        choice = gr.State(Choice(), time_to_live=KEEP_UPLOAD_S)
        made = gr.State(time_to_live=KEEP_UPLOAD_S)  # the last try-on: (its turn, file, explanation)
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
                                         columns=3, height=360, allow_preview=False, buttons=[], elem_id="catalog")
                    run = gr.Button("Try on", variant="primary", elem_id="tryon-button")
                with gr.Column():
                    result = gr.Image(label="You, wearing it", type="filepath", interactive=False,
                                      elem_id="result", height=420)
                    download = gr.DownloadButton("Download", interactive=False, elem_id="download")
                    explain = gr.Checkbox(label="Explain: show what the model saw and made", elem_id="explain")
            with gr.Column(visible=False, elem_id="explain-panel") as explain_panel:
                steps = gr.Gallery(label="How it was made, step by step (click a step to enlarge it)", columns=4,
                                   height="auto", format="png", object_fit="contain", buttons=[], elem_id="steps")
                gr.HTML(parse_legend())
        with gr.Tab("Live"):
            gr.Markdown("Your webcam, tried on frame by frame with the garment and category chosen on *Try on*.")
            with gr.Row():
                camera = gr.Image(label="Webcam", sources=["webcam"], streaming=True, elem_id="camera")
                live = gr.Image(label="Live try-on", streaming=True, interactive=False, elem_id="live")
            live_status = gr.Markdown(elem_id="live-status")
            session = gr.State(time_to_live=LIVE_SECONDS)  # the shopper's LiveTryOn
        with gr.Tab("Ad creatives"):
            with gr.Row():
                with gr.Column(scale=1):
                    tryon_in = gr.Image(label="Try-on (from the Try on tab, or upload one)", type="filepath",
                                        elem_id="ad-tryon", height=320)
                    shopper_in = gr.Textbox(label="Shopper's name", placeholder="Ana", elem_id="shopper")
                    product_in = gr.Textbox(label="Product name", placeholder="Organic cotton tee", elem_id="product")
                    price_in = gr.Number(label="Price", minimum=0, elem_id="price")
                    locale_in = gr.Dropdown(list(LOCALES), value="en_US", label="Locale (price format)")
                    formats_in = gr.CheckboxGroup([(f"{f} {w}x{h}", f) for f, (w, h) in FORMATS.items()],
                                                  value=list(FORMATS), label="Formats")
                    make = gr.Button("Make creatives", variant="primary", elem_id="ad-button")
                with gr.Column(scale=2):
                    creatives = gr.Gallery(label="Creatives (click one to see it at full size)", columns=3,
                                           height="auto", object_fit="contain", buttons=[], elem_id="creatives")
                    zipped = gr.DownloadButton("Download all (zip)", interactive=False, elem_id="ad-zip")

        shown = [catalog, category_in, product_in, price_in, result, download, steps, tryon_in]

        def show(c: Choice) -> tuple:
            """The new choice and every panel that shows it (`shown`)."""
            return (c, gr.Gallery(selected_index=c.pick), c.category, c.product, c.price, c.tryon,
                    gr.DownloadButton(value=c.tryon, interactive=c.tryon is not None), list(c.steps) or None, c.tryon)

        # Handlers take gradio's raw payloads (preprocess=False): every image goes through `store`.
        @_shown
        def tryon(person, garment, category, c: Choice):
            out = pipe(store.read(person, "your photo"), store.read(garment, "a garment"), category=category,
                       return_intermediates=True)
            path = str(save_image(out.images[0], output_path("tryon", ".png")))
            return path, (c.turn, path, explanation(out))

        def pick(c: Choice, evt: gr.SelectData):
            return catalog.value[evt.index]["image"]["path"], *show(c.picked(evt.index, products[evt.index]))

        @_shown
        def stream(frame, garment, category, live_session):
            live_session = live_session or LiveTryOn(pipe)
            garment = None if garment is None else store.read(garment, "the garment (on the Try on tab)")
            out = live_session(store.read(frame, "the webcam frame"), garment, category)
            return inline_image(out.image), out.status, live_session

        @_shown
        def ad(tryon, garment, category, shopper, product, price, locale, formats):
            made = render_ads(store.read(tryon, "a try-on"), store.read(garment, "the garment"), category, shopper,
                              product, price, locale, formats)
            shown = [(str(save_image(image, output_path(fmt, ".png"))), f"{fmt} {image.width}x{image.height}")
                     for fmt, image in made]
            return shown, zip_creatives(made)

        private = {"api_visibility": "private"}
        catalog.select(pick, choice, [garment_in, choice, *shown], **private)
        for event in (garment_in.upload, garment_in.clear):
            event(lambda c: show(c.uploaded()), choice, [choice, *shown], **private)
        person_in.change(lambda c: show(c.cleared()), choice, [choice, *shown], **private)
        category_in.input(lambda c, category: show(c.recategorized(category)), [choice, category_in],
                          [choice, *shown], **private)
        for event in (product_in.input, price_in.input):
            event(lambda c, product, price: c.typed(product, price), [choice, product_in, price_in], choice, **private)
        explain.change(lambda on: gr.Column(visible=on), explain, explain_panel, **private)
        (run.click(lambda c: show(c.cleared()), choice, [choice, *shown], **private)  # a failure leaves none
         .then(tryon, [person_in, garment_in, category_in, choice], [result, made], api_name="tryon",
               preprocess=False)
         .success(lambda c, m: show(c.tried(*m)), [choice, made], [choice, *shown], **private))
        camera.stream(stream, [camera, garment_in, category_in, session], [live, live_status, session],
                      preprocess=False, postprocess=False, stream_every=0.1, time_limit=LIVE_SECONDS,
                      concurrency_limit=1, concurrency_id="live", **private)
        (make.click(ad, [tryon_in, garment_in, category_in, shopper_in, product_in, price_in, locale_in, formats_in],
                    [creatives, zipped], api_name="ad", preprocess=False)
         .success(lambda: gr.DownloadButton(interactive=True), None, zipped, **private))
    kept = set().union(*(getattr(block, "keep_in_cache", ()) for block in demo.blocks.values()))
    store = UploadStore(demo.upload_file_set, kept)  # made once every component is: the handlers look it up
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, share: bool = False) -> tuple[str, str | None]:
    """Start serving the app in the background: (its address, its public link or None). `serve` then waits until
    the app is stopped; `demo.close()` stops it. Gradio's own start-up lines are left out (`address_lines` says
    where to open the app, in the terms of app_gradio.py's flags)."""
    _, url, share_url = demo.launch(server_name=host, server_port=port, share=share, max_file_size=MAX_UPLOAD,
                                    ssr_mode=False, show_error=False, prevent_thread_lock=True, quiet=True,
                                    footer_links=["api"], css=CSS)
    return url, share_url


def serve(demo: gr.Blocks) -> None:
    """Wait while the launched app serves, until interrupted (Ctrl-C or SIGTERM; the temp folder is then removed)."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C, so atexit handlers run
    demo.block_thread()


def address_lines(url: str, share_url: str | None) -> str:
    """What the console says at start: where to open the app, and how to stop or share it."""
    lines = [f"The try-on app is running: open {url} in your browser (Ctrl-C stops it)."]
    if share_url:
        lines.append(f"Public link (anyone who has it can use the app): {share_url}")
    else:
        lines.append("To reach it from another machine, start it with --host 0.0.0.0 (your network) or --share "
                     "(a public gradio.live link).")
    return "\n".join(lines)
