/* gpt2-eval: HellaSwag accuracy and validation loss of model checkpoints, one result line
 * per (checkpoint, task); with --log, only what the log lacks, so cron can run it. */
#include <getopt.h>
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/cli.h"
#include "base/util.h"
#include "eval/evallog.h"
#include "eval/hellaswag.h"
#include "eval/valloss.h"
#include "model/backend_cpu.h"
#include "model/device.h"
#include "model/modelfile.h"
#include "train/rundir.h"

static const char usage[] =
    "Usage: gpt2-eval [OPTION]... -m MODEL... (--hellaswag FILE | --val SHARDS)...\n"
    "Evaluate model checkpoints on HellaSwag and/or validation loss and print one TSV\n"
    "line per checkpoint and task (with --log: append to the log what it lacks).\n"
    "\n"
    "  -m, --model=PATTERN   model file(s); a glob(3) pattern is expanded (quote it);\n"
    "                        repeatable. Temp files (*.tmp.XXXXXX) and gpt2-train\n"
    "                        checkpoints without their DONE_<step> marker are skipped\n"
    "      --hellaswag=FILE  HellaSwag jsonl (hellaswag_val.jsonl; - for stdin)\n"
    "  -n, --limit=N         only the first N HellaSwag examples (default: all)\n"
    "      --val=SHARDS      validation shards (a glob pattern): mean loss over windows\n"
    "  -w, --windows=N       validation windows to score (default 20; 0: all)\n"
    "  -T, --seq-len=N       validation window length (default: the model's max)\n"
    "  -b, --batch=N         HellaSwag examples (x4 rows) or validation windows per\n"
    "                        forward pass (default 4); on the CPU each HellaSwag\n"
    "                        context is scored once, its endings on its cache\n"
    "  -l, --log=FILE        results log: evaluate only checkpoints and tasks it lacks,\n"
    "                        append a line for each (locked, so cron runs can overlap)\n"
    "      --no-wait         if another gpt2-eval holds the log, exit 0 at once\n"
    "      --device=DEV      auto (default: CUDA when built with it and a GPU is\n"
    "                        present, else CPU), cpu or cuda (-d, the old spelling,\n"
    "                        still works)\n"
    "      --dtype=T         bf16 (default: bf16 weights on the CPU, bf16 compute on\n"
    "                        CUDA; fp32 sums) or fp32\n"
    "      --fp32            the same as --dtype=fp32\n"
    "  -v, --verbose         per-example HellaSwag lines on stderr: index, ind, label,\n"
    "                        prediction (sum, mean), 4 summed and 4 mean losses (in\n"
    "                        batch order: examples are grouped by length when -b > 1)\n"
    "      --progress        show progress even when stderr is not a terminal\n"
    "      --no-progress     never show progress\n"
    "  -h, --help            show this help and exit\n"
    "  -V, --version         show the version and exit\n"
    "\n"
    "Exit status: 0 done (or nothing to do), 1 an error, 2 a usage error.\n";

typedef struct {
    const char *hellaswag, *val, *log;
    size_t limit, windows;
    int seq_len, batch, wait, fp32, verbose, progress;
    Device device;
} Options;

/* What a run needs loaded once and shared by every checkpoint. */
typedef struct {
    BPE *bpe;
    HellaSwag hs;
    int hs_loaded;
    ValSet vs;
    int vs_loaded;
} Data;

static const char *const task_names[] = {"hellaswag", "val"};
enum { TASK_HELLASWAG, TASK_VAL, NUM_TASKS };

/* A pattern that matches nothing while its directory part, read as a plain name, is a
 * directory: the [ ] * ? in that name were taken as pattern characters (cron would
 * otherwise find nothing, quietly, for ever). */
static void warn_literal_dir(const char *pattern) {
    const char *slash = strrchr(pattern, '/');
    if (!slash) return;
    char *dir = xasprintf("%.*s", (int)(slash - pattern), pattern);
    struct stat st;
    if (strpbrk(dir, "*?[") && !stat(dir, &st) && S_ISDIR(st.st_mode))
        warn("%s matches nothing, but the directory %s exists: its [ ] * ? are pattern "
             "characters (escape them with \\)",
             pattern, dir);
    free(dir);
}

static void list_free(char **list, size_t n) {
    for (size_t i = 0; i < n; i++) free(list[i]);
    free(list);
}

/* Expands the patterns (each one's matches sorted) into the complete checkpoints, without
 * repeats. A plain path that does not exist is an error; a pattern matching nothing is not
 * (cron may run before the first checkpoint). quiet: a second listing, whose warnings the
 * first gave. */
