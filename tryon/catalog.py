"""Catalog rendering: every garment on every model photo, in one resumable batch run (also under `accelerate launch`).

    summary = render_catalog(pipe, "catalog.csv", "models/", "out/", fmt="jpg", size=(768, 1024))

Writes into `out/`:
- `<sku>__<model>.<format>`: one try-on per (garment, model photo) job, sku and model file stem made file-safe;
- `sheets/garment_<sku>.jpg` (the garment on every model) and `sheets/model_<model>.jpg` (every garment on it);
- `manifest.jsonl`: one JSON line per job, in job order: sku, category, garment_image, model_photo, output (the
  image's file name in `out/`), status ("ok" or "failed"), error (when failed), seconds, size, quality, process.

Each model photo is framed and parsed once and reused for every garment; each garment is framed once and kept for
the next model photos, up to GARMENT_CACHE_MB of frames (the garments past it are framed again for each photo, so
that a large catalog does not grow the memory without bound); the models run on batches of jobs.
Resuming: a job is done when the manifest has an "ok" line for it whose output decodes, made with the same size and
quality; re-running the same command renders only the rest. Every image is written to a temporary name and renamed
(tryon.preprocess.image_io.save_image) before its manifest line is appended and fsynced, so a kill at any moment
leaves neither a half-written image nor a line for a missing one; the next run removes stale temporary files and
skips a torn last line. A bad garment or model photo fails its jobs with the reason, and the run goes on.
Processes: under `accelerate launch` process k takes jobs k, k+P, k+2P, ... of the sorted jobs still to do and
appends to `manifest.rank<k>.jsonl`; the main process merges the shards into `manifest.jsonl` at the start of a
run (leftovers of a killed run) and at its end, then draws the contact sheets.
"""
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
from accelerate import PartialState
from accelerate.utils import parse_flag_from_env
from PIL import Image, ImageDraw, ImageFont, ImageOps
from tqdm import tqdm

from tryon.errors import TryOnError
from tryon.files import atomic_write, is_input_folder
from tryon.pipeline import Framed
from tryon.preprocess.image_io import load_image, save_image
from tryon.products import IMAGE_SUFFIXES, Product, load_catalog, safe_name

log = logging.getLogger(__name__)

FORMATS = ("png", "jpg", "webp")
MANIFEST = "manifest.jsonl"
SHEETS = "sheets"
THUMB = (144, 192)  # (width, height) of a contact-sheet tile
LABEL_HEIGHT = 18
SHEET_COLUMNS = 8
SHEET_QUALITY = 85
BARRIER_TIMEOUT = timedelta(hours=6)  # processes wait for the main one's checks and for each other's last batch
GARMENT_CACHE_MB = 256  # framed garments kept for the next model photos (a 1024x768 frame takes about 3.3 MB)


@dataclass(frozen=True)
class Job:
    """One garment on one model photo; `output` is the image's file name in the output folder (the job's key)."""

    product: Product
    model: Path
    output: str


def process_state() -> PartialState:
    """This process's place among those `accelerate launch` started (one process otherwise).

    CPU processes need ACCELERATE_USE_CPU=true (see the README): PartialState does not read it on its own.
    """
    return PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"), timeout=BARRIER_TIMEOUT)


def parse_size(text: str) -> tuple[int, int] | None:
    """"WIDTHxHEIGHT" (e.g. 768x1024) -> (width, height); "original" -> None (each try-on at its photo's size)."""
    if text.strip().lower() == "original":
        return None
    width, sep, height = text.strip().lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit() and 16 <= int(width) <= 8192 and 16 <= int(height) <= 8192):
        raise TryOnError(f"bad size {text!r}: write WIDTHxHEIGHT (16 to 8192 each, e.g. 768x1024) or original")
    return int(width), int(height)


def list_models(source) -> list[Path]:
    """Model photos: every image in a folder (sorted), or the paths in a list file (one a line, relative to the
    file or absolute; blank lines and lines starting with # are skipped). Raises TryOnError when there are none."""
    source = Path(source)
    if source.is_dir():
        photos = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    elif source.is_file():
        lines = [line.strip() for line in source.read_text(encoding="utf-8-sig").splitlines()]
        photos = [p if p.is_absolute() else source.parent / p
                  for p in (Path(line) for line in lines if line and not line.startswith("#"))]
    else:
        raise TryOnError(f"{source}: no such folder or list file of model photos")
    if not photos:
        raise TryOnError(f"{source}: no model photos found")
    return photos


