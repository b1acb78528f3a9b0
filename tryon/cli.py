"""The `tryon` command: thin subcommands over the library."""
import argparse
import logging
import sys
from pathlib import Path

from tryon.data.labels import CATEGORIES
from tryon.data.layouts import LAYOUTS
from tryon.errors import TryOnError


def _cmd_check(args) -> int:
    from tryon.data.check import check_dataset

    ok, errors = check_dataset(args.data, args.split, args.mode, args.layout, args.height, args.width)
    for e in errors:
        print(e)
    print(f"{ok} good samples, {len(errors)} bad")
    return 1 if errors else 0


def _cmd_synth(args) -> int:
    from tryon.data.synthetic import make_synthetic_dataset

    root = make_synthetic_dataset(args.out, layout=args.layout, n_train=args.n_train, n_test=args.n_test,
                                  height=args.height, width=args.width, seed=args.seed)
    print(root)
    return 0


def _parse_set(items) -> dict:
    """`key=value` strings -> a dict, values read as TOML scalars when they parse (numbers, true/false)."""
    import tomllib

    values = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise TryOnError(f"--set takes key=value, not {item!r}")
        try:
            values[key.strip()] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            values[key.strip()] = raw
    return values


def _cmd_train(args) -> int:
    from tryon.training.config import load_config
    from tryon.training.trainer import train

    flags = dict(stage=args.stage, data=args.data, output_dir=args.output, steps=args.steps,
                 batch_size=args.batch_size, init=args.init, warp_model=args.warp, mixed_precision=args.mixed_precision)
    overrides = _parse_set(args.set)
    twice = sorted(key for key in overrides if key in flags and flags[key] is not None)
    if twice:
        raise TryOnError(f"{', '.join(twice)} given both as a flag and with --set: give each once")
    cfg = load_config(args.config, **{**flags, **overrides})
    print(train(cfg, resume=args.resume))
    return 0


def _cmd_ads(args) -> int:
    from tryon.ads import load_brand, load_profile, make_ads
    from tryon.ads.layout import check_formats
    from tryon.pipeline import load_pipeline
    from tryon.preprocess.image_io import load_image
    from tryon.products import load_catalog

    # bad input fails here, before the model loads
    photo, profile, catalog = load_image(args.photo), load_profile(args.profile), load_catalog(args.catalog)
    brand = load_brand(args.brand) if args.brand else None
    formats = check_formats(args.formats) if args.formats else None
    pipe = load_pipeline(args.weights, mirror_average=not args.single_pass)
    report = make_ads(photo, profile, catalog,
                      lambda person, garment, category: pipe(person, garment, category=category).images[0],
                      args.out, formats=formats, top_k=args.top_k, brand=brand)
    for pick in report["picks"]:
        print(f"{pick['rank']}. {pick['sku']}: {pick['reason']}")
    for failure in report["failed"]:
        print(f"failed {failure['sku']}: {failure['error']}")
    print(f"{args.out}/ads.json")
    return 0


def _load_pipeline(args, mirror_average: bool = True):
    import torch

    from tryon.pipeline import load_pipeline

    return load_pipeline(args.weights, device=args.device, dtype=getattr(torch, args.dtype),
                         mirror_average=mirror_average)


def _check_outputs(outputs, inputs, overwrite: bool) -> None:
    """Before any work: TryOnError if an output path is one of the inputs, or an existing file and not `overwrite`."""
    for out in map(Path, outputs):
        if not out.exists():
            continue
        if out.is_dir():
            raise TryOnError(f"{out} is a folder: name the file to write")
        if any(Path(i).exists() and out.samefile(i) for i in inputs):
            raise TryOnError(f"{out} is an input of this run: write the result to another path")
        if not overwrite:
            raise TryOnError(f"{out} exists: pass --overwrite to replace it")


def _cmd_run(args) -> int:
    from tryon.pipeline import INTERMEDIATE_FILES
    from tryon.preprocess.image_io import image_format, save_image

    outputs = [args.out] + ([Path(args.intermediates) / n for n in INTERMEDIATE_FILES] if args.intermediates else [])
    _check_outputs(outputs, [args.person, args.garment], args.overwrite)
    image_format(args.out)  # a name images cannot be written under is refused before the work, not after it
    pipe = _load_pipeline(args, mirror_average=not args.single_pass)
    result = pipe(args.person, args.garment, category=args.category, return_intermediates=bool(args.intermediates))
    save_image(result.images[0], args.out)
    if args.intermediates:
        result.save_intermediates(args.intermediates)
    print(args.out)
    return 0


