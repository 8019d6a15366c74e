/* bpe: GPT-2 byte-level BPE. Text is cut into pieces by the GPT-2 pattern (PCRE2,
 * JIT-compiled), each piece is looked up whole (most pieces of real text are one token)
 * and otherwise merged pair by pair, lowest rank first, with a heap so that long pieces
 * stay O(n log n). As in tiktoken, a token's rank is its id. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/bpe.h"
#include "base/util.h"

#include <jansson.h>
#include <pcre2.h>
#include <stdarg.h>
#include <string.h>

/* The characters tiktoken's regex engine (Rust `regex`) calls \s: Unicode White_Space.
 * PCRE2's \s differs (it includes U+180E, for one), so the class is spelled out. */
#define WS                                                                                         \
    "\\t-\\r "                                                                                     \
    "\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
/* Letters and digits that tiktoken's engine knows (Unicode 16) and PCRE2 10.42's tables
 * (Unicode 14) do not: Unicode 15.0-16.0 additions, found by the code point parity test. */
#define L16                                                                                        \
    "\\x{1C89}-\\x{1C8A}\\x{A7CB}-\\x{A7CD}\\x{A7DA}-\\x{A7DC}\\x{105C0}-\\x{105F3}\\x{10D4A}-"    \
    "\\x{10D65}\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC4}\\x{1123F}-\\x{11240}\\x{11380}-\\x{"     \
    "11389}"                                                                                       \
    "\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}\\x{113D1}\\x{113D3}\\x{11BC0}-\\x{11BE0}" \
    "\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}\\x{1342F}\\x{13441}-\\x{13446}\\x{"      \
    "13460}-"                                                                                      \
    "\\x{143FA}\\x{16100}-\\x{1611D}\\x{16D40}-\\x{16D6C}\\x{18CFF}\\x{1B132}\\x{1B155}\\x{1DF25}" \
    "-"                                                                                            \
    "\\x{1DF2A}\\x{1E030}-\\x{1E06D}\\x{1E4D0}-\\x{1E4EB}\\x{1E5D0}-\\x{1E5ED}\\x{1E5F0}\\x{"      \
    "2B739}"                                                                                       \
    "\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}"
#define N16                                                                                        \
    "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}\\x{11F50}-\\x{11F59}\\x{"     \
    "16130}-"                                                                                      \
    "\\x{16139}\\x{16D70}-\\x{16D79}\\x{1CCF0}-\\x{1CCF9}\\x{1D2C0}-\\x{1D2D3}\\x{1E4F0}-\\x{"     \
    "1E4F9}"                                                                                       \
    "\\x{1E5F1}-\\x{1E5FA}"
#define L "\\p{L}" L16
#define N "\\p{N}" N16
/* GPT-2's pattern; the possessive ++ only skips useless backtracking. */
static const char GPT2_PATTERN[] = "'(?:[sdmt]|ll|ve|re)| ?[" L "]++| ?[" N "]++| ?[^" WS L N
                                   "]++|[" WS "]+(?![^" WS "])|[" WS "]+";
#undef L
#undef N

typedef struct {
    uint32_t tag; /* high hash bits, never 0 (0 = empty slot) */
    int32_t id;
} Slot;

struct BPE {
    int n_vocab, n_ranks, eot;
    char *pool;          /* bytes of every token, back to back */
    uint32_t *off, *len; /* token id -> its bytes in pool */
    Slot *table;         /* bytes -> id for the mergeable tokens (ranks) */
    size_t mask;
    int byte_id[256]; /* single-byte token of each byte */
    pcre2_code *re;
};

typedef struct {
    uint64_t key; /* rank << 32 | start: the lowest rank wins, the leftmost on ties */
    uint32_t end;
} Pair;

/* Pieces that are not one token but recur (" Citizen", "ing,") are merged once and
 * then found here: a direct-mapped cache, a slot per hash, newest wins. */
