/* gpt2-train: train a GPT-2 on token shards — argument parsing and the training loop;
 * the model runs behind the Backend interface (backend.h), the data comes from
 * dataloader.h, the run directory from rundir.h. See gpt2-train(1). */
#include "base/cli.h"
#include "base/util.h"
#include "data/dataloader.h"
#include "model/backend.h"
#include "model/device.h"
#include "model/model.h"
#include "model/modelfile.h"
#include "train/dist.h"
#include "train/guard.h"
#include "train/rundir.h"
#include "train/schedule.h"
#include "train/state.h"
#include "train/trainlog.h"

#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "Usage: gpt2-train -i TRAIN_GLOB -o OUT_DIR [options]\n"
    "Train a GPT-2 on token shards; checkpoints and a JSONL log go to OUT_DIR.\n"
    "\n"
    "Data:\n"
    "  -i, --train GLOB        training shards (glob(7) pattern, quote it)\n"
    "  -j, --val GLOB          validation shards (no evaluation without)\n"
    "  -o, --out DIR           output directory (created if needed)\n"
    "  -b, --batch B           micro-batch size in sequences (default 4)\n"
    "  -T, --seq-len T         sequence length (default 1024; -t, llm.c's spelling, too)\n"
    "  -d, --total-batch N     tokens per optimizer step, a multiple of B*T (default 524288)\n"
    "      --no-shuffle        keep shard and window order (default: shuffled per epoch)\n"
    "Model:\n"
    "  -e, --init WHAT         d12 | d24 | d36 | d48 | LAYERS:HEADS:CHANNELS | a model file\n"
    "                          (default d12)\n"
    "      --vocab N           vocabulary of a new model (default 50257)\n"
    "      --max-seq-len N     position table of a new model (default 1024)\n"
    "  -r, --resume            continue from the newest complete checkpoint in OUT_DIR\n"
    "Optimization:\n"
    "  -x, --steps N           optimizer steps (default 19073)\n"
    "      --stop-at N         end after step N with a checkpoint, as SIGINT would; the\n"
    "                          schedule still runs to --steps (run in slices)\n"
    "  -l, --lr LR             peak learning rate (default 6e-4)\n"
    "  -u, --warmup N          linear warmup steps (default 715)\n"
    "  -q, --final-lr-frac F   cosine decay ends at LR*F (default 0.1)\n"
    "  -c, --weight-decay W    AdamW weight decay on 2-D weights (default 0.1)\n"
    "      --beta1 B1          (default 0.9)\n"
    "      --beta2 B2          (default 0.95)\n"
    "      --eps E             (default 1e-8)\n"
    "      --grad-clip G       clip the global gradient norm to G, 0 = off (default 1.0)\n"
    "      --skip-z Z          skip a step whose loss or gradient norm is more than Z\n"
    "                          standard deviations above its running mean (default 0 = off)\n"
    "      --max-bad-steps N   stop with exit 1 after N skipped steps in a row, 0 = never\n"
    "                          (default 10); a step with a NaN or infinity is always skipped\n"
    "  -s, --seed N            seed of init and data order (default 1337)\n"
    "Evaluation and checkpoints:\n"
    "  -v, --val-every N       validation loss every N steps (default 250)\n"
    "  -m, --val-batches M     on M batches (default 20)\n"
    "  -n, --checkpoint-every N  checkpoint every N steps (default 5000; 0 = only at the end)\n"
    "  -k, --keep K            keep the newest K checkpoints (default 0 = all)\n"
    "Running:\n"
    "      --device DEV        auto | cpu | cuda (default auto: cuda when available)\n"
    "      --threads N         CPU threads (default: all)\n"
    "      --progress, --no-progress  progress line on stderr (default: when a TTY)\n"
    "Several processes (mpirun -np N gpt2-train ..., see gpt2-train(1)):\n"
    "      --zero N            1: shard the optimizer state over the ranks (ZeRO-1), 0: not\n"
    "                          (default 1)\n"
    "      --dp-timeout S      give up when the other ranks do not answer for S seconds\n"
    "                          (default 300)\n"
    "  -h, --help, -V, --version\n";

typedef struct {
    const char *train, *val, *out, *init;
    Device device;
    int B, T, vocab, max_seq_len, steps, warmup, val_every, val_batches, ckpt_every, keep;
    int resume, shuffle, threads, progress, stop_at, zero, max_bad;
    uint64_t total_batch, seed;
    double lr, final_frac, dp_timeout, skip_z;
    AdamWConfig opt;
    int explicit_init, explicit_vocab, explicit_max_seq_len, explicit_seed, explicit_shuffle;
} Options;

