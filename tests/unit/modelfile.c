/* checkpoint: llm.c files round-trip (fp32 exact, bf16 rounded), safetensors in HF layout
 * (Conv1D transposes, padded wte), and every kind of bad file gives an error, not a crash. */
#include "model/modelfile.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/crc32c.h"
#include "base/util.h"
#include "tap.h"

/* Vp 128: what a safetensors file's V = 50 pads to */
static const GPT2Config tiny = {.max_seq_len = 8,
                                .vocab_size = 50,
                                .padded_vocab_size = 128,
                                .num_layers = 2,
                                .num_heads = 2,
                                .channels = 8};
static char dir[] = "/tmp/gpt2-ckpt-test.XXXXXX";

static char *tmp(const char *name) {
    return xasprintf("%s/%s", dir, name);
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

/* loads path; expects failure with `want` in the message */
static void expect_error(const char *path, const char *want, const char *name) {
    GPT2 m;
    char err[512] = "";
    int rc = modelfile_load(&m, path, err, sizeof err);
    ok(rc == -1 && strstr(err, want) && m.params_memory == NULL, "%s: error names it", name);
    if (rc != -1 || !strstr(err, want)) diag("     rc %d, message: %s (want '%s')", rc, err, want);
    if (rc == 0) gpt2_free(&m);
}

static void test_llmc(GPT2 *src) {
    char *p32 = tmp("m32.bin"), *p16 = tmp("m16.bin"), err[512];
    modelfile_save(src, p32, 0);
    modelfile_save(src, p16, 1);
    size_t len;
    unsigned char *raw = (unsigned char *)xread_file(p32, &len);
    ok(len == 1024 + 4 * src->num_params, "fp32 file: 1024-byte header + 4 bytes per parameter");
    ok(load_le32(raw) == 20240326 && load_le32(raw + 4) == 3 && load_le32(raw + 8) == 8 &&
           load_le32(raw + 12) == 50 && load_le32(raw + 16) == 2 && load_le32(raw + 20) == 2 &&
           load_le32(raw + 24) == 8 && load_le32(raw + 28) == 128,
       "fp32 header: magic, version 3, maxT V L NH C Vp");
    {
        unsigned char *c = malloc(len);
        memcpy(c, raw, len);
        store_le32(c + 40, 0);
        ok(load_le32(raw + 32) == 0x32545047 && load_le32(raw + 36) == 1 &&
               load_le32(raw + 40) == crc32c(0, c, len),
           "header words 8-10: the tag GPT2, checksum kind 1, CRC-32C of the file (word 10 zero)");
        int zero = 1;
        for (size_t i = 44; i < 1024; i++) zero &= raw[i] == 0;
        ok(zero, "header words 11-255 zero");
        uint32_t sum = 0;
        ok(modelfile_checksum(p32, &sum) == 1 && sum == load_le32(raw + 40),
           "modelfile_checksum: header word 10");
        /* llm.c's own files have zeros in words 8-10 */
        memset(c + 32, 0, 12);
        char *plain = tmp("llmc.bin");
        write_bytes(plain, c, len);
        sum = 7;
        ok(modelfile_checksum(plain, &sum) == 0 && sum == 7, "modelfile_checksum: llm.c's: none");
        char *missing = tmp("no-such.bin");
        ok(modelfile_checksum(missing, &sum) == 0, "modelfile_checksum: no file: none");
        free(missing);
        free(plain);
        free(c);
    }
    GPT2 m;
    ok(modelfile_load(&m, p32, err, sizeof err) == 0, "fp32 file loads");
    ok(!memcmp(&m.config, &src->config, sizeof m.config) &&
           !memcmp(m.params_memory, src->params_memory, src->num_params * sizeof(float)),
       "fp32 round trip is exact");
    gpt2_free(&m);
    ok(modelfile_load(&m, p16, err, sizeof err) == 0, "bf16 file loads");
    int rounded = 1, exact16 = 1;
    for (size_t i = 0; i < src->num_params; i++) {
        float a = src->params_memory[i], b = m.params_memory[i];
        rounded &= fabsf(a - b) <= fabsf(a) * (1.0f / 256);
        uint32_t u;
        memcpy(&u, &b, 4);
        exact16 &= (u & 0xffff) == 0;
    }
    ok(rounded && exact16, "bf16 round trip: top 16 bits, within 2^-8 relative");
    /* the classic tie: 1 + 2^-8 lies halfway between two bf16 values; nearest even is 1 */
    src->params_memory[0] = 1.0f + 1.0f / 256;
    modelfile_save(src, p16, 1);
    gpt2_free(&m);
    modelfile_load(&m, p16, err, sizeof err);
    ok(m.params_memory[0] == 1.0f, "bf16 rounds to nearest even");
    gpt2_free(&m);
    free(raw);
    free(p32), free(p16);
}

static void test_llmc_bad(GPT2 *src) {
    char *good = tmp("good.bin"), *bad = tmp("bad.bin");
    modelfile_save(src, good, 0);
    size_t len;
    unsigned char *raw = (unsigned char *)xread_file(good, &len);
    unsigned char *copy = malloc(len + 8);

    char *missing = tmp("nope.bin");
    expect_error(missing, "No such file", "missing file");
    expect_error(dir, "not a regular file", "a directory");
    write_bytes(bad, "", 0);
    expect_error(bad, "unknown format", "empty file");
    memcpy(copy, raw, len), store_le32(copy, 20240520); /* a shard's magic */
    write_bytes(bad, copy, len);
    expect_error(bad, "unknown format", "wrong magic");
    memcpy(copy, raw, len), store_le32(copy + 4, 4);
    write_bytes(bad, copy, len);
    expect_error(bad, "unsupported llm.c model version 4", "wrong version");
    memcpy(copy, raw, len), store_le32(copy + 4, 1);
    write_bytes(bad, copy, len);
    expect_error(bad, "unsupported llm.c model version 1", "version 1 (unpadded vocab)");
    write_bytes(bad, raw, len - 3);
    expect_error(bad, "truncated", "truncated data");
    write_bytes(bad, raw, 500);
    expect_error(bad, "truncated header", "truncated header");
    memcpy(copy, raw, len), memset(copy + len, 0, 8);
    write_bytes(bad, copy, len + 8);
    expect_error(bad, "header describes", "trailing bytes");
    memcpy(copy, raw, len), store_le32(copy + 20, 3); /* 8 channels, 3 heads */
    write_bytes(bad, copy, len);
    expect_error(bad, "multiple of heads", "inconsistent config");
    memcpy(copy, raw, len), store_le32(copy + 24, 60000); /* sizes no longer match the file */
    write_bytes(bad, copy, len);
    expect_error(bad, "header describes", "header/size mismatch");
    memcpy(copy, raw, len), store_le32(copy + 16, 0x7fffffff);
    write_bytes(bad, copy, len);
    expect_error(bad, "num_layers", "absurd layer count");
    /* a version-5 header on fp32 data: the size tells */
    memcpy(copy, raw, len), store_le32(copy + 4, 5);
    write_bytes(bad, copy, len);
    expect_error(bad, "header describes", "bf16 header on fp32 data");

    /* random header corruption never crashes: load succeeds or reports */
    unsigned s = 1;
    int fine = 1;
    for (int k = 0; k < 200; k++) {
        memcpy(copy, raw, len);
        for (int j = 0; j < 3; j++) {
            s = s * 1103515245u + 12345u;
            copy[4 + (s >> 8) % 28] = (unsigned char)(s >> 20);
        }
        write_bytes(bad, copy, len);
        GPT2 m;
        char err[512];
        int rc = modelfile_load(&m, bad, err, sizeof err);
        if (rc == 0) gpt2_free(&m);
        fine &= rc == 0 || (rc == -1 && strstr(err, bad));
    }
    ok(fine, "200 corrupted headers: each loads or gives an error naming the file");

    /* damage no other check sees: only the checksum tells */
    memcpy(copy, raw, len), copy[1024 + 4 * 37 + 1] ^= 0x08;
    write_bytes(bad, copy, len);
    expect_error(bad, "checksum mismatch", "fp32: one bit of a parameter flipped");
    memcpy(copy, raw, len), copy[20] ^= 0x03; /* 2 heads -> 1: a valid config, same size */
    write_bytes(bad, copy, len);
    expect_error(bad, "checksum mismatch", "fp32: head count 2 turned into 1");
    memcpy(copy, raw, len), copy[40] ^= 0x01;
    write_bytes(bad, copy, len);
    expect_error(bad, "checksum mismatch", "fp32: one bit of the checksum flipped");
    /* the word that says "has a checksum": damage must not read as "none" */
    memcpy(copy, raw, len), copy[33] ^= 0x10;
    write_bytes(bad, copy, len);
    expect_error(bad, "header word 8", "fp32: one bit of the tag flipped");
    memcpy(copy, raw, len), store_le32(copy + 36, 7);
    write_bytes(bad, copy, len);
    expect_error(bad, "checksum kind 7", "fp32: unknown checksum kind");
    /* a file as llm.c writes it (words 8-255 zero) has no checksum and loads */
    memcpy(copy, raw, len), memset(copy + 32, 0, 12);
    write_bytes(bad, copy, len);
    GPT2 m;
    char err[512];
    ok(modelfile_load(&m, bad, err, sizeof err) == 0, "llm.c's file without checksum loads: %s",
       err);
    gpt2_free(&m);
    char *b16 = tmp("b16.bin");
    modelfile_save(src, b16, 1);
    size_t len16;
    unsigned char *raw16 = (unsigned char *)xread_file(b16, &len16);
    raw16[len16 - 5] ^= 0x40;
    write_bytes(b16, raw16, len16);
    expect_error(b16, "checksum mismatch", "bf16: one bit of a parameter flipped");
    free(raw16), free(b16);
    free(raw), free(copy), free(good), free(bad), free(missing);
}

/* ---- safetensors written here, in HF's GPT-2 layout ---- */
typedef struct {
    json_t *header;
    unsigned char *data;
    size_t len;
} St;

static void st_add(St *st, const char *name, const float *src, int rows, int cols, int transpose) {
    size_t n = (size_t)rows * (cols ? cols : 1);
    st->data = realloc(st->data, st->len + 4 * n);
    for (size_t i = 0; i < n; i++) {
        size_t r = i / (cols ? cols : 1), c = i % (cols ? cols : 1);
        /* stored (in, out) = transpose of our (out, in) */
        float v = transpose ? src[c * rows + r] : src[i];
        memcpy(st->data + st->len + 4 * i, &v, 4);
    }
    json_t *shape = cols ? json_pack("[i,i]", rows, cols) : json_pack("[i]", rows);
    json_object_set_new(st->header, name,
                        json_pack("{s:s,s:o,s:[I,I]}", "dtype", "F32", "shape", shape,
                                  "data_offsets", (json_int_t)st->len,
                                  (json_int_t)(st->len + 4 * n)));
    st->len += 4 * n;
}

static void st_build(St *st, const GPT2 *m, const char *prefix) {
    const GPT2Config *c = &m->config;
    const GPT2Params *p = &m->params;
    int C = c->channels;
    st->header = json_pack("{s:{s:s,s:s}}", "__metadata__", "format", "pt", "n_head", "2");
    st->data = NULL, st->len = 0;
    char name[128];
#define ADD(n, ...) (snprintf(name, sizeof name, "%s" n, prefix), st_add(st, name, __VA_ARGS__))
    ADD("wte.weight", p->wte, c->vocab_size, C, 0);
    ADD("wpe.weight", p->wpe, c->max_seq_len, C, 0);
    ADD("ln_f.weight", p->lnfw, C, 0, 0);
    ADD("ln_f.bias", p->lnfb, C, 0, 0);
#define ADD_LAYER(n, ...)                                                                          \
    (snprintf(name, sizeof name, "%sh.%d." n, prefix, l), st_add(st, name, __VA_ARGS__))
    for (int l = 0; l < c->num_layers; l++) {
        ADD_LAYER("ln_1.weight", p->ln1w + l * C, C, 0, 0);
        ADD_LAYER("ln_1.bias", p->ln1b + l * C, C, 0, 0);
        ADD_LAYER("attn.c_attn.weight", p->qkvw + l * 3 * C * C, C, 3 * C, 1);
        ADD_LAYER("attn.c_attn.bias", p->qkvb + l * 3 * C, 3 * C, 0, 0);
        ADD_LAYER("attn.c_proj.weight", p->attprojw + l * C * C, C, C, 1);
        ADD_LAYER("attn.c_proj.bias", p->attprojb + l * C, C, 0, 0);
        ADD_LAYER("ln_2.weight", p->ln2w + l * C, C, 0, 0);
        ADD_LAYER("ln_2.bias", p->ln2b + l * C, C, 0, 0);
        ADD_LAYER("mlp.c_fc.weight", p->fcw + l * 4 * C * C, C, 4 * C, 1);
        ADD_LAYER("mlp.c_fc.bias", p->fcb + l * 4 * C, 4 * C, 0, 0);
        ADD_LAYER("mlp.c_proj.weight", p->fcprojw + l * 4 * C * C, 4 * C, C, 1);
        ADD_LAYER("mlp.c_proj.bias", p->fcprojb + l * C, C, 0, 0);
    }
#undef ADD_LAYER
#undef ADD
}

static void st_write(const St *st, const char *path, const char *header_text) {
    char *text = header_text ? xstrdup(header_text) : json_dumps(st->header, JSON_COMPACT);
    unsigned char lb[8] = {0};
    store_le32(lb, (uint32_t)strlen(text));
    FILE *f = fopen(path, "wb");
    fwrite(lb, 1, 8, f);
    fwrite(text, 1, strlen(text), f);
    fwrite(st->data, 1, st->len, f);
    fclose(f);
    free(text);
}

/* Replaces tensor `name` (C floats) by 16-bit data appended to the data section. */
static void st_retype(St *st, const char *name, const char *dtype, const uint16_t *vals, int n) {
    st->data = realloc(st->data, st->len + 2 * n);
    for (int i = 0; i < n; i++)
        st->data[st->len + 2 * i] = vals[i] & 0xff, st->data[st->len + 2 * i + 1] = vals[i] >> 8;
    json_t *t = json_object_get(st->header, name);
    json_object_set_new(t, "dtype", json_string(dtype));
    json_object_set_new(t, "data_offsets",
                        json_pack("[I,I]", (json_int_t)st->len, (json_int_t)(st->len + 2 * n)));
    st->len += 2 * n;
}

static void test_safetensors_16bit(GPT2 *src) {
    /* 1.5, -0.25, 2^-20 (an fp16 subnormal), 0, fp16's largest 65504 (bf16: 65280), -0 */
    const float want[2][8] = {{1.5f, -0.25f, 0x1p-20f, 0.0f, 65504.0f, 1.5f, -0.25f, -0.0f},
                              {1.5f, -0.25f, 0x1p-20f, 0.0f, 65280.0f, 1.5f, -0.25f, -0.0f}};
    const uint16_t f16[8] = {0x3e00, 0xb400, 0x0010, 0x0000, 0x7bff, 0x3e00, 0xb400, 0x8000};
    const uint16_t bf16[8] = {0x3fc0, 0xbe80, 0x3580, 0x0000, 0x477f, 0x3fc0, 0xbe80, 0x8000};
    char *path = tmp("model16.safetensors"), err[512];
    for (int k = 0; k < 2; k++) {
        St st;
        st_build(&st, src, "");
        st_retype(&st, "ln_f.weight", k ? "BF16" : "F16", k ? bf16 : f16, 8);
        st_write(&st, path, NULL);
        GPT2 m;
        int rc = modelfile_load(&m, path, err, sizeof err);
        ok(rc == 0 && !memcmp(m.params.lnfw, want[k], sizeof want[k]) &&
               !memcmp(m.params.wte, src->params.wte, 50 * 8 * sizeof(float)),
           "safetensors %s tensor converts to fp32", k ? "BF16" : "F16");
        if (rc)
            diag("%s", err);
        else
            gpt2_free(&m);
        json_decref(st.header), free(st.data);
    }
    free(path);
}

static void test_safetensors(GPT2 *src) {
    char *path = tmp("model.safetensors"), err[512];
    St st;
    for (int prefixed = 0; prefixed < 2; prefixed++) {
        st_build(&st, src, prefixed ? "transformer." : "");
        st_write(&st, path, NULL);
        GPT2 m;
        int rc = modelfile_load(&m, path, err, sizeof err);
        ok(rc == 0, "safetensors loads%s", prefixed ? " (transformer. prefix)" : "");
        uint32_t sum;
        ok(modelfile_checksum(path, &sum) == 0, "safetensors: no checksum in a header");
        if (rc) {
            diag("%s", err);
        } else {
            ok(!memcmp(&m.config, &src->config, sizeof m.config),
               "config from shapes: V 50 -> Vp 128, maxT, L 2, C 8, n_head from metadata");
            ok(!memcmp(m.params_memory, src->params_memory, src->num_params * sizeof(float)),
               "tensors in our layout (Conv1D weights transposed, wte padded with zeros)");
            gpt2_free(&m);
        }
        json_decref(st.header), free(st.data);
    }

    st_build(&st, src, "");
    json_t *keep = json_deep_copy(st.header);
    st_write(&st, path, "{\"wte.weight\": ");
    expect_error(path, "bad safetensors JSON", "safetensors: JSON cut short");
    st_write(&st, path, "{\"wte.weight\": 5}");
    expect_error(path, "wte.weight missing or not 2-D", "safetensors: entry not an object");
    json_object_del(st.header, "h.1.mlp.c_fc.bias");
    st_write(&st, path, NULL);
    expect_error(path, "tensor h.1.mlp.c_fc.bias missing", "safetensors: missing tensor");
    json_decref(st.header), st.header = json_deep_copy(keep);
    json_array_set_new(
        json_object_get(json_object_get(st.header, "h.0.attn.c_attn.weight"), "shape"), 1,
        json_integer(8));
    st_write(&st, path, NULL);
    expect_error(path, "h.0.attn.c_attn.weight: shape is not [8,24]", "safetensors: wrong shape");
    json_decref(st.header), st.header = json_deep_copy(keep);
    json_object_set_new(json_object_get(st.header, "ln_f.bias"), "dtype", json_string("I64"));
    st_write(&st, path, NULL);
    expect_error(path, "unsupported dtype I64", "safetensors: unknown dtype");
    json_decref(st.header), st.header = json_deep_copy(keep);
    json_array_set_new(json_object_get(json_object_get(st.header, "ln_f.bias"), "data_offsets"), 1,
                       json_integer((json_int_t)st.len + 4000));
    st_write(&st, path, NULL);
    expect_error(path, "data_offsets", "safetensors: offsets beyond the file");
    json_decref(st.header), st.header = json_deep_copy(keep);
    json_array_set_new(json_object_get(json_object_get(st.header, "ln_f.bias"), "data_offsets"), 0,
                       json_integer(-4));
    st_write(&st, path, NULL);
    expect_error(path, "data_offsets", "safetensors: negative offset");
    json_decref(st.header), st.header = json_deep_copy(keep);
    json_object_del(json_object_get(st.header, "__metadata__"), "n_head");
    st_write(&st, path, NULL);
    expect_error(path, "head count unknown", "safetensors: 8 channels and no n_head");
    json_decref(st.header), st.header = json_deep_copy(keep);
    /* header length pointing past the end */
    st_write(&st, path, NULL);
    size_t len;
    unsigned char *raw = (unsigned char *)xread_file(path, &len);
    store_le32(raw, (uint32_t)len);
    write_bytes(path, raw, len);
    expect_error(path, "exceeds the file", "safetensors: header length beyond the file");
    /* truncated data section */
    char *text = json_dumps(keep, JSON_COMPACT);
    store_le32(raw, (uint32_t)strlen(text));
    free(text);
    write_bytes(path, raw, len - 10);
    expect_error(path, "data_offsets", "safetensors: truncated data");
    /* a header describing a million-token vocabulary over a few kilobytes of data:
     * refused from the sizes, before 32 MB are allocated and zeroed */
    json_array_set_new(json_object_get(json_object_get(keep, "wte.weight"), "shape"), 0,
                       json_integer(1000000));
    st_write(&st, path, (text = json_dumps(keep, JSON_COMPACT)));
    free(text);
    expect_error(path, "header describes 8", "safetensors: more parameters than the file holds");
    free(raw);
    json_decref(keep), json_decref(st.header), free(st.data);
    free(path);
}

/* header of st with every tensor h.<from>.* renamed h.<to>.* */
static json_t *renumbered(json_t *src, int from, int to) {
    json_t *h = json_object(), *v;
    const char *key;
    char pre[32];
    int n = snprintf(pre, sizeof pre, "h.%d.", from);
    json_object_foreach(src, key, v) {
        char *name =
            strncmp(key, pre, (size_t)n) ? xstrdup(key) : xasprintf("h.%d.%s", to, key + n);
        json_object_set(h, name, v);
        free(name);
    }
    return h;
}

/* layers must run from h.0 without a gap: a model with one missing is not a smaller one */
static void test_safetensors_layers(GPT2 *src) {
    char *path = tmp("layers.safetensors");
    St st;
    st_build(&st, src, "");
    json_t *keep = st.header;
    st.header = renumbered(keep, 1, 2); /* h.0 and h.2, no h.1 */
    st_write(&st, path, NULL);
    expect_error(path, "tensor h.1.ln_1.weight missing", "safetensors: h.0 and h.2 but no h.1");
    json_decref(st.header);
    st.header = renumbered(keep, 0, 1); /* only h.1: h.0 missing */
    st_write(&st, path, NULL);
    expect_error(path, "tensor h.0.ln_1.weight missing", "safetensors: h.1 without h.0");
    json_decref(st.header);
    st.header = keep;
    const char *odd[][2] = {{"h.-1.ln_1.weight", "h.-1.ln_1.weight"},
                            {"h.99999999999.ln_1.weight", "h.99999999999.ln_1.weight"},
                            {"h.01.ln_1.weight", "h.01.ln_1.weight"},
                            {"h.x.mlp.c_fc.bias", "h.x.mlp.c_fc.bias"},
                            {"h.5000.ln_1.weight", "h.5000.ln_1.weight"}};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        json_object_set(st.header, odd[i][0], json_object_get(st.header, "h.0.ln_1.weight"));
        st_write(&st, path, NULL);
        char what[96];
        snprintf(what, sizeof what, "safetensors: a tensor %s", odd[i][0]);
        expect_error(path, odd[i][1], what);
        json_object_del(st.header, odd[i][0]);
    }
    /* a layer with all but one of its tensors */
    st.header = renumbered(keep, 1, 2);
    json_object_set(st.header, "h.1.ln_1.weight", json_object_get(st.header, "h.0.ln_1.weight"));
    st_write(&st, path, NULL);
    expect_error(path, "tensor h.1.ln_1.bias missing", "safetensors: h.1 with only ln_1.weight");
    json_decref(st.header);
    /* the head count from __metadata__: a false one named as such */
    st.header = keep;
    const char *heads[][2] = {{"0", "n_head \"0\""},
                              {"2x", "n_head \"2x\""},
                              {"-2", "n_head \"-2\""},
                              {"99999999999999999999", "n_head"},
                              {"3", "multiple of heads"}};
    json_t *meta = json_object_get(st.header, "__metadata__");
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
        json_object_set_new(meta, "n_head", json_string(heads[i][0]));
        st_write(&st, path, NULL);
        char what[96];
        snprintf(what, sizeof what, "safetensors: n_head \"%s\"", heads[i][0]);
        GPT2 m;
        char err[512] = "";
        int rc = modelfile_load(&m, path, err, sizeof err);
        ok(rc && strstr(err, heads[i][1]) && !strstr(err, "multiple of 64") &&
               !strstr(err, "no n_head"),
           "%s: refused, and the message is true (%s)", what, err);
        if (!rc) gpt2_free(&m);
    }
    json_object_set_new(meta, "n_head", json_integer(2));
    st_write(&st, path, NULL);
    expect_error(path, "n_head in __metadata__ is not a string", "safetensors: n_head a number");
    json_decref(st.header), free(st.data);
    free(path);
}

