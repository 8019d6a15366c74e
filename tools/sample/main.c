/* gpt2-sample: continue a prompt with a GPT-2 model, streaming text (or token ids) to
 * stdout as it is generated. Argument parsing and the generation loop; the forward with
 * its key/value cache is the backend's decode (common/model/generate.c on the CPU), the
 * context within the model's window common/sample/window.c, the choice of token
 * common/sample/sampler.c. */
#include "base/cli.h"
#include "base/util.h"
#include "model/backend.h"
#include "model/backend_cpu.h"
#include "model/device.h"
#include "model/kernels/bf16.h"
#include "sample/sampler.h"
#include "sample/window.h"
#include "text/bpe.h"
#include "text/textstream.h"
#include "text/tokens.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: gpt2-sample -m MODEL [OPTION]... [PROMPT_FILE]\n"
    "Continue a prompt with a GPT-2 model and write the text to standard output as it is\n"
    "generated. The prompt is -p TEXT, else PROMPT_FILE, else standard input ('-').\n"
    "\n"
    "  -m, --model FILE        model file: llm.c checkpoint or Hugging Face model.safetensors\n"
    "  -p, --prompt TEXT       the prompt\n"
    "  -n, --length N          tokens to generate per sample (default 256)\n"
    "  -t, --temperature T     softmax temperature (default 1); 0 picks the likeliest (greedy)\n"
    "  -k, --top-k K           sample among the K likeliest tokens only (default 0: all)\n"
    "      --top-p P           sample from the smallest set of likeliest tokens whose\n"
    "                          probability reaches P (default 1: off)\n"
    "  -s, --seed N            random seed (default 1337); the same seed repeats the output\n"
    "      --num-samples N     samples from the same prompt (default 1), separated by a\n"
    "                          line '---' (with --tokens: by <|endoftext|>)\n"
    "      --stop STRING       end a sample where STRING appears (may be repeated)\n"
    "      --ignore-eot        go on after <|endoftext|> instead of ending the sample\n"
    "      --echo              write the prompt before each sample\n"
    "      --tokens            the prompt and the output are token ids, not text\n"
    "      --format F          token id format for --tokens: bin16 (uint16 little-endian)\n"
    "                          or text (decimal ids); default bin16, and text for output\n"
    "                          to a terminal\n"
    "      --no-cache          recompute the whole context for each token (slow; compares\n"
    "                          against the key/value cache)\n"
    "      --device DEV        cpu (default) or cuda (fp32 on the GPU)\n"
    "      --dtype T           CPU weights: bf16 (default; half the memory, fp32 sums)\n"
    "                          or fp32\n"
    "      --stats             timings and tokens/s on standard error\n"
    "  -h, --help              show this help and exit\n"
    "  -V, --version           show the version and exit\n"
    "\n"
    "Threads: OMP_NUM_THREADS (default: all cores).\n";

typedef struct {
    const char *model, *prompt, *prompt_file, *format;
    Device device;
    GenerateDtype dtype;
    const char **stops;
    int nstops, length, top_k, num_samples, ignore_eot, echo, tokens, no_cache, stats;
    float temperature, top_p;
    uint64_t seed;
} Options;

enum {
    OPT_TOP_P = 256,
    OPT_NUM_SAMPLES,
    OPT_STOP,
    OPT_IGNORE_EOT,
    OPT_ECHO,
    OPT_TOKENS,
    OPT_FORMAT,
    OPT_NO_CACHE,
    OPT_STATS,
    OPT_DEVICE,
    OPT_DTYPE
};

