/* gpt2-shard: pack a token stream into training shards, and inspect shards. */
#include "base/cli.h"
#include "base/util.h"
#include "data/shard.h"

#include <getopt.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static const char usage[] =
    "Usage: gpt2-shard -o PREFIX [OPTION]... [FILE]...\n"
    "  or:  gpt2-shard --info|--cat|--verify SHARD...\n"
    "Pack token streams (uint16 little-endian, from gpt2-tokenize; '-' or none = stdin)\n"
    "into shards PREFIX_val_000000.bin, PREFIX_train_000001.bin, ... that llm.c reads.\n"
    "\n"
    "  -o, --output PREFIX    directory and name prefix of the shards (e.g. data/fineweb)\n"
    "  -s, --shard-size N     tokens per shard (default 100M; k, M, G, Ki, Mi, Gi)\n"
    "      --val-tokens N     tokens that go to validation shards first (default: one shard)\n"
    "      --vocab-size N     reject token ids >= N (default 50257)\n"
    "  -z, --zstd[=LEVEL]     write zstd-compressed shards (*.bin.zst, level 1-22, default 3)\n"
    "  -f, --force            overwrite existing shards\n"
    "      --progress         show progress even when stderr is not a terminal\n"
    "      --info             print format, version, token count and checksum status\n"
    "      --cat              write the shards' tokens to stdout as one stream\n"
    "      --verify           check every shard (checksum, ids); exit 1 on any problem\n"
    "  -h, --help             show this help\n"
    "  -V, --version          show the version\n"
    "See gpt2-shard(1) and the format in gpt2-shard(5).\n";

typedef struct {
    const char *prefix;
    uint64_t shard_size, val_tokens;
    uint32_t vocab;
    int level, force, progress;
} PackOptions;

/* The shards being filled, in stream order: validation first, then training. */
typedef struct {
    const PackOptions *o;
    ShardWriter *w;
    uint64_t left;     /* room in the open shard */
    uint64_t val_left; /* validation tokens still to come */
    int index;
    int nval; /* shards 0 .. nval-1 are validation shards */
    uint64_t total;
} Packer;

static char *shard_name(const PackOptions *o, int index, int val) {
    return xasprintf("%s_%s_%06d.bin%s", o->prefix, val ? "val" : "train", index,
                     o->level ? ".zst" : "");
}

static void packer_add(Packer *p, const uint16_t *tok, size_t n) {
    while (n) {
        if (!p->w) {
            int val = p->val_left > 0;
            p->left = val && p->val_left < p->o->shard_size ? p->val_left : p->o->shard_size;
            if (val) p->val_left -= p->left;
            if (val) p->nval = p->index + 1;
            char *path = shard_name(p->o, p->index++, val);
            p->w = shard_writer_open(path, p->o->level, p->o->force);
            free(path);
        }
        size_t take = p->left < n ? (size_t)p->left : n;
        shard_writer_add(p->w, tok, take);
        tok += take, n -= take, p->left -= take, p->total += take;
        if (!p->left) {
            shard_writer_close(p->w);
            p->w = NULL;
        }
    }
}

static void check_ids(const uint16_t *tok, size_t n, uint32_t vocab, const char *name,
                      uint64_t at) {
    /* the max of fixed-size blocks: a loop the compiler vectorizes even at -O2 */
    uint16_t max = 0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        uint16_t m = 0;
        for (int k = 0; k < 64; k++) m = tok[i + k] > m ? tok[i + k] : m;
        max = m > max ? m : max;
    }
    for (; i < n; i++) max = tok[i] > max ? tok[i] : max;
    if (max < vocab) return; /* the common case: one test per buffer */
    for (i = 0; i < n; i++)
        if (tok[i] >= vocab)
            die("%s: token %" PRIu64 " is %u, not below the vocabulary size %u (see --vocab-size)",
                name, at + i, tok[i], vocab);
}

/* Does the name end, after the prefix, like a shard: _<split>_<6 digits>.bin...? (a
 * temp file that a killed run left counts too) */
static int shard_like(const char *rest) {
    if (*rest++ != '_') return 0;
    size_t k = strspn(rest, "abcdefghijklmnopqrstuvwxyz");
    if (!k || rest[k] != '_') return 0;
    rest += k + 1;
    return strspn(rest, "0123456789") == 6 && !strncmp(rest + 6, ".bin", 4);
}

/* Shards of an earlier run under the same prefix would be read with these ones by a
 * glob such as PREFIX_train_*.bin: say so, but leave them (they are not ours to remove).
 * The directory is listed, not globbed: the prefix may hold glob characters. */