static void parse_args(Options *o, int argc, char **argv) {
    enum {
        OPT_VOCAB = 256,
        OPT_MAXT,
        OPT_B1,
        OPT_B2,
        OPT_EPS,
        OPT_CLIP,
        OPT_DEVICE,
        OPT_THREADS,
        OPT_PROGRESS,
        OPT_NO_PROGRESS,
        OPT_NO_SHUFFLE,
        OPT_STOP_AT,
        OPT_ZERO,
        OPT_DP_TIMEOUT,
        OPT_SKIP_Z,
        OPT_MAX_BAD
    };
    static const struct option longopts[] = {{"train", 1, 0, 'i'},
                                             {"val", 1, 0, 'j'},
                                             {"out", 1, 0, 'o'},
                                             {"batch", 1, 0, 'b'},
                                             {"seq-len", 1, 0, 'T'},
                                             {"total-batch", 1, 0, 'd'},
                                             {"init", 1, 0, 'e'},
                                             {"vocab", 1, 0, OPT_VOCAB},
                                             {"max-seq-len", 1, 0, OPT_MAXT},
                                             {"resume", 0, 0, 'r'},
                                             {"steps", 1, 0, 'x'},
                                             {"lr", 1, 0, 'l'},
                                             {"warmup", 1, 0, 'u'},
                                             {"final-lr-frac", 1, 0, 'q'},
                                             {"weight-decay", 1, 0, 'c'},
                                             {"beta1", 1, 0, OPT_B1},
                                             {"beta2", 1, 0, OPT_B2},
                                             {"eps", 1, 0, OPT_EPS},
                                             {"grad-clip", 1, 0, OPT_CLIP},
                                             {"seed", 1, 0, 's'},
                                             {"val-every", 1, 0, 'v'},
                                             {"val-batches", 1, 0, 'm'},
                                             {"checkpoint-every", 1, 0, 'n'},
                                             {"keep", 1, 0, 'k'},
                                             {"device", 1, 0, OPT_DEVICE},
                                             {"threads", 1, 0, OPT_THREADS},
                                             {"progress", 0, 0, OPT_PROGRESS},
                                             {"no-progress", 0, 0, OPT_NO_PROGRESS},
                                             {"no-shuffle", 0, 0, OPT_NO_SHUFFLE},
                                             {"stop-at", 1, 0, OPT_STOP_AT},
                                             {"zero", 1, 0, OPT_ZERO},
                                             {"dp-timeout", 1, 0, OPT_DP_TIMEOUT},
                                             {"skip-z", 1, 0, OPT_SKIP_Z},
                                             {"max-bad-steps", 1, 0, OPT_MAX_BAD},
                                             {"help", 0, 0, 'h'},
                                             {"version", 0, 0, 'V'},
                                             {0, 0, 0, 0}};
    *o = (Options){
        .B = 4,
        .init = "d12",
        .T = 1024,
        .vocab = 50257,
        .max_seq_len = 1024,
        .steps = 19073,
        .warmup = 715,
        .val_every = 250,
        .val_batches = 20,
        .ckpt_every = 5000,
        .shuffle = 1,
        .progress = -1,
        .zero = -1,
        .dp_timeout = 300,
        .max_bad = 10,
        .total_batch = 524288,
        .seed = 1337,
        .lr = 6e-4,
        .final_frac = 0.1,
        .opt = {
            .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 1.0f}};
    int c;
    while ((c = getopt_long(argc, argv, "i:j:o:b:T:t:d:e:rx:l:u:q:c:s:v:m:n:k:hV", longopts,
                            NULL)) != -1) {
        switch (c) {
        case 'i':
            o->train = optarg;
            break;
        case 'j':
            o->val = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'b':
            o->B = (int)cli_int(optarg, "--batch", 1, 1 << 20);
            break;
        case 'T':
        case 't':
            o->T = (int)cli_int(optarg, "--seq-len", 1, 1 << 20);
            break;
        case 'd':
            o->total_batch = cli_size(optarg, "--total-batch");
            break;
        case 'e':
            o->init = optarg, o->explicit_init = 1;
            break;
        case OPT_VOCAB:
            o->vocab = (int)cli_int(optarg, "--vocab", 1, 1 << 24), o->explicit_vocab = 1;
            break;
        case OPT_MAXT:
            o->max_seq_len = (int)cli_int(optarg, "--max-seq-len", 1, 1 << 20);
            o->explicit_max_seq_len = 1;
            break;
        case 'r':
            o->resume = 1;
            break;
        case 'x':
            o->steps = (int)cli_int(optarg, "--steps", 0, 1 << 30);
            break;
        case 'l':
            o->lr = cli_double(optarg, "--lr", 0, 10);
            break;
        case 'u':
            o->warmup = (int)cli_int(optarg, "--warmup", 0, 1 << 30);
            break;
        case 'q':
            o->final_frac = cli_double(optarg, "--final-lr-frac", 0, 1);
            break;
        case 'c':
            o->opt.weight_decay = (float)cli_double(optarg, "--weight-decay", 0, 10);
            break;
        case OPT_B1:
            o->opt.beta1 = (float)cli_double(optarg, "--beta1", 0, 0.999999);
            break;
        case OPT_B2:
            o->opt.beta2 = (float)cli_double(optarg, "--beta2", 0, 0.999999);
            break;
        case OPT_EPS:
            o->opt.eps = (float)cli_double(optarg, "--eps", 1e-30, 1);
            break;
        case OPT_CLIP:
            o->opt.grad_clip = (float)cli_double(optarg, "--grad-clip", 0, 1e30);
            break;
        case 's':
            o->seed = (uint64_t)cli_int(optarg, "--seed", 0, INT64_MAX), o->explicit_seed = 1;
            break;
        case 'v':
            o->val_every = (int)cli_int(optarg, "--val-every", 1, 1 << 30);
            break;
        case 'm':
            o->val_batches = (int)cli_int(optarg, "--val-batches", 1, 1 << 30);
            break;
        case 'n':
            o->ckpt_every = (int)cli_int(optarg, "--checkpoint-every", 0, 1 << 30);
            break;
        case 'k':
            o->keep = (int)cli_int(optarg, "--keep", 0, 1 << 30);
            break;
        case OPT_DEVICE:
            o->device = device_parse(optarg);
            break;
        case OPT_THREADS:
            o->threads = (int)cli_int(optarg, "--threads", 1, 4096);
            break;
        case OPT_PROGRESS:
            o->progress = 1;
            break;
        case OPT_NO_PROGRESS:
            o->progress = 0;
            break;
        case OPT_NO_SHUFFLE:
            o->shuffle = 0, o->explicit_shuffle = 1;
            break;
        case OPT_STOP_AT:
            o->stop_at = (int)cli_int(optarg, "--stop-at", 1, 1 << 30);
            break;
        case OPT_ZERO:
            o->zero = (int)cli_int(optarg, "--zero", 0, 1);
            break;
        case OPT_DP_TIMEOUT:
            o->dp_timeout = cli_double(optarg, "--dp-timeout", 0.001, 1e9);
            break;
        case OPT_SKIP_Z:
            o->skip_z = cli_double(optarg, "--skip-z", 0, 1e9);
            break;
        case OPT_MAX_BAD:
            o->max_bad = (int)cli_int(optarg, "--max-bad-steps", 0, 1 << 30);
            break;
        default:
            cli_standard_option(c, usage);
        }
    }
    if (optind < argc)
        die_usage("unexpected argument '%s' (quote glob patterns so the shell leaves them: "
                  "-i 'dir/*_train_*.bin')",
                  argv[optind]);
    if (!o->train) die_usage("-i TRAIN_GLOB is required");
    if (!o->out) die_usage("-o OUT_DIR is required");
    if (o->resume && o->explicit_init && file_exists(o->init))
        die_usage("--resume continues from OUT_DIR; it cannot start from the file %s", o->init);
}

