#!/usr/bin/env bash
# gpt2-tokenize as a command: formats, documents, threads and chunks, errors, pipes.
. "$(dirname "$0")/../lib.sh"

tok=gpt2-tokenize
ids() { od -An -v -tu2 -w2 "$1" | tr -d ' ' | paste -sd' '; } # bin16 file -> "id id ..."

run $tok --help
ok "--help exits 0 on stdout" exits 0
ok "--help lists --jsonl" grep -q -- --jsonl "$out"
run $tok --version
ok "--version exits 0" exits 0
run $tok --bogus
ok "unknown option is a usage error" exits 2
run $tok -f nope
ok "unknown format is a usage error" exits 2
run $tok --skip-bad
ok "--skip-bad without --jsonl is a usage error" exits 2
run $tok --field body </dev/null
ok "--field without --jsonl is a usage error" exits 2
ok "--field without --jsonl: says why" stderr_has "field needs --jsonl"
run $tok --jsonl -0 </dev/null
ok "--jsonl with --null is a usage error" exits 2
run $tok -0 --jsonl </dev/null
ok "--null with --jsonl is a usage error" exits 2

printf 'Hello world' >"$T/hello"
run $tok -f text "$T/hello"
ok "text format: one id per line" prints $'15496\n995\n'
run $tok "$T/hello"
ok "bin16 when stdout is not a terminal" eval 'exits 0 && test "$(ids "$out")" = "15496 995"'
run $tok -f text - <"$T/hello"
ok "- reads stdin" prints $'15496\n995\n'
run $tok -f text "$T/hello" "$T/hello"
ok "each file on its own" prints $'15496\n995\n15496\n995\n'
run $tok -f text /dev/null
ok "empty input, no ids" prints ''
run $tok "$T/missing"
ok "missing file: exit 1" exits 1
ok "missing file: named" stderr_has "$T/missing"

printf 'a<|endoftext|>b' >"$T/eot"
run $tok -f text "$T/eot"
ok "<|endoftext|> is text by default" prints $'64\n27\n91\n437\n1659\n5239\n91\n29\n65\n'
run $tok -f text --special "$T/eot"
ok "--special makes it token 50256" prints $'64\n50256\n65\n'

# round trips: text, random bytes, both formats
cat "$TOP"/common/*/*.c "$TOP"/common/*/*.h "$TOP"/README.md >"$T/text"
head -c 300000 /dev/urandom >"$T/random"
for f in text random; do
    ok "encode | decode gives $f back (bin16)" same_as "$T/$f" '$tok "$T/$f" | $tok -d'
    ok "encode | decode gives $f back (text)" same_as "$T/$f" '$tok -f text "$T/$f" | $tok -d -f text'
done

# the output does not depend on threads or chunk size
ok "-j1 encodes the text" into "$T/j1" $tok -j1 "$T/text"
for opt in "-j2" "-j3 --chunk=100" "-j2 --chunk=1Ki" "-j1 --chunk=64"; do
    ok "same ids with $opt" same_as "$T/j1" '$tok $opt "$T/text"'
done
cat "$T/text" "$T/random" "$T/text" >"$T/mixed"
ok "-j1 encodes text with random bytes" into "$T/m1" $tok -j1 "$T/mixed"
ok "same ids on text with random bytes, small chunks" same_as "$T/m1" '$tok -j2 --chunk=4Ki "$T/mixed"'

# JSONL documents
printf '{"text":"Hello world"}\n\n{"text":"","id":2}\n{"body":"x","text":"Hi"}\r\n' >"$T/docs.jsonl"
run $tok -f text --jsonl "$T/docs.jsonl"
ok "--jsonl: <|endoftext|> before each document, blank lines skipped" \
    prints $'50256\n15496\n995\n50256\n50256\n17250\n'
run $tok -f text --jsonl --field body "$T/docs.jsonl"
ok "--field picks another field; missing field stops" exits 1
ok "missing field: file and line number" stderr_has "docs.jsonl:1:"
printf '{"text":"a"}\n{"text":"b"}\nnot json\n{"text":"c"}\n[1]\n' >"$T/bad.jsonl"
run $tok -f text --jsonl "$T/bad.jsonl"
ok "malformed line: exit 1" exits 1
ok "malformed line: its number" stderr_has "bad.jsonl:3: not JSON"
ok "malformed line: documents before it are written" stdout_is $'50256\n64\n50256\n65\n'
run $tok -f text --jsonl --skip-bad "$T/bad.jsonl"
ok "--skip-bad: exit 0" exits 0
ok "--skip-bad: counts" stderr_has "skipped 2 malformed lines"
ok "--skip-bad: the good documents" prints $'50256\n64\n50256\n65\n50256\n66\n'
printf '{"text":"a\\u0000b <|endoftext|>"}' >"$T/nul.jsonl"
run $tok -f text --jsonl --special "$T/nul.jsonl"
ok "--jsonl: escaped NUL, no final newline, --special" prints $'50256\n64\n188\n65\n220\n50256\n'
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "{\"text\": \"doc %d is here\"}\n", i }' >"$T/many.jsonl"
ok "--jsonl -j1 from a pipe in small chunks" into "$T/many1" eval 'cat "$T/many.jsonl" | $tok --jsonl -j1 --chunk=256'
ok "--jsonl: same ids with -j1 and -j2, small chunks" same_as "$T/many1" 'cat "$T/many.jsonl" | $tok --jsonl -j2 --chunk=256'
ok "--jsonl: 3000 documents" test "$(ids "$T/many1" | tr ' ' '\n' | grep -c '^50256$')" -eq 3000

