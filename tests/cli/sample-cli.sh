#!/usr/bin/env bash
# gpt2-sample's command line: options, sampling behaviour seen from outside, bad input.
. "$(dirname "$0")/../lib.sh"
M=$T/tiny.bin
"$TESTBIN/helpers/sample_model" "$M" 2 2 32 64 5 || exit 1

run gpt2-sample --help
ok "--help: exit 0, usage on stdout" sh -c "[ $rc -eq 0 ] && grep -q '^Usage: gpt2-sample' '$out'"
run gpt2-sample --version
ok "--version: exit 0" sh -c "[ $rc -eq 0 ] && grep -q 'gpt2-sample' '$out'"
run gpt2-sample -p hi
ok "no model: usage error" sh -c "[ $rc -eq 2 ] && grep -q 'no model' '$err'"
run gpt2-sample -m "$M" -p hi --top-p 2
ok "--top-p 2: usage error" exits 2

# bad model files
run gpt2-sample -m "$T/nope.bin" -p hi
ok "missing model file: exit 1, names it" sh -c "[ $rc -eq 1 ] && grep -q 'nope.bin' '$err'"
head -c 4096 /dev/urandom >"$T/junk.bin"
run gpt2-sample -m "$T/junk.bin" -p hi
ok "junk model file: exit 1 with a message" sh -c "[ $rc -eq 1 ] && grep -q 'junk.bin' '$err'"
head -c 100000 "$M" >"$T/cut.bin"
run gpt2-sample -m "$T/cut.bin" -p hi
ok "truncated model file: exit 1 with a message" sh -c "[ $rc -eq 1 ] && grep -q 'cut.bin' '$err'"

# bad prompts
run gpt2-sample -m "$M" -p ''
ok "empty -p: exit 1, says empty" sh -c "[ $rc -eq 1 ] && grep -q 'empty' '$err'"
run gpt2-sample -m "$M" </dev/null
ok "empty standard input: exit 1" sh -c "[ $rc -eq 1 ] && grep -q 'standard input is empty' '$err'"
echo '464 3290 60000' >"$T/bad.txt"
run gpt2-sample -m "$M" --tokens --format text "$T/bad.txt"
ok "unknown token id: exit 1, names the id" sh -c "[ $rc -eq 1 ] && grep -q '60000' '$err'"
printf 'abc' >"$T/odd.bin"
run gpt2-sample -m "$M" --tokens "$T/odd.bin"
ok "odd-length bin16 stream: exit 1" exits 1
python3 - "$M" "$T/nan.bin" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-4 * 64 + 12:-4 * 64 + 16] = struct.pack("<f", float("nan"))  # lnfw[3] (C 32)
b[32:44] = bytes(12)  # no checksum (header words 8-10), as in a file llm.c wrote
open(sys.argv[2], "wb").write(b)
PY
run gpt2-sample -m "$T/nan.bin" -p hi
ok "a NaN weight: exit 1 naming it, no output" eval 'exits 1 && stderr_has "lnfw\[3\] is NaN" && [ ! -s "$out" ]'
# a 256-token model (llm.c header, zero weights)
python3 - "$T/v256.bin" <<'PY'
import struct, sys
V, C, L, T = 256, 16, 1, 16
n = V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C
open(sys.argv[1], "wb").write(struct.pack("<256i", 20240326, 3, T, V, L, 2, C, V, *[0] * 248) + bytes(4 * n))
PY
run gpt2-sample -m "$T/v256.bin" -p hi
ok "text with a 256-token model: use --tokens" eval 'exits 1 && stderr_has "256 tokens, GPT-2.s 50257: use --tokens"'
run sh -c "echo 65 | gpt2-sample -m '$T/v256.bin' --tokens --format text -n 3 --stop x"
ok "--tokens --stop with a 256-token model: --stop is what needs GPT-2's" \
    eval 'exits 1 && stderr_has "stop needs GPT-2.s"'
run sh -c "echo 65 | gpt2-sample -m '$T/v256.bin' --tokens --format text -n 3 --ignore-eot"
ok "--tokens with a 256-token model: ids below 256" eval 'exits 0 && [ "$(wc -l <"$out")" -eq 3 ] && awk "\$1 >= 256 {exit 1}" "$out"'