static char **list_checkpoints(char **patterns, int np, int quiet, size_t *n) {
    char **out = NULL;
    *n = 0;
    for (int i = 0; i < np; i++) {
        glob_t g;
        int rc = glob_paths(patterns[i], 0, &g);
        if (rc == GLOB_NOMATCH && !strpbrk(patterns[i], "*?["))
            die("%s: no such file", patterns[i]);
        if (rc == GLOB_NOMATCH && !quiet) warn_literal_dir(patterns[i]);
        if (rc && rc != GLOB_NOMATCH) die("%s: glob failed", patterns[i]);
        for (size_t k = 0; rc == 0 && k < g.gl_pathc; k++) {
            const char *p = g.gl_pathv[k];
            if (!rundir_model_complete(p)) continue;
            if (strpbrk(p, "\t\n")) {
                if (!quiet) warn("%s: skipped: tab or newline in the name", p);
                continue;
            }
            int dup = 0;
            for (size_t j = 0; j < *n && !dup; j++) dup = !strcmp(out[j], p);
            if (dup) continue;
            out = xrealloc(out, (*n + 1) * sizeof *out);
            out[(*n)++] = xstrdup(p);
        }
        globfree(&g);
    }
    return out;
}

static void eval_hellaswag(Backend *be, const HellaSwag *hs, const Options *o, EvalRecord *r) {
    size_t per = (size_t)be->B / HELLASWAG_ENDINGS, correct = 0, correct_norm = 0;
    HellaSwagScore *s = xmalloc(per * sizeof *s);
    Progress p;
    progress_init(&p, o->progress);
    for (size_t e = 0; e < hs->n; e += per) {
        size_t count = hs->n - e < per ? hs->n - e : per;
        hellaswag_score(be, hs, e, count, s);
        for (size_t k = 0; k < count; k++) {
            const HellaSwagExample *ex = &hs->ex[e + k];
            correct += s[k].pred == ex->label;
            correct_norm += s[k].pred_norm == ex->label;
            if (o->verbose)
                fprintf(stderr,
                        "%zu\t%ld\t%d\t%d\t%d\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\n",
                        ex->index, ex->ind, ex->label, s[k].pred, s[k].pred_norm, s[k].sum[0],
                        s[k].sum[1], s[k].sum[2], s[k].sum[3], s[k].mean[0], s[k].mean[1],
                        s[k].mean[2], s[k].mean[3]);
        }
        progress_update(&p, "hellaswag %zu/%zu acc_norm %.4f", e + count, hs->n,
                        (double)correct_norm / (double)(e + count));
    }
    progress_done(&p);
    free(s);
    r->acc = (double)correct / (double)hs->n;
    r->acc_norm = (double)correct_norm / (double)hs->n;
    r->examples = (long long)hs->n;
}

static void load_hellaswag(Data *d, const Options *o) {
    char err[512];
    if (d->hs_loaded) return;
    d->bpe = bpe_load_gpt2();
    if (hellaswag_load(&d->hs, o->hellaswag, d->bpe, o->limit, err, sizeof err)) die("%s", err);
    /* neighbours of similar length pad little when several share a forward */
    if (o->batch > 1) hellaswag_sort(&d->hs);
    d->hs_loaded = 1;
}

/* Loads what the pending tasks need, the first time they need it. */
static void load_data(Data *d, const int *tasks, const GPT2Config *cfg, const Options *o) {
    char err[512];
    if (tasks[TASK_HELLASWAG]) load_hellaswag(d, o);
    if (tasks[TASK_VAL] && !d->vs_loaded) {
        int T = o->seq_len ? o->seq_len : cfg->max_seq_len;
        if (valset_load(&d->vs, o->val, T, o->windows, err, sizeof err)) die("%s", err);
        d->vs_loaded = 1;
    }
}

/* Whether a listed checkpoint is gone: gpt2-train -k prunes a set marker first, then its
 * state, then its model, possibly while a run is busy with the checkpoints before it. */
static int pruned(const char *path, const Options *o) {
    struct stat st;
    int gone = !rundir_model_complete(path) || (lstat(path, &st) && errno == ENOENT);
    if (gone && o->verbose) warn("%s: removed since it was listed; skipped", path);
    return gone;
}

/* Evaluates the pending tasks of one checkpoint; 0 (also for one pruned meanwhile), or -1
 * after a message. */
