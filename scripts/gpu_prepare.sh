#!/usr/bin/env bash
# Run HERE (the CPU machine) before a lent-GPU session; what the GPU run needs lands in data_cache/gpu/:
#   viton_packed.tar.gz  data_cache/viton_packed in one file: VITON packed small, the first 600 train pairs (of
#                        6,424) at WebP quality 40 (about 35 dB from the originals), the first 60 test pairs (the
#                        GPU run's validation) at quality 70. It was 4,200 and 120 until the full-body parser,
#                        warp and generator (lower-body garments and dresses, 21 MiB) joined weights/; now the
#                        models train_gpu.sh does not read must be moved out of the checkout for the device call
#                        anyway (see the end), which leaves room to pack more pairs here
#   street_packed.tar.gz the street tops (`tryon prepare-ccp --categories upper --out runs/ccp_tops`: 665 CCP train
#                        pairs, about 10 MiB at WebP quality 40), when STREET (default runs/ccp_tops) holds them:
#                        train_gpu.sh then trains both stages on VITON and these together (extra_data)
#   site.tar.xz          diffusers and importlib_metadata, which the GPU machine lacks, without diffusers'
#                        pipelines and schedulers (the models need neither)
# With the tracked files, less the models the GPU run does not read, this stays under the 64 MiB a device call may
# carry (33,000 small files would not: they are counted by the disk blocks they take, hence the archive).
# Then, on the lent machine: scripts/train_gpu.sh with carry = [data_cache/gpu]. TRAIN_PAIRS / TEST_PAIRS change the
# pack's size (delete data_cache/viton_packed to repack).
set -euo pipefail
cd "$(dirname "$0")/.."
VITON=${1:-../shared/datasets/viton}
PACK=data_cache/viton_packed
if [ ! -f $PACK/test_pairs.txt ]; then
  rm -rf $PACK
  .venv/bin/python scripts/pack_dataset.py "$VITON" $PACK --splits train --quality 40 --max-pairs train=${TRAIN_PAIRS:-600}
  .venv/bin/python scripts/pack_dataset.py "$VITON" $PACK --splits test --quality 70 --max-pairs test=${TEST_PAIRS:-60}
fi
STREET=${STREET:-runs/ccp_tops}
if [ -d "$STREET/upper_body" ] && [ ! -f data_cache/street_packed/upper_body/train_pairs.txt ]; then
  rm -rf data_cache/street_packed
  .venv/bin/python scripts/pack_dataset.py "$STREET" data_cache/street_packed --splits train --quality 40
fi
tmp=$(mktemp -d)
for pkg in diffusers==0.42.1 importlib_metadata==8.7.0; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d "$tmp/whl" "$pkg"
done
python3 -m pip install -q --no-deps --no-compile --target "$tmp/site" "$tmp"/whl/*.whl
rm -r "$tmp/site/diffusers/pipelines" "$tmp/site/diffusers/modular_pipelines" "$tmp/site/diffusers/schedulers"
PYTHONPATH="$tmp/site" .venv/bin/python -c "
import diffusers, tryon.models as m
assert diffusers.__file__.startswith('$tmp'), diffusers.__file__
for cls, sub in ((m.HumanParser, 'parser'), (m.GeometricMatcher, 'warp'), (m.TryOnGenerator, 'generator')):
    cls.from_pretrained('weights', subfolder=sub)
print('trimmed diffusers', diffusers.__version__, 'loads the default weights')"
mkdir -p data_cache/gpu
tar cJf data_cache/gpu/site.tar.xz -C "$tmp/site" .
tar czf data_cache/gpu/viton_packed.tar.gz -C data_cache viton_packed
rm -f data_cache/gpu/street_packed.tar.gz
if [ -d data_cache/street_packed ]; then
  tar czf data_cache/gpu/street_packed.tar.gz -C data_cache street_packed
else
  echo "no street tops in $STREET (tryon prepare-ccp --categories upper): the GPU run trains on VITON alone"
fi
rm -rf "$tmp"
# train_gpu.sh reads only weights/warp and weights/generator; the other models (HELD) no longer fit beside the pack
# (the tops' street parser of v2.10 took the tree past 64 MiB). Move them aside for the device call, back after:
#   mkdir -p data_cache/held && mv weights/{parser,garment_segmenter,fullbody_parser,fullbody_warp,fullbody_generator} data_cache/held/
#   (the device call), then: mv data_cache/held/* weights/ && git status --short weights  (nothing listed)
HELD="weights/parser weights/garment_segmenter weights/fullbody_parser weights/fullbody_warp weights/fullbody_generator"
held=$(du -ck $HELD | tail -n 1 | cut -f1)
kib=$(( $(git ls-files -z | du -ck --files0-from=- | tail -n 1 | cut -f1) - held + $(du -ck data_cache/gpu/* | tail -n 1 | cut -f1) ))
echo "with $HELD moved aside, a device call carries $(( kib / 1024 )) MiB of disk blocks, $(( 65536 - kib )) KiB under the 64 MiB limit"
if [ "$kib" -gt 65536 ]; then
  echo "over the limit: pack fewer test pairs (--max-pairs) or at a lower --quality"; exit 1
fi
