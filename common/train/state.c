#include "train/state.h"
#include "base/crc32c.h"
#include "base/util.h"
#include "model/modelfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Moments are written as the host's floats: the format is little-endian. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "train_state: the state file is little-endian; add byte swapping for this host"
#endif

#define HEADER_SIZE 256
static const char MAGIC[8] = {'G', 'P', 'T', '2', 'S', 'T', 'A', 'T'};
enum { FLAG_MOMENTS = 1 };

static void store_le64(unsigned char *p, uint64_t v) {
    store_le32(p, (uint32_t)v);
    store_le32(p + 4, (uint32_t)(v >> 32));
}
static uint64_t load_le64(const unsigned char *p) {
    return load_le32(p) | (uint64_t)load_le32(p + 4) << 32;
}

/* Header layout (byte offsets), shared by save and load. */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 8,
    OFF_HEADER_SIZE = 12,
    OFF_MAX_SEQ_LEN = 16,
    OFF_VOCAB = 20,
    OFF_PADDED_VOCAB = 24,
    OFF_LAYERS = 28,
    OFF_HEADS = 32,
    OFF_CHANNELS = 36,
    OFF_SEQ_LEN = 40,
    OFF_FLAGS = 44,
    OFF_STEP = 48,
    OFF_NUM_PARAMS = 56,
    OFF_SEED = 64,
    OFF_EPOCH = 72,
    OFF_SHARD = 80,
    OFF_WINDOW = 88,
    OFF_TOKENS = 96,
    OFF_NUM_SHARDS = 104,
    OFF_NUM_WINDOWS = 112,
    OFF_ORDER = 120,    /* added within version 1: zero (unknown) in older files */
    OFF_CHECKSUM = 124, /* version 2: CRC-32C of the whole file with this field zero */
};

/* The checksum of a file: its header with the checksum field zero, then the moments. */
static uint32_t state_checksum(const unsigned char *header, const TrainState *s) {
    unsigned char h[HEADER_SIZE];
    memcpy(h, header, HEADER_SIZE);
    store_le32(h + OFF_CHECKSUM, 0);
    uint32_t crc = crc32c(0, h, HEADER_SIZE);
    if (s->m) {
        crc = crc32c(crc, s->m, s->num_params * sizeof(float));
        crc = crc32c(crc, s->v, s->num_params * sizeof(float));
    }
    return crc;
}

void train_state_save(const TrainState *s, const char *path) {
    unsigned char h[HEADER_SIZE] = {0};
    memcpy(h + OFF_MAGIC, MAGIC, sizeof MAGIC);
    store_le32(h + OFF_VERSION, TRAIN_STATE_VERSION);
    store_le32(h + OFF_HEADER_SIZE, HEADER_SIZE);
    store_le32(h + OFF_MAX_SEQ_LEN, (uint32_t)s->config.max_seq_len);
    store_le32(h + OFF_VOCAB, (uint32_t)s->config.vocab_size);
    store_le32(h + OFF_PADDED_VOCAB, (uint32_t)s->config.padded_vocab_size);
    store_le32(h + OFF_LAYERS, (uint32_t)s->config.num_layers);
    store_le32(h + OFF_HEADS, (uint32_t)s->config.num_heads);
    store_le32(h + OFF_CHANNELS, (uint32_t)s->config.channels);
    store_le32(h + OFF_SEQ_LEN, (uint32_t)s->T);
    store_le32(h + OFF_FLAGS, s->m ? FLAG_MOMENTS : 0);
    store_le64(h + OFF_STEP, s->step);
    store_le64(h + OFF_NUM_PARAMS, s->num_params);
    store_le64(h + OFF_SEED, s->seed);
    store_le64(h + OFF_EPOCH, s->data.epoch);
    store_le64(h + OFF_SHARD, s->data.shard);
    store_le64(h + OFF_WINDOW, s->data.window);
    store_le64(h + OFF_TOKENS, s->tokens);
    store_le64(h + OFF_NUM_SHARDS, s->num_shards);
    store_le64(h + OFF_NUM_WINDOWS, s->num_windows);
    store_le32(h + OFF_ORDER, (uint32_t)s->order);
    store_le32(h + OFF_CHECKSUM, state_checksum(h, s));
    AtomicFile af;
    atomic_open(&af, path, 1);
    xfwrite(h, sizeof h, af.f, af.tmp);
    if (s->m) {
        xfwrite(s->m, s->num_params * sizeof(float), af.f, af.tmp);
        xfwrite(s->v, s->num_params * sizeof(float), af.f, af.tmp);
    }
    atomic_commit(&af);
}

static int fail(char *err, size_t errlen, FILE *f, const char *path, const char *what) {
    snprintf(err, errlen, "%s: %s", path, what);
    if (f) fclose(f);
    return -1;
}

/* Opens path and reads and checks its header into h and s (all but the moments); 0 with
 * *out the file, positioned after the header, or -1 with err. */
