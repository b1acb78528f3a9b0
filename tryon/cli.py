"""The `tryon` command: thin subcommands over the library."""
import argparse
import logging
import sys

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

    cfg = load_config(args.config, stage=args.stage, data=args.data, output_dir=args.output, steps=args.steps,
                      batch_size=args.batch_size, init=args.init, warp_model=args.warp,
                      mixed_precision=args.mixed_precision, **_parse_set(args.set))
    print(train(cfg, resume=args.resume))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tryon", description="One-pass virtual try-on: data, training, inference.")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("check-data", help="open every sample of a dataset once and list bad files")
    c.add_argument("data", help="dataset folder (VITON, VITON-HD or DressCode layout)")
    c.add_argument("--split", default="train")
    c.add_argument("--mode", default="paired", choices=["paired", "unpaired"])
    c.add_argument("--layout", choices=["viton", "viton_hd", "dresscode"], help="default: detected")
    c.add_argument("--height", type=int, default=256)
    c.add_argument("--width", type=int, default=192)
    c.set_defaults(func=_cmd_check)

    t = sub.add_parser("train", help="train one stage (parser, warp or generator); also under `accelerate launch`")
    t.add_argument("stage", choices=["parser", "warp", "generator"])
    t.add_argument("--data", help="dataset folder (VITON, VITON-HD or DressCode layout)")
    t.add_argument("--config", help="a TOML file of TrainConfig keys (see tryon/training/config.py)")
    t.add_argument("--output", help="run folder: checkpoints, logs, samples, the trained model")
    t.add_argument("--steps", type=int, help="optimizer steps in all")
    t.add_argument("--batch-size", type=int, help="per process")
    t.add_argument("--init", help="fine-tune from this model or pipeline folder (e.g. weights/)")
    t.add_argument("--warp", help="generator stage: the trained warp (model or pipeline folder)")
    t.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"])
    t.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in the run folder")
    t.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="any other config key")
    t.set_defaults(func=_cmd_train)

    s = sub.add_parser("synth", help="write a small synthetic dataset (for tests and smoke runs)")
    s.add_argument("out", help="output folder")
    s.add_argument("--layout", default="viton", choices=["viton", "viton_hd", "dresscode"])
    s.add_argument("--n-train", type=int, default=8)
    s.add_argument("--n-test", type=int, default=4)
    s.add_argument("--height", type=int, default=256)
    s.add_argument("--width", type=int, default=192)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_cmd_synth)
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