static void warn_stale(const Packer *p) {
    const char *prefix = p->o->prefix, *slash = strrchr(prefix, '/');
    const char *base = slash ? slash + 1 : prefix;
    char *dir = slash == prefix ? xstrdup("/") : slash ? xstrdup(prefix) : xstrdup(".");
    if (slash && slash != prefix) dir[slash - prefix] = 0;
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name, *rest = name + strlen(base);
        if (!strncmp(name, base, strlen(base)) && shard_like(rest)) {
            char *f = xasprintf("%.*s%s", (int)(base - prefix), prefix, name);
            int index = atoi(strchr(rest + 1, '_') + 1);
            char *ours = index < p->index ? shard_name(p->o, index, index < p->nval) : NULL;
            if (!ours || strcmp(ours, f))
                warn("%s: not from this run (which wrote %d shards); remove it before training", f,
                     p->index);
            free(ours);
            free(f);
        }
        free(list[i]);
    }
    if (n >= 0) free(list);
    free(dir);
}

static void pack(const PackOptions *o, char **files, int nfiles) {
    char *slash = strrchr(o->prefix, '/');
    if (slash && slash != o->prefix) {
        char *dir = xstrdup(o->prefix);
        dir[slash - o->prefix] = 0;
        mkdir_p(dir);
        free(dir);
    }
    static char *stdin_only[] = {"-"};
    if (!nfiles) files = stdin_only, nfiles = 1;
    Packer p = {.o = o, .val_left = o->val_tokens};
    Progress pr;
    progress_init(&pr, o->progress ? 1 : -1);
    enum { BUF = 1 << 21 };
    unsigned char *buf = xmalloc(BUF);
    for (int i = 0; i < nfiles; i++) {
        const char *name = strcmp(files[i], "-") ? files[i] : "stdin";
        FILE *f = xfopen(files[i], "rb");
        size_t have = 0; /* a byte left over from the last read: half a token */
        uint64_t at = 0;
        size_t k;
        while ((k = xfread_some(buf + have, BUF - have, f, name)) > 0) {
            have += k;
            size_t n = have / 2;
            check_ids((const uint16_t *)buf, n, o->vocab, name, at);
            packer_add(&p, (const uint16_t *)buf, n);
            at += n;
            if (have & 1) buf[0] = buf[have - 1];
            have &= 1;
            progress_update(&pr, "%" PRIu64 " tokens, %d shards", p.total, p.index);
        }
        if (have) die("%s: odd number of bytes: not a stream of uint16 tokens", name);
        xfclose(f, name);
    }
    free(buf);
    if (p.w) shard_writer_close(p.w);
    pr.last = 0; /* the final count, past the rate limit */
    progress_update(&pr, "%" PRIu64 " tokens, %d shards", p.total, p.index);
    progress_done(&pr);
    if (!p.total) die("no tokens in the input: no shards written");
    /* easy to miss with a small data set and the default of one shard for validation */
    if (p.index == p.nval)
        warn("all %" PRIu64 " tokens went to validation (--val-tokens %" PRIu64
             "): no training shards",
             p.total, o->val_tokens);
    warn_stale(&p);
}

/* --info, --cat and --verify: each reports a bad file and goes on to the next. */
enum Mode { PACK, INFO, CAT, VERIFY };

static int inspect_one(enum Mode mode, const char *path, uint32_t vocab) {
    char err[512];
    /* --info and --verify check the data themselves, --cat before its first token */
    ShardReader *r =
        shard_open_flags(path, mode == CAT ? 0 : SHARD_OPEN_NO_VERIFY, err, sizeof err);
    if (!r) {
        warn("%s", err);
        return 1;
    }
    int bad = 0;
    ShardInfo in;
    shard_info(r, &in);
    if (mode == INFO) {
        bad = shard_verify(r, 0, err, sizeof err) != 0;
        printf("%s: %s v%u, %" PRIu64 " tokens, %" PRIu64 " bytes", path,
               in.zstd ? "gpt2 zstd shard" : "llm.c shard", in.version, in.num_tokens,
               in.file_bytes);
        if (in.zstd)
            printf(" (%.2fx), %u frame%s of %u tokens, level %u",
                   (double)(SHARD_HEADER_BYTES + 2 * in.num_tokens) / (double)in.file_bytes,
                   in.frames, in.frames == 1 ? "" : "s", in.frame_tokens, in.level);
        if (in.has_checksum)
            printf(", crc32c %08x %s\n", in.checksum, bad ? "BAD" : "ok");
        else
            printf(", no checksum\n");
        if (bad) warn("%s", err);
    } else if (mode == VERIFY) {
        bad = shard_verify(r, vocab, err, sizeof err) != 0;
        if (bad)
            warn("%s", err);
        else
            printf("%s: OK\n", path);
    } else {
        enum { CHUNK = 1 << 20 };
        uint16_t *buf = xmalloc(CHUNK * sizeof *buf);
        for (uint64_t at = 0; !bad && at < in.num_tokens; at += CHUNK) {
            size_t n = in.num_tokens - at < CHUNK ? (size_t)(in.num_tokens - at) : CHUNK;
            if (shard_read(r, at, n, buf, err, sizeof err) != 0) {
                warn("%s", err);
                bad = 1;
            } else {
                xfwrite(buf, 2 * n, stdout, "stdout");
            }
        }
        free(buf);
    }
    shard_close(r);
    return bad;
}