/* Stop requests: the first SIGINT/SIGTERM ends the run at the next micro-batch (the
 * step in progress is dropped, the one before it checkpointed); a second one gets the
 * default handling (util's temp-file cleanup). */
static volatile sig_atomic_t stop_signal;
static struct sigaction prev_int, prev_term;

static void on_stop(int sig) {
    if (stop_signal) {
        sigaction(SIGINT, &prev_int, NULL);
        sigaction(SIGTERM, &prev_term, NULL);
        raise(sig);
        return;
    }
    stop_signal = sig;
}

/* A signal ignored on entry (nohup, `cmd &` in a script) stays ignored. */
static void catch_stop_signals(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, NULL, &prev_int);
    sigaction(SIGTERM, NULL, &prev_term);
    if (prev_int.sa_handler != SIG_IGN) sigaction(SIGINT, &sa, NULL);
    if (prev_term.sa_handler != SIG_IGN) sigaction(SIGTERM, &sa, NULL);
}

/* A config from a name (d12...) or LAYERS:HEADS:CHANNELS, with the vocabulary and
 * position table of the flags; -1 if spec is neither. */
static int parse_config(const char *spec, const Options *o, GPT2Config *cfg) {
    int L, NH, C, n = 0;
    if (sscanf(spec, "%d:%d:%d%n", &L, &NH, &C, &n) == 3 && !spec[n])
        *cfg = gpt2_config_make(o->max_seq_len, o->vocab, L, NH, C);
    else if (gpt2_config_by_name(spec, o->max_seq_len, cfg))
        return -1;
    else
        *cfg = gpt2_config_make(o->max_seq_len, o->vocab, cfg->num_layers, cfg->num_heads,
                                cfg->channels);
    return 0;
}

/* The model to start from: a model file, or a new one initialised from the seed.
 * Returns 0, or -1 with err. A config that is not one is a usage error (exit 2); a
 * name with a '/' or a '.' was meant as a file, so its absence is a runtime one. */
