/* Unit tests for common/text/bpe.c: the shipped vocabulary, edge cases and merge ties with
 * ids taken from tiktoken 1.0.22 (gpt2, encode_ordinary), invalid UTF-8, round trips on
 * random bytes, safe cut points, merges of very long pieces. The whole-Unicode and corpus
 * parity runs against tiktoken itself are in tests/cli/tokenize-parity.sh. */
#include "text/bpe.h"
#include "base/util.h"
#include "tap.h"

#include <string.h>

static const BPE *bpe;

/* ids of text, in a fresh array (n out) */
static int *enc(const char *text, size_t len, int flags, size_t *n) {
    BpeWork *w = bpe_work_init(bpe);
    int *ids = NULL;
    size_t cap = 0;
    *n = 0;
    bpe_encode_with(bpe, w, text, len, flags, &ids, n, &cap);
    bpe_work_free(w);
    return ids;
}

static char *dec(const int *ids, size_t n, size_t *len) {
    size_t cap = 16, k = 0, l;
    char *out = xmalloc(cap);
    for (size_t i = 0; i < n; i++) {
        const char *s = bpe_token_bytes(bpe, ids[i], &l);
        if (!s) return free(out), NULL;
        while (k + l > cap) out = xrealloc(out, cap *= 2);
        memcpy(out + k, s, l), k += l;
    }
    *len = k;
    return out;
}

static int same_ids(const int *a, size_t na, const int *b, size_t nb) {
    return na == nb && (!na || !memcmp(a, b, na * sizeof *a));
}

struct Case {
    const char *text;
    int ids[16];
    int n;
};

/* From tiktoken 1.0.22 (npm), get_encoding("gpt2").encode_ordinary(text). */
static const struct Case cases[] = {
    {"", {0}, 0},
    {"Hello world", {15496, 995}, 2},
    {"I'm don't they'll we've you'd She'S",
     {40, 1101, 836, 470, 484, 1183, 356, 1053, 345, 1549, 1375, 6, 50},
     13},
    {"a  b", {64, 220, 275}, 3},
    {"a   \n\n  b", {64, 220, 220, 220, 628, 220, 275}, 7},
    {"   ", {220, 220, 220}, 3},
    {" \t x", {220, 197, 2124}, 3},
    {"x \xc2\xa0y", {87, 220, 1849, 88}, 4},
    {"a\xe1\xa0\x8e"
     "b",
     {64, 157, 254, 236, 65},
     5}, /* U+180E is not \s for tiktoken */
    {"a\xe3\x80\x80\xe3\x80\x80"
     "b",
     {64, 5099, 222, 5099, 222, 65},
     6},
    {"123456789 1.5 \xd9\xa1\xd9\xa2\xd9\xa3",
     {10163, 2231, 3134, 4531, 352, 13, 20, 18923, 94, 149, 95, 149, 96},
     13},
    {"\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c\xef\xbc\x81",
     {19526, 254, 25001, 121, 171, 120, 234, 10310, 244, 45911, 234, 171, 120, 223},
     14},
    {"\xf0\x9f\x98\x80\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",
     {47249, 222, 41840, 235, 8582, 237, 121},
     7},
    {"e\xcc\x81 n\xcc\x83", {68, 136, 223, 299, 136, 225}, 6},
    {"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xd7\xa2\xd7\x95\xd7\x9c\xd7\x9d",
     {50227, 40010, 27072, 147, 251, 14360, 95, 27072, 40010, 147, 251},
     11},
    {"int main() {\n\treturn 0;\n}\n",
     {600, 1388, 3419, 1391, 198, 197, 7783, 657, 26, 198, 92, 198},
     12},
    {"<|endoftext|>", {27, 91, 437, 1659, 5239, 91, 29}, 7},
    {"  hello  ", {220, 23748, 220, 220}, 4},
    {"\r\n\r\n", {201, 198, 201, 198}, 4},
};

/* Merge ties: a run of one byte (or of a pair) offers the same pair at several places, and
 * tiktoken merges the leftmost first, so "aaaaa" is "aaaa"+"a", never "a"+"aaaa". Produced
 * with tiktoken 1.0.22 from tests/node_modules (npm ci --prefix tests) by
 *   node -e 'const e = require("./tests/node_modules/tiktoken").get_encoding("gpt2");
 *            for (const t of process.argv.slice(1))
 *                console.log(JSON.stringify(t), Array.from(e.encode_ordinary(t)).join(", "))' \
 *        aaaaa aaaaaaa eee zzzzz ===== ttttt '#####' 11111 ' eeeee' hahaha
 * Every case but the last two reads differently when the rightmost pair wins. */
