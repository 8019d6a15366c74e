/* libFuzzer target for the shard reader: any bytes as a shard file must give a clean
 * error or a readable shard, never a crash, a leak or undefined behaviour. */
#include "data/shard.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* the reader takes a path: an in-memory file behind /proc/self/fd */
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("shard", 0);
        if (fd < 0) return 0;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) return 0;
    char err[256];
    ShardReader *r = shard_open_flags(path, SHARD_OPEN_NO_VERIFY, err, sizeof err);
    if (!r) return 0;
    uint64_t n = shard_num_tokens(r);
    if (n <= (1u << 20)) shard_verify(r, 50257, err, sizeof err);
    /* windows at the start, the middle and the end, as a training loader reads them */
    uint16_t buf[300];
    uint64_t len = n < 300 ? n : 300;
    uint64_t starts[] = {0, (n - len) / 2, n - len};
    for (int i = 0; i < 3; i++) shard_read(r, starts[i], (size_t)len, buf, err, sizeof err);
    shard_close(r);
    return 0;
}