def make_jobs(products: list[Product], models: list[Path], fmt: str) -> list[Job]:
    """Every (garment, model photo) job, sorted by model then sku, so every process sorts them alike.
    Raises TryOnError when two skus or two model photos would share output names."""
    skus, stems = _unique_names([p.sku for p in products], "skus"), _unique_names([m.stem for m in models], "model photos")
    jobs = [Job(p, m, f"{sku}__{stem}.{fmt}") for m, stem in zip(models, stems) for p, sku in zip(products, skus)]
    return sorted(jobs, key=lambda j: (safe_name(j.model.stem), safe_name(j.product.sku)))


def _unique_names(names: list[str], what: str) -> list[str]:
    out = [safe_name(n) for n in names]
    seen = {}
    for name, safe in zip(names, out):
        if safe in seen:
            raise TryOnError(f"{what} {seen[safe]!r} and {name!r} would write the same files ({safe!r}): rename one")
        seen[safe] = name
    return out


def render_catalog(pipe, garments, models, out_dir, *, fmt: str = "png", size: tuple[int, int] | None = None,
                   quality: int = 90, batch_size: int = 8, category: str = "upper") -> dict | None:
    """Render every garment on every model photo into `out_dir`, skipping jobs a previous run finished.

    `garments`: a list of Product, or a catalog (CSV, JSONL, or a folder of images, all of `category`);
    `models`: a list of photo paths, or a folder or list file (see `list_models`); `fmt`: png, jpg or webp;
    `size`: (width, height) to fit each try-on into (padded with white), or None for the photo's own size;
    `quality`: jpg/webp quality. Returns the summary (jobs, done, failed, skipped, seconds, images_per_s, ...)
    on the main process, None on the others.
    """
    if fmt not in FORMATS:
        raise TryOnError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if not 1 <= quality <= 100 or batch_size < 1:
        raise TryOnError("quality must be 1 to 100 and the batch size 1 or more")
    for what, source in (("garments", garments), ("model photos", models)):
        if is_input_folder(source, out_dir):
            raise TryOnError(f"{out_dir} is the folder of the {what}: write the renders to a folder of their own "
                             "(there, a second run would take them for inputs)")
    products = list(garments) if isinstance(garments, (list, tuple)) else load_catalog(garments, default_category=category)
    jobs = make_jobs(products, list(models) if isinstance(models, (list, tuple)) else list_models(models), fmt)
    settings = {"size": "original" if size is None else f"{size[0]}x{size[1]}",
                "quality": None if fmt == "png" else quality, "mirror_average": pipe.mirror_average}
    out, state = Path(out_dir), process_state()
    if state.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        for stale in [*out.glob(".*.tmp"), *(out / SHEETS).glob(".*.tmp")]:
            stale.unlink(missing_ok=True)
        _merge_manifest(out, jobs, check_outputs=True)
    state.wait_for_everyone()

    start = time.perf_counter()
    records = _read_records([out / MANIFEST])
    todo = [j for j in jobs if not _is_done(records.get(j.output), settings)]
    mine = todo[state.process_index::state.num_processes]
    log.info("%d jobs: %d done before, %d to do on %d process(es)", len(jobs), len(jobs) - len(todo), len(todo),
             state.num_processes)
    shard = out / f"manifest.rank{state.process_index}.jsonl"
    with open(shard, "a", encoding="utf-8") as manifest, \
            tqdm(total=len(mine), desc="render", unit="img", disable=not state.is_main_process) as bar:
        _Renderer(pipe, out, fmt, size, quality, settings, manifest, state.process_index, bar).run(mine, batch_size)
    state.wait_for_everyone()
    if not state.is_main_process:
        return None

    this_run = _read_lines(sorted(out.glob("manifest.rank*.jsonl")))
    final = _merge_manifest(out, jobs, check_outputs=False)
    seconds = time.perf_counter() - start
    done = sum(r.get("status") == "ok" for r in this_run)
    summary = {"jobs": len(jobs), "done": done, "failed": len(this_run) - done, "skipped": len(jobs) - len(todo),
               "seconds": round(seconds, 2), "images_per_s": round(done / seconds, 3) if seconds > 0 else 0.0,
               "processes": state.num_processes, "out": str(out), "manifest": str(out / MANIFEST)}
    write_contact_sheets(out, jobs, final)
    log.info("rendered %(done)d, failed %(failed)d, skipped %(skipped)d of %(jobs)d jobs in %(seconds).1f s "
             "(%(images_per_s).2f images/s)", summary)
    return summary