static int eval_checkpoint(const char *path, long long checksum, const int *tasks, Data *d,
                           const Options *o, EvalLog *log) {
    char err[512];
    /* the state before the model, as pruning goes: tokens read here belong to a model that
     * then loads, and a state gone already means the marker went first */
    RunDirCheckpoint info;
    rundir_describe(path, &info);
    if (pruned(path, o)) return 0;
    InferModel im = {
        .device = o->device, .dtype = o->fp32 ? GENERATE_FP32 : GENERATE_BF16, .fp32 = o->fp32};
    if (infer_load(&im, path, err, sizeof err)) {
        if (pruned(path, o)) return 0;
        warn("%s", err);
        return -1;
    }
    const GPT2Config *cfg = infer_config(&im);
    load_data(d, tasks, cfg, o);
    if (tasks[TASK_HELLASWAG] && cfg->vocab_size < bpe_vocab_size(d->bpe)) {
        warn("%s: HellaSwag is tokenized with GPT-2's %d tokens, the model knows %d", path,
             bpe_vocab_size(d->bpe), cfg->vocab_size);
        infer_free(&im);
        return -1;
    }
    if (tasks[TASK_VAL] && d->vs.max_id >= cfg->vocab_size) {
        warn("%s: the validation shards hold token %d (%s), outside the model's %d tokens", path,
             d->vs.max_id, d->vs.max_where, cfg->vocab_size);
        infer_free(&im);
        return -1;
    }
    if (tasks[TASK_VAL] && d->vs.T > cfg->max_seq_len) {
        warn("%s: windows of %d tokens exceed the model's %d (use --seq-len)", path, d->vs.T,
             cfg->max_seq_len);
        infer_free(&im);
        return -1;
    }
    int B = 1, T = 1;
    if (tasks[TASK_HELLASWAG]) {
        B = o->batch * HELLASWAG_ENDINGS;
        T = d->hs.max_len - 1 < cfg->max_seq_len ? d->hs.max_len - 1 : cfg->max_seq_len;
    }
    if (tasks[TASK_VAL]) {
        if (o->batch > B) B = o->batch;
        if (d->vs.T > T) T = d->vs.T;
    }
    if (T < 1) T = 1;
    Backend *be = infer_open(&im, B, T);
    if (o->verbose && o->device == DEVICE_AUTO && !strcmp(be->name, "cpu"))
        warn("--device auto: using the CPU");
    for (int t = 0; t < NUM_TASKS; t++) {
        if (!tasks[t]) continue;
        EvalRecord r = {.checkpoint = path,
                        .step = info.step,
                        .tokens = info.tokens,
                        .task = task_names[t],
                        .acc = NAN,
                        .acc_norm = NAN,
                        .loss = NAN,
                        .checksum = checksum};
        double t0 = now_seconds();
        if (t == TASK_HELLASWAG) {
            eval_hellaswag(be, &d->hs, o, &r);
        } else {
            r.loss = valset_loss(be, &d->vs, o->batch);
            r.examples = (long long)d->vs.n;
        }
        r.seconds = now_seconds() - t0;
        r.timestamp = (long long)time(NULL);
        if (log) {
            evallog_append(log, &r);
        } else {
            char *line = evallog_format(&r, EVALLOG_VERSION);
            xfwrite(line, strlen(line), stdout, "stdout");
            xfflush(stdout, "stdout");
            free(line);
        }
    }
    be->free(be);
    return 0;
}