def _cmd_evaluate(args) -> int:
    import json

    from tryon.evaluation import evaluate

    pipe = _load_pipeline(args, mirror_average=not args.single_pass)
    if args.pose_layout is not None:
        pipe.pose_layout = args.pose_layout
    summary = evaluate(pipe, args.data, args.out, split=args.split, mode=args.mode,
                       pairs_file=args.pairs, layout=args.layout, limit=args.limit, method=args.baseline,
                       batch_size=args.batch_size, lpips_weights=args.lpips_weights,
                       inception_weights=args.inception_weights, weights_name=str(args.weights or "weights/"))
    print(json.dumps({**summary, "failures": summary["failures"]["count"]}))
    return 0


def _load_labeller(weights, subfolder: str):
    from tryon.models import HumanParser
    from tryon.models.chain import load_pretrained
    from tryon.pipeline import DEFAULT_WEIGHTS

    return load_pretrained(HumanParser, weights or DEFAULT_WEIGHTS, subfolder).float().eval()


def _cmd_evaluate_parser(args) -> int:
    import json

    from tryon.segmentation_eval import evaluate_parser

    if not (args.ccp or args.viton):
        raise TryOnError("give --ccp, --viton or both: the data to score the parser on")
    report = evaluate_parser(_load_labeller(args.weights, "parser"), args.ccp, args.viton, args.out,
                             gate=not args.no_gate, limit=args.limit)
    print(json.dumps(report))
    return 0


def _cmd_evaluate_garments(args) -> int:
    import json

    from tryon.files import write_text
    from tryon.segmentation_eval import evaluate_garments, garment_sheet

    segmenter = _load_labeller(args.weights, "garment_segmenter")
    report = evaluate_garments(segmenter, args.viton, args.ccp, limit=args.limit) if args.viton else {}
    if args.photos:
        paths = sorted(p for p in Path(args.photos).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        report["sheets"] = garment_sheet(paths[:args.limit], segmenter, Path(args.out))
    write_text(Path(args.out) / "metrics.json", json.dumps(report, indent=1))
    print(json.dumps(report))
    return 0


def _cmd_prepare(args) -> int:
    from tryon.prepare import prepare_dataset

    written, problems = prepare_dataset(_load_pipeline(args), args.persons, args.garments, args.out,
                                        pairs_file=args.pairs, split=args.split, height=args.height,
                                        width=args.width, category=args.category)
    print(f"{written} samples written to {args.out}; {len(problems)} photos skipped "
          f"(listed in {args.out}/{args.split}_bad_photos.txt)")
    return 0 if written else 1


def _cmd_prepare_ccp(args) -> int:
    import json

    from tryon.data.ccp_pairs import write_ccp_pairs

    counts = write_ccp_pairs(args.ccp, args.out, categories=tuple(c for c in args.categories.split(",") if c))
    print(f"{json.dumps(counts)} samples written to {args.out} (DressCode layout); skipped photos in "
          f"{args.out}/skipped.txt")
    return 0


def _cmd_render(args) -> int:
    import json

    import torch

    from tryon.catalog import list_models, parse_size, process_state, render_catalog
    from tryon.pipeline import load_pipeline
    from tryon.products import load_catalog

    # bad input fails here, before the model loads
    products, models = load_catalog(args.garments, default_category=args.category), list_models(args.models)
    size = parse_size(args.size)
    pipe = load_pipeline(args.weights, device=process_state().device, dtype=getattr(torch, args.dtype),
                         mirror_average=not args.single_pass)
    summary = render_catalog(pipe, products, models, args.out, fmt=args.format, size=size, quality=args.quality,
                             batch_size=args.batch_size)
    if summary is None:  # not the main process of an `accelerate launch` run
        return 0
    print(json.dumps(summary))
    return 1 if summary["failed"] else 0


def _add_pipeline_args(p):
    p.add_argument("--weights", help="a saved pipeline folder (default: the repository's weights/)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"],
                   help="float16/bfloat16 are for a GPU (on a CPU they run many times slower)")


def _add_single_pass(p):
    p.add_argument("--single-pass", action="store_true",
                   help="render once instead of averaging with the mirrored render: about a third faster, a little "
                        "less accurate")


