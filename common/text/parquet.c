/* parquet: one string column of a flat Parquet file (see parquet.h). Layers, bottom up,
 * a screen each: Thrift compact protocol; file metadata; codecs; RLE/bit-packed hybrid and
 * DELTA_BINARY_PACKED integers; value encodings; pages and definition levels. Every length
 * and offset read from the file is checked before use, and what a column chunk decodes to
 * is charged against a byte budget, so a file that lies gets an error, never an
 * out-of-bounds read or an allocation it did not pay for in bytes. */
#include "text/parquet.h"

#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define MAX_PAGE_BYTES ((int64_t)1 << 30)

enum { TYPE_BYTE_ARRAY = 6 };
enum { REP_REQUIRED, REP_OPTIONAL, REP_REPEATED };
enum { CODEC_UNCOMPRESSED, CODEC_SNAPPY, CODEC_GZIP, CODEC_ZSTD = 6 };
enum {
    ENC_PLAIN = 0,
    ENC_PLAIN_DICTIONARY = 2,
    ENC_RLE = 3,
    ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
    ENC_DELTA_BYTE_ARRAY = 7,
    ENC_RLE_DICTIONARY = 8
};
enum { PAGE_DATA, PAGE_INDEX, PAGE_DICTIONARY, PAGE_DATA_V2 };

