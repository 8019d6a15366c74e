#!/usr/bin/env bash
# The layering rule of common/: a stage's files include only from base/, from earlier
# stages and from their own folder, so the library's dependencies follow the data flow
# (base < text < data < model < train < sample < eval).
# Usage: scripts/lint-layers.sh [TOP]   (default: the checkout this script is in)
# Prints each violation as FILE:LINE: message; exit 1 if there is any.
set -u
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
rank() {
    case $1 in
    base) echo 0 ;; text) echo 1 ;; data) echo 2 ;; model) echo 3 ;; train) echo 4 ;;
    sample) echo 5 ;; eval) echo 6 ;; *) echo -1 ;;
    esac
}
bad=0
cd "$top/common" || exit 2
for f in */*.[ch] */*.cu */*/*.[ch] */*/*.cu; do
    [ -f "$f" ] || continue
    stage=${f%%/*}
    own=$(rank "$stage")
    if [ "$own" -lt 0 ]; then
        echo "common/$f: common/$stage/ is not a pipeline stage" && bad=1
        continue
    fi
    while IFS=: read -r line inc; do
        dep=${inc%%/*}
        if [ "$dep" = "$inc" ]; then
            echo "common/$f:$line: \"$inc\": name the stage (\"base/util.h\", not \"util.h\")"
            bad=1
        elif [ "$dep" != "$stage" ] && { r=$(rank "$dep"); [ "$r" -lt 0 ] || [ "$r" -ge "$own" ]; }; then
            echo "common/$f:$line: $stage/ includes \"$inc\" from a later or unknown stage"
            bad=1
        fi
    done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
        sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/')
done
exit $bad