enum { CACHE_SLOTS = 8192, CACHE_BYTES = 32, CACHE_IDS = 12 };
typedef struct {
    uint64_t hash;
    uint8_t len, nids;
    unsigned char bytes[CACHE_BYTES];
    int32_t ids[CACHE_IDS];
} CacheSlot;

struct BpeWork {
    pcre2_match_data *md;
    CacheSlot *cache;
    size_t cap;     /* capacity of the arrays below, in bytes of a piece */
    uint32_t *next; /* symbol starting at i ends where the next one starts */
    int32_t *sym;   /* id of the symbol starting at i, -1 when merged away */
    Pair *heap;
    size_t nheap, heap_cap;
};

/* ---- hashing token bytes ---- */

static uint64_t hash_mix(uint64_t h) {
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 32);
}

/* Reads only inside p[0..n) (n >= 1), with overlapping loads instead of a byte loop. */
static uint64_t bpe_hash(const unsigned char *p, size_t n) {
    uint64_t a, h = n * 0x9e3779b97f4a7c15ull;
    if (n >= 8) {
        for (; n > 8; p += 8, n -= 8) {
            memcpy(&a, p, 8);
            h = hash_mix(h ^ a);
        }
        memcpy(&a, p + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, p, 4);
        memcpy(&y, p + n - 4, 4);
        a = (uint64_t)x << 32 | y;
    } else {
        a = (uint64_t)p[0] << 16 | (uint64_t)p[n / 2] << 8 | p[n - 1];
    }
    return hash_mix(h ^ a);
}

static int bpe_find(const BPE *b, const unsigned char *p, size_t n, uint64_t h) {
    uint32_t tag = (uint32_t)(h >> 32) | 1;
    for (size_t i = h & b->mask;; i = (i + 1) & b->mask) {
        const Slot *s = &b->table[i];
        if (!s->tag) return -1;
        if (s->tag == tag && b->len[s->id] == n && !memcmp(b->pool + b->off[s->id], p, n))
            return s->id;
    }
}

static int bpe_lookup(const BPE *b, const unsigned char *p, size_t n) {
    return bpe_find(b, p, n, bpe_hash(p, n));
}

static void bpe_insert(BPE *b, int id) {
    const unsigned char *p = (const unsigned char *)b->pool + b->off[id];
    uint64_t h = bpe_hash(p, b->len[id]);
    size_t i = h & b->mask;
    while (b->table[i].tag) i = (i + 1) & b->mask;
    b->table[i] = (Slot){(uint32_t)(h >> 32) | 1, id};
}

/* ---- loading encoder.json + vocab.bpe ---- */

/* GPT-2 stores bytes as printable characters: bytes that print stand for themselves,
 * the other 68 are mapped in order to U+0100 and up. rank_byte lists the bytes in
 * that order, which is also the order of their ranks 0..255. */
static void bpe_byte_order(unsigned char rank_byte[256], int char_byte[324]) {
    int n = 0, extra = 0;
    for (int c = 0; c < 324; c++) char_byte[c] = -1;
    for (int c = 0; c < 256; c++)
        if ((c >= '!' && c <= '~') || (c >= 0xa1 && c <= 0xac) || c >= 0xae)
            rank_byte[n++] = c, char_byte[c] = c;
    for (int c = 0; c < 256; c++)
        if (!((c >= '!' && c <= '~') || (c >= 0xa1 && c <= 0xac) || c >= 0xae))
            rank_byte[n++] = c, char_byte[256 + extra++] = c;
}

/* Decodes GPT-2's printable spelling s[0..n) into raw bytes at out; -1 if malformed. */
static long bpe_unmap(const char *s, size_t n, const int char_byte[324], char *out) {
    long k = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = (unsigned char)s[i];
        if (c < 0x80)
            i += 1;
        else if ((c & 0xe0) == 0xc0 && i + 1 < n)
            c = (c & 0x1f) << 6 | ((unsigned char)s[i + 1] & 0x3f), i += 2;
        else
            return -1;
        if (c >= 324 || char_byte[c] < 0) return -1;
        out[k++] = (char)char_byte[c];
    }
    return k;
}

