#!/usr/bin/env bash
# make install into a staging DESTDIR: every tool executable in bin/, every man page in
# the directory of its section, nothing else. Only for the plain build (bin/ of the
# checkout): the sanitizer run's programs live elsewhere and make would rebuild bin/.
. "$(dirname "$0")/../lib.sh"
[ "$BIN" = "$TOP/bin" ] || skip_all "make install is checked with the plain build"
run make -s -C "$TOP" install DESTDIR="$T/inst" PREFIX=/usr
ok "make install exits 0" exits 0
for tool in tokenize shard train sample eval; do
    ok "gpt2-$tool installed executable" test -x "$T/inst/usr/bin/gpt2-$tool"
done
for page in "$TOP"/man/*.[1-8]; do
    name=${page##*/}
    ok "$name installed in man${name##*.}" cmp -s "$page" "$T/inst/usr/share/man/man${name##*.}/$name"
done
(cd "$T/inst" && find . -type f | sort) >"$T/files"
want=$(( $(ls "$TOP"/man/*.[1-8] | wc -l) + 5 ))
ok "nothing else installed ($want files)" [ "$(wc -l <"$T/files")" -eq "$want" ]
done_testing
