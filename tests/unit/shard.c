/* Unit tests for common/data/shard.c and shard_write.c: round trips of both kinds, windows
 * across frame boundaries, and every kind of damaged file the reader must reject. */
#include "data/shard.h"
#include "base/crc32c.h"
#include "base/util.h"
#include "tap.h"

#include <string.h>
#include <unistd.h>
#include <zstd.h>

static char dir[] = "/tmp/gpt2-shard-XXXXXX";
static char err[512];

static uint16_t *make_tokens(size_t n, uint32_t seed) {
    uint16_t *t = xmalloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        /* text-like: mostly small ids, so zstd has something to compress */
        t[i] = (uint16_t)((seed >> 16) % (i % 7 ? 500 : 50257));
    }
    return t;
}

static char *write_shard(const char *name, const uint16_t *t, size_t n, int level) {
    char *path = xasprintf("%s/%s", dir, name);
    ShardWriter *w = shard_writer_open(path, level, 1);
    /* in uneven pieces, to cross the writer's frame buffer at odd places */
    for (size_t at = 0; at < n;) {
        size_t k = n - at < 12345 ? n - at : 12345;
        shard_writer_add(w, t + at, k);
        at += k;
    }
    shard_writer_close(w);
    return path;
}

static unsigned char *slurp(const char *path, size_t *len) {
    return (unsigned char *)xread_file(path, len);
}

static void spit(const char *path, const unsigned char *b, size_t len) {
    FILE *f = xfopen(path, "wb");
    xfwrite(b, len, f, path);
    xfclose(f, path);
}

/* A damaged copy of src must fail to open with a message naming it and containing `want`. */
static void rejects(const char *src, const char *what, const char *want,
                    void (*damage)(unsigned char *b, size_t *len)) {
    size_t len;
    unsigned char *b = slurp(src, &len);
    damage(b, &len);
    char *path = xasprintf("%s/bad.bin", dir);
    spit(path, b, len);
    ShardReader *r = shard_open(path, err, sizeof err);
    ok(!r && strstr(err, path) && strstr(err, want), "%s: rejected (%s)", what, err);
    shard_close(r);
    free(path);
    free(b);
}

static void cut_header(unsigned char *b, size_t *len) {
    (void)b;
    *len = 1000;
}
static void cut_tail(unsigned char *b, size_t *len) {
    (void)b;
    *len -= 3;
}
static void bad_magic(unsigned char *b, size_t *len) {
    (void)len;
    b[0] ^= 1;
}
static void bad_version(unsigned char *b, size_t *len) {
    (void)len;
    store_le32(b + 4, 2);
}
static void big_count(unsigned char *b, size_t *len) {
    (void)len;
    store_le32(b + 8, load_le32(b + 8) + 1);
}
static void negative_count(unsigned char *b, size_t *len) {
    (void)len;
    store_le32(b + 8, 0x80000000u);
}
static void flip_payload(unsigned char *b, size_t *len) {
    b[*len / 2] ^= 0x10;
}
static void flip_checksum(unsigned char *b, size_t *len) {
    (void)len;
    b[4 * SHARD_W_CHECKSUM] ^= 0x01;
}
static void bad_frames(unsigned char *b, size_t *len) {
    (void)len;
    store_le32(b + 4 * SHARD_W_FRAMES, load_le32(b + 4 * SHARD_W_FRAMES) + 1);
}
static void bad_frame_tokens(unsigned char *b, size_t *len) {
    (void)len;
    store_le32(b + 4 * SHARD_W_FRAME_TOKENS, 0);
}
static void bad_index(unsigned char *b, size_t *len) {
    /* first frame one byte longer, so the frames no longer end where the index begins */
    unsigned char *i = b + *len - 4 * load_le32(b + 4 * SHARD_W_FRAMES);
    store_le32(i, load_le32(i) + 1);
}
static void flip_frame(unsigned char *b, size_t *len) {
    (void)len;
    b[SHARD_HEADER_BYTES + 200] ^= 0x04;
}
static void no_tag(unsigned char *b, size_t *len) {
    (void)len;
    store_le32(b + 4 * SHARD_W_TAG, 0);
}

static void tag_bit_flip(unsigned char *b, size_t *len) {
    (void)len;
    b[4 * SHARD_W_TAG + 2] ^= 0x20;
}
static void checksum_kind_zero(unsigned char *b, size_t *len) {
    (void)len;
    store_le32(b + 4 * SHARD_W_CHECKSUM_KIND, 0);
}

/* The frames of a zstd shard compressed again, the index and header made to match:
 * without zstd's content checksum (gpt2-shard(5) requires it), or with it but frame 0
 * stored as two zstd frames (two set). */