static void options_parse(Options *o, int argc, char **argv) {
    static const struct option longs[] = {{"model", required_argument, 0, 'm'},
                                          {"prompt", required_argument, 0, 'p'},
                                          {"length", required_argument, 0, 'n'},
                                          {"temperature", required_argument, 0, 't'},
                                          {"top-k", required_argument, 0, 'k'},
                                          {"top-p", required_argument, 0, OPT_TOP_P},
                                          {"seed", required_argument, 0, 's'},
                                          {"num-samples", required_argument, 0, OPT_NUM_SAMPLES},
                                          {"stop", required_argument, 0, OPT_STOP},
                                          {"ignore-eot", no_argument, 0, OPT_IGNORE_EOT},
                                          {"echo", no_argument, 0, OPT_ECHO},
                                          {"tokens", no_argument, 0, OPT_TOKENS},
                                          {"format", required_argument, 0, OPT_FORMAT},
                                          {"no-cache", no_argument, 0, OPT_NO_CACHE},
                                          {"stats", no_argument, 0, OPT_STATS},
                                          {"device", required_argument, 0, OPT_DEVICE},
                                          {"dtype", required_argument, 0, OPT_DTYPE},
                                          {"help", no_argument, 0, 'h'},
                                          {"version", no_argument, 0, 'V'},
                                          {0, 0, 0, 0}};
    *o = (Options){.length = 256,
                   .num_samples = 1,
                   .temperature = 1,
                   .top_p = 1,
                   .seed = 1337,
                   .device = DEVICE_CPU,
                   .dtype = GENERATE_BF16};
    o->stops = xmalloc(sizeof(char *) * argc);
    int c;
    while ((c = getopt_long(argc, argv, "m:p:n:t:k:s:hV", longs, NULL)) != -1) {
        switch (c) {
        case 'm':
            o->model = optarg;
            break;
        case 'p':
            o->prompt = optarg;
            break;
        case 'n':
            o->length = (int)cli_int(optarg, "--length", 0, 1 << 24);
            break;
        case 't':
            o->temperature = (float)cli_double(optarg, "--temperature", 0, 1e6);
            break;
        case 'k':
            o->top_k = (int)cli_int(optarg, "--top-k", 0, 1 << 30);
            break;
        case OPT_TOP_P:
            o->top_p = (float)cli_double(optarg, "--top-p", 1e-9, 1);
            break;
        case 's':
            o->seed = (uint64_t)cli_int(optarg, "--seed", 0, INT64_MAX);
            break;
        case OPT_NUM_SAMPLES:
            o->num_samples = (int)cli_int(optarg, "--num-samples", 1, 1 << 20);
            break;
        case OPT_STOP:
            if (!*optarg) die_usage("--stop: the string is empty");
            o->stops[o->nstops++] = optarg;
            break;
        case OPT_IGNORE_EOT:
            o->ignore_eot = 1;
            break;
        case OPT_ECHO:
            o->echo = 1;
            break;
        case OPT_TOKENS:
            o->tokens = 1;
            break;
        case OPT_FORMAT:
            if (tokens_format_parse(optarg, &(TokensFormat){0}))
                die_usage("--format: '%s' is neither bin16 nor text", optarg);
            o->format = optarg;
            break;
        case OPT_NO_CACHE:
            o->no_cache = 1;
            break;
        case OPT_STATS:
            o->stats = 1;
            break;
        case OPT_DEVICE:
            /* no auto: a seed's text must not depend on whether the machine has a GPU */
            o->device = device_parse(optarg);
            if (o->device == DEVICE_AUTO)
                die_usage("--device: '%s' is neither cpu nor cuda", optarg);
            break;
        case OPT_DTYPE:
            if (generate_dtype_parse(optarg, &o->dtype))
                die_usage("--dtype: '%s' is neither bf16 nor fp32", optarg);
            break;
        default:
            cli_standard_option(c, usage);
        }
    }
    if (!o->model) die_usage("no model file (-m MODEL)");
    if (optind < argc - 1) die_usage("more than one prompt file");
    if (optind < argc) {
        if (o->prompt) die_usage("both -p and a prompt file");
        o->prompt_file = argv[optind];
    }
    if (o->format && !o->tokens) die_usage("--format goes with --tokens");
    if (o->tokens && o->prompt)
        die_usage("--tokens reads ids from a file or standard input, not -p");
}

/* ---- token ids in and out (the gpt2-tokens(5) stream formats) ---- */

static int *ids_read(const char *path, const char *name, TokensFormat fmt, size_t *n) {
    FILE *f = xfopen(path, "rb");
    TokensReader *r = tokens_reader_init(f, name, fmt);
    size_t cap = 4096, got;
    int *ids = xmalloc(sizeof(int) * cap);
    *n = 0;
    while ((got = tokens_read(r, ids + *n, cap - *n)) > 0)
        if ((*n += got) == cap) ids = xrealloc(ids, sizeof(int) * (cap *= 2));
    tokens_reader_free(r);
    xfclose(f, name);
    return ids;
}