/* a NaN or an infinity anywhere in the parameters: refused, naming tensor and index */
static void test_nonfinite(GPT2 *src) {
    char *path = tmp("nan.bin");
    float keep = src->params.lnfw[3];
    src->params.lnfw[3] = NAN;
    modelfile_save(src, path, 0);
    expect_error(path, "lnfw[3] is NaN", "fp32 file with a NaN");
    src->params.lnfw[3] = keep;
    keep = src->params.fcw[100];
    src->params.fcw[100] = -INFINITY;
    modelfile_save(src, path, 1);
    expect_error(path, "fcw[100] is infinite", "bf16 file with an infinity");
    src->params.fcw[100] = keep;
    St st;
    src->params.wpe[0] = NAN;
    st_build(&st, src, "");
    st_write(&st, path, NULL);
    expect_error(path, "wpe[0] is NaN", "safetensors with a NaN");
    json_decref(st.header), free(st.data);
    free(path);
}

int main(void) {
    util_init("checkpoint-test");
    if (!mkdtemp(dir)) die("mkdtemp:");
    GPT2 src;
    gpt2_create(&src, &tiny);
    gpt2_init_params(src.params_memory, &tiny, 3);
    for (size_t i = 0; i < src.num_params; i++) src.params_memory[i] += 1e-3f * (float)(i % 13);
    memset(src.params.wte + 50 * 8, 0, 78 * 8 * sizeof(float)); /* padding rows stay zero */
    test_llmc(&src);
    gpt2_init_params(src.params_memory, &tiny, 3);
    test_llmc_bad(&src);
    test_safetensors(&src);
    test_safetensors_16bit(&src);
    test_safetensors_layers(&src);
    test_nonfinite(&src);
    gpt2_free(&src);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd)) diag("could not remove %s", dir);
    free(cmd);
    return done_testing();
}
