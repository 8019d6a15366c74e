/* gpt2-tokenize: text (or JSONL, or NUL-separated documents) to GPT-2 token ids, and
 * back with -d. Input is read in chunks cut where the pre-tokenizer cannot see across
 * (bpe_split_point), a batch of chunks is encoded in parallel, and the results are
 * written in input order, so the output never depends on -j and memory stays bounded. */
#include "base/cli.h"
#include "base/util.h"
#include "text/bpe.h"
#include "text/tokens.h"

#include <getopt.h>
#include <jansson.h>
#include <omp.h>
#include <string.h>

static const char usage[] =
    "Usage: gpt2-tokenize [OPTION]... [FILE]...\n"
    "Encode text to GPT-2 token ids (or decode ids with -d). With no FILE, or when FILE\n"
    "is -, read standard input. Each FILE is encoded on its own.\n"
    "\n"
    "  -d, --decode         token ids in, bytes out\n"
    "  -f, --format=FMT     token stream format: bin16 (little-endian uint16) or text\n"
    "                       (decimal ids); default: text when standard output is a\n"
    "                       terminal, else bin16 (decode reads bin16 unless -f text)\n"
    "  -s, --special        recognise <|endoftext|> in the text as the special token\n"
    "      --jsonl          input is JSON Lines: encode one field of each object, with\n"
    "                       <|endoftext|> before each document\n"
    "      --field=NAME     the JSONL field to encode (default: text)\n"
    "  -0, --null           input is documents separated by NUL bytes, each preceded\n"
    "                       by <|endoftext|> in the output\n"
    "      --skip-bad       skip malformed JSONL lines (count them) instead of stopping\n"
    "  -j, --threads=N      encode with N threads (default: all cores); output is the\n"
    "                       same for every N\n"
    "      --chunk=SIZE     bytes of input per work unit (default 1Mi)\n"
    "      --vocab=DIR      use DIR/encoder.json and DIR/vocab.bpe instead of the\n"
    "                       built-in GPT-2 vocabulary\n"
    "  -o, --output=FILE    write to FILE (complete or not at all) instead of stdout\n"
    "      --progress       show progress even when stderr is not a terminal (or\n"
    "                       stdout is one)\n"
    "      --no-progress    never show progress\n"
    "  -h, --help           show this help and exit\n"
    "  -V, --version        show the version and exit\n";

typedef enum { MODE_TEXT, MODE_NUL, MODE_JSONL } Mode;

typedef struct {
    const BPE *bpe;
    Mode mode;
    int flags; /* BPE_SPECIAL */
    const char *field;
    int skip_bad;
    size_t chunk;
} Config;

/* One unit of work: input bytes in, ids out. */
typedef struct {
    char *data;
    size_t len;
    int doc_start; /* MODE_NUL: a document begins at data[0] */
    long line;     /* MODE_JSONL: number of the first line in data */
    int *ids;
    size_t n, cap;
    long bad;      /* malformed lines skipped */
    long err_line; /* first malformed line when not skipping (0: none) */
    char err[256];
} Item;

static void item_push(Item *it, int id) {
    if (it->n == it->cap) {
        it->cap = it->cap ? 2 * it->cap : 1024;
        it->ids = xrealloc(it->ids, it->cap * sizeof *it->ids);
    }
    it->ids[it->n++] = id;
}