static int init_model(GPT2 *m, const Options *o, char *err, size_t errlen) {
    if (file_exists(o->init)) return modelfile_load(m, o->init, err, errlen);
    int missing = errno;
    GPT2Config cfg;
    if (parse_config(o->init, o, &cfg)) {
        if (strpbrk(o->init, "/.")) {
            snprintf(err, errlen, "--init %s: %s", o->init, strerror(missing));
            return -1;
        }
        die_usage("--init %s: neither a model file nor a config (d12, d24, d36, d48, "
                  "LAYERS:HEADS:CHANNELS)",
                  o->init);
    }
    const char *bad = gpt2_config_check(&cfg);
    if (bad) die_usage("--init %s: %s", o->init, bad);
    gpt2_create(m, &cfg);
    gpt2_init_params(m->params_memory, &cfg, o->seed);
    return 0;
}

static int same_config(const GPT2Config *a, const GPT2Config *b) {
    return a->max_seq_len == b->max_seq_len && a->vocab_size == b->vocab_size &&
           a->padded_vocab_size == b->padded_vocab_size && a->num_layers == b->num_layers &&
           a->num_heads == b->num_heads && a->channels == b->channels;
}

/* A loaded model must agree with the flags that describe a model. */
static void check_config(const GPT2Config *got, const char *what, const Options *o) {
    if (o->explicit_vocab && got->vocab_size != o->vocab)
        die("%s has vocabulary %d, but --vocab %d was given", what, got->vocab_size, o->vocab);
    if (o->explicit_max_seq_len && got->max_seq_len != o->max_seq_len)
        die("%s has max sequence length %d, but --max-seq-len %d was given", what, got->max_seq_len,
            o->max_seq_len);
    if (o->T > got->max_seq_len)
        die("-t %d is above the model's maximum sequence length %d", o->T, got->max_seq_len);
}

/* Ends the run with exit 1 for why, naming the checkpoint to continue from: rank 0 says
 * it, the others leave quietly. */
static void stop_bad(const Dist *d, const Options *o, uint64_t step, const char *why) {
    if (d->rank) exit(1);
    int64_t good = rundir_latest_checkpoint(o->out);
    if (good < 0)
        die("step %llu: %s; no checkpoint was written: start again", (unsigned long long)step, why);
    char *path = rundir_path(o->out, RUNDIR_MODEL, (uint64_t)good);
    die("step %llu: %s; the newest good checkpoint is %s: continue from it with --resume "
        "(perhaps with a lower --lr or with --skip-z)",
        (unsigned long long)step, why, path);
}

/* What is not finite in a state about to be written (parameters, then moments): 0, or -1
 * with it named in what. */
static int state_not_finite(const GPT2 *host, const TrainState *st, char *what, size_t len) {
    const float *arrays[] = {host->params_memory, st->m, st->v};
    static const char *const names[] = {"parameter", "AdamW moment m", "AdamW moment v"};
    char bad[128];
    for (int i = 0; i < 3; i++)
        if (arrays[i] &&
            modelfile_check_values(&host->config, arrays[i], i == 2, bad, sizeof bad)) {
            snprintf(what, len, "%s %s: no checkpoint written, none pruned", names[i], bad);
            return -1;
        }
    return 0;
}

/* Every rank takes part (the moments of ZeRO-1 are gathered); rank 0 writes, and only a
 * finite state: a checkpoint the loaders refuse would take the place of a good one. */
static void save_checkpoint(Dist *d, Backend *be, const Options *o, const DataLoader *train,
                            uint64_t step, uint64_t tokens) {
    GPT2 host;
    gpt2_create(&host, &be->config);
    TrainState st = {.config = be->config,
                     .T = o->T,
                     .step = step,
                     .seed = o->seed,
                     .order = o->shuffle ? TRAIN_ORDER_SHUFFLED : TRAIN_ORDER_FILE,
                     .data = train->pos,
                     .tokens = tokens,
                     .num_shards = train->num_shards,
                     .num_windows = train->total_windows,
                     .num_params = host.num_params};
    if (step > 0 && d->rank == 0) {
        st.m = xmalloc(host.num_params * sizeof(float));
        st.v = xmalloc(host.num_params * sizeof(float));
    }
    dist_get_state(d, be, host.params_memory, st.m, st.v, step > 0);
    char what[192];
    if (dist_max(d, d->rank == 0 && state_not_finite(&host, &st, what, sizeof what)))
        stop_bad(d, o, step, what);
    if (d->rank == 0) {
        rundir_save_checkpoint(o->out, &host, &st);
        rundir_prune(o->out, o->keep);
    }
    dist_barrier(d); /* no rank goes on (or ends) before the checkpoint is complete */
    train_state_free(&st);
    gpt2_free(&host);
}

/* Where a run starts: the newest complete checkpoint in OUT_DIR (--resume, which also
 * fills st) or --init. Returns the name the model came from, for messages. */
