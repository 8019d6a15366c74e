/* modelfile: model files. llm.c's format is a 256 x int32 header (magic 20240326,
 * version 3 fp32 / 5 bf16, maxT, V, L, NH, C, Vp) and the 16 tensors of model.h in
 * order. Hugging Face safetensors is an 8-byte header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the data. See gpt2-checkpoint(5).
 * Loading reports every problem through err and never exits, so bad files are testable. */
#include "model/modelfile.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/crc32c.h"
#include "base/util.h"

#define LLMC_MAGIC 20240326
#define LLMC_HEADER_INTS 256
/* Header words 8-10, which llm.c ignores: the tag "GPT2" says that 9 and 10 hold a
 * checksum kind (1: CRC-32C) and the CRC-32C of the whole file computed with word 10
 * zero. llm.c's files have zeros there and no checksum. */
#define LLMC_W_TAG 8
#define LLMC_W_CHECKSUM_KIND 9
#define LLMC_W_CHECKSUM 10
#define LLMC_TAG 0x32545047
#define LLMC_CHECKSUM_CRC32C 1
#define SAFETENSORS_MAX_HEADER (100u << 20)

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...) {
    int n = snprintf(err, errlen, "%s: ", path);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < errlen) vsnprintf(err + n, errlen - n, fmt, ap);
    va_end(ap);
    return -1;
}

/* bf16 is the top half of an fp32; rounding to nearest even as torch's conversion */
static uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(u >> 16 | 0x40); /* quiet NaN */
    u += 0x7fffu + (u >> 16 & 1);
    return (uint16_t)(u >> 16);
}

