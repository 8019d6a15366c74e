#!/usr/bin/env bash
# gpt2-shard: packing from a pipe, naming, round trips in both formats, inspection,
# and the errors a user can run into.
. "$(dirname "$0")/../lib.sh"

# 100003 random tokens (odd count, every id 0-65535 possible, hence --vocab-size 65536)
head -c 200006 /dev/urandom >"$T/in.bin"
V="--vocab-size 65536"

run gpt2-shard --help
ok "--help exits 0 on stdout" exits 0
ok "--help mentions --shard-size" grep -q -- --shard-size "$out"
run gpt2-shard --version
ok "--version exits 0" exits 0
ok "--version names the tool" grep -q gpt2-shard "$out"
run gpt2-shard "$T/in.bin"
ok "missing -o is a usage error" exits 2
run gpt2-shard -o "$T/x" --shard-size 10X "$T/in.bin"
ok "bad --shard-size is a usage error" exits 2
run gpt2-shard -o "$T/x" --zstd=99 "$T/in.bin"
ok "bad --zstd level is a usage error" exits 2
run gpt2-shard --bogus
ok "unknown option is a usage error" exits 2

for fmt in plain zstd; do
    z= ext=
    [ $fmt = zstd ] && z=--zstd=5 ext=.zst
    d=$T/$fmt
    run gpt2-shard $V $z -o "$d/tiny" --shard-size 30k --val-tokens 45k <"$T/in.bin"
    ok "$fmt: packs from stdin" exits 0
    (cd "$d" && ls) >"$T/names"
    printf '%s\n' tiny_train_000002.bin$ext tiny_train_000003.bin$ext tiny_val_000000.bin$ext \
        tiny_val_000001.bin$ext >"$T/want"
    ok "$fmt: shard names (val split over two shards, remainder last)" cmp -s "$T/names" "$T/want"
    run gpt2-shard --info "$d/tiny_val_000001.bin$ext" "$d/tiny_train_000003.bin$ext"
    ok "$fmt: --info exits 0" exits 0
    ok "$fmt: --info counts the short val shard" grep -q "val_000001.bin$ext: .* 15000 tokens" "$out"
    ok "$fmt: --info counts the remainder" grep -q "train_000003.bin$ext: .* 25003 tokens" "$out"
    ok "$fmt: --info checksum ok" grep -q "crc32c [0-9a-f]* ok" "$out"
    ok "$fmt: --cat gives the stream back" same_as "$T/in.bin" 'gpt2-shard --cat "$d"/tiny_val_* "$d"/tiny_train_*'
    run gpt2-shard --verify "$d"/*
    ok "$fmt: --verify checks ids against the default vocabulary" stderr_has "not below the vocabulary size 50257"
    run gpt2-shard $V --verify "$d"/*
    ok "$fmt: --verify $V passes" exits 0
    run gpt2-shard $V $z -o "$d/tiny" --shard-size 30k --val-tokens 45k "$T/in.bin"
    ok "$fmt: existing shard is not overwritten" exits 1
    ok "$fmt: says to use --force" stderr_has "use --force"
    run gpt2-shard $V $z -f -o "$d/tiny" --shard-size 30k --val-tokens 45k - <"$T/in.bin"
    ok "$fmt: --force overwrites" exits 0
done

# default split: one val shard of --shard-size, numbering continues into train
run gpt2-shard $V -o "$T/d/x" --shard-size 60k "$T/in.bin"
ok "default --val-tokens is one shard" eval '[ -f "$T/d/x_val_000000.bin" ] && [ -f "$T/d/x_train_000001.bin" ]'
run gpt2-shard $V -f -o "$T/d/x" --shard-size 1M "$T/in.bin"
ok "fewer shards than last time: still succeeds" exits 0
ok "warns about a shard of the earlier run" stderr_has "x_train_000001.bin: not from this run"
ok "and leaves it alone" [ -f "$T/d/x_train_000001.bin" ]
# the same in a directory whose name holds glob characters
gpt2-shard $V -o "$T/g[1] *?/x" --shard-size 60k "$T/in.bin"
run gpt2-shard $V -f -o "$T/g[1] *?/x" --shard-size 1M "$T/in.bin"
ok "glob characters in the prefix: still warns about the earlier shard" \
    stderr_has "g\[1\] \*?/x_train_000001.bin: not from this run"
ok "glob characters in the prefix: and only about it" test "$(grep -c 'not from this run' "$err")" -eq 1
touch "$T/g[1] *?/x_my_val_000001.bin" "$T/g[1] *?/y_val_000001.bin"
run gpt2-shard $V -f -o "$T/g[1] *?/x" --shard-size 1M "$T/in.bin"
ok "other prefixes' files draw no warning" test "$(grep -c 'not from this run' "$err")" -eq 1
# the directory part of the prefix is a file
touch "$T/file"
run gpt2-shard $V -o "$T/file/x" "$T/in.bin"
ok "prefix under a file: exit 1" exits 1
ok "prefix under a file: names it, not a temp file" stderr_has "$T/file: exists and is not a directory"
run gpt2-shard $V -o "$T/v/x" "$T/in.bin"
ok "input smaller than the default validation split: exit 0" exits 0
ok "but warns that no training shard was written" stderr_has "all 100003 tokens went to validation"
run gpt2-shard $V -o "$T/n/x" --val-tokens 0 --shard-size 1M "$T/in.bin"
ok "--val-tokens 0: train from shard 0" [ "$(ls "$T/n")" = x_train_000000.bin ]
ok "--val-tokens 0: no warning" [ ! -s "$err" ]
# two input files are one stream
head -c 100000 "$T/in.bin" >"$T/a.bin"
tail -c +100001 "$T/in.bin" >"$T/b.bin"
run gpt2-shard $V -o "$T/two/x" --shard-size 70k "$T/a.bin" "$T/b.bin"
ok "several input files pack as one stream" same_as "$T/in.bin" 'gpt2-shard --cat "$T"/two/x_val_* "$T"/two/x_train_*'

# bad input
printf 'abc' >"$T/odd.bin"
run gpt2-shard $V -o "$T/odd/x" "$T/odd.bin"
ok "odd byte count fails" exits 1
ok "odd byte count: message names the input" stderr_has "odd.bin: odd number of bytes"
ok "odd byte count: no shard, no temp file, not even the directory it made" [ ! -e "$T/odd" ]
run gpt2-shard $V -o "$T/n1/n2/x" "$T/odd.bin"
ok "a failed run removes the parent directories it made too" eval 'exits 1 && test ! -e "$T/n1"'
mkdir "$T/had"
run gpt2-shard $V -o "$T/had/x" "$T/odd.bin"
ok "... but not a directory that was there before" eval 'exits 1 && test -d "$T/had" && test -z "$(ls "$T/had")"'
printf '\x01\x00\x51\xc4' >"$T/big.bin" # ids 1 and 50257
run gpt2-shard -o "$T/big/x" "$T/big.bin"
ok "id 50257 rejected by default" exits 1
ok "names the token and the vocabulary" stderr_has "token 1 is 50257, not below the vocabulary size 50257"
run gpt2-shard --vocab-size 50258 -o "$T/big/x" "$T/big.bin"
ok "--vocab-size 50258 accepts it" exits 0
run gpt2-shard -o "$T/r/x" "$T/in.bin"
ok "random 16-bit ids rejected with the default vocabulary" stderr_has "in.bin: token [0-9]* is [0-9]*, not below"
run gpt2-shard -o "$T/e/x" </dev/null
ok "empty input is an error" exits 1
run gpt2-shard -o "$T/e/x" "$T/nope.bin"
ok "missing input file names it" stderr_has "nope.bin"

# damaged shards: each tool mode names the file and exits 1
cp "$T/plain/tiny_val_000000.bin" "$T/flip.bin"
printf '\xff' | dd of="$T/flip.bin" bs=1 seek=5000 conv=notrunc status=none
head -c 5000 "$T/plain/tiny_val_000000.bin" >"$T/cut.bin"
cp "$T/zstd/tiny_val_000000.bin.zst" "$T/flipz.bin"
printf '\xff\xff' | dd of="$T/flipz.bin" bs=1 seek=3000 conv=notrunc status=none
for f in flip cut flipz; do
    run gpt2-shard $V --verify "$T/plain/tiny_val_000000.bin" "$T/$f.bin"
    ok "$f: --verify exits 1" exits 1
    ok "$f: --verify names the file" stderr_has "$f.bin"
    ok "$f: --verify still reports the good one" grep -q "tiny_val_000000.bin: OK" "$out"
    run gpt2-shard --cat "$T/$f.bin"
    ok "$f: --cat exits 1 and writes nothing" eval 'exits 1 && [ ! -s "$out" ]'
done
run gpt2-shard --info "$T/flip.bin"
ok "--info shows a bad checksum" grep -q "crc32c [0-9a-f]* BAD" "$out"
ok "--info exits 1 on it" exits 1
run gpt2-shard --verify "$T/in.bin"
ok "a token stream is not a shard" stderr_has "bad magic"
run gpt2-shard --info
ok "--info without files is a usage error" exits 2
run gpt2-shard --info --cat "$T/plain/tiny_val_000000.bin"
ok "--info with --cat is a usage error" exits 2
ok "--info with --cat: says so" stderr_has "exclude each other"
for opt in "-o $T/c/x" "-z" "-f" "--shard-size 5" "--val-tokens 0" "--progress"; do
    # shellcheck disable=SC2086
    run gpt2-shard --cat $opt "$T/plain/tiny_val_000000.bin"
    ok "--cat with $opt is a usage error, not ignored" eval 'exits 2 && [ ! -s "$out" ]'
done
run gpt2-shard --verify --vocab-size 65536 "$T/plain/tiny_val_000000.bin"
ok "--verify takes --vocab-size" exits 0

# killed while a shard is open: it was only ever a temp file, and that is removed
mkfifo "$T/fifo"
mkdir "$T/k"
gpt2-shard $V -o "$T/k/x" <"$T/fifo" >/dev/null 2>&1 &
pid=$!
exec 3>"$T/fifo"
head -c 3000000 /dev/urandom >&3 # more than one read buffer
has_temp() { ls "$T"/k/x_val_000000.bin.tmp.* >/dev/null 2>&1; }
ok "an unfinished shard is a temp file" wait_for has_temp
kill -TERM $pid
wait $pid
exec 3>&-
ok "killed mid-shard: no shard and no temp file left" [ -z "$(ls -A "$T/k")" ]

# a closed pipe ends --cat quietly
run bash -c 'gpt2-shard --cat "$@" | head -c 10 >/dev/null' _ "$T"/plain/*
ok "--cat into a closed pipe is quiet" [ ! -s "$err" ]

done_testing
