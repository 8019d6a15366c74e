// Reference side of the gpt2-tokenize parity test and benchmark: the npm build of
// tiktoken (pinned in tests/package.json), encoding "gpt2" with encode_ordinary.
//   node tiktoken.js codepoints DOCS.jsonl EXPECTED.bin   every code point, alone and in context
//   node tiktoken.js corpus SEED BYTES OUT.txt [long]     a mixed multilingual corpus
//   node tiktoken.js encode IN.txt OUT.bin                ids of a (UTF-8) file, bin16
//   node tiktoken.js bench IN.txt                         MB/s (wall, CPU) of encode_ordinary
'use strict';
const fs = require('fs');
const { get_encoding } = require('tiktoken');

const EOT = 50256;

// bin16 writer with a growing buffer, flushed to fd in large blocks
function Writer(path) {
    this.fd = fs.openSync(path, 'w');
    this.buf = Buffer.alloc(1 << 20);
    this.len = 0;
}
Writer.prototype.ids = function (ids) {
    for (const id of ids) {
        if (this.len + 2 > this.buf.length) this.flush();
        this.buf.writeUInt16LE(id, this.len);
        this.len += 2;
    }
};
Writer.prototype.flush = function () {
    fs.writeSync(this.fd, this.buf, 0, this.len);
    this.len = 0;
};
Writer.prototype.close = function () {
    this.flush();
    fs.closeSync(this.fd);
};

// Each code point (surrogates excluded) alone, then in one document of contexts:
// after and before a letter, after a space, doubled, beside a digit and punctuation,
// after an apostrophe, inside a run of spaces, before a newline.
function codepoints(docsPath, expectedPath) {
    const enc = get_encoding('gpt2');
    const out = new Writer(expectedPath);
    const docs = fs.openSync(docsPath, 'w');
    let lines = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff) continue;
        const c = String.fromCodePoint(cp);
        const ctx = `x${c}y ${c}${c}7${c}.'${c}  ${c}\n`;
        for (const text of [c, ctx]) {
            out.ids([EOT]);
            out.ids(enc.encode_ordinary(text));
            lines.push(JSON.stringify({ text }));
        }
        if (lines.length >= 4096) {
            fs.writeSync(docs, lines.join('\n') + '\n');
            lines = [];
        }
    }
    fs.writeSync(docs, lines.join('\n') + '\n');
    fs.closeSync(docs);
    out.close();
    enc.free();
}

