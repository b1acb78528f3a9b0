#!/usr/bin/env python3
"""Assemble the default pipeline from trained model folders and save it with float16 weights.

    export_weights.py --parser runs/street_parser/best --warp runs/viton_warp/best \
                      --generator runs/viton_generator/best [--garment-segmenter runs/garment_segmenter/best] \
                      [--fullbody-parser runs/street_parser/best] \
                      [--fullbody-warp runs/fullbody_warp/best --fullbody-generator runs/fullbody_generator/best] \
                      [--out weights]
"""
import argparse
import logging

import torch

from tryon.pipeline import DEFAULT_WEIGHTS, export_weights

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parser", required=True, help="trained parser folder (or a pipeline folder holding one)")
    p.add_argument("--warp", required=True, help="trained warp folder (or a pipeline folder holding one)")
    p.add_argument("--generator", required=True, help="trained generator folder (or a pipeline folder holding one)")
    p.add_argument("--garment-segmenter", help="trained garment segmenter folder (or a pipeline folder holding one); "
                                               "without one, garments are cut out of plain backgrounds only")
    p.add_argument("--fullbody-parser", help="trained parser for persons framed head to feet (lower-body garments and "
                                             "dresses); without one, the parser parses them too")
    p.add_argument("--fullbody-warp", help="trained warp for lower-body garments and dresses (with --fullbody-generator); "
                                           "without the pair, they go through the tops' models")
    p.add_argument("--fullbody-generator", help="trained generator for lower-body garments and dresses")
    p.add_argument("--out", default=str(DEFAULT_WEIGHTS), help="pipeline folder to write (default: weights/)")
    p.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    print(export_weights(a.parser, a.warp, a.generator, a.out, dtype=getattr(torch, a.dtype),
                         garment_segmenter=a.garment_segmenter, fullbody_parser=a.fullbody_parser,
                         fullbody_warp=a.fullbody_warp,
                         fullbody_generator=a.fullbody_generator))