int main(int argc, char **argv) {
    util_init("gpt2-shard");
    PackOptions o = {.shard_size = 100000000, .vocab = 50257};
    int val_set = 0, pack_opt = 0; /* pack_opt: an option that only packing uses */
    enum Mode mode = PACK;
    enum { OPT_VAL = 256, OPT_VOCAB, OPT_PROGRESS, OPT_INFO, OPT_CAT, OPT_VERIFY };
    static const struct option longopts[] = {{"output", required_argument, 0, 'o'},
                                             {"shard-size", required_argument, 0, 's'},
                                             {"val-tokens", required_argument, 0, OPT_VAL},
                                             {"vocab-size", required_argument, 0, OPT_VOCAB},
                                             {"zstd", optional_argument, 0, 'z'},
                                             {"force", no_argument, 0, 'f'},
                                             {"progress", no_argument, 0, OPT_PROGRESS},
                                             {"info", no_argument, 0, OPT_INFO},
                                             {"cat", no_argument, 0, OPT_CAT},
                                             {"verify", no_argument, 0, OPT_VERIFY},
                                             {"help", no_argument, 0, 'h'},
                                             {"version", no_argument, 0, 'V'},
                                             {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "o:s:z::fhV", longopts, NULL)) != -1) {
        if (c == OPT_INFO || c == OPT_CAT || c == OPT_VERIFY) {
            enum Mode m = c == OPT_INFO ? INFO : c == OPT_CAT ? CAT : VERIFY;
            if (mode != PACK && mode != m)
                die_usage("--info, --cat and --verify exclude each other");
            mode = m;
            continue;
        }
        pack_opt |= c != OPT_VOCAB && c != 'h' && c != 'V' && c != '?';
        switch (c) {
        case 'o':
            o.prefix = optarg;
            break;
        case 's':
            o.shard_size = cli_size(optarg, "--shard-size");
            break;
        case OPT_VAL:
            o.val_tokens = cli_size(optarg, "--val-tokens");
            val_set = 1;
            break;
        case OPT_VOCAB:
            o.vocab = (uint32_t)cli_int(optarg, "--vocab-size", 1, 65536);
            break;
        case 'z':
            o.level = optarg ? (int)cli_int(optarg, "--zstd", 1, ZSTD_maxCLevel()) : 3;
            break;
        case 'f':
            o.force = 1;
            break;
        case OPT_PROGRESS:
            o.progress = 1;
            break;
        default:
            cli_standard_option(c, usage);
        }
    }
    if (mode != PACK) {
        if (pack_opt)
            die_usage("--info, --cat and --verify take no packing options (only --vocab-size)");
        if (optind == argc) die_usage("no shard files given");
        int bad = 0;
        for (int i = optind; i < argc; i++) bad |= inspect_one(mode, argv[i], o.vocab);
        return bad;
    }
    if (!o.prefix) die_usage("missing -o PREFIX (where the shards go)");
    if (!o.prefix[0] || o.prefix[strlen(o.prefix) - 1] == '/')
        die_usage("-o wants a name prefix like data/fineweb, not a directory: '%s'", o.prefix);
    if (o.shard_size < 1 || o.shard_size > SHARD_MAX_TOKENS)
        die_usage("--shard-size: must be 1 to %u tokens", SHARD_MAX_TOKENS);
    if (!val_set) o.val_tokens = o.shard_size;
    pack(&o, argv + optind, argc - optind);
    return 0;
}
