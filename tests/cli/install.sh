#!/usr/bin/env bash
# make install into a staging DESTDIR: every tool executable in bin/, the CUDA plugin in
# lib/gpt2/ (CUDA builds), every man page in the directory of its section, nothing else. Only for the plain build (bin/ of the
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
plugin=0
if [ -e "$BIN/gpt2-cuda.so" ]; then
    plugin=1
    ok "the CUDA plugin installed in lib/gpt2" test -x "$T/inst/usr/lib/gpt2/gpt2-cuda.so"
    "$TESTBIN/helpers/sample_model" "$T/m.bin" 1 1 64 16 || exit 1
    run "$T/inst/usr/bin/gpt2-sample" -m "$T/m.bin" -p hi -n 1 --device cuda
    ok "an installed tool finds it (../lib/gpt2)" eval '! stderr_has "plugin is missing" && ! stderr_has "gpt2-cuda.so"'
fi
(cd "$T/inst" && find . -type f | sort) >"$T/files"
want=$(( $(ls "$TOP"/man/*.[1-8] | wc -l) + 5 + plugin ))
ok "nothing else installed ($want files)" [ "$(wc -l <"$T/files")" -eq "$want" ]
done_testing