static void id_write(int id, TokensFormat fmt) {
    tokens_write(stdout, "stdout", fmt, &id, 1);
    xfflush(stdout, "stdout");
}

/* --tokens with --stop: an id is written once the text it decodes to cannot become part
 * of a stop string (the TextStream says how much is safe); the ids of the token where a
 * stop string starts, and after it, are dropped. */
typedef struct {
    int *ids;
    size_t *ends; /* the sample's text length after each id */
    int n, cap;
} HeldIds;

static void held_push(HeldIds *h, int id, size_t end) {
    if (h->n == h->cap) {
        h->cap = 2 * h->cap + 16;
        h->ids = xrealloc(h->ids, sizeof *h->ids * h->cap);
        h->ends = xrealloc(h->ends, sizeof *h->ends * h->cap);
    }
    h->ids[h->n] = id, h->ends[h->n++] = end;
}

/* writes the ids whose text ends within the first safe bytes */
static void held_release(HeldIds *h, size_t safe, TokensFormat fmt) {
    int k = 0;
    while (k < h->n && h->ends[k] <= safe) id_write(h->ids[k++], fmt);
    if (!k) return;
    memmove(h->ids, h->ids + k, sizeof *h->ids * (h->n - k));
    memmove(h->ends, h->ends + k, sizeof *h->ends * (h->n - k));
    h->n -= k;
}

static void echo_prompt(const BPE *bpe, const int *ids, int n, int tokens, TokensFormat fmt_out) {
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *b = tokens ? NULL : bpe_token_bytes(bpe, ids[i], &len);
        tokens ? id_write(ids[i], fmt_out) : xfwrite(b, len, stdout, "stdout");
    }
}

/* The prompt's token ids: -p TEXT, else the prompt file or standard input, as text (BPE)
 * or with --tokens as ids; src names it in messages. Never empty. */
static int *prompt_read(const Options *o, const BPE *bpe, TokensFormat fmt_in, const char *src,
                        size_t *n) {
    int *ids = NULL;
    size_t cap = 0;
    *n = 0;
    if (o->tokens) {
        ids = ids_read(o->prompt_file, src, fmt_in, n);
    } else {
        size_t len = o->prompt ? strlen(o->prompt) : 0;
        char *text = o->prompt ? xstrdup(o->prompt)
                               : xread_file(o->prompt_file ? o->prompt_file : "-", &len);
        bpe_encode(bpe, text, len, &ids, n, &cap);
        free(text);
    }
    if (*n == 0)
        die("%s is empty: give a prompt (-p TEXT, a file, standard input; or --tokens with id "
            "50256, <|endoftext|>, to start from nothing)",
            src);
    return ids;
}

