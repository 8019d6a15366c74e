#!/usr/bin/env bash
# Token streams through pipes as they arrive: gpt2-tokenize -d writes the text of the ids
# a pipe has delivered without waiting for the stream to end, in both formats, so that
# `gpt2-sample --tokens | gpt2-tokenize -d` shows a sample as it is generated.
. "$(dirname "$0")/../lib.sh"

# has FILE TEXT: waits until FILE holds exactly TEXT
has() {
    local file=$1 want=$2
    wait_for eval '[ "$(cat "$file")" = "$want" ]'
}
mkfifo "$T/fifo"
for fmt in bin16 text; do
    case $fmt in
    bin16) hello='\x88\x3c' world='\xe3\x03' ;; # 15496 "Hello", 995 " world"
    text) hello='15496\n' world='995\n' ;;
    esac
    gpt2-tokenize -d -f $fmt <"$T/fifo" >"$T/$fmt.out" 2>"$T/$fmt.err" &
    pid=$!
    exec 3>"$T/fifo"
    printf "$hello" >&3
    ok "$fmt: the first id's text comes out while the stream is still open" has "$T/$fmt.out" Hello
    printf "$world" >&3
    ok "$fmt: then the next one's" has "$T/$fmt.out" "Hello world"
    exec 3>&-
    rc=0
    wait $pid || rc=$?
    ok "$fmt: the end of the stream ends it, exit 0" eval '[ $rc -eq 0 ] && ! [ -s "$T/$fmt.err" ]'
done
done_testing