static void encode_jsonl(const Config *c, BpeWork *w, Item *it) {
    const int eot = bpe_eot(c->bpe);
    long line = it->line;
    for (size_t i = 0; i < it->len; line++) {
        char *s = it->data + i, *nl = memchr(s, '\n', it->len - i);
        size_t n = nl ? (size_t)(nl - s) : it->len - i;
        i += n + 1;
        size_t k = 0;
        while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r')) k++;
        if (k == n) continue; /* blank lines are not documents */
        json_error_t jerr;
        json_t *doc = json_loadb(s, n, JSON_ALLOW_NUL, &jerr);
        json_t *text = json_is_object(doc) ? json_object_get(doc, c->field) : NULL;
        if (!json_is_string(text)) {
            if (!c->skip_bad) {
                it->err_line = line;
                if (!doc && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
                    snprintf(it->err, sizeof it->err,
                             "not JSON: starts with a UTF-8 byte order mark (EF BB BF)");
                else if (!doc)
                    snprintf(it->err, sizeof it->err, "not JSON: %s", jerr.text);
                else if (!json_is_object(doc))
                    snprintf(it->err, sizeof it->err, "not a JSON object");
                else
                    snprintf(it->err, sizeof it->err, "no string field \"%s\"", c->field);
                json_decref(doc);
                return;
            }
            it->bad++;
        } else {
            item_push(it, eot);
            bpe_encode_with(c->bpe, w, json_string_value(text), json_string_length(text), c->flags,
                            &it->ids, &it->n, &it->cap);
        }
        json_decref(doc);
    }
}

/* Documents end at each NUL; each one starts with <|endoftext|>. */
static void encode_nul(const Config *c, BpeWork *w, Item *it) {
    const int eot = bpe_eot(c->bpe);
    int start = it->doc_start;
    for (size_t i = 0; i < it->len;) {
        char *s = it->data + i, *nul = memchr(s, 0, it->len - i);
        size_t n = nul ? (size_t)(nul - s) : it->len - i;
        if (start) item_push(it, eot);
        bpe_encode_with(c->bpe, w, s, n, c->flags, &it->ids, &it->n, &it->cap);
        i += n + 1;
        start = 1;
        if (nul && i == it->len) break; /* the next document begins in the next item */
    }
}

static void encode_item(const Config *c, BpeWork *w, Item *it) {
    if (c->mode == MODE_JSONL)
        encode_jsonl(c, w, it);
    else if (c->mode == MODE_NUL)
        encode_nul(c, w, it);
    else
        bpe_encode_with(c->bpe, w, it->data, it->len, c->flags, &it->ids, &it->n, &it->cap);
}

/* Input split into items. Bytes read but not yet handed out wait in buf[0..len). */
typedef struct {
    FILE *f;
    const char *name;
    char *buf;
    size_t len, cap;
    int eof;
    int doc_start; /* MODE_NUL: the next item begins a document */
    long line;     /* MODE_JSONL: line number of buf[0] */
} Input;

/* Where the next item may end (exclusive) in buf[0..len), or 0 if none is safe yet. */
static size_t input_cut(const Config *c, const Input *in) {
    if (in->eof) return in->len;
    if (c->mode == MODE_JSONL) {
        for (size_t p = in->len; p-- > 0;)
            if (in->buf[p] == '\n') return p + 1;
        return 0;
    }
    size_t lo = in->len / 2;
    if (c->mode == MODE_NUL) {
        for (size_t p = in->len; p-- > lo;)
            if (!in->buf[p]) return p + 1;
    }
    return bpe_split_point(in->buf, in->len, lo);
}

/* Fills `it` with the next item; returns 0 at the end of the input. */
static int input_next(const Config *c, Input *in, Item *it) {
    size_t want = c->chunk, cut;
    for (;;) {
        while (!in->eof && in->len < want) {
            if (in->cap < want) in->cap = want, in->buf = xrealloc(in->buf, in->cap);
            size_t got = xfread_some(in->buf + in->len, want - in->len, in->f, in->name);
            if (!got) in->eof = 1;
            in->len += got;
        }
        if (!in->len) return 0;
        if ((cut = input_cut(c, in))) break;
        want = in->len + (in->len > c->chunk ? in->len : c->chunk); /* no safe cut yet: read on */
    }
    it->data = xmalloc(cut);
    memcpy(it->data, in->buf, cut);
    it->len = cut;
    it->doc_start = in->doc_start;
    it->line = in->line;
    it->n = 0, it->bad = 0, it->err_line = 0;
    if (c->mode == MODE_NUL) in->doc_start = !it->data[cut - 1];
    if (c->mode == MODE_JSONL)
        for (size_t i = 0; i < cut; i++) in->line += it->data[i] == '\n';
    memmove(in->buf, in->buf + cut, in->len - cut);
    in->len -= cut;
    return 1;
}

typedef struct {
    FILE *f;
    const char *name;
    TokensFormat fmt;
    long bad;
    double bytes;
    Progress progress;
} Output;

static void encode_file(const Config *c, BpeWork **work, int threads, const char *path, Output *o) {
    Input in = {.f = xfopen(path, "rb"),
                .name = path && strcmp(path, "-") ? path : "stdin",
                .doc_start = 1,
                .line = 1};
    int batch = 2 * threads;
    Item *items = xcalloc(batch, sizeof *items);
    for (int more = 1; more;) {
        int k = 0;
        while (k < batch && (more = input_next(c, &in, &items[k]))) k++;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
        for (int i = 0; i < k; i++) encode_item(c, work[omp_get_thread_num()], &items[i]);
        for (int i = 0; i < k; i++) {
            Item *it = &items[i];
            tokens_write(o->f, o->name, o->fmt, it->ids, it->n);
            if (it->err_line) die("%s:%ld: %s", in.name, it->err_line, it->err);
            o->bad += it->bad;
            o->bytes += (double)it->len;
            free(it->data);
        }
        progress_update(&o->progress, "%.0f MB", o->bytes / 1e6);
    }
    for (int i = 0; i < batch; i++) free(items[i].ids);
    free(items);
    free(in.buf);
    xfclose(in.f, in.name);
}

static void decode_file(const BPE *bpe, const char *path, TokensFormat fmt, FILE *out,
                        const char *oname) {
    const char *name = path && strcmp(path, "-") ? path : "stdin";
    FILE *f = xfopen(path, "rb");
    TokensReader *r = tokens_reader_init(f, name, fmt);
    enum { MAX_IDS = 4096 };
    int ids[MAX_IDS];
    char buf[1 << 16];
    size_t n, k = 0, len;
    while ((n = tokens_read(r, ids, MAX_IDS))) {
        for (size_t i = 0; i < n; i++) {
            const char *s = bpe_token_bytes(bpe, ids[i], &len);
            if (!s)
                die("%s: token id %d is not in the vocabulary (%d ids)", name, ids[i],
                    bpe_vocab_size(bpe));
            if (k + len > sizeof buf) xfwrite(buf, k, out, oname), k = 0;
            memcpy(buf + k, s, len), k += len;
        }
        /* a short read: the input pauses (gpt2-sample --tokens writing as it generates), so
         * the text so far goes out now; errors stay in the stream for the final check */
        if (n < MAX_IDS) {
            xfwrite(buf, k, out, oname), k = 0;
            fflush(out);
        }
    }
    xfwrite(buf, k, out, oname);
    tokens_reader_free(r);
    xfclose(f, name);
}

int main(int argc, char **argv) {
    util_init("gpt2-tokenize");
    enum {
        OPT_JSONL = 256,
        OPT_FIELD,
        OPT_SKIP_BAD,
        OPT_CHUNK,
        OPT_VOCAB,
        OPT_PROGRESS,
        OPT_NO_PROGRESS
    };
    static const struct option opts[] = {{"decode", no_argument, 0, 'd'},
                                         {"format", required_argument, 0, 'f'},
                                         {"special", no_argument, 0, 's'},
                                         {"jsonl", no_argument, 0, OPT_JSONL},
                                         {"field", required_argument, 0, OPT_FIELD},
                                         {"null", no_argument, 0, '0'},
                                         {"skip-bad", no_argument, 0, OPT_SKIP_BAD},
                                         {"threads", required_argument, 0, 'j'},
                                         {"chunk", required_argument, 0, OPT_CHUNK},
                                         {"vocab", required_argument, 0, OPT_VOCAB},
                                         {"output", required_argument, 0, 'o'},
                                         {"progress", no_argument, 0, OPT_PROGRESS},
                                         {"no-progress", no_argument, 0, OPT_NO_PROGRESS},
                                         {"help", no_argument, 0, 'h'},
                                         {"version", no_argument, 0, 'V'},
                                         {0, 0, 0, 0}};
    Config c = {.mode = MODE_TEXT, .field = "text", .chunk = 1 << 20};
    int decode = 0, threads = omp_get_num_procs(), have_fmt = 0, have_field = 0, progress = -1;
    TokensFormat fmt = TOKENS_BIN16;
    const char *vocab = NULL, *output = NULL;
    for (int o; (o = getopt_long(argc, argv, "df:s0j:o:hV", opts, NULL)) != -1;) {
        switch (o) {
        case 'd':
            decode = 1;
            break;
        case 'f':
            if (tokens_format_parse(optarg, &fmt))
                die_usage("unknown format '%s' (bin16, text)", optarg);
            have_fmt = 1;
            break;
        case 's':
            c.flags |= BPE_SPECIAL;
            break;
        case OPT_JSONL:
        case '0':
            if (c.mode != MODE_TEXT && c.mode != (o == '0' ? MODE_NUL : MODE_JSONL))
                die_usage("--jsonl and --null exclude each other");
            c.mode = o == '0' ? MODE_NUL : MODE_JSONL;
            break;
        case OPT_FIELD:
            c.field = optarg;
            have_field = 1;
            break;
        case OPT_SKIP_BAD:
            c.skip_bad = 1;
            break;
        case 'j':
            threads = (int)cli_int(optarg, "--threads", 1, 1024);
            break;
        case OPT_CHUNK:
            c.chunk = (size_t)cli_size(optarg, "--chunk");
            break;
        case OPT_VOCAB:
            vocab = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case OPT_PROGRESS:
            progress = 1;
            break;
        case OPT_NO_PROGRESS:
            progress = 0;
            break;
        default:
            cli_standard_option(o, usage);
        }
    }
    if (c.chunk < 64 || c.chunk > ((size_t)1 << 32)) die_usage("--chunk must be 64..4Gi bytes");
    if (decode && (c.mode != MODE_TEXT || c.flags || c.skip_bad))
        die_usage("--jsonl, --null, --special and --skip-bad are for encoding");
    if (c.skip_bad && c.mode != MODE_JSONL) die_usage("--skip-bad needs --jsonl");
    if (have_field && c.mode != MODE_JSONL) die_usage("--field needs --jsonl");

    BPE *bpe;
    if (vocab) {
        char err[256], *je = xasprintf("%s/encoder.json", vocab),
                       *vb = xasprintf("%s/vocab.bpe", vocab);
        if (!(bpe = bpe_load_files(je, vb, err, sizeof err))) die("%s: %s", vocab, err);
        free(je);
        free(vb);
    } else {
        bpe = bpe_load_gpt2();
    }
    if (c.mode != MODE_TEXT && bpe_eot(bpe) < 0) die("the vocabulary has no <|endoftext|>");
    c.bpe = bpe;

    AtomicFile af = {0};
    FILE *out = stdout;
    const char *oname = "stdout";
    if (output && strcmp(output, "-")) atomic_open(&af, output, 1), out = af.f, oname = output;
    if (!decode && !have_fmt && out == stdout && is_tty(stdout)) fmt = TOKENS_TEXT;

    int nfiles = argc - optind;
    if (decode) {
        for (int i = 0; i < (nfiles ? nfiles : 1); i++)
            decode_file(bpe, nfiles ? argv[optind + i] : "-", fmt, out, oname);
    } else {
        BpeWork **work = xcalloc(threads, sizeof *work);
        for (int t = 0; t < threads; t++) work[t] = bpe_work_init(bpe);
        Output o = {.f = out, .name = oname, .fmt = fmt};
        /* ids on the terminal: a progress line would land among them */
        progress_init(&o.progress, progress < 0 && out == stdout && is_tty(out) ? 0 : progress);
        for (int i = 0; i < (nfiles ? nfiles : 1); i++)
            encode_file(&c, work, threads, nfiles ? argv[optind + i] : "-", &o);
        progress_done(&o.progress);
        if (o.bad) warn("skipped %ld malformed line%s", o.bad, o.bad == 1 ? "" : "s");
        for (int t = 0; t < threads; t++) bpe_work_free(work[t]);
        free(work);
    }
    if (af.f)
        atomic_commit(&af);
    else if (fflush(out))
        die("%s: write error:", oname);
    bpe_free(bpe);
    return 0;
}
