#!/usr/bin/env bash
# scripts/reproduce-124m, the 124M recipe of gpt2-fineweb(7), end to end on the CPU with
# a tiny FineWeb-Edu-like Parquet file (tests/data/fineweb-tiny.parquet) and a tiny
# model: every stage's command runs and leaves what the next one needs; rerunning
# train resumes; eval and plot are what a cron line reruns.
. "$(dirname "$0")/../lib.sh"
command -v gnuplot >/dev/null || skip_ref "no gnuplot (Debian: gnuplot-nox)"
recipe=$TOP/scripts/reproduce-124m
bin_shard_count() { gpt2-shard --info "$1" | sed -n 's/.*, \([0-9]*\) tokens,.*/\1/p'; }
{
    echo '{"ctx": "The man opens the door and", "label": 0, "endings": ["walks in.", "eats.", "sings.", "naps."]}'
    echo '{"ctx": "She", "label": 1, "endings": ["runs.", "sits.", "jumps.", "naps."]}'
} >"$T/hs.jsonl"
export BIN PARQUET="$TOP/tests/data/fineweb-tiny.parquet" OUT="$T/r" HELLASWAG="$T/hs.jsonl"
export MODEL=1:2:32 B=2 T=32 TOTAL_BATCH=128 STEPS=4 WARMUP=1 VAL_EVERY=2 CKPT_EVERY=2 KEEP=0
export DEVICE=cpu VAL_TOKENS=1024 VAL_WINDOWS=8 OMP_NUM_THREADS=1

run "$recipe" data
ok "data: exit 0" exits 0
ok "  the first 1024 tokens are the validation shard" \
    [ "$(bin_shard_count "$OUT/data/fineweb_edu_val_000000.bin")" = 1024 ]
ok "  the rest are a training shard" \
    [ "$(bin_shard_count "$OUT/data/fineweb_edu_train_000001.bin")" -gt 2000 ]

STEPS=2 run "$recipe" train
ok "train, stopped after step 2: exit 0" exits 0
run "$recipe" train
ok "train again resumes to step 4: exit 0" exits 0
ok "  it resumed: start lines at steps 0 and 2" \
    [ "$(grep -o '"type":"start","step":[0-9]*' "$OUT/run/log.jsonl" | tr '\n' ,)" = '"type":"start","step":0,"type":"start","step":2,' ]
ok "  checkpoints 2 and 4 complete" eval '[ -e "$OUT/run/DONE_00000002" ] && [ -e "$OUT/run/DONE_00000004" ]'

run "$recipe" eval
ok "eval: exit 0" exits 0
ok "  HellaSwag and validation loss of both checkpoints logged" \
    [ "$(awk -F '\t' 'NR > 1 { print $2, $4 }' "$OUT/run/evals.tsv" | sort | tr '\n' ,)" = "2 hellaswag,2 val,4 hellaswag,4 val," ]
run "$recipe" eval
ok "eval again (cron): exit 0, nothing appended" eval 'exits 0 && [ "$(wc -l <"$OUT/run/evals.tsv")" -eq 5 ]'

run "$recipe" plot
ok "plot: exit 0" exits 0
ok "  the chart is a PNG" [ "$(head -c 4 "$OUT/run/chart.png" | od -A n -t x1 | tr -d ' ')" = 89504e47 ]

run "$recipe" sample
ok "sample: exit 0" exits 0
ok "  three samples" [ "$(grep -c '^---$' "$out")" -eq 2 ]

run "$recipe" nonsense
ok "an unknown stage: usage, exit 2" exits 2
PARQUET="$T/none/*.parquet" run "$recipe" data
ok "no Parquet file: exit 1, said" eval 'exits 1 && stderr_has "no Parquet file matches"'
done_testing
