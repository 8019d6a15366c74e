#!/usr/bin/env bash
# CPU inference, fp32 against bf16 weights (gpt2-sample/gpt2-eval --dtype), GPT-2 d12
# (124M, random weights), in one run: generation tok/s (N=256 after a P=64 token prompt),
# prompt tok/s (PROMPT=512 tokens), HellaSwag wall seconds (HS_TASKS=200 synthetic tasks of
# the real set's shape, all threads), peak RSS; medians of REPS=3 at 1 and all threads
# (THREADS), with bf16/fp32 ratios. Then the machine's read bandwidth as the tokens/s
# ceiling of bf16 weights (every matrix read once per token). With LLAMA_CPP_BIN (the
# directory of llama-bench and llama-perplexity) and GGUF_F16 (and/or GGUF_F32: the same
# weights converted, see llama.cpp's convert scripts) the same measures for llama.cpp and
# ours-bf16/llama ratios; without them that part is skipped with a message.
# Timings on a shared machine are noisy: compare medians, and rerun.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$TOP/bin}
N=${N:-256} P=${P:-64} PROMPT=${PROMPT:-512} HS_TASKS=${HS_TASKS:-200} REPS=${REPS:-3}
THREADS=${THREADS:-"1 $(nproc)"}
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE # workarounds for old OpenBLAS builds; slow this one
T=$(mktemp -d "${TMPDIR:-/tmp}/gpt2-bench-cpu.XXXXXX")
trap 'rm -rf "$T"' EXIT
for h in sample_model membw; do
    [ -x "$TOP/build/tests/helpers/$h" ] || make -s -C "$TOP" "build/tests/helpers/$h" >/dev/null
done
MODEL=$T/d12.bin
"$TOP/build/tests/helpers/sample_model" "$MODEL" 12 12 768 1024 1
seq 1000 $((1000 + P - 1)) >"$T/prompt.txt"
seq 2000 $((2000 + PROMPT - 1)) >"$T/long.txt"
/usr/bin/python3 - "$T" "$HS_TASKS" <<'PY'
import json, random, sys
tmp, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(0)
words = ("the a man woman dog is are was then she he they it runs walks holds pulls into onto "
         "over under water ball field kitchen slowly quickly again after before while camera "
         "shows people standing sitting talking smiling").split()
def text(k):
    return " ".join(rng.choice(words) for _ in range(k)).capitalize() + "."
with open(f"{tmp}/hs.jsonl", "w") as f, open(f"{tmp}/hs-llama.txt", "w") as g:
    for i in range(n):
        ctx, label = text(36), rng.randrange(4)
        endings = [text(rng.randint(12, 24)) for _ in range(4)]
        f.write(json.dumps({"ind": i, "ctx": ctx, "label": label, "endings": endings}) + "\n")
        g.write("\n".join([ctx, str(label)] + endings) + "\n")
PY

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# timed CMD...: runs it with peak RSS (KiB) into $T/rss; stderr into $T/err
timed() { /usr/bin/time -f '%M' -o "$T/rss" "$@" 2>"$T/err" || { cat "$T/err" >&2; exit 1; }; }
sample() { # threads dtype prompt-file n
    OMP_NUM_THREADS=$1 timed "$BIN/gpt2-sample" -m "$MODEL" --dtype "$2" --tokens --format text \
        -t 0 -n "$4" --ignore-eot --stats "$3" >/dev/null
}
gen_rate() { sed -n 's/.*(\([0-9.]*\) tokens\/s).*/\1/p' "$T/err"; }
prompt_rate() { sed -n 's/.*prompt \([0-9]*\) tokens in \([0-9.]*\) s.*/\1 \2/p' "$T/err" | awk '{printf "%.1f", $1 / $2}'; }

declare -A R # R[measure,dtype,threads] = median
for dt in fp32 bf16; do
    for th in $THREADS; do
        g= p= rss=
        for _ in $(seq "$REPS"); do
            sample "$th" "$dt" "$T/prompt.txt" "$N"
            g+="$(gen_rate) " rss+="$(cat "$T/rss") "
            sample "$th" "$dt" "$T/long.txt" 1
            p+="$(prompt_rate) "
        done
        R[gen,$dt,$th]=$(tr ' ' '\n' <<<"$g" | sed '/^$/d' | median)
        R[prompt,$dt,$th]=$(tr ' ' '\n' <<<"$p" | sed '/^$/d' | median)
        R[rss_gen,$dt,$th]=$(tr ' ' '\n' <<<"$rss" | sed '/^$/d' | median)
    done
    th=${THREADS##* } h= rss=
    for _ in $(seq "$REPS"); do
        OMP_NUM_THREADS=$th timed "$BIN/gpt2-eval" -m "$MODEL" --dtype "$dt" --device cpu \
            --hellaswag "$T/hs.jsonl" >"$T/hs.out"
        h+="$(awk -F'\t' 'NR == 2 {print $9}' "$T/hs.out") " rss+="$(cat "$T/rss") "
    done
    R[hs,$dt]=$(tr ' ' '\n' <<<"$h" | sed '/^$/d' | median)
    R[rss_hs,$dt]=$(tr ' ' '\n' <<<"$rss" | sed '/^$/d' | median)
    R[acc,$dt]=$(awk -F'\t' 'NR == 2 {print $6}' "$T/hs.out")
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a / b}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}'; }
echo "gpt2 CPU inference, d12 random weights, $(nproc) cores, medians of $REPS (noisy on a shared machine)"
printf '%-44s %7s %10s %10s %8s\n' measure threads fp32 bf16 bf16/fp32
for th in $THREADS; do
    printf '%-44s %7s %10s %10s %8s\n' "generation tok/s ($N after $P)" "$th" "${R[gen,fp32,$th]}" \
        "${R[gen,bf16,$th]}" "$(ratio "${R[gen,bf16,$th]}" "${R[gen,fp32,$th]}")"
