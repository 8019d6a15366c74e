/* libFuzzer target for the Parquet reader: any bytes as a Parquet file must give a clean
 * error or strings, never a crash, a leak or undefined behaviour. */
#include "text/parquet.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* the reader takes a path: an in-memory file behind /proc/self/fd */
    static int fd = -1;
    static char path[64];
    static FILE *null;
    if (fd < 0) {
        fd = memfd_create("parquet", 0);
        null = fopen("/dev/null", "w");
        if (fd < 0 || !null) return 0;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) return 0;
    char err[512];
    ParquetFile *pf = parquet_open(path, err, sizeof err);
    if (!pf) return 0;
    parquet_set_max_bytes(pf, 64 << 20); /* a lying file must not take the fuzzer's memory */
    parquet_print_info(pf, null);
    int col = parquet_find_column(pf, "text", err, sizeof err);
    ParquetStrings s = {0};
    for (int g = 0; col >= 0 && g < parquet_num_row_groups(pf); g++)
        parquet_read_column(pf, g, col, &s, err, sizeof err);
    parquet_strings_free(&s);
    parquet_close(pf);
    return 0;
}
