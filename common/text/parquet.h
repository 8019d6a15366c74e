/* parquet: reads one string (BYTE_ARRAY) column of a flat Apache Parquet file, row group by
 * row group — what gpt2-tokenize --parquet needs from FineWeb-like files, and no more.
 * Supported: data pages v1 and v2; PLAIN, PLAIN_DICTIONARY/RLE_DICTIONARY (also a chunk
 * that falls back to PLAIN pages), DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY; REQUIRED and
 * OPTIONAL columns (nulls skipped and counted); codecs UNCOMPRESSED, SNAPPY, GZIP, ZSTD.
 * Anything else (nested or repeated columns, encryption, other codecs) is refused with a
 * message naming it. Errors go to the caller's buffer and name the file; nothing here exits,
 * so any bytes can be fed to it (tests/fuzz/parquet_fuzz.c). */
#ifndef GPT2_PARQUET_H
#define GPT2_PARQUET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ParquetFile ParquetFile;

/* Opens path (a regular file: Parquet is read from its end) and reads its metadata. */
ParquetFile *parquet_open(const char *path, char *err, size_t errlen);
void parquet_close(ParquetFile *pf);
int parquet_num_row_groups(const ParquetFile *pf);
int64_t parquet_num_rows(const ParquetFile *pf);
/* The most bytes of strings (plus 8 per string) one column chunk may decode to before it is
 * refused as too large; default 4 GiB. Bounds memory against files that lie. */
void parquet_set_max_bytes(ParquetFile *pf, uint64_t max_bytes);

/* The leaf index of the top-level column `name`, or -1 with err when there is none or it
 * is not a string column this reader can read. */
int parquet_find_column(const ParquetFile *pf, const char *name, char *err, size_t errlen);

/* The non-null values of one column chunk: string i is data[end[i-1] .. end[i]) (end[-1]
 * being 0). Buffers are reused from call to call; free with parquet_strings_free. */
typedef struct {
    char *data;
    size_t len, cap;
    size_t *end;
    size_t n, ncap;
    int64_t nulls;
} ParquetStrings;

/* Reads column `col` (from parquet_find_column) of row group `rg` into out. Safe to call
 * from several threads at once on different ParquetStrings. 0, or -1 with err. */
int parquet_read_column(const ParquetFile *pf, int rg, int col, ParquetStrings *out, char *err,
                        size_t errlen);
void parquet_strings_free(ParquetStrings *s);

/* What the file holds, for people: schema, row groups, codecs, encodings, sizes. */
void parquet_print_info(const ParquetFile *pf, FILE *out);

#endif