done
for th in $THREADS; do
    printf '%-44s %7s %10s %10s %8s\n' "prompt tok/s ($PROMPT tokens)" "$th" "${R[prompt,fp32,$th]}" \
        "${R[prompt,bf16,$th]}" "$(ratio "${R[prompt,bf16,$th]}" "${R[prompt,fp32,$th]}")"
done
printf '%-44s %7s %10s %10s %8s\n' "HellaSwag $HS_TASKS tasks, wall s" "${THREADS##* }" "${R[hs,fp32]}" \
    "${R[hs,bf16]}" "$(ratio "${R[hs,fp32]}" "${R[hs,bf16]}")"
printf '%-44s %7s %10s %10s\n' "HellaSwag acc_norm (random weights)" "" "${R[acc,fp32]}" "${R[acc,bf16]}"
printf '%-44s %7s %10s %10s\n' "peak RSS MiB, generation" "${THREADS##* }" \
    "$(mib "${R[rss_gen,fp32,${THREADS##* }]}")" "$(mib "${R[rss_gen,bf16,${THREADS##* }]}")"
printf '%-44s %7s %10s %10s\n' "peak RSS MiB, HellaSwag" "${THREADS##* }" "$(mib "${R[rss_hs,fp32]}")" \
    "$(mib "${R[rss_hs,bf16]}")"

# every weight matrix once per token: wte [Vp,C] and 12 C^2 per layer, 2 bytes each in bf16
bytes=$(( (50304 * 768 + 12 * 12 * 768 * 768) * 2 ))
for th in $THREADS; do
    bw=$(OMP_NUM_THREADS=$th "$TOP/build/tests/helpers/membw")
    awk -v t="$th" -v bw="$bw" -v b="$bytes" -v got="${R[gen,bf16,$th]}" 'BEGIN {
        c = bw * 1e9 / b
        printf "memory read %s GB/s at %s thread(s): bf16 ceiling %.0f tok/s; bf16 reaches %.0f%%\n", bw, t, c, 100 * got / c }'
done

if [ -z "${LLAMA_CPP_BIN:-}" ] || [ -z "${GGUF_F16:-}${GGUF_F32:-}" ]; then
    echo "llama.cpp: skipped (set LLAMA_CPP_BIN and GGUF_F16 and/or GGUF_F32 to compare)"
    exit 0
fi
for kind in F32 F16; do
    var=GGUF_$kind gguf=${!var:-}
    [ -n "$gguf" ] || continue
    for th in $THREADS; do
        "$LLAMA_CPP_BIN/llama-bench" -m "$gguf" -p "$PROMPT" -n "$N" -t "$th" -r "$REPS" -o json \
            >"$T/lb.json" 2>/dev/null
        read -r lp lg < <(/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
ts = {("p" if x["n_prompt"] else "g"): x["avg_ts"] for x in r}
print(ts.get("p", 0), ts.get("g", 0))' "$T/lb.json")
        printf 'llama.cpp %s, %s thread(s): generation %.1f tok/s (ours bf16 %s), prompt %.1f tok/s (ours bf16 %s)\n' \
            "$kind" "$th" "$lg" "$(ratio "${R[gen,bf16,$th]}" "$lg")" "$lp" "$(ratio "${R[prompt,bf16,$th]}" "$lp")"
    done
    th=${THREADS##* } s= rss=
    for _ in $(seq "$REPS"); do
        t0=$(date +%s.%N)
        timed "$LLAMA_CPP_BIN/llama-perplexity" -m "$gguf" -f "$T/hs-llama.txt" --hellaswag \
            --hellaswag-tasks "$HS_TASKS" -t "$th" >/dev/null
        s+="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {print b - a}') " rss+="$(cat "$T/rss") "
    done
    s=$(tr ' ' '\n' <<<"$s" | sed '/^$/d' | median) rss=$(tr ' ' '\n' <<<"$rss" | sed '/^$/d' | median)
    printf 'llama.cpp %s HellaSwag %s tasks: %.1f s (ours bf16 %.2fx of it), peak RSS %s MiB\n' "$kind" \
        "$HS_TASKS" "$s" "$(awk -v a="${R[hs,bf16]}" -v b="$s" 'BEGIN {print a / b}')" "$(mib "$rss")"
done
