#!/usr/bin/env bash
# gpu-carry: prepares a built tree for scripts/gpu-check.sh on another machine that has
# the CUDA toolkit (and gcc's runtime) but maybe not the other libraries we link: copies
# the shared libraries the GPU-check binaries need, other than glibc's, gcc's and CUDA's,
# into build/libs/ (gpu-check.sh puts that directory on LD_LIBRARY_PATH for our programs
# only). Then carry bin/ and build/ along with the source tree.
set -eu
cd "$(dirname "$0")/.."
bins="bin/gpt2-train bin/gpt2-shard build/tests/gpu/kernels_cuda build/tests/gpu/model_cuda build/bench/gpu_step"
for f in $bins; do [ -x "$f" ] || { echo "gpu-carry: $f missing; run make first" >&2; exit 1; }; done
mkdir -p build/libs
# shellcheck disable=SC2086
ldd $bins | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u |
    grep -Ev '^(libc|libm|libmvec|libpthread|libdl|librt|libstdc\+\+|libgcc_s|libgomp)\.so|/cuda' |
    while read -r name path; do
        cp -L "$path" "build/libs/$name"
        echo "build/libs/$name ($(stat -c %s "build/libs/$name") bytes, from $path)"
    done
du -sh build bin
