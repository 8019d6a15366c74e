/* chunkpipe: see chunkpipe.h. Items are cut by a Source (the reader side), encoded by
 * encode_item on any thread, and written by the caller's thread in order. */
#include "text/chunkpipe.h"

#include "base/util.h"
#include "text/parquet.h"

#include <jansson.h>
#include <omp.h>
#include <string.h>

struct ChunkPipe {
    ChunkConfig c;
    BpeWork **work; /* one per thread, the reader's included */
    int batch;
    struct Item *items; /* two batches: one encoding, one being read */
};

/* One unit of work: input bytes in, ids out. */
typedef struct Item {
    char *data;
    size_t len;
    size_t *ends; /* CHUNK_PARQUET: document i is data[ends[i-1] .. ends[i]) */
    size_t nends, ends_cap;
    int doc_start; /* CHUNK_NUL: a document begins at data[0] */
    long line;     /* CHUNK_JSONL: number of the first line in data */
    int *ids;
    size_t n, cap;
    long bad;      /* malformed lines skipped */
    long err_line; /* first malformed line when not skipping (0: none) */
    char err[256];
} Item;

static void item_push(Item *it, int id) {
    if (it->n == it->cap) {
        it->cap = it->cap ? 2 * it->cap : 1024;
        it->ids = xrealloc(it->ids, it->cap * sizeof *it->ids);
    }
    it->ids[it->n++] = id;
}

