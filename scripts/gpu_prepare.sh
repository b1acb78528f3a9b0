#!/usr/bin/env bash
# Run HERE (the CPU machine) before a lent-GPU session: packs VITON and fetches the wheels the GPU machine lacks.
# Then run scripts/train_gpu.sh there with carry = [data_cache/viton_packed, .whl].
set -euo pipefail
cd "$(dirname "$0")/.."
VITON=${1:-../shared/datasets/viton}
grep -qx '/.whl/' .git/info/exclude || echo '/.whl/' >> .git/info/exclude
[ -f data_cache/viton_packed/train_pairs.txt ] || .venv/bin/python scripts/pack_dataset.py "$VITON" data_cache/viton_packed --quality 70
mkdir -p .whl
for pkg in diffusers==0.42.1 importlib_metadata==8.7.0; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl "$pkg"
done
du -sh data_cache/viton_packed .whl