class _Renderer:
    """Renders one process's jobs in batches, each model photo and garment framed (and the photo parsed) once."""

    def __init__(self, pipe, out: Path, fmt: str, size, quality: int, settings: dict, manifest, rank: int, bar):
        self.pipe, self.out, self.size, self.settings, self.manifest, self.rank, self.bar = (
            pipe, out, size, settings, manifest, rank, bar)
        self.save_options = {} if fmt == "png" else {"quality": quality}
        self.persons = {}  # (path, head to hips?) -> (FramedPerson, parse) or the TryOnError, of the current photo
        self.garments = {}  # path -> FramedGarment (full-resolution frames, up to GARMENT_CACHE_MB) or the TryOnError
        self.garment_bytes = 0

    def run(self, jobs: list[Job], batch_size: int):
        batch = []
        for job in jobs:
            started = time.perf_counter()
            try:
                person, parse = self._person(job.model, job.product.category)
                garment = self._garment(job.product.image)
            except TryOnError as e:
                self._record(job, time.perf_counter() - started, error=str(e))
                continue
            batch.append((job, Framed(**vars(person), **vars(garment)), parse, time.perf_counter() - started))
            if len(batch) == batch_size:
                self._render(batch)
                batch = []
        if batch:
            self._render(batch)

    def _person(self, path: Path, category: str):
        key = (path, category == "upper")  # a top frames the photo head to hips, a bottom or a dress head to feet
        if key not in self.persons:
            self.persons = {k: v for k, v in self.persons.items() if k[0] == path}  # jobs come sorted by model
            try:
                person = self.pipe.frame_person(path, category=category)
                parse = self.pipe.parse([person], category)[0]
                self.persons[key] = (person, parse)
            except TryOnError as e:
                log.warning("%s: every job with this photo fails: %s", path, e)
                self.persons[key] = e
        if isinstance(self.persons[key], TryOnError):
            raise self.persons[key]
        return self.persons[key]

    def _garment(self, path: Path):
        """The framed garment of `path`, from the cache or framed now (and cached while the cache has room: jobs
        come sorted by model, so every garment comes back once per photo, and the first ones stay)."""
        garment = self.garments.get(path)
        if garment is None:
            try:
                garment = self.pipe.frame_garment(path)
                size = sum(a.nbytes for a in vars(garment).values() if isinstance(a, np.ndarray))
            except TryOnError as e:
                log.warning("%s: every job with this garment fails: %s", path, e)
                garment, size = e, 0
            if self.garment_bytes + size <= GARMENT_CACHE_MB * 2 ** 20:
                self.garments[path] = garment
                self.garment_bytes += size
        if isinstance(garment, TryOnError):
            raise garment
        return garment

    def _render(self, batch: list):
        started = time.perf_counter()
        pipe = self.pipe
        tryon = pipe.represent([f for _, f, _, _ in batch], [j.product.category for j, *_ in batch],
                               parse=np.stack([p for _, _, p, _ in batch]))
        result = pipe.render(tryon)
        images = pipe.paste_composites(tryon, pipe.compose(tryon, result))
        share = (time.perf_counter() - started) / len(batch)
        for (job, _, _, prepared), image in zip(batch, images):
            saving = time.perf_counter()
            if self.size is not None:
                image = ImageOps.pad(image, self.size, Image.LANCZOS, color="white")
            save_image(image, self.out / job.output, **self.save_options)
            self._record(job, prepared + share + time.perf_counter() - saving)

    def _record(self, job: Job, seconds: float, error: str | None = None):
        """Append the job's manifest line (after its image is in place) and make it durable."""
        record = {"sku": job.product.sku, "category": job.product.category, "garment_image": str(job.product.image),
                  "model_photo": str(job.model), "output": job.output, "status": "failed" if error else "ok",
                  **({"error": error} if error else {}), "seconds": round(seconds, 4), **self.settings,
                  "process": self.rank}
        self.manifest.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.manifest.flush()
        os.fsync(self.manifest.fileno())
        self.bar.update()


def _is_done(record: dict | None, settings: dict) -> bool:
    return (record is not None and record.get("status") == "ok"
            and all(record.get(k) == v for k, v in settings.items()))