static void encode_jsonl(const ChunkConfig *c, BpeWork *w, Item *it) {
    const int eot = bpe_eot(c->bpe);
    long line = it->line;
    for (size_t i = 0; i < it->len; line++) {
        char *s = it->data + i, *nl = memchr(s, '\n', it->len - i);
        size_t n = nl ? (size_t)(nl - s) : it->len - i;
        i += n + 1;
        size_t k = 0;
        while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r')) k++;
        if (k == n) continue; /* blank lines are not documents */
        json_error_t jerr;
        json_t *doc = json_loadb(s, n, JSON_ALLOW_NUL, &jerr);
        json_t *text = json_is_object(doc) ? json_object_get(doc, c->field) : NULL;
        if (!json_is_string(text)) {
            if (!c->skip_bad) {
                it->err_line = line;
                if (!doc && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
                    snprintf(it->err, sizeof it->err,
                             "not JSON: starts with a UTF-8 byte order mark (EF BB BF)");
                else if (!doc)
                    snprintf(it->err, sizeof it->err, "not JSON: %s", jerr.text);
                else if (!json_is_object(doc))
                    snprintf(it->err, sizeof it->err, "not a JSON object");
                else
                    snprintf(it->err, sizeof it->err, "no string field \"%s\"", c->field);
                json_decref(doc);
                return;
            }
            it->bad++;
        } else {
            item_push(it, eot);
            bpe_encode_with(c->bpe, w, json_string_value(text), json_string_length(text), c->flags,
                            &it->ids, &it->n, &it->cap);
        }
        json_decref(doc);
    }
}

/* Documents end at each NUL; each one starts with <|endoftext|>. */
static void encode_nul(const ChunkConfig *c, BpeWork *w, Item *it) {
    const int eot = bpe_eot(c->bpe);
    int start = it->doc_start;
    for (size_t i = 0; i < it->len;) {
        char *s = it->data + i, *nul = memchr(s, 0, it->len - i);
        size_t n = nul ? (size_t)(nul - s) : it->len - i;
        if (start) item_push(it, eot);
        bpe_encode_with(c->bpe, w, s, n, c->flags, &it->ids, &it->n, &it->cap);
        i += n + 1;
        start = 1;
        if (nul && i == it->len) break; /* the next document begins in the next item */
    }
}

static void encode_item(const ChunkConfig *c, BpeWork *w, Item *it) {
    if (c->mode == CHUNK_JSONL) {
        encode_jsonl(c, w, it);
    } else if (c->mode == CHUNK_NUL) {
        encode_nul(c, w, it);
    } else if (c->mode == CHUNK_PARQUET) {
        for (size_t d = 0; d < it->nends; d++) {
            size_t from = d ? it->ends[d - 1] : 0;
            item_push(it, bpe_eot(c->bpe));
            bpe_encode_with(c->bpe, w, it->data + from, it->ends[d] - from, c->flags, &it->ids,
                            &it->n, &it->cap);
        }
    } else {
        bpe_encode_with(c->bpe, w, it->data, it->len, c->flags, &it->ids, &it->n, &it->cap);
    }
}

/* The reader side. A stream: bytes read but not yet handed out wait in buf[0..len). A Parquet
 * file: the strings of the current row group, handed out from `next` on. */
typedef struct {
    const char *name;
    FILE *f;
    char *buf;
    size_t len, cap;
    int eof;
    int doc_start; /* CHUNK_NUL: the next item begins a document */
    long line;     /* CHUNK_JSONL: line number of buf[0] */
    ParquetFile *pf;
    int col, rg;
    ParquetStrings s;
    size_t next;
    char err[512]; /* the reason reading stopped early */
} Source;

/* Where the next item may end (exclusive) in buf[0..len), or 0 if none is safe yet. */
static size_t stream_cut(const ChunkConfig *c, const Source *in) {
    if (in->eof) return in->len;
    if (c->mode == CHUNK_JSONL) {
        for (size_t p = in->len; p-- > 0;)
            if (in->buf[p] == '\n') return p + 1;
        return 0;
    }
    size_t lo = in->len / 2;
    if (c->mode == CHUNK_NUL) {
        for (size_t p = in->len; p-- > lo;)
            if (!in->buf[p]) return p + 1;
    }
    return bpe_split_point(in->buf, in->len, lo);
}

static int stream_next(const ChunkConfig *c, Source *in, Item *it) {
    size_t want = c->chunk, cut;
    for (;;) {
        while (!in->eof && in->len < want) {
            if (in->cap < want) in->cap = want, in->buf = xrealloc(in->buf, in->cap);
            size_t got = xfread_some(in->buf + in->len, want - in->len, in->f, in->name);
            if (!got) in->eof = 1;
            in->len += got;
        }
        if (!in->len) return 0;
        if ((cut = stream_cut(c, in))) break;
        want = in->len + (in->len > c->chunk ? in->len : c->chunk); /* no safe cut yet: read on */
    }
    it->data = xmalloc(cut);
    memcpy(it->data, in->buf, cut);
    it->len = cut;
    it->doc_start = in->doc_start;
    it->line = in->line;
    if (c->mode == CHUNK_NUL) in->doc_start = !it->data[cut - 1];
    if (c->mode == CHUNK_JSONL)
        for (size_t i = 0; i < cut; i++) in->line += it->data[i] == '\n';
    memmove(in->buf, in->buf + cut, in->len - cut);
    in->len -= cut;
    return 1;
}

/* Whole documents of at least `chunk` bytes together (or what is left), copied out of the
 * row group so that the next one can be decoded while this item is encoded. */
static int parquet_next(const ChunkConfig *c, Source *in, Item *it, int64_t *nulls) {
    while (in->next == in->s.n) {
        if (in->err[0] || in->rg == parquet_num_row_groups(in->pf)) return 0;
        if (parquet_read_column(in->pf, in->rg++, in->col, &in->s, in->err, sizeof in->err))
            return 0;
        in->next = 0;
        *nulls += in->s.nulls;
    }
    size_t first = in->next, from = first ? in->s.end[first - 1] : 0, k = first;
    while (k < in->s.n && (k == first || in->s.end[k - 1] - from < c->chunk)) k++;
    it->len = in->s.end[k - 1] - from;
    it->data = xmalloc(it->len);
    memcpy(it->data, in->s.data + from, it->len);
    if (it->ends_cap < k - first) {
        it->ends_cap = k - first;
        it->ends = xrealloc(it->ends, it->ends_cap * sizeof *it->ends);
    }
    it->nends = k - first;
    for (size_t d = first; d < k; d++) it->ends[d - first] = in->s.end[d] - from;
    in->next = k;
    return 1;
}

/* Fills up to `batch` items; returns how many. */
static int source_fill(const ChunkConfig *c, Source *in, Item *items, int batch, int64_t *nulls) {
    int k = 0;
    for (; k < batch; k++) {
        Item *it = &items[k];
        it->n = 0, it->bad = 0, it->err_line = 0, it->nends = 0;
        if (!(c->mode == CHUNK_PARQUET ? parquet_next(c, in, it, nulls) : stream_next(c, in, it)))
            break;
    }
    return k;
}

ChunkPipe *chunkpipe_init(const ChunkConfig *c) {
    if (c->mode != CHUNK_TEXT && bpe_eot(c->bpe) < 0) die("the vocabulary has no <|endoftext|>");
    ChunkPipe *p = xcalloc(1, sizeof *p);
    p->c = *c;
    p->work = xcalloc(c->threads + 1, sizeof *p->work);
    for (int t = 0; t <= c->threads; t++) p->work[t] = bpe_work_init(c->bpe);
    p->batch = 2 * c->threads;
    p->items = xcalloc(2 * p->batch, sizeof *p->items);
    return p;
}

void chunkpipe_free(ChunkPipe *p) {
    for (int t = 0; t <= p->c.threads; t++) bpe_work_free(p->work[t]);
    for (int i = 0; i < 2 * p->batch; i++) free(p->items[i].ids), free(p->items[i].ends);
    free(p->work), free(p->items), free(p);
}

void chunkpipe_encode_file(ChunkPipe *p, const char *path, ChunkOutput *o) {
    const ChunkConfig *c = &p->c;
    Source in = {.name = path && strcmp(path, "-") ? path : "stdin", .doc_start = 1, .line = 1};
    if (c->mode == CHUNK_PARQUET) {
        if (!(in.pf = parquet_open(path, in.err, sizeof in.err)) ||
            (in.col = parquet_find_column(in.pf, c->field, in.err, sizeof in.err)) < 0)
            die("%s", in.err);
    } else {
        in.f = xfopen(path, "rb");
    }
    int64_t nulls = 0, next_nulls = 0;
    Item *cur = p->items, *next = p->items + p->batch;
    int k = source_fill(c, &in, cur, p->batch, &nulls);
    while (k) {
        int next_k = 0;
        /* one thread reads the next batch while the others encode this one */
#pragma omp parallel num_threads(c->threads + 1)
#pragma omp single
        {
#pragma omp task shared(next_k, next_nulls)
            next_k = source_fill(c, &in, next, p->batch, &next_nulls);
            for (int i = 0; i < k; i++) {
#pragma omp task firstprivate(i)
                encode_item(c, p->work[omp_get_thread_num()], &cur[i]);
            }
        }
        for (int i = 0; i < k; i++) {
            Item *it = &cur[i];
            tokens_write(o->f, o->name, o->fmt, it->ids, it->n);
            if (it->err_line) die("%s:%ld: %s", in.name, it->err_line, it->err);
            o->bad += it->bad;
            o->bytes += (double)it->len;
            free(it->data);
        }
        o->nulls += nulls, nulls = next_nulls, next_nulls = 0;
        progress_update(&o->progress, "%.0f MB", o->bytes / 1e6);
        Item *t = cur;
        cur = next, next = t, k = next_k;
    }
    o->nulls += nulls;
    if (in.err[0]) die("%s", in.err);
    free(in.buf);
    parquet_strings_free(&in.s);
    parquet_close(in.pf);
    if (in.f) xfclose(in.f, in.name);
}
