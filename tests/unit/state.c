/* Unit tests for common/train/state.c: state round trip, the reader's refusals (magic,
 * version, truncation, trailing bytes, checksum, moments), and the header-only read. */
#include "base/crc32c.h"
#include "base/util.h"
#include "tap.h"
#include "train/state.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/gpt2-train-state-XXXXXX";

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

/* loads path, expecting a refusal whose message names the file and holds want */
static void refused(const char *path, const char *want, const char *what) {
    TrainState got;
    char err[512] = "";
    int rc = train_state_load(&got, path, err, sizeof err);
    ok(rc && strstr(err, path) && strstr(err, want), "%s: refused (%s)", what, err);
    if (!rc) train_state_free(&got);
}

/* a copy of the file image b with the byte at off changed by xor, at path */
static void flipped(const char *path, const unsigned char *b, size_t len, size_t off, int x) {
    unsigned char *c = xmalloc(len);
    memcpy(c, b, len);
    c[off] ^= (unsigned char)x;
    write_bytes(path, c, len);
    free(c);
}

int main(void) {
    util_init("test-train-state");
    ok(mkdtemp(dir) != NULL, "temp dir");
    GPT2Config cfg = gpt2_config_make(16, 100, 2, 2, 8);
    size_t n = gpt2_num_params(&cfg);
    TrainState st = {.config = cfg,
                     .T = 8,
                     .step = 1234567890123ull,
                     .seed = 99,
                     .order = TRAIN_ORDER_FILE,
                     .data = {3, 5, 7},
                     .tokens = 1ull << 40,
                     .num_shards = 4,
                     .num_windows = 1000,
                     .num_params = n};
    st.m = xmalloc(n * sizeof(float));
    st.v = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) st.m[i] = (float)i * 1e-3f, st.v[i] = 1.0f / (float)(i + 1);
    char *path = xasprintf("%s/state.bin", dir);
    train_state_save(&st, path);

    char err[512];
    TrainState got;
    ok(!train_state_load(&got, path, err, sizeof err), "load what was saved");
    ok(!memcmp(&got.config, &cfg, sizeof cfg), "config round trip");
    ok(got.T == 8 && got.step == st.step && got.seed == 99 && got.tokens == st.tokens &&
           got.num_shards == 4 && got.num_windows == 1000 && got.order == TRAIN_ORDER_FILE,
       "scalars round trip (64-bit step and token count)");
    ok(got.data.epoch == 3 && got.data.shard == 5 && got.data.window == 7,
       "data position round trip");
    ok(got.m && !memcmp(got.m, st.m, n * sizeof(float)) && !memcmp(got.v, st.v, n * sizeof(float)),
       "moments round trip bit for bit");
    train_state_free(&got);
    TrainState head;
    ok(!train_state_read_header(&head, path, err, sizeof err), "read the header alone");
    ok(!memcmp(&head.config, &cfg, sizeof cfg) && head.T == 8 && head.step == st.step &&
           head.seed == 99 && head.tokens == st.tokens && head.num_shards == 4 &&
           head.num_windows == 1000 && head.order == TRAIN_ORDER_FILE && head.data.window == 7 &&
           head.num_params == n,
       "its fields are those saved");
    ok(!head.m && !head.v, "without moments");

    size_t len;
    unsigned char *bytes = (unsigned char *)xread_file(path, &len);
    is_int(len, 256 + 8 * n, "file size: 256-byte header + 2 x 4 x params");
    ok(!memcmp(bytes, "GPT2STAT", 8) && load_le32(bytes + 8) == 2, "magic and version 2");
    {
        unsigned char *c = xmalloc(len);
        memcpy(c, bytes, len);
        store_le32(c + 124, 0);
        is_int(load_le32(bytes + 124), crc32c(0, c, len),
               "checksum at byte 124: CRC-32C of the file with those 4 bytes zero");
        free(c);
    }

    char *bad = xasprintf("%s/bad.bin", dir);
    /* damage that no other check sees: only the checksum tells */
    flipped(bad, bytes, len, 64, 0x01);
    refused(bad, "checksum", "one bit of the seed flipped");
    flipped(bad, bytes, len, 72, 0x80);
    refused(bad, "checksum", "one bit of the epoch flipped");
    flipped(bad, bytes, len, 256 + 4 * n + 17, 0x10);
    refused(bad, "checksum", "one bit of a second moment flipped");
    ok(!train_state_read_header(&head, bad, err, sizeof err) && head.step == st.step &&
           head.tokens == st.tokens && !head.m && !head.v,
       "the header alone reads past a damaged moment (no moments, no checksum): %s", err);
    flipped(bad, bytes, len, 124, 0x04);
    refused(bad, "checksum", "one bit of the checksum flipped");
    flipped(bad, bytes, len, 8, 0x03); /* version 2 -> 1, which has no checksum: two bits */
    refused(bad, "checksum", "version turned into 1 (a file without checksum)");
    {
        /* a file of version 1 (no checksum: those bytes zero) still loads */
        unsigned char *c = xmalloc(len);
        memcpy(c, bytes, len);
        store_le32(c + 8, 1);
        store_le32(c + 124, 0);
        write_bytes(bad, c, len);
        ok(!train_state_load(&got, bad, err, sizeof err) && got.step == st.step &&
               !memcmp(got.v, st.v, n * sizeof(float)),
           "a version 1 file without checksum loads: %s", err);
        train_state_free(&got);
        store_le32(c + 124, 5);
        write_bytes(bad, c, len);
        refused(bad, "byte 124", "a version 1 file with bytes 124-127 not zero");
        free(c);
    }
    /* non-finite moments, written by a run that diverged: never resumed from */
    float keep = st.m[n - 3];
    st.m[n - 3] = NAN;
    train_state_save(&st, bad);
    refused(bad, "m of lnfb[5] is NaN", "a NaN in the first moments");
    st.m[n - 3] = keep;
    keep = st.v[10];
    st.v[10] = INFINITY;
    train_state_save(&st, bad);
    refused(bad, "v of wte[10] is infinite", "an infinity in the second moments");
    st.v[10] = -1e-9f;
    train_state_save(&st, bad);
    refused(bad, "v of wte[10] is negative", "a negative second moment");
    st.v[10] = keep;
    write_bytes(bad, bytes, len - 4);
    ok(train_state_load(&got, bad, err, sizeof err) && strstr(err, "truncated"),
       "truncated moments: %s", err);
    ok(!train_state_read_header(&head, bad, err, sizeof err) && head.tokens == st.tokens,
       "the header alone of a file with truncated moments reads");
    write_bytes(bad, bytes, 100);
    ok(train_state_load(&got, bad, err, sizeof err) && strstr(err, "truncated header"),
       "truncated header: %s", err);
    ok(train_state_read_header(&head, bad, err, sizeof err) && strstr(err, "truncated header"),
       "the header alone: refused too");
    unsigned char *longer = xmalloc(len + 1);
    memcpy(longer, bytes, len);
    longer[len] = 0;
    write_bytes(bad, longer, len + 1);
    ok(train_state_load(&got, bad, err, sizeof err) && strstr(err, "expected"),
       "trailing bytes: %s", err);
    bytes[0] = 'X';
    write_bytes(bad, bytes, len);
    ok(train_state_load(&got, bad, err, sizeof err) && strstr(err, "bad magic"), "magic: %s", err);
    ok(train_state_read_header(&head, bad, err, sizeof err) && strstr(err, "bad magic"),
       "the header alone: bad magic refused too");
    bytes[0] = 'G';
    store_le32(bytes + 8, 3);
    write_bytes(bad, bytes, len);
    ok(train_state_load(&got, bad, err, sizeof err) && strstr(err, "version 3"), "version: %s",
       err);
    /* the field checks below, on a version 1 file (no checksum to update) */
    store_le32(bytes + 8, 1);
    store_le32(bytes + 124, 0);
    store_le32(bytes + 120, 0);
    write_bytes(bad, bytes, len);
    ok(!train_state_load(&got, bad, err, sizeof err) && got.order == TRAIN_ORDER_UNKNOWN,
       "a file of an older build, without the data order, loads: order unknown");
    train_state_free(&got);
    store_le32(bytes + 120, 7);
    write_bytes(bad, bytes, len);
    ok(train_state_load(&got, bad, err, sizeof err) && strstr(err, "data order"),
       "unknown data order: %s", err);
    store_le32(bytes + 120, TRAIN_ORDER_FILE);
    store_le32(bytes + 28, 3); /* layers: the parameter count no longer matches */
    write_bytes(bad, bytes, len);
    ok(train_state_load(&got, bad, err, sizeof err) && strstr(err, "parameter count"),
       "config that disagrees with the size: %s", err);
    ok(train_state_load(&got, "/nonexistent/state.bin", err, sizeof err) &&
           strstr(err, "/nonexistent/state.bin"),
       "missing file named: %s", err);

    TrainState fresh = st;
    fresh.m = fresh.v = NULL;
    train_state_save(&fresh, path);
    ok(!train_state_load(&got, path, err, sizeof err) && !got.m && !got.v,
       "a state without moments (before the first step) loads");

    unlink(path), unlink(bad), rmdir(dir);
    free(path), free(bad), free(bytes), free(longer);
    train_state_free(&st);
    return done_testing();
}