static float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = h >> 10 & 0x1f, man = h & 0x3ff, u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | man << 13; /* inf, NaN */
    } else if (exp) {
        u = sign | (exp + 112) << 23 | man << 13;
    } else if (man) { /* subnormal: normalise */
        int e = -1;
        do man <<= 1, e++;
        while (!(man & 0x400));
        u = sign | (uint32_t)(112 - e) << 23 | (man & 0x3ff) << 13;
    } else {
        u = sign;
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- the values' way to the sink ---- */

/* values per range handed to the sink when the format leaves the choice to the reader */
enum { LOAD_CHUNK = 1 << 16 };

/* A load in progress: the sink, and the first value that is not finite (by position in
 * the parameter vector), kept to report once the whole file has passed its other checks. */
typedef struct {
    ModelSink *sink;
    GPT2Config cfg;
    size_t bad_at; /* SIZE_MAX: none yet */
    char bad[128];
} Load;

static int check_range(const GPT2Config *cfg, size_t at, const float *v, size_t n, int nonneg,
                       size_t *where, char *what, size_t whatlen);

/* values [at, at + n), now in the sink's buffer, checked and handed over */
static void deliver(Load *ld, size_t at, const float *v, size_t n) {
    size_t where;
    char what[sizeof ld->bad];
    if (at < ld->bad_at && check_range(&ld->cfg, at, v, n, 0, &where, what, sizeof what) &&
        where < ld->bad_at) {
        ld->bad_at = where;
        snprintf(ld->bad, sizeof ld->bad, "%s", what);
    }
    ld->sink->put(ld->sink, at, n);
}

static void load_begin(Load *ld, const GPT2Config *cfg) {
    ld->cfg = *cfg;
    ld->bad_at = SIZE_MAX;
    ld->sink->begin(ld->sink, cfg);
}

/* ---- llm.c model files ---- */

static int load_llmc(Load *ld, FILE *f, long long fsize, const char *path, char *err,
                     size_t errlen) {
    unsigned char hb[LLMC_HEADER_INTS * 4];
    if (fsize < (long long)sizeof hb || fread(hb, 1, sizeof hb, f) != sizeof hb)
        return fail(err, errlen, path, "truncated header (%lld bytes)", fsize);
    int32_t h[8];
    for (int i = 0; i < 8; i++) h[i] = (int32_t)load_le32(hb + 4 * i);
    if (h[1] != 3 && h[1] != 5)
        return fail(err, errlen, path,
                    "unsupported llm.c model version %d (expected 3 for fp32 or 5 for bf16)", h[1]);
    GPT2Config cfg = {.max_seq_len = h[2],
                      .vocab_size = h[3],
                      .num_layers = h[4],
                      .num_heads = h[5],
                      .channels = h[6],
                      .padded_vocab_size = h[7]};
    const char *bad = gpt2_config_check(&cfg);
    if (bad) return fail(err, errlen, path, "bad config in header: %s", bad);
    size_t n = gpt2_num_params(&cfg), elem = h[1] == 3 ? 4 : 2;
    long long want = (long long)sizeof hb + (long long)(n * elem);
    if (fsize != want)
        return fail(err, errlen, path, "size %lld bytes, but its header describes %lld%s", fsize,
                    want, fsize < want ? " (truncated)" : "");
    /* anything but zero or the tag is a damaged tag: read as "no checksum", one flipped
     * bit would switch the check off */
    uint32_t tag = load_le32(hb + 4 * LLMC_W_TAG), kind = load_le32(hb + 4 * LLMC_W_CHECKSUM_KIND);
    if (tag != 0 && tag != LLMC_TAG)
        return fail(err, errlen, path,
                    "header word 8 is 0x%08x, neither 0 (no checksum) nor the GPT2 tag: damaged",
                    tag);
    if (tag && kind != LLMC_CHECKSUM_CRC32C)
        return fail(err, errlen, path, "unknown checksum kind %u in header word 9", kind);
    uint32_t stored = load_le32(hb + 4 * LLMC_W_CHECKSUM);
    store_le32(hb + 4 * LLMC_W_CHECKSUM, 0);
    uint32_t crc = crc32c(0, hb, sizeof hb);
    load_begin(ld, &cfg);
    uint16_t *half = elem == 2 ? xmalloc(LOAD_CHUNK * sizeof *half) : NULL;
    for (size_t i = 0; i < n; i += LOAD_CHUNK) {
        size_t k = n - i < LOAD_CHUNK ? n - i : LOAD_CHUNK;
        float *buf = ld->sink->buffer(ld->sink, i, k);
        void *raw = half ? (void *)half : (void *)buf;
        if (fread(raw, elem, k, f) != k) {
            free(half);
            ld->sink->cancel(ld->sink);
            return fail(err, errlen, path, "read error: %s",
                        ferror(f) ? strerror(errno) : "truncated");
        }
        crc = crc32c(crc, raw, elem * k);
        if (half)
            for (size_t j = 0; j < k; j++) buf[j] = bf16_to_f32(half[j]);
        deliver(ld, i, buf, k);
    }
    free(half);
    if (tag && crc != stored) {
        ld->sink->cancel(ld->sink);
        return fail(err, errlen, path,
                    "checksum mismatch (header %08x, contents %08x): the file is corrupt", stored,
                    crc);
    }
    return 0;
}

void modelfile_save(const GPT2 *m, const char *path, int bf16) {
    const GPT2Config *c = &m->config;
    unsigned char hb[LLMC_HEADER_INTS * 4] = {0};
    int32_t h[8] = {LLMC_MAGIC,    bf16 ? 5 : 3, c->max_seq_len, c->vocab_size,
                    c->num_layers, c->num_heads, c->channels,    c->padded_vocab_size};
    for (int i = 0; i < 8; i++) store_le32(hb + 4 * i, (uint32_t)h[i]);
    store_le32(hb + 4 * LLMC_W_TAG, LLMC_TAG);
    store_le32(hb + 4 * LLMC_W_CHECKSUM_KIND, LLMC_CHECKSUM_CRC32C);
    uint32_t crc = crc32c(0, hb, sizeof hb);
    AtomicFile af;
    atomic_open(&af, path, 1);
    xfwrite(hb, sizeof hb, af.f, path);
    if (!bf16) {
        xfwrite(m->params_memory, sizeof(float) * m->num_params, af.f, path);
        crc = crc32c(crc, m->params_memory, sizeof(float) * m->num_params);
    } else {
        enum { CHUNK = 1 << 16 };
        uint16_t *buf = xmalloc(CHUNK * sizeof *buf);
        for (size_t i = 0; i < m->num_params; i += CHUNK) {
            size_t k = m->num_params - i < CHUNK ? m->num_params - i : CHUNK;
            for (size_t j = 0; j < k; j++) buf[j] = f32_to_bf16(m->params_memory[i + j]);
            xfwrite(buf, 2 * k, af.f, path);
            crc = crc32c(crc, buf, 2 * k);
        }
        free(buf);
    }
    /* the checksum is known only now: back to its word in the header */
    unsigned char cb[4];
    store_le32(cb, crc);
    if (fseek(af.f, 4 * LLMC_W_CHECKSUM, SEEK_SET) != 0) die("%s: seek:", af.tmp);
    xfwrite(cb, sizeof cb, af.f, path);
    atomic_commit(&af);
}

/* ---- Hugging Face safetensors ---- */

typedef struct {
    FILE *f;
    const char *path;
    json_t *header;
    const char *prefix;  /* "" or "transformer." */
    long long data_off;  /* where the data section starts */
    long long data_size; /* its length */
    Load *ld;
    char *err;
    size_t errlen;
} SafeTensors;

/* Reads tensor `name` of the given shape to the sink as values [at, at + numel) of the
 * parameter vector, transposing a 2-D tensor when asked (HF's Conv1D keeps weights as
 * (in, out); ours are (out, in)). A transposed tensor (one layer's matrix) goes in one
 * range, any other in ranges of whole rows. */
static int st_read(SafeTensors *st, const char *name, int ndim, const long long *dims, size_t at,
                   int transpose) {
    char full[128];
    snprintf(full, sizeof full, "%s%s", st->prefix, name);
    json_t *t = json_object_get(st->header, full); /* there: st_check_names */
    json_t *dtype = json_object_get(t, "dtype"), *shape = json_object_get(t, "shape");
    json_t *offs = json_object_get(t, "data_offsets");
    if (!json_is_string(dtype) || !json_is_array(shape) || !json_is_array(offs) ||
        json_array_size(offs) != 2 || !json_is_integer(json_array_get(offs, 0)) ||
        !json_is_integer(json_array_get(offs, 1)))
        return fail(st->err, st->errlen, st->path, "tensor %s: malformed entry", full);
    const char *dt = json_string_value(dtype);
    int esize = !strcmp(dt, "F32") ? 4 : !strcmp(dt, "BF16") || !strcmp(dt, "F16") ? 2 : 0;
    if (!esize)
        return fail(st->err, st->errlen, st->path, "tensor %s: unsupported dtype %s", full, dt);
    size_t numel = 1;
    int ok = (int)json_array_size(shape) == ndim;
    for (int i = 0; ok && i < ndim; i++) {
        json_t *d = json_array_get(shape, i);
        ok = json_is_integer(d) && json_integer_value(d) == dims[i];
        numel *= (size_t)dims[i];
    }
    if (!ok) {
        char want[64] = "";
        for (int i = 0; i < ndim; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "," : "",
                     dims[i]);
        return fail(st->err, st->errlen, st->path, "tensor %s: shape is not [%s]", full, want);
    }
    long long begin = json_integer_value(json_array_get(offs, 0));
    long long end = json_integer_value(json_array_get(offs, 1));
    if (begin < 0 || end < begin || end > st->data_size ||
        end - begin != (long long)(numel * esize))
        return fail(st->err, st->errlen, st->path,
                    "tensor %s: data_offsets [%lld,%lld] do not fit its shape or the file", full,
                    begin, end);
    size_t cols = ndim == 2 ? (size_t)dims[1] : numel, rows = cols ? numel / cols : 0;
    size_t step = transpose ? numel : cols >= LOAD_CHUNK ? cols : LOAD_CHUNK / cols * cols;
    unsigned char *raw = malloc(step * esize);
    if (!raw) return fail(st->err, st->errlen, st->path, "out of memory");
    int bad = fseeko(st->f, st->data_off + begin, SEEK_SET) != 0;
    for (size_t done = 0; !bad && done < numel; done += step) {
        size_t k = numel - done < step ? numel - done : step;
        if ((bad = fread(raw, esize, k, st->f) != k)) break;
        float *dst = st->ld->sink->buffer(st->ld->sink, at + done, k);
        for (size_t i = 0; i < k; i++) {
            float v;
            if (esize == 4) {
                uint32_t u = load_le32(raw + 4 * i);
                memcpy(&v, &u, 4);
            } else {
                uint16_t h = (uint16_t)(raw[2 * i] | raw[2 * i + 1] << 8);
                v = dt[0] == 'B' ? bf16_to_f32(h) : f16_to_f32(h);
            }
            dst[transpose ? i % cols * rows + i / cols : i] = v;
        }
        deliver(st->ld, at + done, dst, k);
    }
    free(raw);
    return bad ? fail(st->err, st->errlen, st->path, "tensor %s: read error", full) : 0;
}

static int st_dims(SafeTensors *st, const char *name, long long *d0, long long *d1) {
    char full[128];
    snprintf(full, sizeof full, "%s%s", st->prefix, name);
    json_t *shape = json_object_get(json_object_get(st->header, full), "shape");
    if (!json_is_array(shape) || json_array_size(shape) != 2 ||
        !json_is_integer(json_array_get(shape, 0)) || !json_is_integer(json_array_get(shape, 1)))
        return fail(st->err, st->errlen, st->path, "tensor %s missing or not 2-D", full);
    *d0 = json_integer_value(json_array_get(shape, 0));
    *d1 = json_integer_value(json_array_get(shape, 1));
    return 0;
}

/* The tensors of layer l are h.<l>.<these>, in the order st_load_params reads them. */
static const char *const LAYER_TENSORS[] = {
    "ln_1.weight",        "ln_1.bias",        "attn.c_attn.weight", "attn.c_attn.bias",
    "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight",        "ln_2.bias",
    "mlp.c_fc.weight",    "mlp.c_fc.bias",    "mlp.c_proj.weight",  "mlp.c_proj.bias"};
enum { LAYER_TENSOR_COUNT = sizeof LAYER_TENSORS / sizeof *LAYER_TENSORS };
static const char *const TOP_TENSORS[] = {"wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"};
enum { TOP_TENSOR_COUNT = sizeof TOP_TENSORS / sizeof *TOP_TENSORS };

/* The layer count: one more than the highest h.<i> of the tensor names, each a plain
 * decimal number below gpt2_config_check's 4096 layers. Counting up from h.0 until one
 * is missing would read a model with a gap as a smaller one; instead every layer below
 * the highest must then be whole (st_check_names). */
static int st_layers(SafeTensors *st, int *L) {
    size_t plen = strlen(st->prefix);
    const char *key;
    json_t *v;
    int top = -1;
    json_object_foreach(st->header, key, v) {
        if (strncmp(key, st->prefix, plen) || strncmp(key + plen, "h.", 2)) continue;
        const char *d = key + plen + 2, *e = d;
        int i = 0;
        while (*e >= '0' && *e <= '9' && e - d < 5) i = 10 * i + (*e++ - '0');
        if (e == d || *e != '.' || (*d == '0' && e - d > 1) || i >= 4096)
            return fail(st->err, st->errlen, st->path,
                        "tensor %s: no layer number 0 to 4095 after \"h.\"", key);
        if (i > top) top = i;
    }
    if (top < 0) return fail(st->err, st->errlen, st->path, "no layers (no tensor h.0.*)");
    *L = top + 1;
    return 0;
}

/* Every tensor the model needs is there: a missing one is named before any size check
 * could describe the file in other terms. */
static int st_check_names(SafeTensors *st, int L) {
    char name[160];
    for (int l = -1; l < L; l++)
        for (int i = 0; i < (l < 0 ? TOP_TENSOR_COUNT : LAYER_TENSOR_COUNT); i++) {
            if (l < 0)
                snprintf(name, sizeof name, "%s%s", st->prefix, TOP_TENSORS[i]);
            else
                snprintf(name, sizeof name, "%sh.%d.%s", st->prefix, l, LAYER_TENSORS[i]);
            if (!json_object_get(st->header, name))
                return fail(st->err, st->errlen, st->path, "tensor %s missing", name);
        }
    return 0;
}

/* The head count: the weights do not tell it; every GPT-2 size has heads of 64
 * channels, and an "n_head" entry in __metadata__ overrides that (for other models). */
static int st_heads(SafeTensors *st, long long C, long long *NH) {
    json_t *meta = json_object_get(json_object_get(st->header, "__metadata__"), "n_head");
    if (!meta) {
        if (C % 64)
            return fail(st->err, st->errlen, st->path,
                        "head count unknown: channels %lld not a multiple of 64 (GPT-2's head "
                        "size) and no n_head in __metadata__",
                        C);
        *NH = C / 64;
        return 0;
    }
    const char *s = json_string_value(meta);
    if (!s) return fail(st->err, st->errlen, st->path, "n_head in __metadata__ is not a string");
    char *end;
    errno = 0;
    *NH = strtoll(s, &end, 10);
    if (!(*s >= '0' && *s <= '9') || *end || errno || *NH < 1 || *NH > 1 << 16)
        return fail(st->err, st->errlen, st->path,
                    "__metadata__ n_head \"%s\" is not a head count (1 to 65536)", s);
    return 0;
}

/* Config from the tensors: V and C from wte, maxT from wpe, L from the h.<i> blocks, the
 * head count from st_heads. */
static int st_config(SafeTensors *st, GPT2Config *cfg) {
    long long V, C, maxT, C2, NH = 0;
    int L = 0;
    if (st_dims(st, "wte.weight", &V, &C) || st_dims(st, "wpe.weight", &maxT, &C2)) return -1;
    if (C != C2) return fail(st->err, st->errlen, st->path, "wte and wpe widths differ");
    if (st_layers(st, &L) || st_check_names(st, L) || st_heads(st, C, &NH)) return -1;
    if (V < 1 || V > 1 << 24 || maxT < 1 || maxT > 1 << 20 || C < 1 || C > 1 << 16)
        return fail(st->err, st->errlen, st->path, "implausible shapes (V %lld, maxT %lld, C %lld)",
                    V, maxT, C);
    *cfg = (GPT2Config){.max_seq_len = (int)maxT,
                        .vocab_size = (int)V,
                        .padded_vocab_size = (int)((V + 127) / 128 * 128),
                        .num_layers = L,
                        .num_heads = (int)NH,
                        .channels = (int)C};
    const char *bad = gpt2_config_check(cfg);
    return bad ? fail(st->err, st->errlen, st->path, "bad config: %s", bad) : 0;
}

/* The tensors in the file's order (layer by layer), each to its place in the parameter
 * vector; wte's padding rows get zeros. */
static int st_load_params(SafeTensors *st, const GPT2Config *c) {
    long long C = c->channels, V = c->vocab_size, T = c->max_seq_len;
    size_t sizes[GPT2_NUM_PARAM_TENSORS], at[GPT2_NUM_PARAM_TENSORS + 1] = {0};
    gpt2_param_sizes(c, sizes);
    for (int t = 0; t < GPT2_NUM_PARAM_TENSORS; t++) at[t + 1] = at[t] + sizes[t];
    size_t pad = (size_t)(c->padded_vocab_size - V) * C;
    if (pad) {
        float *zeros = st->ld->sink->buffer(st->ld->sink, (size_t)V * C, pad);
        memset(zeros, 0, pad * sizeof *zeros);
        deliver(st->ld, (size_t)V * C, zeros, pad);
    }
    if (st_read(st, "wte.weight", 2, (long long[]){V, C}, at[0], 0) ||
        st_read(st, "wpe.weight", 2, (long long[]){T, C}, at[1], 0) ||
        st_read(st, "ln_f.weight", 1, (long long[]){C}, at[14], 0) ||
        st_read(st, "ln_f.bias", 1, (long long[]){C}, at[15], 0))
        return -1;
    for (long long l = 0; l < c->num_layers; l++) {
        struct { /* LAYER_TENSORS[i] is tensor `tensor` (model.h's order) of layer l */
            int tensor, ndim;
            long long d0, d1;
        } map[LAYER_TENSOR_COUNT] = {
            {2, 1, C, 0},      {3, 1, C, 0},      {4, 2, C, 3 * C},  {5, 1, 3 * C, 0},
            {6, 2, C, C},      {7, 1, C, 0},      {8, 1, C, 0},      {9, 1, C, 0},
            {10, 2, C, 4 * C}, {11, 1, 4 * C, 0}, {12, 2, 4 * C, C}, {13, 1, C, 0},
        };
        for (size_t i = 0; i < LAYER_TENSOR_COUNT; i++) {
            char name[96];
            snprintf(name, sizeof name, "h.%lld.%s", l, LAYER_TENSORS[i]);
            int t = map[i].tensor;
            size_t per_layer = sizes[t] / c->num_layers;
            if (st_read(st, name, map[i].ndim, (long long[]){map[i].d0, map[i].d1},
                        at[t] + l * per_layer, map[i].ndim == 2))
                return -1;
        }
    }
    return 0;
}

static int load_safetensors(Load *ld, FILE *f, long long fsize, const char *path, char *err,
                            size_t errlen) {
    unsigned char lb[8];
    if (fsize < 8 || fread(lb, 1, 8, f) != 8)
        return fail(err, errlen, path, "truncated safetensors header");
    uint64_t hlen = load_le32(lb) | (uint64_t)load_le32(lb + 4) << 32;
    if (hlen > SAFETENSORS_MAX_HEADER || (long long)hlen > fsize - 8)
        return fail(err, errlen, path, "safetensors header length %llu exceeds the file",
                    (unsigned long long)hlen);
    char *text = malloc(hlen + 1);
    if (!text) return fail(err, errlen, path, "out of memory");
    if (fread(text, 1, hlen, f) != hlen) {
        free(text);
        return fail(err, errlen, path, "truncated safetensors header");
    }
    json_error_t jerr;
    json_t *root = json_loadb(text, hlen, 0, &jerr);
    free(text);
    if (!json_is_object(root)) {
        json_decref(root);
        return fail(err, errlen, path, "bad safetensors JSON header: %s",
                    root ? "not an object" : jerr.text);
    }
    SafeTensors st = {.f = f,
                      .path = path,
                      .header = root,
                      .data_off = 8 + (long long)hlen,
                      .data_size = fsize - 8 - (long long)hlen,
                      .ld = ld,
                      .err = err,
                      .errlen = errlen};
    st.prefix = json_object_get(root, "transformer.wte.weight") ? "transformer." : "";
    GPT2Config cfg;
    int rc = st_config(&st, &cfg);
    if (!rc) {
        /* the tensors take at least 2 bytes a value (no padding rows in the file): a header
         * that describes more is refused before the model is allocated */
        GPT2Config unpadded = cfg;
        unpadded.padded_vocab_size = cfg.vocab_size;
        unsigned long long need = 2ull * gpt2_num_params(&unpadded);
        if (need > (unsigned long long)st.data_size)
            rc = fail(err, errlen, path,
                      "its header describes %llu parameters, but the file holds %lld bytes of data",
                      need / 2, st.data_size);
    }
    if (!rc) {
        load_begin(ld, &cfg);
        rc = st_load_params(&st, &cfg);
        if (rc) ld->sink->cancel(ld->sink);
    }
    json_decref(root);
    return rc;
}

/* Values [at, at + n) of the parameter vector: 0 when all are finite (and, with nonneg,
 * not negative), else -1 with the first bad one's position in *where and its name in what.
 * Bit tests (all-ones exponent; sign bit set on a non-zero) vectorise; isfinite in an
 * early-exit loop does not: the slow search for the tensor runs only after a find. */
static int check_range(const GPT2Config *cfg, size_t at, const float *v, size_t n, int nonneg,
                       size_t *where, char *what, size_t whatlen) {
    uint32_t bad = 0, neg = nonneg ? 0x80000000u : 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, v + i, 4);
        bad |= ((u & 0x7f800000u) == 0x7f800000u) | (u > neg);
    }
    if (!bad) return 0;
    size_t i = 0;
    while (isfinite(v[i]) && !(nonneg && v[i] < 0)) i++;
    size_t sizes[GPT2_NUM_PARAM_TENSORS], start = 0;
    gpt2_param_sizes(cfg, sizes);
    int t = 0;
    while (at + i >= start + sizes[t]) start += sizes[t++];
    *where = at + i;
    return err_fail(what, whatlen, "%s[%zu] is %s", gpt2_param_names[t], at + i - start,
                    isnan(v[i])   ? "NaN"
                    : isinf(v[i]) ? "infinite"
                                  : "negative");
}