static char *load_start(Options *o, GPT2 *host, TrainState *st) {
    char err[512];
    int64_t latest = rundir_latest_checkpoint(o->out);
    if (o->resume && latest < 0) die("%s: no complete checkpoint to resume from", o->out);
    if (!o->resume && latest >= 0)
        die("%s already holds checkpoint %lld: use --resume to continue, or another -o", o->out,
            (long long)latest);
    if (!o->resume) {
        if (init_model(host, o, err, sizeof err)) die("%s", err);
        return xstrdup(o->init);
    }
    char *what = rundir_path(o->out, RUNDIR_MODEL, (uint64_t)latest);
    if (modelfile_load(host, what, err, sizeof err)) die("%s", err);
    char *state_path = rundir_path(o->out, RUNDIR_STATE, (uint64_t)latest);
    if (train_state_load(st, state_path, err, sizeof err)) die("%s", err);
    if (!same_config(&st->config, &host->config) || st->step != (uint64_t)latest)
        die("%s does not belong to %s", state_path, what);
    GPT2Config want;
    if (o->explicit_init && parse_config(o->init, o, &want))
        die_usage("--init %s: not a config name", o->init);
    if (o->explicit_init &&
        (want.num_layers != host->config.num_layers || want.num_heads != host->config.num_heads ||
         want.channels != host->config.channels))
        die("%s is %d:%d:%d (layers:heads:channels), but --init %s was given", what,
            host->config.num_layers, host->config.num_heads, host->config.channels, o->init);
    if (st->T != o->T)
        die("%s was trained with -t %d; resume with the same sequence length", state_path, st->T);
    /* the data order belongs to the run (a state of an older build has no order: the
     * command line's stands) */
    if (o->explicit_seed && o->seed != st->seed)
        warn("-s %llu ignored: the run continues with its seed %llu", (unsigned long long)o->seed,
             (unsigned long long)st->seed);
    o->seed = st->seed;
    if (st->order != TRAIN_ORDER_UNKNOWN) {
        if (o->explicit_shuffle && st->order == TRAIN_ORDER_SHUFFLED)
            warn("--no-shuffle ignored: the run continues with its shuffled data order");
        o->shuffle = st->order == TRAIN_ORDER_SHUFFLED;
    }
    free(state_path);
    return what;
}

/* The training shards (positioned where a resumed run left off) and the validation
 * shards; returns the batches an evaluation takes (0 without -j). */
static int open_data(const Options *o, int world, int vocab, const TrainState *st,
                     DataLoader *train, DataLoader *val) {
    char err[512];
    if (dataloader_init(train, o->train, o->B, o->T, vocab, o->shuffle, o->seed, err, sizeof err))
        die("%s", err);
    if (world > 1 && train->total_windows < (uint64_t)world * o->B)
        die("%s: %llu windows of %d tokens, fewer than one micro-batch for each of %d ranks "
            "(%d*%d)",
            o->train, (unsigned long long)train->total_windows, o->T + 1, world, world, o->B);
    if (o->resume) {
        if (st->num_shards != train->num_shards || st->num_windows != train->total_windows)
            warn("the training data changed since step %llu (%llu shards, %llu windows then; "
                 "%zu, %llu now): continuing from the same position",
                 (unsigned long long)st->step, (unsigned long long)st->num_shards,
                 (unsigned long long)st->num_windows, train->num_shards,
                 (unsigned long long)train->total_windows);
        if (dataloader_seek(train, st->data, err, sizeof err)) die("%s", err);
    }
    if (!o->val) return 0;
    if (dataloader_init(val, o->val, o->B, o->T, vocab, 0, 0, err, sizeof err)) die("%s", err);
    uint64_t have = val->total_windows / (uint64_t)o->B;
    if (!have)
        die("%s: %llu windows of %d tokens, fewer than one batch (-b %d)", o->val,
            (unsigned long long)val->total_windows, o->T + 1, o->B);
    return have < (uint64_t)o->val_batches ? (int)have : o->val_batches;
}

typedef struct {
    const Options *o;
    Backend *be;
    Dist *dist;
    double *losses; /* this rank's losses of a step's micro-batches or an evaluation's batches */
    int stop;       /* the stop signal all ranks agreed on */
    DataLoader train, val;
    int accum, val_batches;
    TrainLog log; /* open on rank 0 alone */
    Guard guard;
    uint64_t step, tokens; /* optimizer steps done, training tokens consumed */
    int start_evaluated;   /* the log holds the first step's validation line */
    uint64_t start;        /* the step this process began at, and when: for the ETA */
    double started;
    char status[192]; /* the progress line of the last step */
} Run;

/* Time left until -x or --stop-at, whichever comes first, at this run's mean pace so far
 * (evaluations and checkpoints included), as "1h05m", "4m09s" or "37s". */
