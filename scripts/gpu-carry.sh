#!/usr/bin/env bash
# gpu-carry: prepares a built tree for scripts/gpu-check.sh on another machine that has
# the CUDA toolkit (and gcc's runtime) but maybe not the other libraries we link: copies
# the shared libraries the GPU-check binaries need, other than glibc's, gcc's and CUDA's,
# into build/libs/ (gpu-check.sh puts that directory on LD_LIBRARY_PATH for our programs
# only). Then carry bin/ and build/ along with the source tree.
# With --pack, also writes build/gpu-carry.tar.gz: the programs gpu-check.sh runs (debug
# info stripped) and those libraries, for a transfer limit that the plain files exceed;
# unpack it in the checkout (tar -xzf) on the GPU machine.
set -eu
cd "$(dirname "$0")/.."
pack=0
case ${1-} in
'') ;;
--pack) pack=1 ;;
*) echo "usage: $0 [--pack]" >&2; exit 2 ;;
esac
bins="bin/gpt2-train bin/gpt2-shard bin/gpt2-eval bin/gpt2-sample bin/gpt2-tokenize bin/gpt2-cuda.so build/tests/gpu/kernels_cuda build/tests/gpu/model_cuda build/tests/gpu/dist_nccl build/tests/helpers/sample_model build/bench/gpu_step"
for f in $bins; do [ -x "$f" ] || { echo "gpu-carry: $f missing; run make first" >&2; exit 1; }; done
mkdir -p build/libs
# shellcheck disable=SC2086
ldd $bins | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u |
    grep -Ev '^(libc|libm|libmvec|libpthread|libdl|librt|libstdc\+\+|libgcc_s)\.so|/cuda' |
    while read -r name path; do
        cp -L "$path" "build/libs/$name"
        echo "build/libs/$name ($(stat -c %s "build/libs/$name") bytes, from $path)"
    done
if [ $pack = 1 ]; then
    stage=$(mktemp -d)
    trap 'rm -rf "$stage"' EXIT
    for f in $bins build/libs/*; do
        mkdir -p "$stage/$(dirname "$f")"
        cp -p "$f" "$stage/$f"
        case $f in build/libs/*) ;; *) strip --strip-debug "$stage/$f" ;; esac
    done
    tar -czf build/gpu-carry.tar.gz -C "$stage" .
    echo "build/gpu-carry.tar.gz ($(stat -c %s build/gpu-carry.tar.gz) bytes)"
fi
du -sh build bin
