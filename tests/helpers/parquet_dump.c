/* parquet_dump: the strings of one column of Parquet files, as the reader returns them, for
 * tests/cli/tokenize-parquet.sh to compare with the npm oracles. Usage:
 *   parquet_dump [-f FIELD] FILE...
 * Each non-null string is written as its byte length in decimal, ':', the bytes, '\n';
 * after each file a line "nulls N". Errors as gpt2-tokenize reports them, exit 1. */
#include "base/util.h"
#include "text/parquet.h"

#include <string.h>

int main(int argc, char **argv) {
    util_init("parquet_dump");
    const char *field = "text";
    int i = 1;
    if (argc > 2 && !strcmp(argv[1], "-f")) field = argv[2], i = 3;
    char err[512];
    ParquetStrings s = {0};
    for (; i < argc; i++) {
        ParquetFile *pf = parquet_open(argv[i], err, sizeof err);
        int col = pf ? parquet_find_column(pf, field, err, sizeof err) : -1;
        if (col < 0) die("%s", err);
        int64_t nulls = 0;
        for (int g = 0; g < parquet_num_row_groups(pf); g++) {
            if (parquet_read_column(pf, g, col, &s, err, sizeof err)) die("%s", err);
            for (size_t k = 0; k < s.n; k++) {
                size_t from = k ? s.end[k - 1] : 0;
                printf("%zu:", s.end[k] - from);
                xfwrite(s.data + from, s.end[k] - from, stdout, "stdout");
                putchar('\n');
            }
            nulls += s.nulls;
        }
        printf("nulls %lld\n", (long long)nulls);
        parquet_close(pf);
    }
    parquet_strings_free(&s);
    return 0;
}
