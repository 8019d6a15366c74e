/* gpt2-tokenize: text (or JSONL, NUL-separated documents, a Parquet column) to GPT-2 token
 * ids, and back with -d. The encoding pipeline is common/text/chunkpipe.c. */
#include "base/cli.h"
#include "base/util.h"
#include "text/bpe.h"
#include "text/chunkpipe.h"
#include "text/parquet.h"
#include "text/tokens.h"

#include <getopt.h>
#include <omp.h>
#include <stdlib.h>
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
            xfflush(out, oname);
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
        OPT_PARQUET,
        OPT_INFO,
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
                                         {"parquet", no_argument, 0, OPT_PARQUET},
                                         {"info", no_argument, 0, OPT_INFO},
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
    ChunkConfig c = {
        .mode = CHUNK_TEXT, .field = "text", .chunk = 1 << 20, .threads = omp_get_num_procs()};
    int decode = 0, have_fmt = 0, have_field = 0, progress = -1, info = 0;
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
        case OPT_PARQUET:
        case '0': {
            ChunkMode m = o == '0' ? CHUNK_NUL : o == OPT_JSONL ? CHUNK_JSONL : CHUNK_PARQUET;
            if (c.mode != CHUNK_TEXT && c.mode != m)
                die_usage("--jsonl, --null and --parquet exclude each other");
            c.mode = m;
            break;
        }
        case OPT_INFO:
            info = 1;
            break;
        case OPT_FIELD:
            c.field = optarg;
            have_field = 1;
            break;
        case OPT_SKIP_BAD:
            c.skip_bad = 1;
            break;
        case 'j':
            c.threads = (int)cli_int(optarg, "--threads", 1, 1024);
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
    if (info && c.mode == CHUNK_TEXT) c.mode = CHUNK_PARQUET;
    if (decode && (c.mode != CHUNK_TEXT || c.flags || c.skip_bad))
        die_usage("--jsonl, --null, --parquet, --special and --skip-bad are for encoding");
    if (c.skip_bad && c.mode != CHUNK_JSONL) die_usage("--skip-bad needs --jsonl");
    if (have_field && c.mode != CHUNK_JSONL && c.mode != CHUNK_PARQUET)
        die_usage("--field needs --jsonl or --parquet");
    if (info && c.mode != CHUNK_PARQUET) die_usage("--info is for Parquet files");
    int nfiles = argc - optind;
    if (info) {
        char err[512];
        for (int i = 0; i < (nfiles ? nfiles : 1); i++) {
            ParquetFile *pf = parquet_open(nfiles ? argv[optind + i] : "-", err, sizeof err);
            if (!pf) die("%s", err);
            parquet_print_info(pf, stdout);
            parquet_close(pf);
        }
        return 0;
    }

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
    c.bpe = bpe;

    AtomicFile af = {0};
    FILE *out = stdout;
    const char *oname = "stdout";
    if (output && strcmp(output, "-")) atomic_open(&af, output, 1), out = af.f, oname = output;
    if (!decode && !have_fmt && out == stdout && is_tty(stdout)) fmt = TOKENS_TEXT;

    if (decode) {
        for (int i = 0; i < (nfiles ? nfiles : 1); i++)
            decode_file(bpe, nfiles ? argv[optind + i] : "-", fmt, out, oname);
    } else {
        ChunkPipe *pipe = chunkpipe_init(&c);
        ChunkOutput o = {.f = out, .name = oname, .fmt = fmt};
        /* ids on the terminal: a progress line would land among them */
        progress_init(&o.progress, progress < 0 && out == stdout && is_tty(out) ? 0 : progress);
        for (int i = 0; i < (nfiles ? nfiles : 1); i++)
            chunkpipe_encode_file(pipe, nfiles ? argv[optind + i] : "-", &o);
        progress_done(&o.progress);
        if (o.bad) warn("skipped %ld malformed line%s", o.bad, o.bad == 1 ? "" : "s");
        if (o.nulls) warn("skipped %lld null value%s", (long long)o.nulls, o.nulls == 1 ? "" : "s");
        chunkpipe_free(pipe);
    }
    if (af.f)
        atomic_commit(&af);
    else
        xfflush(out, oname);
    bpe_free(bpe);
    return 0;
}