int main(int argc, char **argv) {
    util_init("gpt2-eval");
    enum {
        OPT_HELLASWAG = 256,
        OPT_VAL,
        OPT_NO_WAIT,
        OPT_FP32,
        OPT_DTYPE,
        OPT_PROGRESS,
        OPT_NO_PROGRESS
    };
    static const struct option longopts[] = {{"model", required_argument, 0, 'm'},
                                             {"hellaswag", required_argument, 0, OPT_HELLASWAG},
                                             {"limit", required_argument, 0, 'n'},
                                             {"val", required_argument, 0, OPT_VAL},
                                             {"windows", required_argument, 0, 'w'},
                                             {"seq-len", required_argument, 0, 'T'},
                                             {"batch", required_argument, 0, 'b'},
                                             {"log", required_argument, 0, 'l'},
                                             {"no-wait", no_argument, 0, OPT_NO_WAIT},
                                             {"device", required_argument, 0, 'd'},
                                             {"fp32", no_argument, 0, OPT_FP32},
                                             {"dtype", required_argument, 0, OPT_DTYPE},
                                             {"verbose", no_argument, 0, 'v'},
                                             {"progress", no_argument, 0, OPT_PROGRESS},
                                             {"no-progress", no_argument, 0, OPT_NO_PROGRESS},
                                             {"help", no_argument, 0, 'h'},
                                             {"version", no_argument, 0, 'V'},
                                             {0, 0, 0, 0}};
    Options o = {.windows = 20, .batch = 4, .wait = 1, .progress = -1};
    char **patterns = xmalloc((size_t)argc * sizeof *patterns);
    int np = 0, c;
    while ((c = getopt_long(argc, argv, "m:n:w:T:b:l:d:vhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            patterns[np++] = optarg;
            break;
        case OPT_HELLASWAG:
            o.hellaswag = optarg;
            break;
        case 'n':
            o.limit = (size_t)cli_int(optarg, "--limit", 1, 1LL << 40);
            break;
        case OPT_VAL:
            o.val = optarg;
            break;
        case 'w':
            o.windows = (size_t)cli_int(optarg, "--windows", 0, 1LL << 40);
            break;
        case 'T':
            o.seq_len = (int)cli_int(optarg, "--seq-len", 1, 1 << 20);
            break;
        case 'b':
            o.batch = (int)cli_int(optarg, "--batch", 1, 4096);
            break;
        case 'l':
            o.log = optarg;
            break;
        case OPT_NO_WAIT:
            o.wait = 0;
            break;
        case 'd':
            o.device = device_parse(optarg);
            break;
        case OPT_FP32:
            o.fp32 = 1;
            break;
        case OPT_DTYPE: {
            GenerateDtype dt;
            if (generate_dtype_parse(optarg, &dt))
                die_usage("--dtype: '%s' is neither bf16 nor fp32", optarg);
            o.fp32 = dt == GENERATE_FP32;
            break;
        }
        case 'v':
            o.verbose = 1;
            break;
        case OPT_PROGRESS:
            o.progress = 1;
            break;
        case OPT_NO_PROGRESS:
            o.progress = 0;
            break;
        default:
            cli_standard_option(c, usage);
        }
    }
    if (optind < argc) die_usage("unexpected argument '%s'", argv[optind]);
    if (!np) die_usage("no model given (-m)");
    if (!o.hellaswag && !o.val) die_usage("nothing to evaluate: give --hellaswag and/or --val");
    if (o.log && !strcmp(o.log, "-")) die_usage("--log needs a file, not standard output");

    size_t n;
    char **ckpts = list_checkpoints(patterns, np, 0, &n);
    /* before the first checkpoint of a run (cron started with it), perhaps before its
     * directory: nothing to log, and nothing to fail on */
    if (o.log && !n) {
        if (o.verbose) warn("no complete checkpoint matches yet; nothing done");
        free(patterns);
        return 0;
    }
    EvalLog log, *logp = NULL;
    if (o.log) {
        char err[512];
        int rc = evallog_open(&log, o.log, o.wait, err, sizeof err);
        if (rc < 0) die("%s", err);
        if (rc > 0) {
            if (o.verbose) warn("%s: another gpt2-eval holds the lock; nothing done", o.log);
            list_free(ckpts, n);
            free(patterns);
            return 0;
        }
        logp = &log;
        /* while it waited for the lock, checkpoints may have come (and gone) */
        list_free(ckpts, n);
        ckpts = list_checkpoints(patterns, np, 1, &n);
    }
    if (!logp) fputs(EVALLOG_HEADER, stdout);
    Data d = {0};
    int status = 0;
    /* a logged HellaSwag line is done for this run when it scored as many examples as this
     * run would (reading the file tells); a validation line whatever its window count, as
     * the windows there are depend on the model's context */
    long long wanted[NUM_TASKS] = {0, 0};
    if (logp && o.hellaswag && n) {
        load_hellaswag(&d, &o);
        wanted[TASK_HELLASWAG] = (long long)d.hs.n;
    }
    for (size_t i = 0; i < n; i++) {
        int tasks[NUM_TASKS] = {o.hellaswag != NULL, o.val != NULL}, pending = 0;
        /* a new run written at an evaluated run's paths has other checksums */
        uint32_t crc;
        long long sum = modelfile_checksum(ckpts[i], &crc) ? (long long)crc : -1;
        for (int t = 0; t < NUM_TASKS; t++) {
            if (tasks[t] && logp && evallog_has(logp, ckpts[i], sum, task_names[t], wanted[t]))
                tasks[t] = 0;
            pending += tasks[t];
        }
        if (pending && eval_checkpoint(ckpts[i], sum, tasks, &d, &o, logp)) status = 1;
        free(ckpts[i]);
    }
    free(ckpts);
    free(patterns);
    if (logp) evallog_close(logp);
    if (d.hs_loaded) hellaswag_free(&d.hs);
    if (d.bpe) bpe_free(d.bpe);
    if (d.vs_loaded) valset_free(&d.vs);
    return status;
}