static int open_header(const char *path, FILE **out, unsigned char h[HEADER_SIZE], TrainState *s,
                       char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    const char *why;
    FILE *f = fopen_regular(path, &why);
    if (!f) return fail(err, errlen, NULL, path, why);
    size_t got = fread(h, 1, HEADER_SIZE, f);
    if (got >= sizeof MAGIC && memcmp(h, MAGIC, sizeof MAGIC))
        return fail(err, errlen, f, path, "not a gpt2-train state file (bad magic)");
    if (got < HEADER_SIZE) return fail(err, errlen, f, path, "truncated header");
    uint32_t version = load_le32(h + OFF_VERSION);
    if (version < 1 || version > TRAIN_STATE_VERSION) {
        char msg[80];
        snprintf(msg, sizeof msg, "unsupported state version %u (this build reads 1 to %d)",
                 version, TRAIN_STATE_VERSION);
        return fail(err, errlen, f, path, msg);
    }
    /* version 1 had no checksum and zeros there: anything else is a damaged file (a
     * version 2 whose version word changed), not one to trust without its check */
    if (version == 1 && load_le32(h + OFF_CHECKSUM))
        return fail(err, errlen, f, path,
                    "version 1 has no checksum, but byte 124 holds one: the file is damaged");
    if (load_le32(h + OFF_HEADER_SIZE) != HEADER_SIZE)
        return fail(err, errlen, f, path, "bad header size");
    s->config = (GPT2Config){
        .max_seq_len = (int)load_le32(h + OFF_MAX_SEQ_LEN),
        .vocab_size = (int)load_le32(h + OFF_VOCAB),
        .padded_vocab_size = (int)load_le32(h + OFF_PADDED_VOCAB),
        .num_layers = (int)load_le32(h + OFF_LAYERS),
        .num_heads = (int)load_le32(h + OFF_HEADS),
        .channels = (int)load_le32(h + OFF_CHANNELS),
    };
    const char *bad = gpt2_config_check(&s->config);
    if (bad) return fail(err, errlen, f, path, bad);
    s->T = (int)load_le32(h + OFF_SEQ_LEN);
    s->step = load_le64(h + OFF_STEP);
    s->num_params = load_le64(h + OFF_NUM_PARAMS);
    s->seed = load_le64(h + OFF_SEED);
    s->data =
        (DataPos){load_le64(h + OFF_EPOCH), load_le64(h + OFF_SHARD), load_le64(h + OFF_WINDOW)};
    s->tokens = load_le64(h + OFF_TOKENS);
    s->num_shards = load_le64(h + OFF_NUM_SHARDS);
    s->num_windows = load_le64(h + OFF_NUM_WINDOWS);
    uint32_t order = load_le32(h + OFF_ORDER);
    if (order > TRAIN_ORDER_FILE) return fail(err, errlen, f, path, "unknown data order");
    s->order = (int)order;
    if (s->T < 1 || s->T > s->config.max_seq_len)
        return fail(err, errlen, f, path, "sequence length outside the model's range");
    if (load_le32(h + OFF_FLAGS) & ~(uint32_t)FLAG_MOMENTS)
        return fail(err, errlen, f, path, "unknown flags");
    if (s->num_params != gpt2_num_params(&s->config))
        return fail(err, errlen, f, path, "parameter count disagrees with the config");
    *out = f;
    return 0;
}

int train_state_read_header(TrainState *s, const char *path, char *err, size_t errlen) {
    unsigned char h[HEADER_SIZE];
    FILE *f;
    if (open_header(path, &f, h, s, err, errlen)) return -1;
    fclose(f);
    return 0;
}

int train_state_load(TrainState *s, const char *path, char *err, size_t errlen) {
    unsigned char h[HEADER_SIZE];
    FILE *f;
    if (open_header(path, &f, h, s, err, errlen)) return -1;
    uint32_t version = load_le32(h + OFF_VERSION), flags = load_le32(h + OFF_FLAGS);
    /* the file must be exactly header + moments: a longer one is as suspect as a short one */
    if (fseek(f, 0, SEEK_END)) return fail(err, errlen, f, path, strerror(errno));
    long size = ftell(f);
    uint64_t want = HEADER_SIZE + (flags & FLAG_MOMENTS ? 2 * s->num_params * sizeof(float) : 0);
    if (size < 0 || (uint64_t)size != want) {
        char msg[120];
        snprintf(msg, sizeof msg, "size %ld bytes, expected %llu (truncated or corrupt)", size,
                 (unsigned long long)want);
        return fail(err, errlen, f, path, msg);
    }
    if (flags & FLAG_MOMENTS) {
        if (fseek(f, HEADER_SIZE, SEEK_SET)) return fail(err, errlen, f, path, strerror(errno));
        s->m = xmalloc(s->num_params * sizeof(float));
        s->v = xmalloc(s->num_params * sizeof(float));
        if (fread(s->m, sizeof(float), s->num_params, f) != s->num_params ||
            fread(s->v, sizeof(float), s->num_params, f) != s->num_params) {
            train_state_free(s);
            return fail(err, errlen, f, path, "read error");
        }
    }
    fclose(f);
    char what[256];
    uint32_t crc = version >= 2 ? state_checksum(h, s) : 0;
    if (crc != load_le32(h + OFF_CHECKSUM)) {
        snprintf(what, sizeof what,
                 "checksum mismatch (header %08x, contents %08x): the file is corrupt",
                 load_le32(h + OFF_CHECKSUM), crc);
        train_state_free(s);
        return fail(err, errlen, NULL, path, what);
    }
    /* moments that diverged would make every later step NaN: refused, not resumed from */
    for (int k = 0; s->m && k < 2; k++) {
        char bad[96];
        if (modelfile_check_values(&s->config, k ? s->v : s->m, k, bad, sizeof bad)) {
            snprintf(what, sizeof what, "%s of %s: the file is corrupt or its training diverged",
                     k ? "v" : "m", bad);
            train_state_free(s);
            return fail(err, errlen, NULL, path, what);
        }
    }
    return 0;
}

void train_state_free(TrainState *s) {
    free(s->m);
    free(s->v);
    s->m = s->v = NULL;
}