static BPE *load_fail(BPE *b, char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    bpe_free(b);
    return NULL;
}

static void bpe_compile(BPE *b) {
    int code;
    PCRE2_SIZE at;
    b->re = pcre2_compile((PCRE2_SPTR)GPT2_PATTERN, PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &at, NULL);
    if (!b->re) die("bpe: pattern does not compile (PCRE2 error %d at %zu)", code, (size_t)at);
    code = pcre2_jit_compile(b->re, PCRE2_JIT_COMPLETE);
    if (code) die("bpe: PCRE2 JIT unavailable (error %d)", code);
}

/* Every token from vocab.bpe: ranks 0..255 are the bytes, then one per merge line; the
 * special token <|endoftext|> comes last. As in tiktoken, a token's id is its rank. */
static BPE *bpe_from_merges(const char *merges, size_t len, char *err, size_t errlen) {
    static const char eot[] = "<|endoftext|>";
    BPE *b = xcalloc(1, sizeof *b);
    unsigned char rank_byte[256];
    int char_byte[324];
    bpe_byte_order(rank_byte, char_byte);
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += merges[i] == '\n';
    b->off = xcalloc(256 + lines + 1, sizeof *b->off);
    b->len = xcalloc(256 + lines + 1, sizeof *b->len);
    b->pool = xmalloc(256 + len + sizeof eot);
    size_t cap = 1;
    while (cap < 2 * (256 + lines + 1)) cap <<= 1;
    b->table = xcalloc(cap, sizeof *b->table);
    b->mask = cap - 1;

    size_t used = 0;
    int rank = 0;
    for (; rank < 256; rank++) {
        b->pool[used] = (char)rank_byte[rank];
        b->off[rank] = used++, b->len[rank] = 1;
        b->byte_id[rank_byte[rank]] = rank;
        bpe_insert(b, rank);
    }
    for (size_t i = 0, line = 1; i < len; line++) {
        const char *s = merges + i, *nl = memchr(s, '\n', len - i);
        size_t n = nl ? (size_t)(nl - s) : len - i;
        i += n + 1;
        if (n && s[n - 1] == '\r') n--;
        if (!n || (line == 1 && s[0] == '#')) continue;
        const char *sp = memchr(s, ' ', n);
        char *out = b->pool + used;
        long l = sp ? bpe_unmap(s, sp - s, char_byte, out) : -1;
        long r = l > 0 ? bpe_unmap(sp + 1, n - (sp + 1 - s), char_byte, out + l) : -1;
        if (r <= 0) return load_fail(b, err, errlen, "vocab.bpe: line %zu: not a merge", line);
        b->off[rank] = used, b->len[rank] = l + r, used += l + r;
        if (bpe_lookup(b, (unsigned char *)out, l + r) >= 0)
            return load_fail(b, err, errlen, "vocab.bpe: line %zu: token made twice", line);
        if (bpe_lookup(b, (unsigned char *)out, l) < 0 ||
            bpe_lookup(b, (unsigned char *)out + l, r) < 0)
            return load_fail(b, err, errlen, "vocab.bpe: line %zu: merges unknown tokens", line);
        bpe_insert(b, rank++);
    }
    b->n_ranks = rank;
    b->eot = rank;
    memcpy(b->pool + used, eot, sizeof eot - 1);
    b->off[rank] = used, b->len[rank] = sizeof eot - 1;
    b->n_vocab = rank + 1;
    bpe_compile(b);
    return b;
}