int modelfile_check_values(const GPT2Config *cfg, const float *params, int nonneg, char *what,
                           size_t whatlen) {
    size_t where;
    return check_range(cfg, 0, params, gpt2_num_params(cfg), nonneg, &where, what, whatlen);
}

int modelfile_read(const char *path, ModelSink *sink, char *err, size_t errlen) {
    Load ld = {.sink = sink};
    const char *why;
    FILE *f = fopen_regular(path, &why);
    if (!f) return fail(err, errlen, path, "%s", why);
    struct stat sb;
    unsigned char head[9];
    size_t got = 0;
    int rc;
    if (fstat(fileno(f), &sb)) {
        rc = fail(err, errlen, path, "%s", strerror(errno));
    } else if ((got = fread(head, 1, sizeof head, f)) >= 4 && load_le32(head) == LLMC_MAGIC) {
        rewind(f);
        rc = load_llmc(&ld, f, (long long)sb.st_size, path, err, errlen);
    } else if (got == 9 && head[8] == '{') {
        rewind(f);
        rc = load_safetensors(&ld, f, (long long)sb.st_size, path, err, errlen);
    } else {
        rc =
            fail(err, errlen, path, "unknown format (neither an llm.c model file nor safetensors)");
    }
    fclose(f);
    /* A NaN or an infinity makes every output of the model garbage: refused at once rather
     * than sampled from or evaluated. */
    if (!rc && ld.bad[0]) {
        sink->cancel(sink);
        rc = fail(err, errlen, path, "%s: the file is corrupt or its training diverged", ld.bad);
    }
    return rc;
}

