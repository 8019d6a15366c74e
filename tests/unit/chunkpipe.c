/* The tokenizer's pipeline (common/text/chunkpipe.c): for every input mode, thread count
 * and chunk size, the ids equal those of encoding each document whole, in order. */
#include "base/util.h"
#include "tap.h"
#include "text/chunkpipe.h"
#include "text/parquet.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const BPE *bpe;
static char dir[] = "/tmp/test-chunkpipe.XXXXXX";

/* The pipeline's bytes for one file. */
static char *pipe_run(ChunkMode mode, int threads, size_t chunk, const char *path, size_t *len,
                      int64_t *nulls) {
    char *mem = NULL;
    FILE *f = open_memstream(&mem, len);
    ChunkConfig c = {.bpe = bpe, .mode = mode, .field = "text", .chunk = chunk, .threads = threads};
    ChunkPipe *p = chunkpipe_init(&c);
    ChunkOutput o = {.f = f, .name = "mem", .fmt = TOKENS_BIN16};
    progress_init(&o.progress, 0);
    chunkpipe_encode_file(p, path, &o);
    chunkpipe_free(p);
    fclose(f);
    if (nulls) *nulls = o.nulls;
    return mem;
}

/* What the pipeline should write: each document encoded whole (eot: preceded by it). */
typedef struct {
    int *ids;
    size_t n, cap;
} Ids;
static void want_doc(Ids *w, const char *s, size_t n, int eot) {
    if (eot) {
        if (w->n == w->cap)
            w->cap = w->cap ? 2 * w->cap : 64, w->ids = xrealloc(w->ids, w->cap * sizeof *w->ids);
        w->ids[w->n++] = bpe_eot(bpe);
    }
    bpe_encode(bpe, s, n, &w->ids, &w->n, &w->cap);
}
static int same(const char *got, size_t len, const Ids *w) {
    if (len != 2 * w->n) return 0;
    for (size_t i = 0; i < w->n; i++)
        if ((((unsigned char)got[2 * i + 1]) << 8 | (unsigned char)got[2 * i]) != w->ids[i])
            return 0;
    return 1;
}

static char *write_tmp(const char *name, const char *data, size_t n) {
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = xfopen(path, "wb");
    xfwrite(data, n, f, path);
    xfclose(f, path);
    return path;
}

int main(void) {
    util_init("test-chunkpipe");
    bpe = bpe_load_gpt2();
    if (!mkdtemp(dir)) die("mkdtemp:");
    /* a text with long words, runs of spaces, non-ASCII, no space for a while */
    size_t tn = 0;
    char *text = xmalloc(70000);
    for (int i = 0; tn < 60000; i++)
        tn += (size_t)snprintf(
            text + tn, 200000 - tn, "%s%d ",
            i % 17 ? "word Grüße  東京 " : "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n\n", i);
    char *tpath = write_tmp("t.txt", text, tn);
    Ids w = {0};
    want_doc(&w, text, tn, 0);
    /* the same text as NUL-separated documents and as JSONL */
    char *nul = xmalloc(tn), *jsonl = xmalloc(2 * tn + 64);
    memcpy(nul, text, tn);
    Ids wn = {0}, wj = {0};
    size_t jn = 0, from = 0;
    for (size_t i = 0; i <= tn; i++)
        if (i == tn || text[i] == '\n') {
            if (i < tn) nul[i] = 0;
            want_doc(&wn, text + from, i - from, 1);
            want_doc(&wj, text + from, i - from, 1);
            jn +=
                (size_t)sprintf(jsonl + jn, "{\"text\": \"%.*s\"}\n", (int)(i - from), text + from);
            from = i + 1;
        }
    char *npath = write_tmp("n.bin", nul, tn), *jpath = write_tmp("j.jsonl", jsonl, jn);

    /* the committed FineWeb-like file, and what the reader gives for it */
    char err[512];
    const char *pq = "tests/data/fineweb-tiny.parquet";
    ParquetFile *pf = parquet_open(pq, err, sizeof err);
    if (!pf) die("%s", err);
    Ids wp = {0};
    ParquetStrings s = {0};
    int col = parquet_find_column(pf, "text", err, sizeof err);
    for (int g = 0; g < parquet_num_row_groups(pf); g++) {
        if (parquet_read_column(pf, g, col, &s, err, sizeof err)) die("%s", err);
        for (size_t k = 0; k < s.n; k++)
            want_doc(&wp, s.data + (k ? s.end[k - 1] : 0), s.end[k] - (k ? s.end[k - 1] : 0), 1);
    }
    parquet_strings_free(&s);
    parquet_close(pf);

    int threads[] = {1, 2, 5};
    size_t chunks[] = {64, 4096, 1 << 20};
    for (int ti = 0; ti < 3; ti++)
        for (int ci = 0; ci < 3; ci++) {
            int t = threads[ti];
            size_t c = chunks[ci], len;
            char *got = pipe_run(CHUNK_TEXT, t, c, tpath, &len, NULL);
            ok(same(got, len, &w), "text, -j%d, chunk %zu: ids of the whole text", t, c);
            free(got);
            got = pipe_run(CHUNK_NUL, t, c, npath, &len, NULL);
            ok(same(got, len, &wn), "NUL documents, -j%d, chunk %zu", t, c);
            free(got);
            got = pipe_run(CHUNK_JSONL, t, c, jpath, &len, NULL);
            ok(same(got, len, &wj), "JSONL, -j%d, chunk %zu", t, c);
            free(got);
            int64_t nulls = -1;
            got = pipe_run(CHUNK_PARQUET, t, c, pq, &len, &nulls);
            ok(same(got, len, &wp) && nulls == 0, "Parquet, -j%d, chunk %zu", t, c);
            free(got);
        }
    ok(wp.n > 1000 && wn.n > 1000, "the references are not empty (%zu, %zu ids)", wp.n, wn.n);
    unlink(tpath), unlink(npath), unlink(jpath), rmdir(dir);
    free(tpath), free(npath), free(jpath), free(text), free(nul), free(jsonl);
    free(w.ids), free(wn.ids), free(wj.ids), free(wp.ids);
    bpe_free((BPE *)bpe);
    return done_testing();
}