/* encoder.json must give every token the id its rank gives it (tiktoken checks the same). */
static const char *bpe_check_encoder(const BPE *b, const char *json, size_t len, char *why,
                                     size_t whylen) {
    json_error_t jerr;
    json_t *enc = json_loadb(json, len, 0, &jerr);
    if (!json_is_object(enc)) {
        snprintf(why, whylen, "line %d: %s", jerr.line, enc ? "not a JSON object" : jerr.text);
        json_decref(enc);
        return why;
    }
    unsigned char rank_byte[256];
    int char_byte[324];
    bpe_byte_order(rank_byte, char_byte);
    char *tmp = xmalloc(len + 1);
    const char *key;
    json_t *val;
    *why = 0;
    json_object_foreach(enc, key, val) {
        json_int_t id = json_is_integer(val) ? json_integer_value(val) : -1;
        long k = strcmp(key, "<|endoftext|>") ? bpe_unmap(key, strlen(key), char_byte, tmp) : -2;
        int want = k == -2 ? b->eot : k > 0 ? bpe_lookup(b, (unsigned char *)tmp, k) : -1;
        if (want < 0 || id != want) {
            snprintf(why, whylen, "'%.40s' has id %lld, vocab.bpe makes it %d", key, (long long)id,
                     want);
            break;
        }
    }
    if (!*why && json_object_size(enc) != (size_t)b->n_vocab)
        snprintf(why, whylen, "%zu tokens, vocab.bpe makes %d", json_object_size(enc), b->n_vocab);
    free(tmp);
    json_decref(enc);
    return *why ? why : NULL;
}

BPE *bpe_load_mem(const char *json, size_t json_len, const char *merges, size_t merges_len,
                  char *err, size_t errlen) {
    BPE *b = bpe_from_merges(merges, merges_len, err, errlen);
    char why[200];
    if (b && json && bpe_check_encoder(b, json, json_len, why, sizeof why))
        return load_fail(b, err, errlen, "encoder.json: %s", why);
    return b;
}

BPE *bpe_load_files(const char *encoder_json, const char *vocab_bpe, char *err, size_t errlen) {
    size_t jn, mn;
    char *j = xread_file(encoder_json, &jn), *m = xread_file(vocab_bpe, &mn);
    BPE *b = bpe_load_mem(j, jn, m, mn, err, errlen);
    free(j);
    free(m);
    return b;
}

/* the shipped vocabulary, linked in by bpe_gpt2.c */
extern const char bpe_gpt2_merges[], bpe_gpt2_merges_end[];

/* encoder.json is not needed: tests check that it agrees with the built-in ranks */
BPE *bpe_load_gpt2(void) {
    char err[256];
    BPE *b = bpe_load_mem(NULL, 0, bpe_gpt2_merges, bpe_gpt2_merges_end - bpe_gpt2_merges, err,
                          sizeof err);
    if (!b) die("built-in vocabulary: %s", err);
    return b;
}

void bpe_free(BPE *b) {
    if (!b) return;
    pcre2_code_free(b->re);
    free(b->pool);
    free(b->off);
    free(b->len);
    free(b->table);
    free(b);
}

int bpe_vocab_size(const BPE *b) {
    return b->n_vocab;
}

int bpe_eot(const BPE *b) {
    return b->eot;
}

const char *bpe_token_bytes(const BPE *b, int id, size_t *len) {
    if (id < 0 || id >= b->n_vocab) return NULL;
    *len = b->len[id];
    return b->pool + b->off[id];
}

/* ---- encoding ---- */

BpeWork *bpe_work_init(const BPE *b) {
    BpeWork *w = xcalloc(1, sizeof *w);
    w->md = pcre2_match_data_create_from_pattern(b->re, NULL);
    if (!w->md) die("bpe: out of memory");
    return w;
}

void bpe_work_free(BpeWork *w) {
    if (!w) return;
    pcre2_match_data_free(w->md);
    free(w->cache);
    free(w->next);
    free(w->sym);
    free(w->heap);
    free(w);
}