int modelfile_checksum(const char *path, uint32_t *crc) {
    const char *why;
    FILE *f = fopen_regular(path, &why);
    if (!f) return 0;
    unsigned char hb[4 * (LLMC_W_CHECKSUM + 1)];
    int has = fread(hb, 1, sizeof hb, f) == sizeof hb && load_le32(hb) == LLMC_MAGIC &&
              load_le32(hb + 4 * LLMC_W_TAG) == LLMC_TAG &&
              load_le32(hb + 4 * LLMC_W_CHECKSUM_KIND) == LLMC_CHECKSUM_CRC32C;
    fclose(f);
    if (has) *crc = load_le32(hb + 4 * LLMC_W_CHECKSUM);
    return has;
}

/* the sink of modelfile_load: the values straight into the model's parameters */
typedef struct {
    ModelSink sink;
    GPT2 *m;
} ModelToGPT2;

static void gpt2_begin(ModelSink *s, const GPT2Config *cfg) {
    gpt2_create(((ModelToGPT2 *)s)->m, cfg);
}

static float *gpt2_buffer(ModelSink *s, size_t at, size_t n) {
    (void)n;
    return ((ModelToGPT2 *)s)->m->params_memory + at;
}

static void gpt2_put(ModelSink *s, size_t at, size_t n) {
    (void)s, (void)at, (void)n;
}

static void gpt2_cancel(ModelSink *s) {
    gpt2_free(((ModelToGPT2 *)s)->m);
}

int modelfile_load(GPT2 *m, const char *path, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    ModelToGPT2 to = {{gpt2_begin, gpt2_buffer, gpt2_put, gpt2_cancel}, m};
    return modelfile_read(path, &to.sink, err, errlen);
}