def _pose_layout(text: str) -> tuple[str, ...]:
    from tryon.models.chain import pose_layout_categories

    try:
        return pose_layout_categories(text)
    except TryOnError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tryon", description="One-pass virtual try-on: data, training, inference.")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("check-data", help="open every sample of a dataset once and list bad files")
    c.add_argument("data", help="dataset folder (VITON, VITON-HD or DressCode layout)")
    c.add_argument("--split", default="train")
    c.add_argument("--mode", default="paired", choices=["paired", "unpaired"])
    c.add_argument("--layout", choices=LAYOUTS, help="default: detected")
    c.add_argument("--height", type=int, default=256)
    c.add_argument("--width", type=int, default=192)
    c.set_defaults(func=_cmd_check)

    t = sub.add_parser("train", help="train one stage (parser, garment segmenter, warp or generator); also under "
                                     "`accelerate launch`")
    t.add_argument("stage", choices=["parser", "garment", "warp", "generator"])
    t.add_argument("--data", help="dataset folder (VITON, VITON-HD or DressCode layout)")
    t.add_argument("--config", help="a TOML file of TrainConfig keys (see tryon/training/config.py)")
    t.add_argument("--output", help="run folder: checkpoints, logs, samples, the trained model")
    t.add_argument("--steps", type=int, help="optimizer steps in all")
    t.add_argument("--batch-size", type=int, help="per process")
    t.add_argument("--init", help="fine-tune from this model or pipeline folder (e.g. weights/)")
    t.add_argument("--warp", help="generator stage: the trained warp (model or pipeline folder)")
    t.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"])
    t.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in the run folder")
    t.add_argument("--set", nargs="*", default=[], action="extend", metavar="KEY=VALUE",
                   help="any other config key (repeatable)")
    t.set_defaults(func=_cmd_train)

    s = sub.add_parser("synth", help="write a small synthetic dataset (for tests and smoke runs)")
    s.add_argument("out", help="output folder")
    s.add_argument("--layout", default="viton", choices=LAYOUTS)
    s.add_argument("--n-train", type=int, default=8)
    s.add_argument("--n-test", type=int, default=4)
    s.add_argument("--height", type=int, default=256)
    s.add_argument("--width", type=int, default=192)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_cmd_synth)

    r = sub.add_parser("run", help="try a garment on a person photo")
    r.add_argument("--person", required=True, help="the person photo")
    r.add_argument("--garment", required=True, help="the garment photo (a product shot; a PNG's alpha is used)")
    r.add_argument("--out", required=True, help="output image (.png, .jpg or .webp), written only on success")
    r.add_argument("--category", default="upper", choices=CATEGORIES)
    r.add_argument("--intermediates", metavar="DIR", help="also write pose, parse, agnostic, warped garment, masks")
    r.add_argument("--overwrite", action="store_true",
                   help="replace an existing --out (and intermediates); an input photo is never replaced")
    _add_pipeline_args(r)
    _add_single_pass(r)
    r.set_defaults(func=_cmd_run)

    e = sub.add_parser("evaluate", help="the whole pipeline on a dataset: metrics.json, report.md, grid.png")
    e.add_argument("--data", required=True, help="dataset folder (VITON, VITON-HD or DressCode layout)")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--split", default="test")
    e.add_argument("--mode", default="paired", choices=["paired", "unpaired"])
    e.add_argument("--pairs", help="a pairs file instead of the dataset's own")
    e.add_argument("--layout", choices=LAYOUTS, help="default: detected")
    e.add_argument("--limit", type=int, help="only the first N pairs")
    e.add_argument("--baseline", default="model", choices=["model", "grey", "paste"],
                   help="model: the try-on; grey: the garment region left grey; paste: the flat garment in its box")
    e.add_argument("--batch-size", type=int, default=8)
    e.add_argument("--pose-layout", type=_pose_layout, metavar="CATEGORIES",
                   help="the categories laid out by the pose instead of the learnt full-body warp: lower, dress, "
                        "lower,dress or none (default: the pipeline's, lower)")
    e.add_argument("--lpips-weights", help="local torchvision AlexNet weights file: adds LPIPS (needs torchmetrics)")
    e.add_argument("--inception-weights", help="local FID Inception weights file: adds FID, KID (needs torchmetrics)")
    _add_pipeline_args(e)
    _add_single_pass(e)
    e.set_defaults(func=_cmd_evaluate)

    ep = sub.add_parser("evaluate-parser", help="the body parser as the pipeline runs it, on CCP's val photos "
                                               "(framed head to hips and head to feet) and VITON's test photos")
    ep.add_argument("--ccp", help="a CCP folder (its val split is scored, in the seven merged classes)")
    ep.add_argument("--viton", help="a VITON folder (its test split is scored)")
    ep.add_argument("--out", required=True, help="output folder: metrics.json and overlay sheets")
    ep.add_argument("--no-gate", action="store_true",
                    help="do not keep the parse on mediapipe's person mask, nor its shoes at the pose's feet")
    ep.add_argument("--limit", type=int, help="only the first N photos of each set")
    ep.add_argument("--weights", help="a pipeline or parser folder (default: weights/)")
    ep.set_defaults(func=_cmd_evaluate_parser)

    eg = sub.add_parser("evaluate-garments", help="the garment cut-out: IoU on test garments laid on unseen "
                                                  "backgrounds, and sheets of cut-outs of any garment photos")
    eg.add_argument("--viton", help="a VITON folder: its test garments are laid on backgrounds and scored")
    eg.add_argument("--ccp", help="a CCP folder: its val photos give backgrounds (and bottoms and dresses)")
    eg.add_argument("--photos", help="a folder of garment photos to draw cut-out sheets of")
    eg.add_argument("--out", required=True, help="output folder: metrics.json and the sheets")
    eg.add_argument("--limit", type=int, help="only the first N garments")
    eg.add_argument("--weights", help="a pipeline or garment segmenter folder (default: weights/)")
    eg.set_defaults(func=_cmd_evaluate_garments)

    q = sub.add_parser("prepare", help="turn raw model and garment photos into a VITON-HD-layout training dataset")
    q.add_argument("--persons", required=True, help="folder of model photos")
    q.add_argument("--garments", required=True, help="folder of garment photos (same stem as the person, or --pairs)")
    q.add_argument("--pairs", help='a file of "person garment" lines (names inside the two folders)')
    q.add_argument("--out", required=True, help="dataset folder to write")
    q.add_argument("--split", default="train", choices=["train", "test"])
    q.add_argument("--category", default="upper", choices=CATEGORIES)
    q.add_argument("--height", type=int, default=1024)
    q.add_argument("--width", type=int, default=768)
    _add_pipeline_args(q)
    q.set_defaults(func=_cmd_prepare)

    qc = sub.add_parser("prepare-ccp", help="paired lower-body and dress (or tops) data from CCP's street photos "
                                            "(DressCode layout, 512x384)")
    qc.add_argument("--ccp", required=True, help="the CCP folder (photos/, labels/)")
    qc.add_argument("--out", required=True, help="dataset folder to write (new or empty)")
    qc.add_argument("--categories", default="lower,dress",
                    help="comma-separated, of upper, lower, dress (default lower,dress; upper: tops framed head to "
                         "hips, street persons for the tops' models)")
    qc.set_defaults(func=_cmd_prepare_ccp)

    n = sub.add_parser("render", help="render every garment on every model photo (resumable; also under "
                                      "`accelerate launch`)")
    n.add_argument("--garments", required=True, help="catalog CSV/JSONL (sku, image, category, name, price) or a "
                                                      "folder of garment images")
    n.add_argument("--models", required=True, help="folder of model photos, or a text file listing them")
    n.add_argument("--out", required=True, help="output folder: one image per garment and model, sheets/, "
                                                "manifest.jsonl; run again to finish what is missing or failed")
    n.add_argument("--weights", help="trained pipeline folder (default: the repository's weights/)")
    n.add_argument("--format", default="png", choices=["png", "jpg", "webp"])
    n.add_argument("--size", default="original", help="WIDTHxHEIGHT to fit each image into (white padding), or "
                                                       "original (the model photo's size; the default)")
    n.add_argument("--quality", type=int, default=90, help="jpg/webp quality, 1-100 (default 90)")
    n.add_argument("--batch-size", type=int, default=8, help="jobs per model batch (default 8)")
    n.add_argument("--category", default="upper", choices=CATEGORIES,
                   help="the category of a folder of garments (a catalog file gives its own)")
    n.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"],
                   help="float16/bfloat16 are for a GPU (on a CPU they run many times slower); the device is the "
                        "process's accelerate device")
    _add_single_pass(n)
    n.set_defaults(func=_cmd_render)

    a = sub.add_parser("ads", help="personalized ad creatives: pick garments for a shopper and render them on their photo")
    a.add_argument("--photo", required=True, help="the shopper's photo")
    a.add_argument("--profile", required=True, help="shopper profile JSON (see docs: name, preferred_colors, budget, ...)")
    a.add_argument("--catalog", required=True, help="catalog CSV/JSONL (sku, image, category, name, price) or image folder")
    a.add_argument("--out", required=True, help="output folder: creatives, contact_sheet.png, ads.json")
    a.add_argument("--formats", nargs="+", metavar="FORMAT",
                   help="feed, story, link, mrec, leaderboard (or a size: 1080x1080, 300x250, ...); default: all")
    a.add_argument("--top-k", type=int, default=3, help="how many garments to pick (default 3)")
    a.add_argument("--brand", help="brand kit JSON (logo, fonts, colours, currency, headline, cta)")
    a.add_argument("--weights", help="trained pipeline folder (default: the repository's weights/)")
    _add_single_pass(a)
    a.set_defaults(func=_cmd_ads)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        logging.getLogger("accelerate").setLevel(logging.WARNING)
    try:
        return args.func(args)
    except TryOnError as e:
        print(f"tryon: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