def _read_lines(paths) -> list[dict]:
    """The manifest lines of `paths`, in order; a torn or malformed line (a killed write) is skipped."""
    records = []
    for path in paths:
        if not path.is_file():
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            try:
                record = json.loads(line)
                if isinstance(record, dict) and isinstance(record.get("output"), str):
                    records.append(record)
                    continue
            except json.JSONDecodeError:
                pass
            if line.strip():
                log.warning("%s, line %d: not a whole manifest line (a killed run?): skipped", path, n)
    return records


def _read_records(paths) -> dict[str, dict]:
    """The manifest lines of `paths` keyed by output: a later line for a job replaces an earlier one."""
    return {r["output"]: r for r in _read_lines(paths)}


def _merge_manifest(out: Path, jobs: list[Job], check_outputs: bool) -> dict[str, dict]:
    """Fold the process shards into manifest.jsonl (one line per job that has one, in job order) and remove them.

    With `check_outputs`, an "ok" line whose image is missing or does not decode is dropped, so its job is redone.
    Returns the merged lines keyed by output.
    """
    shards = sorted(out.glob("manifest.rank*.jsonl"))
    records = _read_records([out / MANIFEST, *shards])
    merged = {}
    for job in jobs:
        record = records.get(job.output)
        if record is not None and check_outputs and record.get("status") == "ok" and not _decodes(out / job.output):
            log.warning("%s: listed as done but missing or unreadable: it will be rendered again", job.output)
            continue
        if record is not None:
            merged[job.output] = record
    _write_lines(out / MANIFEST, merged.values())
    for shard in shards:
        shard.unlink()
    return merged


def _decodes(path: Path) -> bool:
    try:
        load_image(path)
        return True
    except TryOnError:
        return False


def _write_lines(path: Path, records) -> None:
    """Write JSON lines atomically and durably (tryon.files.atomic_write: flushed to disk, then renamed)."""
    with atomic_write(path, durable=True) as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def write_contact_sheets(out: Path, jobs: list[Job], records: dict[str, dict]) -> None:
    """`sheets/garment_<sku>.jpg` (the garment on every model) and `sheets/model_<model>.jpg` (every garment on
    the model): thumbnails labelled with the model or sku; a grey tile where the job failed."""
    thumbs = {}
    for job in jobs:
        record = records.get(job.output)
        if record is not None and record.get("status") == "ok":
            try:
                thumbs[job.output] = ImageOps.pad(load_image(out / job.output), THUMB, Image.BICUBIC, color="white")
            except TryOnError as e:
                log.warning("%s: left off the contact sheets: %s", job.output, e)
    by_garment, by_model = {}, {}
    for job in jobs:
        thumb = thumbs.get(job.output)
        by_garment.setdefault(safe_name(job.product.sku), []).append((job.model.stem, thumb))
        by_model.setdefault(safe_name(job.model.stem), []).append((job.product.sku, thumb))
    for prefix, groups in (("garment", by_garment), ("model", by_model)):
        for name, tiles in groups.items():
            save_image(contact_sheet(tiles), out / SHEETS / f"{prefix}_{name}.jpg", quality=SHEET_QUALITY)
    log.info("contact sheets: %d per garment, %d per model, in %s", len(by_garment), len(by_model), out / SHEETS)


def contact_sheet(tiles: list[tuple[str, Image.Image | None]]) -> Image.Image:
    """A grid of THUMB-sized tiles, SHEET_COLUMNS a row, each labelled; None draws a grey "failed" tile."""
    columns = min(len(tiles), SHEET_COLUMNS)
    rows = -(-len(tiles) // columns)
    tile_h = THUMB[1] + LABEL_HEIGHT
    sheet = Image.new("RGB", (columns * THUMB[0], rows * tile_h), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=12)
    for i, (label, thumb) in enumerate(tiles):
        x, y = (i % columns) * THUMB[0], (i // columns) * tile_h
        if thumb is None:
            draw.rectangle((x, y, x + THUMB[0] - 1, y + THUMB[1] - 1), fill=(200, 200, 200))
            draw.text((x + THUMB[0] // 2, y + THUMB[1] // 2), "failed", fill=(90, 90, 90), font=font, anchor="mm")
        else:
            sheet.paste(thumb, (x, y))
        while label and draw.textlength(label, font=font) > THUMB[0] - 4:
            label = label[:-1]
        draw.text((x + 2, y + THUMB[1] + 3), label, fill=(30, 30, 30), font=font)
    return sheet