static void push_id(int id, int **ids, size_t *n, size_t *cap) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        *ids = xrealloc(*ids, *cap * sizeof **ids);
    }
    (*ids)[(*n)++] = id;
}

static void heap_push(BpeWork *w, uint64_t key, uint32_t end) {
    if (w->nheap == w->heap_cap) {
        w->heap_cap = w->heap_cap ? 2 * w->heap_cap : 64;
        w->heap = xrealloc(w->heap, w->heap_cap * sizeof *w->heap);
    }
    size_t i = w->nheap++;
    while (i && w->heap[(i - 1) / 2].key > key) w->heap[i] = w->heap[(i - 1) / 2], i = (i - 1) / 2;
    w->heap[i] = (Pair){key, end};
}

static Pair heap_pop(BpeWork *w) {
    Pair top = w->heap[0], last = w->heap[--w->nheap];
    size_t i = 0, n = w->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && w->heap[c + 1].key < w->heap[c].key) c++;
        if (w->heap[c].key >= last.key) break;
        w->heap[i] = w->heap[c], i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

/* Pushes the pair (symbol at i, the one after it) if its bytes are a token. */
static void pair_consider(const BPE *b, BpeWork *w, const unsigned char *p, size_t n, uint32_t i) {
    uint32_t end = w->next[i] < n ? w->next[w->next[i]] : 0;
    if (!end) return;
    int id = bpe_lookup(b, p + i, end - i);
    if (id >= 0) heap_push(w, (uint64_t)id << 32 | i, end);
}

/* Merges a piece that is not one token: repeatedly the adjacent pair whose bytes form the
 * lowest-ranked token, leftmost on ties (what tiktoken does, in O(n log n)). */
static void bpe_merge(const BPE *b, BpeWork *w, const unsigned char *p, size_t n, int **ids,
                      size_t *nids, size_t *cap) {
    if (n > w->cap) {
        w->cap = n + n / 2;
        w->next = xrealloc(w->next, w->cap * sizeof *w->next);
        w->sym = xrealloc(w->sym, w->cap * sizeof *w->sym);
    }
    w->nheap = 0;
    for (uint32_t i = 0; i < n; i++) w->next[i] = i + 1, w->sym[i] = b->byte_id[p[i]];
    for (uint32_t i = 0; i + 1 < n; i++) pair_consider(b, w, p, n, i);
    while (w->nheap) {
        Pair t = heap_pop(w);
        uint32_t i = (uint32_t)t.key, mid = w->next[i];
        /* stale if symbol i was merged away or its right neighbour changed */
        if (w->sym[i] < 0 || mid >= n || w->next[mid] != t.end) continue;
        w->sym[i] = (int32_t)(t.key >> 32);
        w->sym[mid] = -1;
        w->next[i] = t.end;
        pair_consider(b, w, p, n, i);
        /* the symbol before i (symbols are tokens, so this scan is short) */
        uint32_t j = i;
        while (j > 0 && w->sym[--j] < 0) {
        }
        if (j < i && w->sym[j] >= 0) pair_consider(b, w, p, n, j);
    }
    for (uint32_t i = 0; i < n; i = w->next[i]) push_id(w->sym[i], ids, nids, cap);
}

static void encode_piece(const BPE *b, BpeWork *w, const unsigned char *p, size_t n, int **ids,
                         size_t *nids, size_t *cap) {
    if (n == 1) {
        push_id(b->byte_id[p[0]], ids, nids, cap);
        return;
    }
    uint64_t h = bpe_hash(p, n);
    int id = bpe_find(b, p, n, h);
    if (id >= 0) {
        push_id(id, ids, nids, cap);
        return;
    }
    if (!w->cache) w->cache = xcalloc(CACHE_SLOTS, sizeof *w->cache); /* on first need */
    CacheSlot *c = &w->cache[h & (CACHE_SLOTS - 1)];
    if (c->hash == h && c->len == n && !memcmp(c->bytes, p, n)) {
        for (int i = 0; i < c->nids; i++) push_id(c->ids[i], ids, nids, cap);
        return;
    }
    size_t first = *nids;
    bpe_merge(b, w, p, n, ids, nids, cap);
    if (n <= CACHE_BYTES && *nids - first <= CACHE_IDS) {
        c->hash = h, c->len = (uint8_t)n, c->nids = (uint8_t)(*nids - first);
        memcpy(c->bytes, p, n);
        memcpy(c->ids, *ids + first, c->nids * sizeof **ids);
    }
}