# NUL-separated documents
printf 'a\0\0b\0' >"$T/nuls"
run $tok -f text -0 "$T/nuls"
ok "-0: a document per NUL-terminated part" prints $'50256\n64\n50256\n50256\n65\n'
printf 'a\0b' >"$T/nul2.in"
run $tok -f text -0 "$T/nul2.in"
ok "-0: last document without NUL" eval 'exits 0 && test "$(paste -sd" " "$out")" = "50256 64 50256 65"'
tr '\n' '\0' <"$T/text" >"$T/text0"
ok "-0 -j1 encodes" into "$T/z1" $tok -0 -j1 "$T/text0"
ok "-0: same ids with small chunks and threads" same_as "$T/z1" '$tok -0 -j2 --chunk=512 "$T/text0"'

# decoding errors
printf '\x01' >"$T/odd"
run $tok -d "$T/odd"
ok "odd byte count: exit 1" exits 1
ok "odd byte count: says truncated" stderr_has truncated
printf '\xff\xff' >"$T/big"
run $tok -d "$T/big"
ok "id beyond the vocabulary: exit 1" exits 1
ok "id beyond the vocabulary: named" stderr_has 65535
run $tok -d -f text < <(printf '15496 x\n')
ok "text decode: junk is an error" exits 1
run $tok -d -f text < <(printf '0000000015496 00995\n')
ok "text decode: leading zeros are not too large" prints 'Hello world'
run $tok -d -f text < <(printf '15496 00000065536\n')
ok "text decode: 65536 with leading zeros is still too large" eval 'exits 1 && stderr_has "offset 6: token id too large"'

# output: file, full disk, closed pipe
run $tok -o "$T/out.bin" "$T/hello"
ok "-o writes the file" eval 'exits 0 && test "$(ids "$T/out.bin")" = "15496 995"'
run $tok -o "$T/out.bin" "$T/no-such-input"
ok "-o, failed run: exit 1, the existing file as it was" eval 'exits 1 && test "$(ids "$T/out.bin")" = "15496 995"'
printf 'x' >"$T/x"
run $tok -o "$T/out.bin" "$T/x"
ok "-o replaces an existing file" eval 'exits 0 && test "$(ids "$T/out.bin")" = "87"'
run $tok -o /nonexistent/dir/x "$T/hello"
ok "-o into a missing directory: exit 1" exits 1
if [ -w /dev/full ]; then
    run sh -c "$tok '$T/text' >/dev/full"
    ok "disk full: exit 1" exits 1
    ok "disk full: says so" stderr_has "No space left"
    ok "disk full: says so once" test "$(wc -l <"$err")" -eq 1
    run sh -c "$tok -d '$T/m1' >/dev/full"
    ok "decode, disk full: exit 1, one message" eval 'exits 1 && [ "$(wc -l <"$err")" -eq 1 ]'
fi
(
    $tok "$T/mixed" 2>"$T/pipe.err"
    echo $? >"$T/pipe.rc"
) | head -c 10 >/dev/null
ok "head closing the pipe: no message" test ! -s "$T/pipe.err"
ok "head closing the pipe: not success" test "$(cat "$T/pipe.rc")" -ne 0

# on a terminal (script(1) gives one): ids on it get no progress line among them,
# while a redirected encode still shows progress there (a machine without
# pseudo-terminals skips these three, saying so)
if script -qec true /dev/null >/dev/null 2>&1; then
    script -qec "printf 'Hello world' | \"$BIN/$tok\"" /dev/null >"$T/tty" 2>&1
    ok "ids on a terminal: no progress line" [ "$(tr -d '\r' <"$T/tty")" = $'15496\n995' ]
    script -qec "printf 'Hello world' | \"$BIN/$tok\" >/dev/null" /dev/null >"$T/tty" 2>&1
    ok "output redirected, stderr a terminal: progress" grep -q "$tok: 0 MB" "$T/tty"
    script -qec "printf 'Hello world' | \"$BIN/$tok\" --progress" /dev/null >"$T/tty" 2>&1
    ok "--progress: shown even with ids on the terminal" grep -q "$tok: 0 MB" "$T/tty"
else
    echo "# skipped 3 terminal tests: script(1) could not open a pseudo-terminal"
fi
# another vocabulary in the same format
run $tok -f text --vocab "$TOP/data/gpt2-vocab" "$T/hello"
ok "--vocab DIR" prints $'15496\n995\n'
run $tok --vocab "$T" "$T/hello"
ok "--vocab with no files: exit 1" exits 1

done_testing
