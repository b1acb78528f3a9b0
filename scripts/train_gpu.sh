#!/usr/bin/env bash
# Train the default weights on one GPU in one command of at most 9 minutes.
# On the device: carry data_cache/gpu (scripts/gpu_prepare.sh makes it). Each stage fine-tunes weights/ (INIT=weights).
# The warp first, alone (where the quality is lost: the placement of printed garments; see weights/README.md), with
# its learning rate falling from step 1,000, then the generator behind the new warp. The parser and the garment
# segmenter train on the CPU (they need CCP's street photos, which the pack does not hold; README "Train").
# Whatever finished comes back (also when a stage fails) as 15 MB parts under $OUT; here: cat run.tar.part-* | tar x.
# A CPU dry run of a few steps: SMOKE=1 PYTHON=.venv/bin/python DATA=/tmp/synthetic RUN=/tmp/run bash scripts/train_gpu.sh
# The street tops (data_cache/gpu/street_packed.tar.gz, when gpu_prepare.sh found them; EXTRA=folder for another,
# EXTRA= for none) join VITON's train pairs in both stages, 4 times over (extra_data); validation stays on VITON.
# PRINT=1 adds the warp's print-placement loss (lambda_print, viton_warp_prints.toml; off by default: 1,300 CPU steps
# raised the prints' PSNR by 0.4-1.0 dB and lost 0.45 dB over the whole garment, docs/weights_history.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ -f data_cache/gpu/site.tar.xz ] && ! $PY -c "import diffusers" 2>/dev/null; then
  mkdir -p /tmp/site && tar xJf data_cache/gpu/site.tar.xz -C /tmp/site
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" PYTHONUNBUFFERED=1
if [ -z "${DATA:-}" ]; then
  tar xzf data_cache/gpu/viton_packed.tar.gz -C /tmp
  DATA=/tmp/viton_packed
fi
if [ -z "${EXTRA+set}" ] && [ -f data_cache/gpu/street_packed.tar.gz ]; then
  tar xzf data_cache/gpu/street_packed.tar.gz -C /tmp
  EXTRA=/tmp/street_packed
fi
RUN=${RUN:-runs/gpu}
OUT=${OUT:-$RUN/out}
INIT=${INIT:-weights}
mkdir -p "$RUN" "$OUT"
if [ "${SMOKE:-0}" = 1 ]; then   # a CPU check of the whole script: a few steps of each stage
  WARP_T=1 GEN_T=1 BS=2 WORKERS=0 MP=no VAL=2
else
  WARP_T=220 GEN_T=220 BS=32 WORKERS=14 MP=bf16 VAL=200
fi
package() {  # the run's results, whatever finished, split into parts small enough to come back
  (cd "$RUN" && tar cf - $(ls -d warp/best generator/best ./*/val.jsonl ./*.log 2>/dev/null)) \
    | split -b 15M - "$OUT/run.tar.part-" && ls -la "$OUT"
}
trap package EXIT
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no GPU: CPU run"
if command -v nvidia-smi > /dev/null; then  # GPU load every 10 s: says whether the GPU or the data loader limits
  nvidia-smi dmon -s um -d 10 -o T > "$RUN/gpu_load.log" 2>&1 &
fi
shm=$(df -m --output=avail /dev/shm 2>/dev/null | tail -n 1 | tr -d ' ' || echo 0)
if [ "$WORKERS" -gt 4 ] && [ "${shm:-0}" -lt 4096 ]; then  # loader workers pass batches through /dev/shm (~1 GB a stage)
  echo "only ${shm} MB in /dev/shm: 4 loader workers"; WORKERS=4
fi
init=${INIT:+--init $INIT}
common="--data $DATA --batch-size $BS --mixed-precision $MP $init --set num_workers=$WORKERS val_samples=$VAL log_every=50 sample_every=1000000"
common="$common${EXTRA:+ extra_data=$EXTRA extra_repeat=4}"
$PY -m tryon.cli train warp --config tryon/training/configs/viton_warp.toml --output "$RUN/warp" --steps 4000 \
  $common lr=1e-4 lr_decay_from=1000 val_every=500 checkpoint_every=100000 lambda_print=${PRINT:-0} \
  time_limit_s=$WARP_T > "$RUN/warp.log" 2>&1 || { tail -n 30 "$RUN/warp.log"; exit 1; }
tail -n 2 "$RUN"/*.log
$PY -m tryon.cli train generator --config tryon/training/configs/viton_generator.toml --output "$RUN/generator" \
  --warp "$RUN/warp/best" --steps 3000 $common lr=1e-4 lr_decay_from=1000 lambda_gan=0.2 lambda_fm=2 val_every=500 \
  checkpoint_every=100000 ndf=64 num_d=2 ema_decay=0.999 time_limit_s=$GEN_T > "$RUN/generator.log" 2>&1 || { tail -n 30 "$RUN/generator.log"; exit 1; }
tail -n 3 "$RUN/generator.log"