static void format_eta(char buf[32], const Run *r) {
    uint64_t end = (uint64_t)r->o->steps;
    if (r->o->stop_at && (uint64_t)r->o->stop_at < end) end = (uint64_t)r->o->stop_at;
    double per_step = (now_seconds() - r->started) / (double)(r->step - r->start);
    double left = end > r->step ? per_step * (double)(end - r->step) : 0;
    long s = left < 3.6e8 ? (long)(left + 0.5) : 359999999L; /* a sane width for a stall */
    if (s >= 3600)
        snprintf(buf, 32, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else if (s >= 60)
        snprintf(buf, 32, "%ldm%02lds", s / 60, s % 60);
    else
        snprintf(buf, 32, "%lds", s);
}

/* Whether to stop now: a stop request that any rank got (all ranks ask at the same
 * points, so they stop at the same one). */
static int stopping(Run *r) {
    if (!r->stop) r->stop = dist_max(r->dist, (int)stop_signal);
    return r->stop;
}

/* Test knob (tests/README.md): in the steps listed in GPT2_TEST_PAUSE_STEPS (training) or
 * GPT2_TEST_PAUSE_EVAL_STEPS (the evaluation at that step), the work waits after its first
 * (micro-)batch until a stop signal comes, saying so on stderr: a test stops it there on
 * any machine, however fast. */
static void test_pause(const char *knob, uint64_t step) {
    if (!guard_test_step(knob, step)) return;
    fprintf(stderr, "%s: paused in step %llu (%s)\n", progname, (unsigned long long)step, knob);
    while (!stop_signal) usleep(10000);
}

/* Rank r of a world of W reads windows [(k*W + r)*B, (k*W + r + 1)*B) of the shared order
 * for its k-th batch: batch k*W + r of one process, so that the ranks split the data a
 * single process would read without overlap. */
static void next_batch(DataLoader *dl, const Dist *d, int mine) {
    dataloader_skip(dl, (uint64_t)d->rank * dl->B);
    if (mine) dataloader_next(dl);
    dataloader_skip(dl, (uint64_t)(d->world - 1 - d->rank) * dl->B);
}

/* Mean validation loss over the evaluation's batches from the start of the validation
 * data into loss, the ranks splitting the batches; 0 when a stop request cut it short.
 * A long one shows how far it got. */
static int evaluate(Run *r, Progress *prog, double *loss) {
    DataLoader *val = &r->val;
    const Dist *d = r->dist;
    dataloader_reset(val);
    double t0 = now_seconds();
    int rounds = (r->val_batches + d->world - 1) / d->world;
    for (int j = 0; j < rounds; j++) {
        if (stopping(r)) return 0;
        int mine = j * d->world + d->rank < r->val_batches;
        next_batch(val, d, mine);
        r->losses[j] =
            mine ? r->be->eval_losses(r->be, val->inputs, val->targets, val->B, val->T, NULL) : 0;
        if (j == 0) test_pause("GPT2_TEST_PAUSE_EVAL_STEPS", r->step);
        if (now_seconds() - t0 >= progress_parts_after())
            progress_update(prog, "%s  [validation: %d/%d batches]", r->status,
                            (j + 1) * d->world < r->val_batches ? (j + 1) * d->world
                                                                : r->val_batches,
                            r->val_batches);
    }
    progress_update(prog, "%s", r->status);
    *loss = dist_sum_interleaved(r->dist, r->losses, rounds) / r->val_batches;
    return 1;
}

/* One optimizer step: accum micro-batches, then clip + AdamW; logs it. A stop request
 * drops the step (its gradients are never applied) and puts the data back where it
 * began, so that the checkpoint of the step before resumes exactly. */
static void run_step(Run *r, const Schedule *sched, Progress *prog, double val_loss) {
    const Options *o = r->o;
    double t0 = now_seconds();
    DataPos begin = r->train.pos;
    int world = r->dist->world;
    /* test knobs (tests/README.md): the step's first micro-batch has NaN gradients and
     * loss, or gradients 1000 times too large (a bad batch) */
    int nan_batch = guard_test_step("GPT2_TEST_NAN_STEPS", r->step + 1),
        spike_batch = guard_test_step("GPT2_TEST_SPIKE_STEPS", r->step + 1);
    for (int a = 0; a < r->accum; a++) {
        if (stopping(r)) {
            char err[512];
            if (dataloader_seek(&r->train, begin, err, sizeof err)) die("%s", err);
            return;
        }
        next_batch(&r->train, r->dist, 1);
        if (a == r->accum - 1) dist_last_micro_step(r->dist, r->be);
        float scale = 1.0f / (r->accum * world);
        if (a == 0 && nan_batch) scale = NAN;
        if (a == 0 && spike_batch) scale *= 1e3f;
        r->losses[a] =
            r->be->train_step(r->be, r->train.inputs, r->train.targets, o->B, o->T, scale);
        if (a == 0 && nan_batch) r->losses[a] = NAN;
        if (a == 0) test_pause("GPT2_TEST_PAUSE_STEPS", r->step + 1);
        /* a long step (many micro-batches on a CPU) shows how far it has got */
        if (now_seconds() - t0 >= progress_parts_after())
            progress_update(prog, "%s  [step %llu: %d/%d micro-batches]", r->status,
                            (unsigned long long)r->step + 1, a + 1, r->accum);
    }
    double loss = dist_sum_interleaved(r->dist, r->losses, r->accum) / (r->accum * world);
    AdamWConfig opt = o->opt;
    opt.lr = (float)schedule_lr(sched, (int)r->step);
    GuardVerdict verdict = guard_check_loss(&r->guard, loss);
    opt.skip = verdict != GUARD_APPLIED;
    opt.max_norm = guard_norm_limit(&r->guard);
    float norm = dist_update(r->dist, r->be, &opt, (int)r->step + 1);
    verdict = guard_record(&r->guard, verdict, loss, norm, opt.max_norm);
    r->step++;
    if (guard_test_step("GPT2_TEST_NAN_WEIGHTS_STEPS", r->step) && r->be->param_memory)
        r->be->param_memory(r->be)[0] = NAN; /* test knob: a weight gone bad after the step */
    r->tokens += o->total_batch;
    double ms = (now_seconds() - t0) * 1e3, rate = o->total_batch / ms * 1e3;
    TrainLogStep line = {.step = r->step,
                         .loss = loss,
                         .lr = opt.lr,
                         .grad_norm = norm,
                         .tokens_per_s = rate,
                         .ms = ms};
    if (verdict != GUARD_APPLIED) line.skipped = guard_verdict_name(verdict);
    trainlog_step(&r->log, &line);
    if (verdict != GUARD_APPLIED && r->dist->rank == 0)
        warn("step %llu skipped (%s): loss %g, gradient norm %g", (unsigned long long)r->step,
             guard_verdict_name(verdict), loss, norm);
    if (guard_exhausted(&r->guard)) {
        char why[96];
        snprintf(why, sizeof why, "%d steps in a row skipped (--max-bad-steps)", r->guard.bad);
        stop_bad(r->dist, o, r->step, why);
    }
    char eta[32];
    format_eta(eta, r);
    snprintf(r->status, sizeof r->status,
             "step %llu/%d  loss %.4f  val %.4f  lr %.2e  %.0f tok/s  %.0f ms  eta %s",
             (unsigned long long)r->step, o->steps, loss, val_loss, opt.lr, rate, ms, eta);
    progress_update(prog, "%s", r->status);
}

/* Evaluates, checkpoints and steps until the last step or a stop request. */
static void run_loop(Run *r) {
    const Options *o = r->o;
    Schedule sched = {.max_lr = o->lr,
                      .warmup_steps = o->warmup,
                      .max_steps = o->steps,
                      .final_frac = o->final_frac};
    Progress prog;
    progress_init(&prog, r->dist->rank ? 0 : o->progress);
    uint64_t saved = r->step; /* a new run's step 0 is not worth a checkpoint */
    r->start = r->step, r->started = now_seconds();
    snprintf(r->status, sizeof r->status, "step %llu/%d", (unsigned long long)r->step, o->steps);
    double val_loss = NAN; /* shown as "val nan" until the first evaluation */
    for (;;) {
        int last = r->step >= (uint64_t)o->steps;
        int evaluated = r->step == r->start && r->start_evaluated;
        if (o->val && !evaluated && (r->step % (uint64_t)o->val_every == 0 || last) &&
            evaluate(r, &prog, &val_loss))
            trainlog_val(&r->log, r->step, val_loss, (uint64_t)r->val_batches * o->B * o->T);
        int stop = stopping(r) || (o->stop_at && r->step >= (uint64_t)o->stop_at);
        if (r->step > saved && (last || stop || (o->ckpt_every && r->step % o->ckpt_every == 0))) {
            save_checkpoint(r->dist, r->be, o, &r->train, r->step, r->tokens);
            saved = r->step;
        }
        if (last || stop) break;
        run_step(r, &sched, &prog, val_loss);
    }
    progress_done(&prog);
}

/* The log's start line (rank 0); the saving of ZeRO-1 to standard error. */
static void log_start(Run *r) {
    const Options *o = r->o;
    const Dist *d = r->dist;
    TrainLogStart start = {.step = r->step,
                           .device = r->be->name,
                           .config = r->be->config,
                           .B = o->B,
                           .T = o->T,
                           .accum = r->accum,
                           .steps = o->steps,
                           .seed = o->seed,
                           .ranks = d->world,
                           .zero = d->zero};
    if (d->world > 1) {
        size_t unsharded;
        const char *what = dist_state_bytes(d, &start.moment_bytes, &unsharded);
        if (d->zero && d->rank == 0)
            warn("%d ranks, ZeRO-1: %s of %.1f MiB per rank instead of %.1f MiB", d->world, what,
                 start.moment_bytes / 1048576.0, unsharded / 1048576.0);
    }
    trainlog_start(&r->log, &start);
}

int main(int argc, char **argv) {
    util_init("gpt2-train");
    /* a file size limit (ulimit -f) then fails the write (EFBIG), which is reported and
     * stops the run with its temp files removed, instead of killing it mid-write */
    signal(SIGXFSZ, SIG_IGN);
    Options o;
    parse_args(&o, argc, argv);
    Dist dist;
    dist_init(&dist, o.dp_timeout);
    uint64_t micro = (uint64_t)o.B * o.T * (uint64_t)dist.world;
    if ((o.total_batch % micro || o.total_batch == 0) && dist.world == 1)
        die_usage("--total-batch %llu is not a multiple of B*T = %d*%d = %llu",
                  (unsigned long long)o.total_batch, o.B, o.T, (unsigned long long)micro);
    if (o.total_batch % micro || o.total_batch == 0)
        die_usage("--total-batch %llu is not a multiple of B*T*ranks = %d*%d*%d = %llu",
                  (unsigned long long)o.total_batch, o.B, o.T, dist.world,
                  (unsigned long long)micro);
    if (o.total_batch / micro > INT_MAX)
        die_usage("--total-batch %llu is more than %d micro-batches of B*T = %llu tokens",
                  (unsigned long long)o.total_batch, INT_MAX, (unsigned long long)micro);
    if (o.threads) {
        omp_set_num_threads(o.threads);
        openblas_set_num_threads(o.threads);
    }

    /* Everything that can be wrong with the inputs is found before any work. */
    GPT2 host;
    TrainState st = {0};
    char *what = load_start(&o, &host, &st);
    char *log_path = rundir_log_path(o.out);
    /* a resumed run's first step was evaluated before its checkpoint was written, unless a
     * stop cut that evaluation short */
    int evaluated = o.resume && trainlog_has_val(log_path, st.step);
    /* at -x or --stop-at (e.g. a cron job that reruns the command) only an evaluation of
     * this step that a stop cut short is left to do */
    int at_stop = o.stop_at && st.step >= (uint64_t)o.stop_at,
        at_end = st.step >= (uint64_t)o.steps;
    int eval_due = o.val && !evaluated && (at_end || st.step % (uint64_t)o.val_every == 0);
    if (o.resume && (at_end || at_stop) && !eval_due) {
        warn("%s is at step %llu, %s %d%s reached: nothing to train", what,
             (unsigned long long)st.step, at_end ? "-x" : "--stop-at", at_end ? o.steps : o.stop_at,
             at_end ? " steps" : "");
        train_state_free(&st);
        gpt2_free(&host);
        free(what);
        free(log_path);
        dist_finalize(&dist);
        return 0;
    }
    check_config(&host.config, what, &o);
    Run r = {.o = &o,
             .dist = &dist,
             .accum = (int)(o.total_batch / micro),
             .step = st.step,
             .tokens = st.tokens};
    guard_init(&r.guard, o.skip_z, o.max_bad);
    r.val_batches = open_data(&o, dist.world, host.config.vocab_size, &st, &r.train, &r.val);
    r.losses =
        xcalloc((size_t)(r.accum > r.val_batches ? r.accum : r.val_batches), sizeof *r.losses);
    GPT2 copy; /* host stays for --resume's set_state */
    gpt2_create(&copy, &host.config);
    memcpy(copy.params_memory, host.params_memory, host.num_params * sizeof(float));
    if (o.device != DEVICE_CPU) dist_select_device(&dist);
    r.be = device_open(o.device, &copy, o.B, o.T, 0);
    int zero = o.zero >= 0 ? o.zero : dist.world > 1;
    dist_setup(&dist, r.be, host.num_params, zero);
    if (o.resume) dist_set_state(&dist, r.be, host.params_memory, st.m, st.v);
    train_state_free(&st);
    gpt2_free(&host);

    r.start_evaluated = evaluated;
    if (dist.rank == 0) {
        mkdir_p(o.out);
        rundir_lock(o.out);
        trainlog_open(&r.log, log_path, o.resume);
    }
    catch_stop_signals(); /* before the start line: a stop seen there is one the loop sees */
    log_start(&r);
    run_loop(&r);
    trainlog_close(&r.log);
    r.be->free(r.be);
    free(r.losses);
    dataloader_free(&r.train);
    if (o.val) dataloader_free(&r.val);
    free(log_path);
    free(what);
    int rank = dist.rank;
    dist_finalize(&dist);
    if (r.stop) {
        if (rank == 0)
            warn("stopped by signal %d at step %llu%s", r.stop, (unsigned long long)r.step,
                 r.step > r.start ? "; checkpoint written, continue with --resume"
                 : o.resume       ? "; continue with --resume"
                                  : "");
        return 128 + r.stop;
    }
    return 0;
}