static const struct Case ties[] = {
    {"aaaaa", {24794, 64}, 2},       {"aaaaaaa", {24794, 46071}, 2}, {"eee", {1453, 68}, 2},
    {"zzzzz", {3019, 3019, 89}, 3},  {"=====", {1421, 28}, 2},       {"ttttt", {926, 926, 83}, 3},
    {"#####", {4242, 2}, 2},         {"11111", {1157, 16243}, 2},    {" eeeee", {304, 41591}, 2},
    {"hahaha", {71, 993, 12236}, 3},
};

static void check_cases(const struct Case *c, size_t count, const char *what) {
    for (size_t i = 0; i < count; i++) {
        size_t n;
        int *ids = enc(c[i].text, strlen(c[i].text), 0, &n);
        if (!ok(same_ids(ids, n, c[i].ids, c[i].n), "tiktoken ids for %s %zu", what, i)) {
            diag("got %zu ids:", n);
            for (size_t k = 0; k < n; k++) diag("  %d", ids[k]);
        }
        free(ids);
    }
}

static void test_cases(void) {
    check_cases(cases, sizeof cases / sizeof *cases, "case");
    check_cases(ties, sizeof ties / sizeof *ties, "merge tie");
    size_t n;
    int *ids = enc("a<|endoftext|>b", 15, BPE_SPECIAL, &n);
    ok(n == 3 && ids[0] == 64 && ids[1] == 50256 && ids[2] == 65,
       "BPE_SPECIAL finds <|endoftext|>");
    free(ids);
}