static void recompress_frames(const char *src, const char *dst, const uint16_t *t, size_t n,
                              int two) {
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, two);
    size_t len;
    unsigned char *b = slurp(src, &len);
    uint32_t frames = load_le32(b + 4 * SHARD_W_FRAMES), ft = SHARD_FRAME_TOKENS;
    size_t cap = SHARD_HEADER_BYTES + 2 * ZSTD_compressBound(2 * ft) * frames + 4 * frames;
    unsigned char *out = xmalloc(cap), *sizes = xmalloc(4 * frames);
    memcpy(out, b, SHARD_HEADER_BYTES);
    size_t at = SHARD_HEADER_BYTES;
    for (uint32_t f = 0; f < frames; f++) {
        size_t k = n - (size_t)f * ft < ft ? n - (size_t)f * ft : ft, c = 0;
        const uint16_t *p = t + (size_t)f * ft;
        if (two && f == 0) {
            c = ZSTD_compress2(cc, out + at, cap - at, p, k); /* first half, then the rest */
            c += ZSTD_compress2(cc, out + at + c, cap - at - c, p + k / 2, 2 * k - k);
        } else {
            c = ZSTD_compress2(cc, out + at, cap - at, p, 2 * k);
        }
        store_le32(sizes + 4 * f, (uint32_t)c);
        at += c;
    }
    memcpy(out + at, sizes, 4 * frames);
    store_le32(out + 4 * SHARD_W_INDEX_LO, (uint32_t)at);
    store_le32(out + 4 * SHARD_W_INDEX_HI, 0);
    spit(dst, out, at + 4 * frames);
    free(b), free(out), free(sizes);
    ZSTD_freeCCtx(cc);
}

static void round_trip(const char *name, int level, const uint16_t *t, size_t n) {
    char *path = write_shard(name, t, n, level);
    ShardReader *r = shard_open(path, err, sizeof err);
    if (!ok(r != NULL, "%s: opens", name)) diag("%s", err);
    if (!r) return;
    is_int(shard_num_tokens(r), n, "%s: token count", name);
    ShardInfo in;
    shard_info(r, &in);
    ok(in.zstd == (level != 0) && in.has_checksum && in.version == 1, "%s: info", name);
    uint16_t *all = xmalloc(n * sizeof *all + 1);
    ok(shard_read(r, 0, n, all, err, sizeof err) == 0 && !memcmp(all, t, n * sizeof *t),
       "%s: all tokens read back", name);
    /* windows that straddle frame boundaries, read out of order */
    uint64_t starts[] = {SHARD_FRAME_TOKENS - 5, 3, 2 * SHARD_FRAME_TOKENS - 1, n - 1000, 0};
    int good = 1;
    for (size_t i = 0; i < sizeof starts / sizeof *starts; i++) {
        size_t len = 1000;
        good &= shard_read(r, starts[i], len, all, err, sizeof err) == 0 &&
                !memcmp(all, t + starts[i], len * sizeof *t);
    }
    ok(good, "%s: windows across frame boundaries", name);
    ok(shard_verify(r, 50257, err, sizeof err) == 0, "%s: verifies with vocab 50257", name);
    ok(shard_verify(r, 500, err, sizeof err) != 0 && strstr(err, "vocabulary size 500"),
       "%s: ids >= 500 found (%s)", name, err);
    shard_close(r);
    free(all);
    free(path);
}

