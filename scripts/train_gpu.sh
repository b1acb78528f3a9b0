#!/usr/bin/env bash
# Train the three stages of the default weights on one GPU in one command of at most 9 minutes.
# On the device: carry data_cache/viton_packed and .whl (scripts/gpu_prepare.sh makes both).
# Warp and parser train side by side (small models), then the generator behind the trained warp.
# The run folder comes back split in 15 MB parts under $OUT; here: cat run.tar.part-* | tar x.
# A CPU dry run of a few steps: SMOKE=1 PYTHON=.venv/bin/python DATA=/tmp/synthetic RUN=/tmp/run bash scripts/train_gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ -d .whl ] && ! $PY -c "import diffusers" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" PYTHONUNBUFFERED=1
DATA=${DATA:-data_cache/viton_packed}
RUN=${RUN:-runs/gpu}
OUT=${OUT:-$RUN/out}
mkdir -p "$RUN" "$OUT"
if [ "${SMOKE:-0}" = 1 ]; then   # a CPU check of the whole script: a few steps of each stage
  WARP_T=1 PARSER_T=1 GEN_T=1 BS=2 WORKERS=0 MP=no VAL=2
else
  WARP_T=150 PARSER_T=150 GEN_T=300 BS=32 WORKERS=7 MP=bf16 VAL=200
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no GPU: CPU run"
common="--data $DATA --batch-size $BS --mixed-precision $MP --set num_workers=$WORKERS val_samples=$VAL log_every=50 sample_every=1000000"
$PY -m tryon.cli train warp --config tryon/training/configs/viton_warp.toml --output "$RUN/warp" --steps 100000 \
  $common val_every=500 checkpoint_every=100000 time_limit_s=$WARP_T > "$RUN/warp.log" 2>&1 &
warp_pid=$!
$PY -m tryon.cli train parser --config tryon/training/configs/viton_parser.toml --output "$RUN/parser" --steps 100000 \
  $common val_every=500 checkpoint_every=100000 time_limit_s=$PARSER_T > "$RUN/parser.log" 2>&1 &
parser_pid=$!
wait $warp_pid || { tail -n 30 "$RUN/warp.log"; exit 1; }
wait $parser_pid || { tail -n 30 "$RUN/parser.log"; exit 1; }
$PY -m tryon.cli train generator --config tryon/training/configs/viton_generator.toml --output "$RUN/generator" \
  --warp "$RUN/warp/best" --steps 100000 $common num_workers=$((WORKERS * 2)) val_every=1000 checkpoint_every=100000 \
  ndf=64 num_d=2 ema_decay=0.999 val_samples=$VAL \
  time_limit_s=$GEN_T > "$RUN/generator.log" 2>&1 || { tail -n 30 "$RUN/generator.log"; exit 1; }
tail -n 3 "$RUN"/*.log
tar cf - -C "$RUN" warp/best parser/best generator/best warp/val.jsonl parser/val.jsonl \
  generator/val.jsonl warp.log parser.log generator.log | split -b 15M - "$OUT/run.tar.part-"
ls -la "$OUT"
