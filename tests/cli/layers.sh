#!/usr/bin/env bash
# scripts/lint-layers.sh (make lint): the tree keeps common/'s layering rule, and the
# lint really fails a file that includes from a later stage, an unnamed stage or a
# folder that is no stage.
. "$(dirname "$0")/../lib.sh"
run "$TOP/scripts/lint-layers.sh"
ok "the tree follows the layering rule" exits 0
ok "  and says nothing" [ ! -s "$out" ]

cp -r "$TOP/common" "$T/common"
mkdir -p "$T/scripts" && cp "$TOP/scripts/lint-layers.sh" "$T/scripts/"
run "$T/scripts/lint-layers.sh" "$T"
ok "the copy passes too" exits 0
echo '#include "train/schedule.h"' >>"$T/common/data/shard.c"
run "$T/scripts/lint-layers.sh" "$T"
ok "data/ including train/: exit 1" exits 1
ok "  names the file, line and header" grep -q 'common/data/shard.c:[0-9]*: data/ includes "train/schedule.h"' "$out"

cp "$TOP/common/data/shard.c" "$T/common/data/shard.c"
echo '#include "sample/sampler.h"' >>"$T/common/eval/evallog.h"
echo '#include "util.h"' >>"$T/common/text/bpe.c"
run "$T/scripts/lint-layers.sh" "$T"
ok "eval/ may include sample/; a bare name may not: exit 1" exits 1
ok "  only the bare name is reported" grep -qx "common/text/bpe.c:[0-9]*: \"util.h\".*" "$out"
ok "  one line" [ "$(wc -l <"$out")" -eq 1 ]

cp "$TOP/common/text/bpe.c" "$T/common/text/bpe.c"
mkdir "$T/common/misc" && echo '#include "base/util.h"' >"$T/common/misc/x.c"
run "$T/scripts/lint-layers.sh" "$T"
ok "a folder that is no stage: exit 1" exits 1
done_testing
