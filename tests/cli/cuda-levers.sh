#!/usr/bin/env bash
# GPT2_CUDA_ON / GPT2_CUDA_OFF as the CUDA backend reads them (through gpu_step --levers,
# which needs no device): defaults, trial levers off until named, OFF winning, "all",
# and an unknown name refused with the list of known ones.
. "$(dirname "$0")/../lib.sh"
STEP=$TESTBIN/../bench/gpu_step
[ -x "$STEP" ] || skip_all "built without CUDA (no $STEP)"

state() { # state NAME: on or off in the last run's output
    awk -v n="$1" '$1 == n { print $3 }' "$out"
}
run "$STEP" --levers
ok "--levers exits 0" exits 0
ok "every lever is listed as default or trial" awk '$2 != "default" && $2 != "trial" { exit 1 } END { exit NR == 0 }' "$out"
ok "default levers are on, trial levers off" awk '($2 == "default") != ($3 == "on") { exit 1 }' "$out"
cp "$out" "$T/levers"
first=$(awk 'NR == 1 { print $1 }' "$T/levers")
trial=$(awk '$2 == "trial" { print $1; exit }' "$T/levers")

GPT2_CUDA_OFF=$first run "$STEP" --levers
ok "GPT2_CUDA_OFF=$first switches it off" [ "$(state "$first")" = off ]
ok "... and no other" [ "$(grep -c ' off$' "$out")" = "$(($(grep -c ' off$' "$T/levers") + 1))" ]
GPT2_CUDA_OFF=all run "$STEP" --levers
ok "GPT2_CUDA_OFF=all switches every lever off" sh -c "! grep -q ' on\$' '$out'"
GPT2_CUDA_ON=all run "$STEP" --levers
ok "GPT2_CUDA_ON=all switches every lever on" sh -c "! grep -q ' off\$' '$out'"
GPT2_CUDA_ON=all GPT2_CUDA_OFF=$first run "$STEP" --levers
ok "OFF wins over ON" [ "$(state "$first")" = off ]
if [ -n "$trial" ]; then
    GPT2_CUDA_ON=$trial run "$STEP" --levers
    ok "GPT2_CUDA_ON=$trial switches the trial lever on" [ "$(state "$trial")" = on ]
else
    echo "# no trial lever in this build"
fi
GPT2_CUDA_ON="$first, nosuchlever" run "$STEP" --levers
ok "an unknown name exits 1" exits 1
ok "... naming the variable, the name and the known levers" \
    grep -q "GPT2_CUDA_ON: unknown lever 'nosuchlever' (known: all, $first" "$err"
done_testing