# sampling
gen() { gpt2-sample -m "$M" -p "The quick brown fox" -n 40 --ignore-eot "$@"; }
ok "three samples, each exit 0" eval 'gen -s 1 >"$T/a" && gen -s 1 >"$T/b" && gen -s 2 >"$T/c"'
ok "same seed: same text" cmp -s "$T/a" "$T/b"
ok "another seed: other text" sh -c "! cmp -s '$T/a' '$T/c'"
ok "text was generated" test -s "$T/a"
ok "--no-cache samples the same text" same_as "$T/a" 'gen -s 1 --no-cache'
printf 'The quick brown fox' >"$T/prompt.txt"
ok "prompt from a file: the same as -p" same_as "$T/a" 'gpt2-sample -m "$M" -n 40 --ignore-eot -s 1 "$T/prompt.txt"'
ok "prompt from stdin: the same as -p" same_as "$T/a" 'gpt2-sample -m "$M" -n 40 --ignore-eot -s 1 <"$T/prompt.txt"'
ok "ids through gpt2-tokenize pipes: the same text" same_as "$T/a" \
    'gpt2-tokenize <"$T/prompt.txt" | gpt2-sample -m "$M" --tokens -n 40 --ignore-eot -s 1 | gpt2-tokenize -d'
ok "greedy (-t 0) samples" into "$T/greedy" gen -t 0
ok "top-k 1 is greedy" same_as "$T/greedy" 'gen -s 3 -k 1'

# a stop string taken from the middle of a sample ends it right before its first occurrence
stop=$(head -c 60 "$T/a" | tail -c 4)
ok "--stop: exit 0" into "$T/s" gen -s 1 --stop "$stop"
want=$(awk -v s="$stop" 'BEGIN{RS="^$"} {i = index($0, s); printf "%s", substr($0, 1, i - 1)}' "$T/a")
ok "--stop ends before the stop string" sh -c "[ \"\$(cat '$T/s')\" = '$want' ] && [ \$(wc -c <'$T/s') -lt 60 ]"
# with --tokens: the ids of the whole tokens before it (the one where it starts is dropped)
gpt2-tokenize -f text <"$T/prompt.txt" >"$T/prompt.ids"
ids() { gpt2-sample -m "$M" --tokens --format text -n 40 --ignore-eot -s 1 "$@" "$T/prompt.ids"; }
ok "--tokens, with and without --stop: exit 0" eval 'ids >"$T/all.ids" && ids --stop "$stop" >"$T/stop.ids"'
k=0
while [ $k -lt 40 ] &&
    [ "$(head -n $((k + 1)) "$T/all.ids" | gpt2-tokenize -d -f text | wc -c)" -le "$(printf %s "$want" | wc -c)" ]; do
    k=$((k + 1))
done
ok "--tokens --stop: the ids of the $k tokens before the stop string, no more" \
    eval '[ $k -gt 0 ] && head -n $k "$T/all.ids" | cmp -s - "$T/stop.ids"'

run gen -s 1 --num-samples 3
ok "--num-samples 3: three samples split by ---" test "$(grep -c '^---$' "$out")" -eq 2
run gen -s 1 --echo
ok "--echo starts with the prompt" grep -q '^The quick brown fox' "$out"

# ids: unconditional start from <|endoftext|>, generation past the context window (64)
echo 50256 >"$T/eot.txt"
run gpt2-sample -m "$M" --tokens --format text --ignore-eot -n 150 "$T/eot.txt"
ok "150 tokens past a 64-token context" sh -c "[ $rc -eq 0 ] && [ \$(wc -l <'$out') -eq 150 ]"
cp "$out" "$T/past.txt"
run gpt2-sample -m "$M" --tokens --format text --ignore-eot -n 150 --no-cache "$T/eot.txt"
ok "--no-cache past the window: the same ids (restarts from the last half too)" \
    eval 'exits 0 && cmp -s "$out" "$T/past.txt"'
seq 100 199 >"$T/long.txt"
run gpt2-sample -m "$M" --tokens --format text -n 5 --ignore-eot "$T/long.txt"
ok "long prompt: truncated with a warning" sh -c "[ $rc -eq 0 ] && grep -q 'keeping the last 64' '$err'"

# a closed pipe ends it quietly
run sh -c "gpt2-sample -m '$M' -p 'Once upon' -n 2000 --ignore-eot | head -c 5 >/dev/null"
ok "closed pipe: quiet" sh -c "[ $rc -eq 0 ] && [ ! -s '$err' ]"
done_testing
