#!/usr/bin/env python3
"""The try-on app (tryon/app.py): python app_gradio.py [--host 127.0.0.1] [--port 7860] [--weights DIR]
[--catalog DIR_OR_FILE] [--examples DIR] [--single-pass] [--share]"""
import argparse
import logging
import sys

from tryon.app import address_lines, build_app, launch, load_content, serve
from tryon.errors import TryOnError
from tryon.pipeline import load_pipeline


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1 to 65535)")
    return int(text)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Virtual try-on for shoppers, live webcam try-on and ad creatives.")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0: every interface)")
    p.add_argument("--port", type=_port, default=7860)
    p.add_argument("--weights", help="a saved pipeline folder (default: the repository's weights/)")
    p.add_argument("--catalog", help="garments: a catalog CSV/JSONL (sku, image, category, name, price) or a folder "
                                     "of garment images (default: the shipped examples)")
    p.add_argument("--examples", help="a dataset folder (VITON, VITON-HD or DressCode layout) whose persons and "
                                      "garments to offer as examples")
    p.add_argument("--single-pass", action="store_true",
                   help="render photo try-ons once instead of averaging with the mirrored render (faster, a little "
                        "less accurate; the live webcam try-on always renders once)")
    p.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        pipe = load_pipeline(args.weights, mirror_average=not args.single_pass)
        persons, products = load_content(args.catalog, args.examples)
    except TryOnError as e:
        print(f"app_gradio.py: error: {e}", file=sys.stderr)
        return 2
    demo = build_app(pipe, persons, products)
    try:
        url, share_url = launch(demo, args.host, args.port, share=args.share)
    except OSError as e:  # the port is taken, or the host is not an address of this machine
        print(f"app_gradio.py: error: cannot serve on {args.host}:{args.port} ({e}); pass another --port or --host",
              file=sys.stderr)
        return 2
    print(address_lines(url, share_url), flush=True)
    serve(demo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