/* Splits text by the pattern; the gaps the pattern skips are runs of invalid UTF-8. */
static void encode_ordinary(const BPE *b, BpeWork *w, const unsigned char *s, size_t len, int **ids,
                            size_t *n, size_t *cap) {
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(w->md);
    for (size_t off = 0; off < len;) {
        int rc = pcre2_jit_match(b->re, s, len, off, 0, w->md, NULL);
        size_t ms = len, me = len;
        if (rc >= 0)
            ms = ov[0], me = ov[1];
        else if (rc != PCRE2_ERROR_NOMATCH)
            die("bpe: PCRE2 match error %d", rc);
        if (ms > off) encode_piece(b, w, s + off, ms - off, ids, n, cap);
        if (me > ms) encode_piece(b, w, s + ms, me - ms, ids, n, cap);
        off = me;
    }
}

void bpe_encode_with(const BPE *b, BpeWork *w, const char *text, size_t len, int flags, int **ids,
                     size_t *n, size_t *cap) {
    const unsigned char *s = (const unsigned char *)text;
    if ((flags & BPE_SPECIAL) && b->eot >= 0) {
        const char *eot = b->pool + b->off[b->eot];
        size_t elen = b->len[b->eot];
        for (const unsigned char *hit; (hit = memmem(s, len, eot, elen));) {
            encode_ordinary(b, w, s, hit - s, ids, n, cap);
            push_id(b->eot, ids, n, cap);
            len -= hit + elen - s;
            s = hit + elen;
        }
    }
    encode_ordinary(b, w, s, len, ids, n, cap);
}

void bpe_encode(const BPE *b, const char *text, size_t len, int **ids, size_t *n, size_t *cap) {
    BpeWork *w = bpe_work_init(b);
    bpe_encode_with(b, w, text, len, 0, ids, n, cap);
    bpe_work_free(w);
}

/* ---- safe cut points for streaming ---- */

static int is_white(uint32_t c) {
    return (c >= 9 && c <= 13) || c == ' ' || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/* Does a valid UTF-8 character that is not white space end at s[i]? */
static int ends_nonspace_char(const unsigned char *s, size_t i) {
    if (s[i] < 0x80) return !is_white(s[i]);
    size_t k = 0; /* continuation bytes before s[i] */
    while ((s[i - k] & 0xc0) == 0x80) {
        if (++k > 3 || k > i) return 0;
    }
    unsigned lead = s[i - k];
    size_t want = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
    if (k == 0 || want != k || lead > 0xf4) return 0;
    uint32_t c = lead & (0x3f >> k);
    for (size_t j = i - k + 1; j <= i; j++) c = c << 6 | (s[j] & 0x3f);
    static const uint32_t min_for[4] = {0, 0x80, 0x800, 0x10000};
    if (c < min_for[k] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    return !is_white(c);
}

/* Why this cut is safe: no piece of the pattern holds white space after a non-space
 * character, so a piece ends at p; the only look-ahead, (?!\S), reads one character
 * after white space, never across p; and <|endoftext|> holds no white space. */
size_t bpe_split_point(const char *text, size_t len, size_t min) {
    const unsigned char *s = (const unsigned char *)text;
    if (min < 1) min = 1;
    for (size_t p = len; p-- > min;)
        if (s[p] < 0x80 && is_white(s[p]) && ends_nonspace_char(s, p - 1)) return p;
    return 0;
}