int main(int argc, char **argv) {
    util_init("gpt2-sample");
    Options o;
    options_parse(&o, argc, argv);

    /* the prompt first: a bad one is reported before a large model is read */
    BPE *bpe = !o.tokens || o.nstops ? bpe_load_gpt2() : NULL;
    TokensFormat fmt_in = TOKENS_BIN16, fmt_out = is_tty(stdout) ? TOKENS_TEXT : TOKENS_BIN16;
    if (o.format) tokens_format_parse(o.format, &fmt_in), fmt_out = fmt_in;
    const char *src = o.prompt                                      ? "the prompt"
                      : o.prompt_file && strcmp(o.prompt_file, "-") ? o.prompt_file
                                                                    : "standard input";
    size_t n_prompt;
    int *prompt = prompt_read(&o, bpe, fmt_in, src, &n_prompt);

    InferModel im = {.device = o.device, .dtype = o.dtype, .fp32 = 1};
    char err[512];
    if (infer_load(&im, o.model, err, sizeof err)) die("%s", err);
    const GPT2Config *cfg = infer_config(&im);
    int V = cfg->vocab_size, Vp = cfg->padded_vocab_size, maxT = cfg->max_seq_len;
    if (bpe && bpe_vocab_size(bpe) != V)
        die("%s: the model's vocabulary has %d tokens, GPT-2's %d: %s", o.model, V,
            bpe_vocab_size(bpe),
            o.tokens ? "--stop needs GPT-2's, to compare text" : "use --tokens");
    for (size_t i = 0; i < n_prompt; i++)
        if (prompt[i] >= V)
            die("%s: token %zu: id %d is outside the model's vocabulary (0..%d)", src, i, prompt[i],
                V - 1);
    if (n_prompt > (size_t)maxT) {
        warn("the prompt has %zu tokens, the model's context %d: keeping the last %d", n_prompt,
             maxT, maxT);
        memmove(prompt, prompt + n_prompt - maxT, sizeof(int) * maxT);
        n_prompt = maxT;
    }
    int np = (int)n_prompt;

    /* the backend's window: the model's, or less when the whole sample fits */
    int window = np + o.length < maxT ? np + o.length : maxT;
    SampleWindow w;
    window_init(&w, infer_open(&im, 1, window), !o.no_cache);
    Sampler sampler;
    sampler_init(&sampler, V, o.temperature, o.top_k, o.top_p, o.seed);
    TextStream ts;
    textstream_init(&ts, o.tokens ? NULL : stdout, o.stops, o.nstops);
    HeldIds held = {0};
    int *ctx = xmalloc(sizeof(int) * ((size_t)np + o.length + 1));
    memcpy(ctx, prompt, sizeof(int) * np);

    double t0 = now_seconds();
    float *prompt_logits = xmalloc(sizeof(float) * Vp);
    memcpy(prompt_logits, window_logits(&w, ctx, np), sizeof(float) * Vp);
    double t_prompt = now_seconds() - t0, t_gen = 0;
    long generated = 0;

    for (int s = 0; s < o.num_samples; s++) {
        if (s > 0 && !o.tokens) xfwrite("---\n", 4, stdout, "stdout");
        if (o.echo) echo_prompt(bpe, ctx, np, o.tokens, fmt_out);
        t0 = now_seconds();
        const float *logits = prompt_logits;
        window_restart(&w, np);
        int n = np, ended_eot = 0;
        size_t text_len = 0;
        for (int i = 0; i < o.length; i++) {
            int tok = sampler_sample(&sampler, logits);
            generated++;
            if (tok == GPT2_EOT && !o.ignore_eot) {
                ended_eot = 1;
                break;
            }
            ctx[n++] = tok;
            if (o.tokens && !o.nstops) id_write(tok, fmt_out);
            int stop = 0;
            if (bpe) {
                size_t len;
                const char *b = bpe_token_bytes(bpe, tok, &len);
                stop = textstream_write(&ts, b, len);
                if (o.tokens) {
                    held_push(&held, tok, text_len += len);
                    held_release(&held, ts.written, fmt_out);
                }
            }
            if (stop || i + 1 == o.length) break;
            logits = window_logits(&w, ctx, n);
        }
        t_gen += now_seconds() - t0;
        held_release(&held, ts.len, fmt_out); /* all, unless a stop string ended the sample */
        held.n = 0;
        textstream_finish(&ts);
        if (o.tokens && (ended_eot || o.num_samples > 1)) id_write(GPT2_EOT, fmt_out);
        if (!o.tokens && (o.num_samples > 1 || is_tty(stdout))) xfwrite("\n", 1, stdout, "stdout");
    }
    if (o.stats && !strcmp(w.be->name, "cpu"))
        fprintf(stderr, "%s: cpu, %s weights%s%s\n", progname,
                o.dtype == GENERATE_BF16 ? "bf16" : "fp32",
                o.dtype == GENERATE_BF16 ? ", kernels " : "",
                o.dtype == GENERATE_BF16 ? bf16_path_name(bf16_path()) : "");
    if (o.stats)
        fprintf(stderr,
                "%s: prompt %d tokens in %.3f s; generated %ld tokens in %.3f s (%.2f tokens/s)\n",
                progname, np, t_prompt, generated, t_gen, t_gen > 0 ? generated / t_gen : 0.0);

    free(ctx);
    free(prompt);
    free(prompt_logits);
    textstream_free(&ts);
    free(held.ids);
    free(held.ends);
    sampler_free(&sampler);
    w.be->free(w.be);
    window_free(&w);
    free(o.stops);
    if (bpe) bpe_free(bpe);
    return 0;
}