static const char *const type_names[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                         "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
static const char *const rep_names[] = {"REQUIRED", "OPTIONAL", "REPEATED"};
static const char *const codec_names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                          "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
static const char *const enc_names[] = {
    "PLAIN",          "GROUP_VAR_INT",       "PLAIN_DICTIONARY",        "RLE",
    "BIT_PACKED",     "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
    "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
#define NAME(names, v)                                                                             \
    ((v) >= 0 && (v) < (int64_t)(sizeof names / sizeof *names) ? names[v] : "unknown")

/* ---- Thrift compact protocol: a cursor over bytes whose first error sticks (and ends
 * every loop: the cursor jumps to the end). Unknown fields are skipped by type. */
typedef struct {
    const uint8_t *p, *end;
    const char *err;
} Th;

enum {
    TH_TRUE = 1,
    TH_FALSE,
    TH_I8,
    TH_I16,
    TH_I32,
    TH_I64,
    TH_DOUBLE,
    TH_BINARY,
    TH_LIST,
    TH_SET,
    TH_MAP,
    TH_STRUCT
};

static void th_fail(Th *t, const char *why) {
    if (!t->err) t->err = why;
    t->p = t->end;
}

static uint64_t th_varint(Th *t) {
    uint64_t v = 0;
    for (int sh = 0; sh < 64; sh += 7) {
        if (t->p >= t->end) return th_fail(t, "truncated"), 0;
        uint8_t b = *t->p++;
        v |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) return v;
    }
    return th_fail(t, "a varint is too long"), 0;
}

static int64_t th_zigzag(Th *t) {
    uint64_t v = th_varint(t);
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* The next field of a struct: its type, or 0 at the struct's end; *id is updated. */
static int th_field(Th *t, int64_t *id) {
    if (t->p >= t->end) return th_fail(t, "truncated"), 0;
    uint8_t b = *t->p++;
    if (!(b & 15)) return 0;
    /* Thrift's field ids are i16; a bigger one would overflow the next delta */
    int64_t next = b >> 4 ? *id + (b >> 4) : th_zigzag(t);
    if (next < INT16_MIN || next > INT16_MAX) return th_fail(t, "a field id is out of range"), 0;
    *id = next;
    return b & 15;
}

static int64_t th_int(Th *t, int type) {
    if (type == TH_I8) return t->p < t->end ? (int8_t)*t->p++ : (th_fail(t, "truncated"), 0);
    if (type == TH_I16 || type == TH_I32 || type == TH_I64) return th_zigzag(t);
    return th_fail(t, "an integer field has another type"), 0;
}

static int th_bool(Th *t, int type) {
    if (type != TH_TRUE && type != TH_FALSE) th_fail(t, "a boolean field has another type");
    return type == TH_TRUE;
}

static size_t th_binary(Th *t, int type, const uint8_t **s) {
    if (type != TH_BINARY) return th_fail(t, "a string field has another type"), 0;
    uint64_t n = th_varint(t);
    if (n > (uint64_t)(t->end - t->p)) return th_fail(t, "truncated"), 0;
    *s = t->p, t->p += n;
    return n;
}

/* A list's length (every element takes a byte at least, so no more than the bytes left). */
static size_t th_list(Th *t, int type, int *elem) {
    if (type != TH_LIST && type != TH_SET) return th_fail(t, "a list field has another type"), 0;
    if (t->p >= t->end) return th_fail(t, "truncated"), 0;
    uint64_t n = *t->p >> 4;
    *elem = *t->p++ & 15;
    if (n == 15) n = th_varint(t);
    if (n > (uint64_t)(t->end - t->p)) return th_fail(t, "a list is longer than its bytes"), 0;
    return n;
}

/* Skips a value; in_list: booleans take a byte (in a struct the field type holds them). */
static void th_skip(Th *t, int type, int in_list, int depth) {
    const uint8_t *s;
    int elem;
    if (depth > 32) return th_fail(t, "nested too deeply");
    switch (type) {
    case TH_TRUE:
    case TH_FALSE:
        if (in_list) th_int(t, TH_I8);
        return;
    case TH_I8:
        th_int(t, TH_I8);
        return;
    case TH_I16:
    case TH_I32:
    case TH_I64:
        th_varint(t);
        return;
    case TH_DOUBLE:
        if (t->end - t->p < 8) return th_fail(t, "truncated");
        t->p += 8;
        return;
    case TH_BINARY:
        th_binary(t, type, &s);
        return;
    case TH_LIST:
    case TH_SET:
        for (size_t i = 0, n = th_list(t, type, &elem); i < n && !t->err; i++)
            th_skip(t, elem, 1, depth + 1);
        return;
    case TH_MAP: {
        uint64_t n = th_varint(t);
        if (!n) return;
        if (n > (uint64_t)(t->end - t->p)) return th_fail(t, "a map is longer than its bytes");
        uint8_t kv = *t->p++;
        for (uint64_t i = 0; i < n && !t->err; i++)
            th_skip(t, kv >> 4, 1, depth + 1), th_skip(t, kv & 15, 1, depth + 1);
        return;
    }
    case TH_STRUCT:
        for (int64_t id = 0, ft; (ft = th_field(t, &id));) th_skip(t, (int)ft, 0, depth + 1);
        return;
    default:
        th_fail(t, "unknown Thrift type");
    }
}

/* ---- File metadata: the parts of parquet.thrift's FileMetaData this reader uses. */
typedef struct {
    char *name;
    size_t name_len;
    int64_t type, repetition, num_children, converted, logical;
} SchemaEl;

typedef struct {
    int64_t data_off, dict_off, comp_size, uncomp_size, num_values, codec, type;
    uint32_t encodings; /* bit e: encoding e appears */
    int meta, encrypted, external;
} Chunk;

typedef struct {
    int64_t num_rows;
    Chunk *cols;
    size_t ncols;
} RowGroup;

struct ParquetFile {
    char *path;
    int fd;
    int64_t data_end; /* where the footer begins */
    int64_t num_rows;
    char *created_by;
    SchemaEl *schema;
    size_t nschema;
    int *leaf_el;  /* leaf index -> schema index of its element */
    int *leaf_top; /* 1 when the leaf is a child of the root */
    size_t nleaves;
    RowGroup *rgs;
    size_t nrgs;
    int encrypted;
    uint64_t max_bytes;
};

static char *th_strdup(Th *t, int type, size_t *len) {
    const uint8_t *s = NULL;
    size_t n = th_binary(t, type, &s);
    char *c = malloc(n + 1);
    if (!c) return th_fail(t, "out of memory"), NULL;
    if (n) memcpy(c, s, n);
    c[n] = 0;
    if (len) *len = n;
    return c;
}

/* Reads a struct: an integer field goes to ints[id] when there is such a slot; fn (when
 * given) reads the other fields it knows and returns 1 for them; the rest are skipped. */
typedef int (*ThField)(Th *t, void *obj, int64_t id, int type);
static void th_struct(Th *t, int64_t *const *ints, size_t nints, ThField fn, void *obj) {
    for (int64_t id = 0, ft; (ft = th_field(t, &id));) {
        if (id > 0 && (uint64_t)id < nints && ints[id])
            *ints[id] = th_int(t, (int)ft);
        else if (!fn || !fn(t, obj, id, (int)ft))
            th_skip(t, (int)ft, 0, 0);
    }
}
#define TH_STRUCT_READ(t, ints, fn, obj) th_struct(t, ints, sizeof ints / sizeof *ints, fn, obj)

/* A list of structs, each read by fn into the elements of a fresh array *items (the callers
 * skip a list given twice: the first one's elements are what they free). */
static size_t th_struct_list(Th *t, int type, void **items, size_t size, void (*fn)(Th *, void *)) {
    int elem;
    size_t n = th_list(t, type, &elem);
    if (!(*items = calloc(n + 1, size))) return th_fail(t, "out of memory"), 0;
    for (size_t i = 0; i < n && !t->err; i++)
        elem == TH_STRUCT ? fn(t, (char *)*items + i * size)
                          : th_fail(t, "a list of structs is not");
    return n;
}

static int schema_el_field(Th *t, void *obj, int64_t id, int type) {
    SchemaEl *e = obj;
    if (id == 4) return free(e->name), e->name = th_strdup(t, type, &e->name_len), 1;
    if (id != 10 || type != TH_STRUCT) return 0;
    /* LogicalType is a union: its one field's id says which */
    for (int64_t lid = 0, lt; (lt = th_field(t, &lid));)
        e->logical = lid, th_skip(t, (int)lt, 0, 1);
    return 1;
}

static void read_schema_el(Th *t, void *obj) {
    SchemaEl *e = obj;
    int64_t *ints[] = {
        [1] = &e->type, [3] = &e->repetition, [5] = &e->num_children, [6] = &e->converted};
    e->type = e->converted = e->logical = -1;
    TH_STRUCT_READ(t, ints, schema_el_field, e);
    if (!e->name && !(e->name = calloc(1, 1))) th_fail(t, "out of memory");
}

static int col_meta_field(Th *t, void *obj, int64_t id, int type) {
    Chunk *c = obj;
    int elem;
    if (id != 2) return 0;
    for (size_t i = 0, n = th_list(t, type, &elem); i < n && !t->err; i++) {
        int64_t e = th_int(t, elem);
        if (e >= 0 && e < 32) c->encodings |= 1u << e;
    }
    return 1;
}

static int col_chunk_field(Th *t, void *obj, int64_t id, int type) {
    Chunk *c = obj;
    int64_t *ints[] = {
        [1] = &c->type,      [4] = &c->codec,    [5] = &c->num_values, [6] = &c->uncomp_size,
        [7] = &c->comp_size, [9] = &c->data_off, [11] = &c->dict_off};
    if (id == 3 && type == TH_STRUCT)
        return c->meta = 1, TH_STRUCT_READ(t, ints, col_meta_field, c), 1;
    c->external |= id == 1; /* file_path: the data is in another file */
    c->encrypted |= id == 8 || id == 9;
    return 0;
}

static void read_col_chunk(Th *t, void *obj) {
    th_struct(t, NULL, 0, col_chunk_field, obj);
}

static int row_group_field(Th *t, void *obj, int64_t id, int type) {
    RowGroup *g = obj;
    if (id != 1 || g->cols) return 0;
    g->ncols = th_struct_list(t, type, (void **)&g->cols, sizeof *g->cols, read_col_chunk);
    return 1;
}

static void read_row_group(Th *t, void *obj) {
    RowGroup *g = obj;
    int64_t *ints[] = {[3] = &g->num_rows};
    TH_STRUCT_READ(t, ints, row_group_field, g);
}

static int file_meta_field(Th *t, void *obj, int64_t id, int type) {
    ParquetFile *pf = obj;
    if (id == 2 && !pf->schema)
        pf->nschema =
            th_struct_list(t, type, (void **)&pf->schema, sizeof *pf->schema, read_schema_el);
    else if (id == 4 && !pf->rgs)
        pf->nrgs = th_struct_list(t, type, (void **)&pf->rgs, sizeof *pf->rgs, read_row_group);
    else if (id == 6 && !pf->created_by)
        pf->created_by = th_strdup(t, type, NULL);
    else
        return pf->encrypted |= id == 8, 0; /* encryption_algorithm */
    return 1;
}

static void read_file_meta(Th *t, ParquetFile *pf) {
    int64_t *ints[] = {[3] = &pf->num_rows};
    TH_STRUCT_READ(t, ints, file_meta_field, pf);
}

/* Walks the schema (a tree flattened depth first) to find the leaves, which are the
 * column chunks of each row group in order. */
static const char *schema_leaves(ParquetFile *pf) {
    if (!pf->nschema) return "the schema is empty";
    int64_t *left = calloc(pf->nschema + 1, sizeof *left);
    pf->leaf_el = calloc(pf->nschema, sizeof *pf->leaf_el);
    pf->leaf_top = calloc(pf->nschema, sizeof *pf->leaf_top);
    if (!left || !pf->leaf_el || !pf->leaf_top) return free(left), "out of memory";
    size_t depth = 1;
    left[0] = pf->schema[0].num_children;
    if (left[0] <= 0) depth = 0;
    for (size_t i = 1; i < pf->nschema; i++) {
        if (!depth) return free(left), "the schema has more elements than its tree";
        SchemaEl *e = &pf->schema[i];
        left[depth - 1]--;
        if (e->num_children < 0) return free(left), "a schema element has a negative child count";
        if (e->num_children > 0) {
            left[depth++] = e->num_children;
            continue;
        }
        pf->leaf_el[pf->nleaves] = (int)i;
        pf->leaf_top[pf->nleaves++] = depth == 1;
        while (depth && !left[depth - 1]) depth--;
    }
    free(left);
    return depth ? "the schema ends inside its tree" : NULL;
}

static int read_all(int fd, void *buf, size_t n, int64_t off) {
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, off + (int64_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return r < 0 ? -1 : (errno = 0, -1);
        got += (size_t)r;
    }
    return 0;
}

ParquetFile *parquet_open(const char *path, char *err, size_t errlen) {
    const char *name = path && strcmp(path, "-") ? path : "stdin";
    ParquetFile *pf = calloc(1, sizeof *pf);
    if (!pf || !(pf->path = strdup(name)))
        return free(pf), err_fail(err, errlen, "out of memory"), NULL;
    pf->max_bytes = (uint64_t)4 << 30;
    pf->fd = strcmp(name, "stdin") ? open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) : dup(0);
    struct stat st;
    unsigned char head[4], tail[8], *foot = NULL;
    const char *why = NULL;
    if (pf->fd < 0 || fstat(pf->fd, &st)) {
        err_fail(err, errlen, "%s: %s", name, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        err_fail(err, errlen, "%s: not a regular file (Parquet is read from its end)", name);
        goto fail;
    }
    fcntl(pf->fd, F_SETFL, 0);
    if (st.st_size < 12)
        why = "too short to be Parquet";
    else if (read_all(pf->fd, head, 4, 0) || read_all(pf->fd, tail, 8, st.st_size - 8))
        why = "read error";
    else if (memcmp(head, "PAR1", 4))
        why = "not a Parquet file (no PAR1 at the start)";
    else if (!memcmp(tail + 4, "PARE", 4))
        why = "encrypted footer (PARE): encryption is not supported";
    else if (memcmp(tail + 4, "PAR1", 4))
        why = "no PAR1 at the end (truncated?)";
    else if (load_le32(tail) > (uint64_t)st.st_size - 12)
        why = "the footer length is more than the file holds";
    if (why) {
        err_fail(err, errlen, "%s: %s", name, why);
        goto fail;
    }
    uint32_t flen = load_le32(tail);
    pf->data_end = st.st_size - 8 - flen;
    if (!(foot = malloc(flen ? flen : 1)) || read_all(pf->fd, foot, flen, pf->data_end)) {
        err_fail(err, errlen, "%s: %s", name, foot ? "read error" : "out of memory");
        goto fail;
    }
    Th t = {foot, foot + flen, NULL};
    read_file_meta(&t, pf);
    free(foot), foot = NULL;
    if (t.err || (why = schema_leaves(pf))) {
        err_fail(err, errlen, "%s: file metadata: %s", name, t.err ? t.err : why);
        goto fail;
    }
    if (pf->encrypted) {
        err_fail(err, errlen, "%s: encrypted columns: encryption is not supported", name);
        goto fail;
    }
    for (size_t g = 0; g < pf->nrgs; g++)
        if (pf->rgs[g].ncols != pf->nleaves) {
            err_fail(err, errlen, "%s: row group %zu has %zu columns, the schema %zu", name, g,
                     pf->rgs[g].ncols, pf->nleaves);
            goto fail;
        }
    return pf;
fail:
    free(foot);
    parquet_close(pf);
    return NULL;
}

void parquet_close(ParquetFile *pf) {
    if (!pf) return;
    if (pf->fd >= 0) close(pf->fd);
    for (size_t i = 0; i < pf->nschema; i++) free(pf->schema[i].name);
    for (size_t g = 0; g < pf->nrgs; g++) free(pf->rgs[g].cols);
    free(pf->schema), free(pf->rgs), free(pf->leaf_el), free(pf->leaf_top);
    free(pf->created_by), free(pf->path), free(pf);
}

int parquet_num_row_groups(const ParquetFile *pf) {
    return (int)pf->nrgs;
}
int64_t parquet_num_rows(const ParquetFile *pf) {
    return pf->num_rows;
}
void parquet_set_max_bytes(ParquetFile *pf, uint64_t max_bytes) {
    pf->max_bytes = max_bytes;
}

int parquet_find_column(const ParquetFile *pf, const char *name, char *err, size_t errlen) {
    size_t len = strlen(name);
    for (size_t i = 1; i < pf->nschema; i++) {
        const SchemaEl *e = &pf->schema[i];
        if (e->name_len != len || memcmp(e->name, name, len)) continue;
        size_t leaf = 0;
        while (leaf < pf->nleaves && pf->leaf_el[leaf] != (int)i) leaf++;
        if (leaf == pf->nleaves || !pf->leaf_top[leaf])
            continue; /* a group, or a field inside one */
        if (e->repetition == REP_REPEATED)
            return err_fail(err, errlen, "%s: column \"%s\" is repeated: not supported", pf->path,
                            name);
        if (e->type != TYPE_BYTE_ARRAY)
            return err_fail(err, errlen, "%s: column \"%s\" is %s, not a string (BYTE_ARRAY)",
                            pf->path, name, NAME(type_names, e->type));
        return (int)leaf;
    }
    for (size_t i = 1; i < pf->nschema; i++)
        if (pf->schema[i].name_len == len && !memcmp(pf->schema[i].name, name, len))
            return err_fail(err, errlen, "%s: column \"%s\" is nested: not supported", pf->path,
                            name);
    return err_fail(err, errlen, "%s: no column \"%s\"", pf->path, name);
}

void parquet_print_info(const ParquetFile *pf, FILE *out) {
    fprintf(out, "file: %s\ncreated by: %s\nrows: %" PRId64 "\nrow groups: %zu\ncolumns: %zu\n",
            pf->path, pf->created_by ? pf->created_by : "?", pf->num_rows, pf->nrgs, pf->nleaves);
    for (size_t l = 0; l < pf->nleaves; l++) {
        const SchemaEl *e = &pf->schema[pf->leaf_el[l]];
        uint32_t codecs = 0, encs = 0;
        int64_t comp = 0, uncomp = 0;
        for (size_t g = 0; g < pf->nrgs; g++) {
            const Chunk *c = &pf->rgs[g].cols[l];
            codecs |= c->codec >= 0 && c->codec < 32 ? 1u << c->codec : 0;
            encs |= c->encodings, comp += c->comp_size, uncomp += c->uncomp_size;
        }
        fprintf(out, "  %s%s %s %s%s codec", e->name, pf->leaf_top[l] ? "" : " (nested)",
                NAME(type_names, e->type), NAME(rep_names, e->repetition),
                e->converted == 0 || e->logical == 1 ? " string" : "");
        for (int k = 0; k < 32; k++)
            if (codecs >> k & 1) fprintf(out, " %s", NAME(codec_names, k));
        fprintf(out, " encoding");
        for (int k = 0; k < 32; k++)
            if (encs >> k & 1) fprintf(out, " %s", NAME(enc_names, k));
        fprintf(out, " bytes %" PRId64 " (%" PRId64 " uncompressed)\n", comp, uncomp);
    }
    for (size_t g = 0; g < pf->nrgs; g++) {
        int64_t comp = 0;
        for (size_t l = 0; l < pf->nleaves; l++) comp += pf->rgs[g].cols[l].comp_size;
        fprintf(out, "row group %zu: %" PRId64 " rows, %" PRId64 " bytes\n", g, pf->rgs[g].num_rows,
                comp);
    }
}

/* ---- Reading a column chunk: the context every layer below reports through. */
typedef struct {
    const ParquetFile *pf;
    int rg;
    const char *col;
    char *err;
    size_t errlen;
    uint64_t budget; /* bytes this chunk may still decode to */
    ParquetStrings *out;
    ParquetStrings dict;
    int has_dict;
    uint8_t *page; /* decompressed page */
    size_t page_cap;
} Ctx;

static int fail(Ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(Ctx *c, const char *fmt, ...) {
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return err_fail(c->err, c->errlen, "%s: row group %d, column %s: %s", c->pf->path, c->rg,
                    c->col, why);
}

static int charge(Ctx *c, uint64_t bytes) {
    if (bytes > c->budget)
        return fail(c, "decodes to more than %" PRIu64 " bytes, the most this reader accepts",
                    c->pf->max_bytes);
    c->budget -= bytes;
    return 0;
}

/* Appends one string (n bytes, the first `prefix` of them copied from data[from..]). */
static int push_string(Ctx *c, ParquetStrings *s, size_t from, size_t prefix, const uint8_t *rest,
                       size_t n) {
    if (charge(c, prefix + n + sizeof(size_t))) return -1;
    /* allocated even for empty strings: readers take data + end[i - 1] of every string */
    if (!s->data || s->len + prefix + n > s->cap) {
        size_t cap = s->cap ? s->cap : 1 << 16;
        while (cap < s->len + prefix + n) cap *= 2;
        char *d = realloc(s->data, cap);
        if (!d) return fail(c, "out of memory");
        s->data = d, s->cap = cap;
    }
    if (s->n == s->ncap) {
        size_t ncap = s->ncap ? 2 * s->ncap : 1024, *e = realloc(s->end, ncap * sizeof *e);
        if (!e) return fail(c, "out of memory");
        s->end = e, s->ncap = ncap;
    }
    if (prefix) memmove(s->data + s->len, s->data + from, prefix);
    if (n) memcpy(s->data + s->len + prefix, rest, n);
    s->len += prefix + n;
    s->end[s->n++] = s->len;
    return 0;
}

/* ---- Codecs: a page's bytes as stored -> as encoded (n bytes -> un bytes). */
static const uint8_t *decompress(Ctx *c, int64_t codec, const uint8_t *src, size_t n, size_t un) {
    if (codec == CODEC_UNCOMPRESSED) {
        if (n != un) return fail(c, "uncompressed page of %zu bytes says it has %zu", n, un), NULL;
        return src;
    }
    if (un > c->page_cap || !c->page) {
        uint8_t *p = realloc(c->page, un ? un : 1);
        if (!p) return fail(c, "out of memory"), NULL;
        c->page = p, c->page_cap = un;
    }
    size_t got = un;
    int ok = 0;
    if (codec == CODEC_SNAPPY) {
        ok = snappy_uncompressed_length((const char *)src, n, &got) == SNAPPY_OK && got == un &&
             snappy_uncompress((const char *)src, n, (char *)c->page, &got) == SNAPPY_OK;
    } else if (codec == CODEC_ZSTD) {
        got = ZSTD_decompress(c->page, un, src, n);
        ok = !ZSTD_isError(got);
    } else if (codec == CODEC_GZIP) {
        z_stream z = {0};
        if (inflateInit2(&z, 15 + 32) != Z_OK) return fail(c, "zlib does not start"), NULL;
        z.next_in = (Bytef *)src, z.avail_in = (uInt)n, z.next_out = c->page,
        z.avail_out = (uInt)un;
        int r;
        while ((r = inflate(&z, Z_FINISH)) == Z_STREAM_END && z.avail_in && z.avail_out)
            inflateReset(&z); /* gzip members one after another */
        ok = r == Z_STREAM_END || (r == Z_BUF_ERROR && !z.avail_out && !z.avail_in);
        got = z.total_out;
        inflateEnd(&z);
    } else {
        return fail(c, "codec %s is not supported", NAME(codec_names, codec)), NULL;
    }
    if (!ok || got != un)
        return fail(c, "a %s page does not decompress to its %zu bytes", NAME(codec_names, codec),
                    un),
               NULL;
    return c->page;
}

/* ---- Integers: the RLE/bit-packed hybrid (levels, dictionary indices) and
 * DELTA_BINARY_PACKED (lengths and prefixes of the DELTA_* string encodings). */
static uint64_t bits_get(const uint8_t *p, uint64_t bitpos, int width) {
    uint64_t v = 0;
    p += bitpos >> 3;
    for (int got = 0, sh = bitpos & 7; got < width; sh = 0)
        v |= (uint64_t)(*p++ >> sh) << got, got += 8 - sh;
    return width == 64 ? v : v & (((uint64_t)1 << width) - 1);
}

typedef struct {
    const uint8_t *p, *end;
    int width;
    uint64_t left;       /* values left in the current run */
    int packed;          /* it is bit-packed (else one repeated value) */
    uint32_t value;      /* repeated: the value */
    const uint8_t *bits; /* bit-packed: its bytes, and the next value's index */
    uint64_t pos;
} Rle;

/* The next run of equal values: how many (1..max; 0 when the bytes end), the value in *v. */
static uint64_t rle_take(Rle *r, uint64_t max, uint32_t *v) {
    while (!r->left) {
        Th t = {r->p, r->end, NULL};
        uint64_t h = th_varint(&t), avail = (uint64_t)(r->end - t.p);
        if (t.err) return 0;
        r->p = t.p, r->packed = h & 1, r->pos = 0;
        if (r->packed) {
            if ((h >> 1) > (r->width ? avail / (uint64_t)r->width : (uint64_t)1 << 32)) return 0;
            r->bits = r->p, r->p += (h >> 1) * (uint64_t)r->width, r->left = (h >> 1) * 8;
        } else {
            size_t nb = (size_t)(r->width + 7) / 8;
            if (nb > avail) return 0;
            r->value = 0;
            for (size_t i = 0; i < nb; i++) r->value |= (uint32_t)r->p[i] << 8 * i;
            r->p += nb, r->left = h >> 1;
        }
    }
    if (r->packed) {
        *v = (uint32_t)bits_get(r->bits, r->pos++ * (uint64_t)r->width, r->width);
        r->left--;
        return 1;
    }
    uint64_t k = r->left < max ? r->left : max;
    r->left -= k, *v = r->value;
    return k;
}

/* Decodes one DELTA_BINARY_PACKED run of at most max values at *p into a fresh *vals. */
static int delta_decode(Ctx *c, const uint8_t **p, const uint8_t *end, uint64_t max, int64_t **vals,
                        uint64_t *count) {
    Th t = {*p, end, NULL};
    uint64_t block = th_varint(&t), mbs = th_varint(&t), n = th_varint(&t);
    uint64_t prev = (uint64_t)th_zigzag(&t);
    if (t.err || !block || block % 128 || block > (1 << 20) || !mbs || block % mbs ||
        block / mbs % 32)
        return fail(c, "bad DELTA_BINARY_PACKED header");
    if (n > max) return fail(c, "DELTA_BINARY_PACKED has %" PRIu64 " values for %" PRIu64, n, max);
    if (charge(c, n > c->budget / 8 ? UINT64_MAX : n * 8)) return -1;
    if (!(*vals = malloc(n * 8 + 8))) return fail(c, "out of memory");
    uint64_t per = block / mbs, i = 0;
    if (n) (*vals)[i++] = (int64_t)prev;
    while (i < n) {
        uint64_t min = (uint64_t)th_zigzag(&t);
        if (t.err || (uint64_t)(end - t.p) < mbs)
            return fail(c, "DELTA_BINARY_PACKED block is truncated");
        const uint8_t *widths = t.p;
        t.p += mbs;
        for (uint64_t m = 0; m < mbs && i < n; m++) {
            int w = widths[m];
            if (w > 64 || (uint64_t)(end - t.p) < per * (uint64_t)w / 8)
                return fail(c, "DELTA_BINARY_PACKED miniblock is bad or truncated");
            for (uint64_t j = 0; j < per && i < n; j++, i++)
                (*vals)[i] = (int64_t)(prev += min + bits_get(t.p, j * (uint64_t)w, w));
            t.p += per * (uint64_t)w / 8;
        }
    }
    *p = t.p, *count = n;
    return 0;
}

/* ---- Value encodings of a data page: the next k non-null strings into c->out. */
typedef struct {
    int64_t enc;
    const uint8_t *p, *end; /* PLAIN, and the string bytes of the DELTA_* encodings */
    Rle idx;                /* dictionary indices */
    int64_t *lens, *prefix; /* DELTA_*: per value */
    uint64_t nlens, i;
    size_t prev; /* DELTA_BYTE_ARRAY: offset of the previous string in c->out */
} Values;

static int values_init(Ctx *c, Values *v, int64_t enc, const uint8_t *p, const uint8_t *end,
                       uint64_t n) {
    v->enc = enc, v->p = p, v->end = end;
    if (enc == ENC_PLAIN) return 0;
    if (enc == ENC_PLAIN_DICTIONARY || enc == ENC_RLE_DICTIONARY) {
        if (!c->has_dict) return fail(c, "a dictionary-encoded page without a dictionary page");
        if (p >= end || *p > 32) return fail(c, "bad dictionary index width");
        v->idx = (Rle){.p = p + 1, .end = end, .width = *p};
        return 0;
    }
    uint64_t np = 0;
    if (enc == ENC_DELTA_BYTE_ARRAY && delta_decode(c, &v->p, end, n, &v->prefix, &np)) return -1;
    if (enc == ENC_DELTA_LENGTH_BYTE_ARRAY || enc == ENC_DELTA_BYTE_ARRAY) {
        if (delta_decode(c, &v->p, end, n, &v->lens, &v->nlens)) return -1;
        if (enc == ENC_DELTA_BYTE_ARRAY && np != v->nlens)
            return fail(c, "DELTA_BYTE_ARRAY has %" PRIu64 " prefixes for %" PRIu64 " suffixes", np,
                        v->nlens);
        return 0;
    }
    return fail(c, "encoding %s is not supported for strings", NAME(enc_names, enc));
}

static int values_take(Ctx *c, Values *v, uint64_t k) {
    ParquetStrings *o = c->out;
    uint32_t ix;
    for (uint64_t run; k; k -= run) {
        run = 1;
        if (v->enc == ENC_PLAIN) {
            if (v->end - v->p < 4 || load_le32(v->p) > (uint64_t)(v->end - v->p - 4))
                return fail(c, "PLAIN strings run past their page");
            size_t len = load_le32(v->p);
            if (push_string(c, o, 0, 0, v->p + 4, len)) return -1;
            v->p += 4 + len;
        } else if (v->enc == ENC_PLAIN_DICTIONARY || v->enc == ENC_RLE_DICTIONARY) {
            if (!(run = rle_take(&v->idx, k, &ix))) return fail(c, "dictionary indices end early");
            if (ix >= c->dict.n) return fail(c, "dictionary index %u of %zu", ix, c->dict.n);
            size_t from = ix ? c->dict.end[ix - 1] : 0;
            for (uint64_t r = 0; r < run; r++)
                if (push_string(c, o, 0, 0, (uint8_t *)c->dict.data + from, c->dict.end[ix] - from))
                    return -1;
        } else {
            if (v->i >= v->nlens) return fail(c, "fewer string lengths than values");
            int64_t len = v->lens[v->i], pre = v->prefix ? v->prefix[v->i] : 0;
            size_t prev_len = v->i ? o->len - v->prev : 0;
            if (len < 0 || len > v->end - v->p)
                return fail(c, "a string length is negative or past the page");
            if (pre < 0 || (uint64_t)pre > prev_len)
                return fail(c, "a DELTA_BYTE_ARRAY prefix is longer than the string before");
            v->prev = o->len;
            if (push_string(c, o, o->len - prev_len, (size_t)pre, v->p, (size_t)len)) return -1;
            v->p += len, v->i++;
        }
    }
    return 0;
}

/* ---- Pages: header, decompression, definition levels, values. */
typedef struct {
    int64_t type, usize, csize, nvals, enc, def_enc, def_len, rep_len;
    int compressed;
} PageHeader;

/* DataPageHeader (field 5), DictionaryPageHeader (7), DataPageHeaderV2 (8): the same
 * facts under different field ids */
static int page_header_field(Th *t, void *obj, int64_t id, int type) {
    PageHeader *h = obj;
    int64_t *v1[] = {[1] = &h->nvals, [2] = &h->enc, [3] = &h->def_enc};
    int64_t *dict[] = {[1] = &h->nvals, [2] = &h->enc}; /* then is_sorted, a boolean */
    int64_t *v2[] = {[1] = &h->nvals, [4] = &h->enc, [5] = &h->def_len, [6] = &h->rep_len};
    if (type != TH_STRUCT || (id != 5 && id != 7 && id != 8)) return 0;
    if (id == 5) return TH_STRUCT_READ(t, v1, NULL, h), 1;
    if (id == 7) return TH_STRUCT_READ(t, dict, NULL, h), 1;
    for (int64_t sid = 0, ft; (ft = th_field(t, &sid));) {
        if (sid == 7)
            h->compressed = th_bool(t, (int)ft); /* is_compressed */
        else if (sid > 0 && sid < 7 && v2[sid])
            *v2[sid] = th_int(t, (int)ft);
        else
            th_skip(t, (int)ft, 0, 0);
    }
    return 1;
}

static void read_page_header(Th *t, PageHeader *h) {
    *h = (PageHeader){.type = -1,
                      .usize = -1,
                      .csize = -1,
                      .nvals = -1,
                      .enc = -1,
                      .def_enc = ENC_RLE,
                      .compressed = 1};
    int64_t *ints[] = {[1] = &h->type, [2] = &h->usize, [3] = &h->csize};
    TH_STRUCT_READ(t, ints, page_header_field, h);
}

/* A data page: nvals values, of which those at the top definition level are strings. */
static int data_page(Ctx *c, const PageHeader *h, int max_def, const uint8_t *levels,
                     size_t nlevels, const uint8_t *p, const uint8_t *end) {
    Values v = {0};
    int r = values_init(c, &v, h->enc, p, end, (uint64_t)h->nvals);
    Rle defs = {.p = levels, .end = levels ? levels + nlevels : NULL, .width = 1};
    for (uint64_t done = 0, k; !r && done < (uint64_t)h->nvals; done += k) {
        uint32_t lvl = 1;
        k = max_def ? rle_take(&defs, (uint64_t)h->nvals - done, &lvl) : (uint64_t)h->nvals;
        if (!k)
            r = fail(c, "definition levels end early");
        else if (lvl > 1)
            r = fail(c, "definition level %u above the column's 1", lvl);
        else if (lvl)
            r = values_take(c, &v, k);
        else
            c->out->nulls += (int64_t)k;
    }
    free(v.lens), free(v.prefix);
    return r;
}

static int read_page(Ctx *c, const Chunk *ch, int max_def, const uint8_t *p, const PageHeader *h) {
    if (h->type == PAGE_INDEX) return 0;
    if (h->type != PAGE_DATA && h->type != PAGE_DATA_V2 && h->type != PAGE_DICTIONARY)
        return fail(c, "unknown page type %" PRId64, h->type);
    if (h->nvals < 0) return fail(c, "a page has no value count");
    size_t n = (size_t)h->csize, un = (size_t)h->usize, lv = 0;
    if (h->type == PAGE_DATA_V2) { /* levels come first, never compressed */
        if (h->rep_len) return fail(c, "repetition levels in a flat column");
        if (h->def_len < 0 || h->def_len > h->csize || h->def_len > h->usize)
            return fail(c, "definition levels of %" PRId64 " bytes do not fit the page",
                        h->def_len);
        lv = (size_t)h->def_len;
    }
    const uint8_t *b = h->compressed || h->type != PAGE_DATA_V2
                           ? decompress(c, ch->codec, p + lv, n - lv, un - lv)
                           : decompress(c, CODEC_UNCOMPRESSED, p + lv, n - lv, un - lv);
    if (!b) return -1;
    const uint8_t *end = b + un - lv;
    if (h->type == PAGE_DICTIONARY) {
        if (c->has_dict || c->out->n || c->out->nulls) return fail(c, "a second dictionary page");
        if (h->enc != ENC_PLAIN && h->enc != ENC_PLAIN_DICTIONARY)
            return fail(c, "dictionary page is not PLAIN");
        c->has_dict = 1;
        ParquetStrings *out = c->out;
        c->out = &c->dict;
        Values v = {.enc = ENC_PLAIN, .p = b, .end = end};
        int r = values_take(c, &v, (uint64_t)h->nvals);
        c->out = out;
        return r;
    }
    if (h->type == PAGE_DATA_V2) return data_page(c, h, max_def, p, lv, b, end);
    if (!max_def) return data_page(c, h, 0, NULL, 0, b, end);
    if (h->def_enc != ENC_RLE)
        return fail(c, "definition level encoding %s is not supported",
                    NAME(enc_names, h->def_enc));
    if (end - b < 4 || load_le32(b) > (uint64_t)(end - b - 4))
        return fail(c, "definition levels run past their page");
    return data_page(c, h, max_def, b + 4, load_le32(b), b + 4 + load_le32(b), end);
}

int parquet_read_column(const ParquetFile *pf, int rg, int col, ParquetStrings *out, char *err,
                        size_t errlen) {
    const Chunk *ch = &pf->rgs[rg].cols[col];
    const SchemaEl *el = &pf->schema[pf->leaf_el[col]];
    Ctx c = {.pf = pf,
             .rg = rg,
             .col = el->name,
             .err = err,
             .errlen = errlen,
             .budget = pf->max_bytes,
             .out = out};
    out->len = out->n = 0, out->nulls = 0;
    if (!ch->meta) return fail(&c, "no column metadata");
    if (ch->encrypted) return fail(&c, "encrypted: encryption is not supported");
    if (ch->external) return fail(&c, "stored in another file: not supported");
    if (ch->type != TYPE_BYTE_ARRAY)
        return fail(&c, "the chunk is %s, not BYTE_ARRAY", NAME(type_names, ch->type));
    if (ch->codec != CODEC_UNCOMPRESSED && ch->codec != CODEC_SNAPPY && ch->codec != CODEC_GZIP &&
        ch->codec != CODEC_ZSTD)
        return fail(&c, "codec %s is not supported", NAME(codec_names, ch->codec));
    if (ch->num_values != pf->rgs[rg].num_rows)
        return fail(&c, "%" PRId64 " values for %" PRId64 " rows", ch->num_values,
                    pf->rgs[rg].num_rows);
    int64_t start = ch->dict_off > 0 && ch->dict_off < ch->data_off ? ch->dict_off : ch->data_off;
    if (start < 4 || ch->comp_size <= 0 || start > pf->data_end ||
        ch->comp_size > pf->data_end - start)
        return fail(&c,
                    "%" PRId64 " bytes at offset %" PRId64 " are not in the file's data (%" PRId64
                    " bytes)",
                    ch->comp_size, start, pf->data_end);
    uint8_t *buf = malloc((size_t)ch->comp_size);
    if (!buf) return fail(&c, "out of memory");
    if (read_all(pf->fd, buf, (size_t)ch->comp_size, start)) {
        free(buf);
        return fail(&c, "read error: %s",
                    errno ? strerror(errno) : "the file is shorter than it was");
    }
    int r = 0, max_def = el->repetition == REP_OPTIONAL;
    int64_t seen = 0;
    for (const uint8_t *p = buf, *end = buf + ch->comp_size; !r && seen < ch->num_values;) {
        PageHeader h;
        Th t = {p, end, NULL};
        read_page_header(&t, &h);
        if (t.err)
            r = fail(&c, "page header at chunk byte %td: %s", p - buf, t.err);
        else if (h.csize < 0 || h.csize > end - t.p || h.csize > MAX_PAGE_BYTES || h.usize < 0 ||
                 h.usize > MAX_PAGE_BYTES || (uint64_t)h.usize > pf->max_bytes)
            r = fail(&c,
                     "page at chunk byte %td has impossible sizes (%" PRId64 " stored, %" PRId64
                     " decoded)",
                     p - buf, h.csize, h.usize);
        else if (h.type != PAGE_DICTIONARY && h.type != PAGE_INDEX &&
                 h.nvals > ch->num_values - seen)
            r = fail(&c, "pages hold more values than the chunk's %" PRId64, ch->num_values);
        else if (!(r = read_page(&c, ch, max_def, t.p, &h))) {
            seen += h.type == PAGE_DATA || h.type == PAGE_DATA_V2 ? h.nvals : 0;
            p = t.p + h.csize;
            if (seen < ch->num_values && p == end)
                r = fail(&c, "the chunk ends after %" PRId64 " of its %" PRId64 " values", seen,
                         ch->num_values);
        }
    }
    free(buf), free(c.page), parquet_strings_free(&c.dict);
    return r;
}

void parquet_strings_free(ParquetStrings *s) {
    free(s->data), free(s->end);
    *s = (ParquetStrings){0};
}