static void test_vocab(void) {
    is_int(bpe_vocab_size(bpe), 50257, "vocabulary size");
    is_int(bpe_eot(bpe), 50256, "<|endoftext|> id");
    size_t len;
    const char *s = bpe_token_bytes(bpe, 50256, &len);
    ok(s && len == 13 && !memcmp(s, "<|endoftext|>", 13), "<|endoftext|> bytes");
    ok(!bpe_token_bytes(bpe, 50257, &len) && !bpe_token_bytes(bpe, -1, &len), "ids out of range");

    /* encoder.json, which the built-in vocabulary does not read, must agree with it */
    char err[256];
    BPE *files = bpe_load_files("data/gpt2-vocab/encoder.json", "data/gpt2-vocab/vocab.bpe", err,
                                sizeof err);
    if (!ok(files != NULL, "data/gpt2-vocab loads with encoder.json checked")) diag("%s", err);
    int same = files && bpe_vocab_size(files) == bpe_vocab_size(bpe);
    for (int id = 0; same && id < bpe_vocab_size(bpe); id++) {
        size_t a, b;
        const char *x = bpe_token_bytes(bpe, id, &a), *y = bpe_token_bytes(files, id, &b);
        same = a == b && !memcmp(x, y, a);
    }
    ok(same, "built-in tokens equal data/gpt2-vocab token by token");
    bpe_free(files);

    const char bad_merges[] = "#version: 0.2\nh e\nzz qq\n";
    ok(!bpe_load_mem(NULL, 0, bad_merges, strlen(bad_merges), err, sizeof err) &&
           strstr(err, "line 3"),
       "a merge of unknown tokens is rejected with its line");
    const char json[] = "{\"!\": 1}";
    const char merges[] = "#version: 0.2\n";
    ok(!bpe_load_mem(json, strlen(json), merges, strlen(merges), err, sizeof err),
       "encoder.json that disagrees with vocab.bpe is rejected");
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* Random bytes biased toward what matters: spaces, letters, apostrophes, UTF-8 pieces
 * (whole and broken), and any byte at all. */
static size_t random_text(char *buf, size_t max) {
    static const char *frag[] = {" ",
                                 "  ",
                                 "\n",
                                 "\t",
                                 "a",
                                 "Z",
                                 "'s",
                                 "'",
                                 "7",
                                 ".",
                                 "\xc3\xa9",
                                 "\xe4\xbd\xa0",
                                 "\xf0\x9f\x98\x80",
                                 "\xe2\x80",
                                 "\xc2\xa0",
                                 "\xed\xa0\x80",
                                 "\xc0\xaf",
                                 "<|endoftext|>",
                                 "\xe3\x80\x80"};
    size_t n = 0, want = rnd() % max;
    while (n < want) {
        if (rnd() % 4 == 0) {
            buf[n++] = (char)rnd();
        } else {
            const char *f = frag[rnd() % (sizeof frag / sizeof *frag)];
            size_t l = strlen(f);
            if (n + l > max) break;
            memcpy(buf + n, f, l), n += l;
        }
    }
    return n;
}

static void test_random(void) {
    char buf[400];
    int roundtrip = 1, split = 1;
    for (int t = 0; t < 20000; t++) {
        size_t len = random_text(buf, sizeof buf), n, m;
        int flags = t % 2 ? BPE_SPECIAL : 0;
        int *ids = enc(buf, len, flags, &n);
        char *back = dec(ids, n, &m);
        if (roundtrip && !(back && m == len && !memcmp(back, buf, len))) {
            roundtrip = 0;
            diag("round trip fails on case %d (%zu bytes)", t, len);
        }
        /* encoding the two sides of a safe cut gives the ids of the whole */
        size_t p = bpe_split_point(buf, len, len ? rnd() % len : 0);
        if (p) {
            size_t na, nb;
            int *a = enc(buf, p, flags, &na), *b = enc(buf + p, len - p, flags, &nb);
            a = xrealloc(a, (na + nb + 1) * sizeof *a);
            if (nb) memcpy(a + na, b, nb * sizeof *b);
            if (split && !same_ids(a, na + nb, ids, n)) {
                split = 0;
                diag("cut at %zu changes the ids (case %d)", p, t);
            }
            free(a);
            free(b);
        }
        free(ids);
        free(back);
    }
    ok(roundtrip, "decode(encode(x)) == x for 20000 random byte strings");
    ok(split, "cutting at bpe_split_point never changes the ids");
}

/* The id of a byte's own token by GPT-2's byte order (independent of bpe.c): the 188
 * printable bytes ! to ~, 0xa1 to 0xac and 0xae to 0xff first, then the 68 others, each
 * group in byte order. */
static int printable(int c) {
    return (c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || c >= 0xae;
}
static int byte_id(int c) {
    int id = printable(c) ? 0 : 188;
    for (int d = 0; d < c; d++) id += printable(d) == printable(c);
    return id;
}

static void test_invalid_utf8(void) {
    /* a run of invalid bytes is its own piece; the text around it is split as if the
     * run were the end / the start of the text */
    const char x[] = "ab \xff\xfe  cd\xe2\x80 e";
    size_t n, n1, n2, n3, n4;
    int *all = enc(x, sizeof x - 1, 0, &n);
    int *a = enc("ab ", 3, 0, &n1), *b = enc("\xff\xfe", 2, 0, &n2), *c = enc("  cd", 4, 0, &n3),
        *d = enc("\xe2\x80", 2, 0, &n4);
    size_t n5;
    int *e = enc(" e", 2, 0, &n5);
    int want[64], k = 0;
    for (size_t i = 0; i < n1; i++) want[k++] = a[i];
    for (size_t i = 0; i < n2; i++) want[k++] = b[i];
    for (size_t i = 0; i < n3; i++) want[k++] = c[i];
    for (size_t i = 0; i < n4; i++) want[k++] = d[i];
    for (size_t i = 0; i < n5; i++) want[k++] = e[i];
    ok(same_ids(all, n, want, k), "invalid UTF-8 runs cut the text into independent parts");
    free(all), free(a), free(b), free(c), free(d), free(e);
    /* surrogates encoded in UTF-8 and overlong forms are invalid too: a token per byte */
    static const char *bad[] = {"\xed\xa0\x80", "\xc0\xaf"};
    for (int i = 0; i < 2; i++) {
        size_t len = strlen(bad[i]);
        int *s = enc(bad[i], len, 0, &n), each = n == len;
        for (size_t k = 0; each && k < n; k++) each = s[k] == byte_id((unsigned char)bad[i][k]);
        ok(each, "%s becomes its byte tokens (%zu ids)",
           i ? "an overlong form" : "an encoded surrogate", n);
        free(s);
    }
}

static void test_long_piece(void) {
    /* one 1 MB piece of letters: the heap merge keeps this O(n log n) */
    size_t len = 1 << 20, n, m;
    char *text = xmalloc(len);
    for (size_t i = 0; i < len; i++) text[i] = "abcdefghij"[(i * 7 + i / 3) % 10];
    double t = now_seconds();
    int *ids = enc(text, len, 0, &n);
    t = now_seconds() - t;
    char *back = dec(ids, n, &m);
    ok(back && m == len && !memcmp(back, text, len), "1 MB word round-trips (%zu ids)", n);
    diag("1 MB single piece encoded in %.2f s", t);
    free(ids), free(back), free(text);
}

int main(void) {
    util_init("test-bpe");
    BPE *b = bpe_load_gpt2();
    bpe = b;
    test_vocab();
    test_cases();
    test_invalid_utf8();
    test_random();
    test_long_piece();
    bpe_free(b);
    return done_testing();
}
