/* config: GPT-2's shapes, the parameter layout every backend and file format shares,
 * the deterministic init, and the AdamW rules every backend applies alike. */
#include "model/config.h"

#include <math.h>
#include <string.h>

#include "base/rng.h"

const char *const gpt2_param_names[GPT2_NUM_PARAM_TENSORS] = {
    "wte",  "wpe",  "ln1w", "ln1b", "qkvw",    "qkvb",    "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw",  "fcb",  "fcprojw", "fcprojb", "lnfw",     "lnfb"};

GPT2Config gpt2_config_make(int max_seq_len, int vocab_size, int num_layers, int num_heads,
                            int channels) {
    return (GPT2Config){.max_seq_len = max_seq_len,
                        .vocab_size = vocab_size,
                        .padded_vocab_size = (vocab_size + 127) / 128 * 128,
                        .num_layers = num_layers,
                        .num_heads = num_heads,
                        .channels = channels};
}

int gpt2_config_by_name(const char *name, int max_seq_len, GPT2Config *cfg) {
    static const struct {
        const char *name;
        int layers, heads, channels;
    } known[] = {
        {"d12", 12, 12, 768}, {"d24", 24, 16, 1024}, {"d36", 36, 20, 1280}, {"d48", 48, 25, 1600}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(name, known[i].name)) {
            *cfg = gpt2_config_make(max_seq_len, 50257, known[i].layers, known[i].heads,
                                    known[i].channels);
            return 0;
        }
    return -1;
}

/* The bounds keep every size product within 64 bits, so a hostile file header cannot
 * overflow the size arithmetic before its size is compared with the file's. */
const char *gpt2_config_check(const GPT2Config *c) {
    if (c->max_seq_len < 1 || c->max_seq_len > 1 << 20) return "max_seq_len not in 1..1048576";
    if (c->vocab_size < 1 || c->vocab_size > 1 << 24) return "vocab_size not in 1..16777216";
    if (c->padded_vocab_size < c->vocab_size || c->padded_vocab_size > 1 << 24)
        return "padded_vocab_size smaller than vocab_size or above 16777216";
    if (c->num_layers < 1 || c->num_layers > 4096) return "num_layers not in 1..4096";
    if (c->channels < 1 || c->channels > 1 << 16) return "channels not in 1..65536";
    if (c->num_heads < 1 || c->channels % c->num_heads) return "channels not a multiple of heads";
    return NULL;
}

void gpt2_param_sizes(const GPT2Config *cfg, size_t s[GPT2_NUM_PARAM_TENSORS]) {
    size_t L = cfg->num_layers, C = cfg->channels;
    s[0] = (size_t)cfg->padded_vocab_size * C; /* wte */
    s[1] = (size_t)cfg->max_seq_len * C;       /* wpe */
    s[2] = s[3] = L * C;                       /* ln1w, ln1b */
    s[4] = L * 3 * C * C, s[5] = L * 3 * C;    /* qkvw, qkvb */
    s[6] = L * C * C, s[7] = L * C;            /* attprojw, attprojb */
    s[8] = s[9] = L * C;                       /* ln2w, ln2b */
    s[10] = L * 4 * C * C, s[11] = L * 4 * C;  /* fcw, fcb */
    s[12] = L * C * 4 * C, s[13] = L * C;      /* fcprojw, fcprojb */
    s[14] = s[15] = C;                         /* lnfw, lnfb */
}

size_t gpt2_num_params(const GPT2Config *cfg) {
    size_t s[GPT2_NUM_PARAM_TENSORS], n = 0;
    gpt2_param_sizes(cfg, s);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) n += s[i];
    return n;
}

void gpt2_params_point(GPT2Params *p, float *memory, const GPT2Config *cfg) {
    float **ptrs[GPT2_NUM_PARAM_TENSORS] = {&p->wte,     &p->wpe,     &p->ln1w,     &p->ln1b,
                                            &p->qkvw,    &p->qkvb,    &p->attprojw, &p->attprojb,
                                            &p->ln2w,    &p->ln2b,    &p->fcw,      &p->fcb,
                                            &p->fcprojw, &p->fcprojb, &p->lnfw,     &p->lnfb};
    size_t s[GPT2_NUM_PARAM_TENSORS];
    gpt2_param_sizes(cfg, s);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        *ptrs[i] = memory;
        memory += s[i];
    }
}

int gpt2_param_is_matrix(int i) {
    return i == 0 || i == 1 || i == 4 || i == 6 || i == 10 || i == 12;
}

/* Init RNG: splitmix64 (base/rng.h) gives uniform 64-bit words; Box-Muller turns two into a normal.
 * The parameter array is cut into blocks of 2^16 floats and block k draws from its own
 * stream seeded with seed + k * 2^32, so the result does not depend on the thread count. */
#define INIT_BLOCK ((size_t)1 << 16)

/* uniform in (0, 1]: 53 random bits, never 0 so that log() is finite */
static double uniform_nonzero(uint64_t *state) {
    return (double)((rng_next(state) >> 11) + 1) * 0x1.0p-53;
}

static void init_normal(float *out, size_t n, float std, uint64_t seed, size_t first) {
#pragma omp parallel for
    for (size_t blk = first / INIT_BLOCK; blk <= (first + n - 1) / INIT_BLOCK; blk++) {
        uint64_t st = seed + (uint64_t)blk * 0x100000000ull;
        size_t lo = blk * INIT_BLOCK, hi = lo + INIT_BLOCK;
        for (size_t i = lo; i < hi; i += 2) {
            double r = sqrt(-2.0 * log(uniform_nonzero(&st))),
                   a = 2.0 * M_PI * uniform_nonzero(&st);
            if (i >= first && i < first + n) out[i - first] = (float)(std * r * cos(a));
            if (i + 1 >= first && i + 1 < first + n) out[i + 1 - first] = (float)(std * r * sin(a));
        }
    }
}

void gpt2_init_params(float *params, const GPT2Config *cfg, uint64_t seed) {
    size_t s[GPT2_NUM_PARAM_TENSORS], off = 0;
    gpt2_param_sizes(cfg, s);
    float resid_std = 0.02f / sqrtf(2.0f * cfg->num_layers);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        float *p = params + off;
        if (gpt2_param_is_matrix(i))
            init_normal(p, s[i], (i == 6 || i == 12) ? resid_std : 0.02f, seed, off);
        else if (i == 2 || i == 8 || i == 14) /* LayerNorm weights */
            for (size_t j = 0; j < s[i]; j++) p[j] = 1.0f;
        else
            memset(p, 0, s[i] * sizeof(float));
        off += s[i];
    }
    /* padding rows of wte are never used and stay zero */
    size_t C = cfg->channels;
    memset(params + (size_t)cfg->vocab_size * C, 0,
           (size_t)(cfg->padded_vocab_size - cfg->vocab_size) * C * sizeof(float));
}

/* Clipping as torch.nn.utils.clip_grad_norm_: scale by clip / (norm + 1e-6) when below 1. */
float gpt2_clip_scale(float norm, float clip) {
    float coef = clip > 0 ? clip / (norm + 1e-6f) : 1.0f;
    return coef < 1.0f ? coef : 1.0f;
}

int gpt2_update_skipped(const AdamWConfig *opt, float norm) {
    return opt->skip || !isfinite(norm) || (opt->max_norm > 0 && norm > opt->max_norm);
}
