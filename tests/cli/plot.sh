#!/usr/bin/env bash
# scripts/plot-run: the run's picture from a training log and a gpt2-eval results log,
# as PNG and SVG of the size asked for; a resumed run's repeated steps counted once;
# usage errors exit 2, unreadable or empty input exits 1 and leaves no picture.
. "$(dirname "$0")/../lib.sh"
command -v gnuplot >/dev/null || skip_ref "no gnuplot (Debian: gnuplot-nox)"
plot=$TOP/scripts/plot-run
png_size() { od -A n -t u1 -j 16 -N 8 "$1" | awk '{ print $1*16777216+$2*65536+$3*256+$4 "x" $5*16777216+$6*65536+$7*256+$8 }'; }

# a run of 40 steps, stopped at 30 after step 34 was logged, resumed from 30
{
    echo '{"type":"start","step":0,"device":"cpu","params":1,"layers":1,"heads":1,"channels":8,"vocab":16,"max_seq_len":8,"B":1,"T":8,"accum":1,"steps":40,"seed":1}'
    echo '{"type":"val","step":0,"loss":10.8,"tokens":0}'
    for s in $(seq 1 34); do
        echo "{\"type\":\"train\",\"step\":$s,\"loss\":$(awk -v s=$s 'BEGIN{print 10/(1+s/10)}'),\"lr\":0.001,\"grad_norm\":1.0,\"tokens_per_s\":100.0,\"ms\":1.0}"
        [ $((s % 10)) -eq 0 ] && echo "{\"type\":\"val\",\"step\":$s,\"loss\":$(awk -v s=$s 'BEGIN{print 10.5/(1+s/10)}'),\"tokens\":$((s*8))}"
    done
    echo '{"type":"start","step":30,"device":"cpu","params":1,"layers":1,"heads":1,"channels":8,"vocab":16,"max_seq_len":8,"B":1,"T":8,"accum":1,"steps":40,"seed":1}'
    for s in $(seq 31 40); do
        echo "{\"type\":\"train\",\"step\":$s,\"loss\":2.5,\"lr\":0.001,\"grad_norm\":null,\"tokens_per_s\":100.0,\"ms\":1.0}"
    done
    echo '{"type":"val","step":40,"loss":2.6,"tokens":320}'
} >"$T/log.jsonl"
# a version 2 log; step 20 evaluated again later (a new run at the same paths)
{
    printf 'checkpoint\tstep\ttokens\ttask\tacc\tacc_norm\tloss\texamples\tseconds\ttimestamp\tchecksum\n'
    for s in 10 20 30 40; do
        printf 'run/model_%08d.bin\t%d\t%d\thellaswag\t0.25\t0.2%d\tNA\t100\t1.0\t2026-12-03T00:00:00Z\t0000000%d\n' $s $s $((s*8)) $((s/10)) $((s/10))
        printf 'run/model_%08d.bin\t%d\t%d\tval\tNA\tNA\t3.%d\t20\t1.0\t2026-12-03T00:00:00Z\t0000000%d\n' $s $s $((s*8)) $((s/10)) $((s/10))
    done
    printf 'run/model_00000020.bin\t20\t160\thellaswag\t0.25\t0.29\tNA\t100\t1.0\t2026-12-04T00:00:00Z\t0000000a\n'
    printf 'run/model_00000020.bin\t20\t160\tval\tNA\tNA\t3.9\t20\t1.0\t2026-12-04T00:00:00Z\t0000000a\n'
} >"$T/evals.tsv"

run "$plot" -e "$T/evals.tsv" -o "$T/chart.png" -s 800x450 "$T/log.jsonl"
ok "PNG: exit 0" exits 0
ok "  a PNG of 800x450" [ "$(png_size "$T/chart.png")" = 800x450 ]
ok "  no temp file left" [ "$(ls "$T" | grep -c tmp)" -eq 0 ]
run "$plot" -o "$T/chart.svg" "$T/log.jsonl"
ok "SVG without an eval log: exit 0" exits 0
ok "  an SVG of the default size 1000x560" grep -q '<svg.*width="1000".*height="560"' <(tr '\n' ' ' <"$T/chart.svg")
ok "  no HellaSwag axis without an eval log" [ "$(grep -c acc_norm "$T/chart.svg")" -eq 0 ]
run "$plot" -e "$T/evals.tsv" -o "$T/hs.svg" "$T/log.jsonl"
for want in 'HellaSwag acc_norm' 'GPT-2 124M (OpenAI) 0.2955' 'GPT-3 125M 0.337'; do
    ok "SVG with the eval log names '$want'" grep -qF "$want" "$T/hs.svg"
done

# the tables drawn: the resumed run's steps 31-34 replace the first attempt's, once each
run "$plot" -e "$T/evals.tsv" -k "$T/tables" -o "$T/k.png" "$T/log.jsonl"
ok "-k: exit 0" exits 0
ok "  40 training steps, in order" [ "$(cut -d' ' -f1 "$T/tables/train.dat" | tr '\n' ' ')" = "$(seq 1 40 | tr '\n' ' ')" ]
ok "  steps 31-34 from the resumed run" [ "$(sed -n '31,34p' "$T/tables/train.dat" | cut -d' ' -f2 | sort -u)" = 2.5 ]
ok "  the first attempt's step-30 validation kept, none after it but step 40" \
    [ "$(cut -d' ' -f1 "$T/tables/val.dat" | tr '\n' ' ')" = "0 10 20 30 40 " ]
ok "  HellaSwag acc_norm by step, the newest line of step 20" \
    [ "$(tr '\n' ' ' <"$T/tables/hs.dat")" = "10 0.21 20 0.29 30 0.23 40 0.24 " ]
ok "  gpt2-eval's validation loss by step, the newest line of step 20" \
    [ "$(tr '\n' ' ' <"$T/tables/evalval.dat")" = "10 3.1 20 3.9 30 3.3 40 3.4 " ]

run "$plot" -o "$T/x.png"
ok "no log: usage, exit 2" exits 2
run "$plot" -o "$T/x.gif" "$T/log.jsonl"
ok "-o x.gif: usage, exit 2" exits 2
run "$plot" -s 10 -o "$T/x.png" "$T/log.jsonl"
ok "-s 10: usage, exit 2" exits 2
run "$plot" -o "$T/x.png" "$T/missing.jsonl"
ok "a missing log: exit 1" exits 1
ok "  named" stderr_has "missing.jsonl"
printf 'not a log\n' >"$T/empty.jsonl"
run "$plot" -o "$T/x.png" "$T/empty.jsonl"
ok "a log with no loss: exit 1" exits 1
ok "  says so" stderr_has "no training or validation loss"
run "$plot" -e "$T/log.jsonl" -o "$T/x.png" "$T/log.jsonl"
ok "an eval log that is not one: exit 1" exits 1
ok "  no picture written by the failures" [ ! -e "$T/x.png" ]
done_testing