int main(void) {
    util_init("test-shard");
    ok(mkdtemp(dir) != NULL, "temp dir");
    is_int(crc32c(0, "123456789", 9), 0xE3069283u, "crc32c check value");
    is_int(crc32c_portable(0, "123456789", 9), 0xE3069283u, "portable crc32c check value");
    uint32_t c = crc32c(0, "12345", 5);
    is_int(crc32c(c, "6789", 4), 0xE3069283u, "crc32c runs on in pieces");
    {
        /* the fast path against the table one, at every alignment and tail length */
        unsigned char b[300];
        for (size_t i = 0; i < sizeof b; i++) b[i] = (unsigned char)(i * 131 + 7);
        int same = 1;
        for (size_t off = 0; off < 8; off++)
            for (size_t len = 0; len + off <= sizeof b; len += 13)
                same &= crc32c(off, b + off, len) == crc32c_portable(off, b + off, len);
        ok(same, "crc32c fast path equals the table path");
    }

    size_t n = 2 * SHARD_FRAME_TOKENS + 4321;
    uint16_t *t = make_tokens(n, 7);
    round_trip("plain.bin", 0, t, n);
    round_trip("packed.bin.zst", 3, t, n);

    char *empty = write_shard("empty.bin", t, 0, 0);
    ShardReader *r = shard_open(empty, err, sizeof err);
    ok(r && shard_num_tokens(r) == 0, "empty llm.c shard opens");
    shard_close(r);
    char *emptyz = write_shard("empty.bin.zst", t, 0, 5);
    r = shard_open(emptyz, err, sizeof err);
    ok(r && shard_num_tokens(r) == 0, "empty zstd shard opens");
    shard_close(r);

    /* a shard as llm.c's scripts write it: zero header words beyond the third */
    char *plain = write_shard("plain.bin", t, n, 0);
    size_t len;
    unsigned char *b = slurp(plain, &len);
    memset(b + 12, 0, SHARD_HEADER_BYTES - 12);
    char *llmc = xasprintf("%s/llmc.bin", dir);
    spit(llmc, b, len);
    free(b);
    r = shard_open(llmc, err, sizeof err);
    ShardInfo in = {0};
    if (r) shard_info(r, &in);
    ok(r && !in.has_checksum && shard_num_tokens(r) == n, "llm.c shard without checksum opens");
    shard_close(r);

    char *packed = write_shard("packed.bin.zst", t, n, 3);
    const char *kinds[] = {plain, packed};
    for (int k = 0; k < 2; k++) {
        const char *p = kinds[k];
        rejects(p, k ? "zstd truncated header" : "truncated header", "truncated header",
                cut_header);
        rejects(p, k ? "zstd truncated" : "truncated", k ? "truncated" : "truncated", cut_tail);
        rejects(p, k ? "zstd wrong magic" : "wrong magic", "bad magic", bad_magic);
        rejects(p, k ? "zstd wrong version" : "wrong version", "unsupported version", bad_version);
        rejects(p, k ? "zstd negative count" : "negative count", "bad token count", negative_count);
        rejects(p, k ? "zstd flipped checksum" : "flipped checksum", "checksum mismatch",
                flip_checksum);
    }
    rejects(plain, "oversized count", "tokens need", big_count);
    rejects(plain, "bit flip in tokens", "checksum mismatch", flip_payload);
    rejects(packed, "zstd count off by one", "frame", big_count);
    rejects(packed, "zstd frame count", "frames", bad_frames);
    rejects(packed, "zstd frame size 0", "bad frame size", bad_frame_tokens);
    rejects(packed, "zstd index damaged", "frame", bad_index);
    rejects(packed, "zstd bit flip in a frame", "frame 0", flip_frame);
    rejects(packed, "zstd without tag", "GPT2 tag", no_tag);
    /* the word that says "this shard has a checksum": damage must not read as "none" */
    rejects(plain, "one bit of the tag flipped", "header word 3", tag_bit_flip);
    rejects(packed, "zstd: one bit of the tag flipped", "header word 3", tag_bit_flip);
    rejects(plain, "checksum kind 0", "checksum kind 0", checksum_kind_zero);
    /* frames without zstd's content checksum, which gpt2-shard(5) requires */
    char *nosum = xasprintf("%s/nosum.bin.zst", dir);
    for (int two = 0; two < 2; two++) {
        recompress_frames(packed, nosum, t, n, two);
        r = shard_open_flags(nosum, SHARD_OPEN_NO_VERIFY, err, sizeof err);
        uint16_t w0[8];
        ok(r && shard_read(r, 0, 8, w0, err, sizeof err) != 0 && strstr(err, nosum) &&
               strstr(err, two ? "more than one zstd frame" : "content checksum"),
           "%s: refused (%s)",
           two ? "frame 0 stored as two zstd frames" : "zstd frames without content checksum", err);
        shard_close(r);
        ok(!shard_open(nosum, err, sizeof err), "... and by shard_open's verification");
    }
    unlink(nosum);
    free(nosum);

    char *missing = xasprintf("%s/missing.bin", dir);
    ok(!shard_open(missing, err, sizeof err) && strstr(err, "No such file"), "missing file: %s",
       err);
    ok(!shard_open(dir, err, sizeof err) && strstr(err, dir), "directory rejected: %s", err);

    /* a bit flip caught without the open-time pass: by the frame's own checksum */
    b = slurp(packed, &len);
    b[SHARD_HEADER_BYTES + 300] ^= 0x40;
    char *bad = xasprintf("%s/bad.bin", dir);
    spit(bad, b, len);
    free(b);
    r = shard_open_flags(bad, SHARD_OPEN_NO_VERIFY, err, sizeof err);
    uint16_t w[16];
    ok(r && shard_read(r, 10, 16, w, err, sizeof err) != 0 && strstr(err, "frame 0"),
       "window read in a damaged frame fails: %s", err);
    ok(r && shard_read(r, SHARD_FRAME_TOKENS + 10, 16, w, err, sizeof err) == 0 &&
           !memcmp(w, t + SHARD_FRAME_TOKENS + 10, sizeof w),
       "other frames still read");
    shard_close(r);

    const char *files[] = {"plain.bin",     "packed.bin.zst", "empty.bin",
                           "empty.bin.zst", "llmc.bin",       "bad.bin"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char *p = xasprintf("%s/%s", dir, files[i]);
        unlink(p);
        free(p);
    }
    rmdir(dir);
    free(t), free(empty), free(emptyz), free(plain), free(packed), free(llmc), free(missing);
    free(bad);
    return done_testing();
}
