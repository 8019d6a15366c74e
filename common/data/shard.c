/* shard: open, validate and read shards of both kinds (gpt2-shard(5)). The reader
 * never exits: every problem comes back as a message in err, so the fuzzer can drive
 * it with arbitrary bytes. */
#include "data/shard.h"
#include "base/crc32c.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "shards are little-endian and this code reads them in place"
#endif

struct ShardReader {
    char *path;
    int fd;
    ShardInfo info;
    uint64_t *frame_off; /* zstd: frames + 1 byte offsets, frame i is [off[i], off[i+1]) */
    ZSTD_DCtx *dctx;
    unsigned char *cbuf; /* one compressed frame */
    size_t cbuf_cap;
    uint16_t *frame; /* the frame decompressed last (frame_idx), kept for the next window */
    int64_t frame_idx;
};

/* ---- helpers ---- */

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...) {
    if (!errlen) return -1;
    int k = snprintf(err, errlen, "%s: ", path);
    if (k >= 0 && (size_t)k < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + k, errlen - k, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Reads up to n bytes at off; returns the count (short only at end of file), -1 on error. */
static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return -1;
        if (k == 0) break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

static uint32_t word(const unsigned char *h, int i) {
    uint32_t v;
    memcpy(&v, h + 4 * i, 4);
    return v;
}

/* ---- opening ---- */

/* The frame index sits after the frames: one uint32 compressed size per frame. */
static int open_zstd_index(ShardReader *r, const unsigned char *h, char *err, size_t errlen) {
    ShardInfo *in = &r->info;
    uint64_t size = in->file_bytes;
    in->frame_tokens = word(h, SHARD_W_FRAME_TOKENS);
    in->frames = word(h, SHARD_W_FRAMES);
    in->level = word(h, SHARD_W_LEVEL);
    uint64_t index = word(h, SHARD_W_INDEX_LO) | (uint64_t)word(h, SHARD_W_INDEX_HI) << 32;
    if (in->frame_tokens == 0 || in->frame_tokens > SHARD_MAX_FRAME_TOKENS)
        return fail(err, errlen, r->path, "bad frame size %u tokens in header", in->frame_tokens);
    uint64_t want = (in->num_tokens + in->frame_tokens - 1) / in->frame_tokens;
    if (in->frames != want)
        return fail(err, errlen, r->path, "header says %u frames, but %llu tokens need %llu",
                    in->frames, (unsigned long long)in->num_tokens, (unsigned long long)want);
    if (index < SHARD_HEADER_BYTES || index > size || size - index != 4ull * in->frames)
        return fail(err, errlen, r->path,
                    "size %llu bytes does not fit a frame index of %u frames at byte %llu "
                    "(truncated?)",
                    (unsigned long long)size, in->frames, (unsigned long long)index);
    unsigned char *sizes = malloc(4ull * in->frames + 1);
    r->frame_off = malloc((in->frames + 1ull) * sizeof *r->frame_off);
    if (!sizes || !r->frame_off) {
        free(sizes);
        return fail(err, errlen, r->path, "out of memory for the frame index");
    }
    ssize_t got = pread_full(r->fd, sizes, 4ull * in->frames, index);
    if (got != (ssize_t)(4ull * in->frames)) {
        free(sizes);
        return fail(err, errlen, r->path, "cannot read the frame index: %s",
                    got < 0 ? strerror(errno) : "truncated");
    }
    size_t bound = ZSTD_compressBound((size_t)in->frame_tokens * 2);
    r->frame_off[0] = SHARD_HEADER_BYTES;
    for (uint32_t i = 0; i < in->frames; i++) {
        uint32_t c = word(sizes, (int)i);
        if (c == 0 || c > bound) {
            free(sizes);
            return fail(err, errlen, r->path, "frame %u: bad compressed size %u", i, c);
        }
        r->frame_off[i + 1] = r->frame_off[i] + c;
    }
    free(sizes);
    if (r->frame_off[in->frames] != index)
        return fail(err, errlen, r->path, "frames end at byte %llu but the index starts at %llu",
                    (unsigned long long)r->frame_off[in->frames], (unsigned long long)index);
    r->dctx = ZSTD_createDCtx();
    if (!r->dctx) return fail(err, errlen, r->path, "out of memory for zstd");
    return 0;
}

static int open_header(ShardReader *r, char *err, size_t errlen) {
    struct stat st;
    if (fstat(r->fd, &st) != 0) return fail(err, errlen, r->path, "%s", strerror(errno));
    ShardInfo *in = &r->info;
    in->file_bytes = (uint64_t)st.st_size;
    unsigned char h[SHARD_HEADER_BYTES];
    ssize_t got = pread_full(r->fd, h, sizeof h, 0);
    if (got < 0) return fail(err, errlen, r->path, "%s", strerror(errno));
    if (got < (ssize_t)sizeof h)
        return fail(err, errlen, r->path, "truncated header (%zd of %d bytes)", got,
                    SHARD_HEADER_BYTES);
    uint32_t magic = word(h, SHARD_W_MAGIC);
    if (magic != SHARD_MAGIC && magic != SHARD_ZSTD_MAGIC)
        return fail(err, errlen, r->path, "bad magic 0x%08x: not a shard", magic);
    in->zstd = magic == SHARD_ZSTD_MAGIC;
    in->version = word(h, SHARD_W_VERSION);
    if (in->version != SHARD_VERSION)
        return fail(err, errlen, r->path, "unsupported version %u (this reader knows %d)",
                    in->version, SHARD_VERSION);
    int32_t count = (int32_t)word(h, SHARD_W_COUNT);
    if (count < 0) return fail(err, errlen, r->path, "bad token count %d in header", count);
    in->num_tokens = (uint64_t)count;
    /* word 3 says whether the shard has a checksum: zero (llm.c's shards) or the tag.
     * Anything else is a damaged tag, not a shard without checksum: read as one, a
     * single flipped bit would switch the check off. */
    uint32_t tag = word(h, SHARD_W_TAG);
    if (tag == SHARD_TAG) {
        uint32_t kind = word(h, SHARD_W_CHECKSUM_KIND);
        if (kind != SHARD_CHECKSUM_CRC32C)
            return fail(err, errlen, r->path, "unknown checksum kind %u", kind);
        in->has_checksum = 1;
        in->checksum = word(h, SHARD_W_CHECKSUM);
    } else if (tag != 0) {
        return fail(err, errlen, r->path,
                    "header word 3 is 0x%08x, neither 0 (no checksum) nor the GPT2 tag: damaged",
                    tag);
    } else if (in->zstd) {
        return fail(err, errlen, r->path, "zstd shard without the GPT2 tag in header word 3");
    }
    if (in->zstd) return open_zstd_index(r, h, err, errlen);
    uint64_t want = SHARD_HEADER_BYTES + 2 * in->num_tokens;
    if (in->file_bytes != want)
        return fail(err, errlen, r->path,
                    "size %llu bytes, but the header's %llu tokens need %llu: %s",
                    (unsigned long long)in->file_bytes, (unsigned long long)in->num_tokens,
                    (unsigned long long)want,
                    in->file_bytes < want ? "truncated, or a wrong count" : "wrong count");
    return 0;
}

ShardReader *shard_open_flags(const char *path, int flags, char *err, size_t errlen) {
    ShardReader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        fail(err, errlen, path, "out of memory");
        return NULL;
    }
    r->frame_idx = -1;
    const char *why;
    r->fd = open_regular(path, O_RDONLY, 0, &why);
    if (r->fd < 0) {
        fail(err, errlen, path, "%s", why);
        shard_close(r);
        return NULL;
    }
    if (open_header(r, err, errlen) != 0 ||
        (!(flags & SHARD_OPEN_NO_VERIFY) && shard_verify(r, 0, err, errlen) != 0)) {
        shard_close(r);
        return NULL;
    }
    return r;
}

ShardReader *shard_open(const char *path, char *err, size_t errlen) {
    return shard_open_flags(path, 0, err, errlen);
}

uint64_t shard_num_tokens(const ShardReader *r) {
    return r->info.num_tokens;
}

void shard_info(const ShardReader *r, ShardInfo *info) {
    *info = r->info;
}

void shard_close(ShardReader *r) {
    if (!r) return;
    if (r->fd >= 0) close(r->fd);
    ZSTD_freeDCtx(r->dctx);
    free(r->frame_off);
    free(r->cbuf);
    free(r->frame);
    free(r->path);
    free(r);
}

/* ---- reading ---- */

static int load_frame(ShardReader *r, uint64_t f, char *err, size_t errlen) {
    if ((int64_t)f == r->frame_idx) return 0;
    r->frame_idx = -1;
    const ShardInfo *in = &r->info;
    size_t csize = (size_t)(r->frame_off[f + 1] - r->frame_off[f]);
    if (csize > r->cbuf_cap) {
        free(r->cbuf);
        r->cbuf_cap = csize;
        if (!(r->cbuf = malloc(csize))) {
            r->cbuf_cap = 0;
            return fail(err, errlen, r->path, "out of memory");
        }
    }
    if (!r->frame && !(r->frame = malloc((size_t)in->frame_tokens * 2)))
        return fail(err, errlen, r->path, "out of memory");
    ssize_t got = pread_full(r->fd, r->cbuf, csize, r->frame_off[f]);
    if (got != (ssize_t)csize)
        return fail(err, errlen, r->path, "frame %llu: %s", (unsigned long long)f,
                    got < 0 ? strerror(errno) : "truncated");
    /* one zstd frame with its content checksum (gpt2-shard(5)): a window read then
     * catches damage in its frame without the shard's checksum. The flag is bit 2 of the
     * frame header descriptor, the byte after the 4-byte magic. */
    if (csize < 5 || load_le32(r->cbuf) != ZSTD_MAGICNUMBER || !(r->cbuf[4] & 4))
        return fail(err, errlen, r->path, "frame %llu: not a zstd frame with a content checksum",
                    (unsigned long long)f);
    if (ZSTD_findFrameCompressedSize(r->cbuf, csize) != csize)
        return fail(err, errlen, r->path, "frame %llu: more than one zstd frame, or damaged",
                    (unsigned long long)f);
    uint64_t left = in->num_tokens - f * in->frame_tokens;
    size_t want = 2 * (size_t)(left < in->frame_tokens ? left : in->frame_tokens);
    size_t n = ZSTD_decompressDCtx(r->dctx, r->frame, want, r->cbuf, csize);
    if (ZSTD_isError(n))
        return fail(err, errlen, r->path, "frame %llu: %s", (unsigned long long)f,
                    ZSTD_getErrorName(n));
    if (n != want)
        return fail(err, errlen, r->path, "frame %llu holds %zu bytes, want %zu",
                    (unsigned long long)f, n, want);
    r->frame_idx = (int64_t)f;
    return 0;
}

int shard_read(ShardReader *r, uint64_t start, size_t n, uint16_t *out, char *err, size_t errlen) {
    if (start > r->info.num_tokens || n > r->info.num_tokens - start) {
        fprintf(stderr, "shard_read: tokens [%llu, +%zu) beyond the %llu of %s\n",
                (unsigned long long)start, n, (unsigned long long)r->info.num_tokens, r->path);
        abort();
    }
    if (!r->info.zstd) {
        ssize_t got = pread_full(r->fd, out, 2 * n, SHARD_HEADER_BYTES + 2 * start);
        if (got != (ssize_t)(2 * n))
            return fail(err, errlen, r->path, "%s",
                        got < 0 ? strerror(errno) : "truncated (file shrank after open)");
        return 0;
    }
    uint64_t ft = r->info.frame_tokens;
    while (n) {
        uint64_t f = start / ft, at = start - f * ft;
        if (load_frame(r, f, err, errlen) != 0) return -1;
        uint64_t len = r->info.num_tokens - f * ft < ft ? r->info.num_tokens - f * ft : ft;
        size_t take = len - at < n ? (size_t)(len - at) : n;
        memcpy(out, r->frame + at, 2 * take);
        out += take, start += take, n -= take;
    }
    return 0;
}

int shard_verify(ShardReader *r, uint32_t vocab_size, char *err, size_t errlen) {
    enum { CHUNK = 1 << 20 };
    uint16_t *buf = malloc(CHUNK * sizeof *buf);
    if (!buf) return fail(err, errlen, r->path, "out of memory");
    uint32_t crc = 0;
    uint64_t total = r->info.num_tokens;
    for (uint64_t at = 0; at < total;) {
        size_t n = total - at < CHUNK ? (size_t)(total - at) : CHUNK;
        if (shard_read(r, at, n, buf, err, errlen) != 0) {
            free(buf);
            return -1;
        }
        for (size_t i = 0; vocab_size && i < n; i++)
            if (buf[i] >= vocab_size) {
                unsigned id = buf[i];
                free(buf);
                return fail(err, errlen, r->path,
                            "token %llu is %u, not below the vocabulary size %u",
                            (unsigned long long)(at + i), id, vocab_size);
            }
        if (r->info.has_checksum) crc = crc32c(crc, buf, 2 * n);
        at += n;
    }
    free(buf);
    if (r->info.has_checksum && crc != r->info.checksum)
        return fail(err, errlen, r->path,
                    "checksum mismatch (header %08x, data %08x): the file is corrupt",
                    r->info.checksum, crc);
    return 0;
}