// mulberry32: a small seeded generator, so that the corpus is the same on every machine
function rng(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const SAMPLES = [
    'The quick brown fox jumps over the lazy dog. ',
    "I'm sure they'll say it's fine, but we've seen what you'd do; DON'T, I'LL, It'S. ",
    'Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich. ',
    "Voix ambiguë d'un cœur qui, au zéphyr, préfère les jattes de kiwis. ",
    'Съешь же ещё этих мягких французских булок, да выпей чаю. ',
    'Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. ',
    'نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر ١٢٣٤٥. ',
    'דג סקרן שט בים מאוכזב ולפתע מצא חברה. ',
    'ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले विष्णुवतार भगवान श्रीराम। ',
    '我能吞下玻璃而不伤身体。天地玄黄，宇宙洪荒。 ',
    'いろはにほへと ちりぬるを わかよたれそ つねならむ。カタカナ、ｶﾀｶﾅ。 ',
    '키스의 고유조건은 입술끼리 만나야 하고 특별한 기술은 필요치 않다. ',
    'เป็นมนุษย์สุดประเสริฐเลิศคุณค่า ',
    'Emoji: 😀👍🏽👨‍👩‍👧‍👦🇩🇪🏳️‍🌈 ❤️ ✨ ',
    'Combining: e\u0301 a\u0308\u0304 Z\u0351\u036b\u0343\u036a\u0302 ',
    'Numbers: 3.14159 1,000,000 0x1F 1e-9 ١٢٣ ４５６ ⅷ ½ 12345678901234567890 ',
    'int main(int argc, char **argv) {\n\tif (argc > 1) return 0;\n    printf("%d\\n", argc);\n}\n',
    'def f(x):\n    return [i**2 for i in range(x) if i % 2 == 0]  # squares\n\n\n',
    'const a = {b: [1, 2, 3], "c": null}; // js\r\n',
    '   leading spaces and trailing spaces   \n',
    'tabs\t\tand\t \tmixed \t\n\n\n   \n \n',
    '\u00a0nbsp\u00a0\u00a0x \u3000ideographic\u3000 \u2028line sep\u2029para \u0085nel ',
    'mongolian\u180evowel \u200bzero\u200bwidth \u2060joiner \ufeffbom \u000bvt\u000cff ',
    '\u001cfile\u001dgroup\u001erecord\u001funit ',
    'URL https://example.com/path?q=1&r=2#frag e-mail: someone@example.org ',
    '<|endoftext|> is plain text here <|endoftext|>',
];

// The parity corpus adds random code points, long words and long pieces (slow for
// tiktoken, whose merge is quadratic); the benchmark's "mixed text" leaves them out.
function corpus(seed, bytes, outPath, long) {
    const r = rng(seed);
    const pick = (n) => Math.floor(r() * n);
    const parts = [];
    let len = 0;
    const add = (s) => {
        parts.push(s);
        len += Buffer.byteLength(s);
    };
    while (len < bytes) {
        const k = pick(100);
        if (k < 80) add(SAMPLES[pick(SAMPLES.length)]);
        else if (k < 88) add(' '.repeat(pick(40)) + '\n'.repeat(pick(4)) + '\t'.repeat(pick(3)));
        else if (k < 93) {
            // random code points from every plane (no surrogates), a few at a time
            let s = '';
            for (let i = pick(20); i > 0; i--) {
                let cp = pick(4) ? pick(0x3000) : pick(0x110000);
                if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
                s += String.fromCodePoint(cp);
            }
            add(s);
        } else if (k < 96 && long) {
            // a long word: letters without a break, or base64-like noise
            const abc = pick(2) ? 'abcdefghijklmnopqrstuvwxyz' : 'ABCabc0123456789+/=';
            let s = ' ';
            for (let i = 500 + pick(4000); i > 0; i--) s += abc[pick(abc.length)];
            add(s);
        } else if (k < 98 && long) add('x'.repeat(500 + pick(8000))); // one long piece
        else add(SAMPLES[pick(SAMPLES.length)].repeat(200 + pick(2000)).replace(/\n/g, ' '));
    }
    fs.writeFileSync(outPath, parts.join(''));
}

function encodeFile(inPath, outPath) {
    const enc = get_encoding('gpt2');
    const out = new Writer(outPath);
    out.ids(enc.encode_ordinary(fs.readFileSync(inPath, 'utf8')));
    out.close();
    enc.free();
}

function bench(inPath) {
    const enc = get_encoding('gpt2');
    const buf = fs.readFileSync(inPath);
    const text = buf.toString('utf8');
    const c0 = process.cpuUsage(), t0 = process.hrtime.bigint();
    const n = enc.encode_ordinary(text).length;
    const s = Number(process.hrtime.bigint() - t0) / 1e9, c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    // MB/s by the wall clock, MB/s per CPU second, tokens
    console.log(`${(buf.length / 1e6 / s).toFixed(2)} ${(buf.length / 1e6 / cpu).toFixed(2)} ${n}`);
    enc.free();
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'codepoints') codepoints(args[0], args[1]);
else if (cmd === 'corpus') corpus(Number(args[0]), Number(args[1]), args[2], args[3] === 'long');
else if (cmd === 'encode') encodeFile(args[0], args[1]);
else if (cmd === 'bench') bench(args[0]);
else {
    console.error('usage: tiktoken.js codepoints|corpus|encode|bench ...');
    process.exit(2);
}
