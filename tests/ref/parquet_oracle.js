// Parquet fixtures and what two independent readers see in them, for tests/cli/tokenize-parquet.sh.
//   node parquet_oracle.js fixtures DIR   writes DIR/<name>.parquet for every case below (DuckDB,
//                                         hyparquet-writer, and a hand-built dictionary-then-PLAIN
//                                         chunk), and DIR/<name>.jsonl: the non-null texts as JSONL
//                                         and DIR/<name>.duckdb, DIR/<name>.hyparquet: the `text`
//                                         column as each oracle reads it
//   node parquet_oracle.js bad DIR        files that lie, one way each: DIR/<case>.parquet, and
//                                         DIR/<case>.msg, what the error message must contain
//   node parquet_oracle.js dump duckdb|hyparquet FILE
//                                         the `text` column as read by that oracle, in the format of
//                                         tests/helpers/parquet_dump.c (len:bytes\n ..., "nulls N")
const fs = require('fs');
const path = require('path');
const mods = path.join(__dirname, '..', 'node_modules');

// The texts: nulls, empty strings, non-ASCII, repeats (dictionaries), a long tail of distinct ones.
// Nulls come alone and in runs of 20 (every 1000th row starts one): a run is one RLE run of
// definition levels, so a reader that counted runs instead of values would be off.
function texts(n, seed) {
    const words = ['the', 'cat', 'Grüße', 'naïve', '東京', 'emoji 😀', 'a\ttab', 'line\nbreak', '"quoted"', ''];
    const out = [];
    let x = seed;
    for (let i = 0; i < n; i++) {
        x = (x * 1103515245 + 12345) % 2147483648;
        if (x % 11 === 0 || i % 1000 < 20) out.push(null);
        else if (x % 13 === 0) out.push('');
        else out.push(Array.from({ length: 1 + (x % 7) }, (_, k) => words[(x >> (k + 3)) % words.length]).join(' ') + ` ${i}`);
    }
    return out;
}

async function duckdbFixtures(dir) {
    const { DuckDBInstance } = require(path.join(mods, '@duckdb/node-api'));
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const q = (s) => s.replace(/'/g, "''");
    const table = async (name, rows, notNull) => {
        await c.run(`create table ${name} (i integer, text varchar${notNull ? ' not null' : ''}, id varchar)`);
        const app = await c.createAppender(name);
        rows.forEach((t, i) => {
            app.appendInteger(i);
            t === null ? app.appendNull() : app.appendVarchar(t);
            app.appendVarchar(`id-${i}`);
            app.endRow();
        });
        app.closeSync();
    };
    await table('mixed', texts(20000, 7));
    // runs of 12 equal values: RLE runs of dictionary indices, not only bit-packed ones
    await table('few', Array.from({ length: 5000 }, (_, i) => (i % 9 === 0 ? null : ['alpha', 'beta', 'gamma', 'δέλτα', ''][Math.floor(i / 12) % 5])));
    await table('req', texts(3000, 3).map((t) => t ?? 'was null'), true);
    // only empty strings and nulls: a dictionary whose one entry has no bytes at all
    await table('blank', Array.from({ length: 300 }, (_, i) => (i % 7 === 0 ? null : '')));
    const big = ['x'.repeat(2 << 20), 'small', 'é'.repeat(1 << 20) + 'end', null, 'y'.repeat(3 << 20)];
    await table('big', big);
    const cases = [];
    for (const codec of ['snappy', 'zstd', 'gzip', 'uncompressed'])
        for (const v of ['v1', 'v2']) cases.push([`duck-${codec}-${v}`, 'mixed', `COMPRESSION ${codec}, PARQUET_VERSION ${v}, ROW_GROUP_SIZE 2048`]);
    cases.push(['duck-dict-v1', 'few', 'COMPRESSION snappy, PARQUET_VERSION v1']);
    cases.push(['duck-dict-v2', 'few', 'COMPRESSION zstd, PARQUET_VERSION v2']);
    cases.push(['duck-required', 'req', 'COMPRESSION snappy']);
    cases.push(['duck-blank', 'blank', 'COMPRESSION snappy']);
    cases.push(['duck-big', 'big', 'COMPRESSION snappy']);
    cases.push(['duck-big-v2', 'big', 'COMPRESSION zstd, PARQUET_VERSION v2']);
    for (const [name, t, opts] of cases)
        await c.run(`copy (select text, id from ${t} order by i) to '${q(path.join(dir, name + '.parquet'))}' (FORMAT parquet, ${opts})`);
}

async function hyparquetFixtures(dir) {
    const { parquetWriteFile } = await import(path.join(mods, 'hyparquet-writer/src/node.js'));
    const data = texts(6000, 11);
    // hyparquet-writer brings snappy; gzip comes from Node's zlib
    const zlib = require('zlib');
    const comp = { GZIP: (b) => new Uint8Array(zlib.gzipSync(b)) };
    for (const enc of ['PLAIN', 'RLE_DICTIONARY', 'DELTA_LENGTH_BYTE_ARRAY', 'DELTA_BYTE_ARRAY'])
        for (const codec of ['SNAPPY', 'GZIP', 'UNCOMPRESSED'])
            await parquetWriteFile({
                filename: path.join(dir, `hyp-${enc}-${codec}.parquet`),
                columnData: [{ name: 'text', data: enc === 'RLE_DICTIONARY' ? data.map((t) => (t === null ? null : t.slice(0, 3))) : data, type: 'STRING', encoding: enc }],
                codec, compressors: comp, rowGroupSize: 1000, pageSize: 4096,
            });
}

// A column chunk as pyarrow writes one whose dictionary grew too big: a dictionary page, a
// dictionary-encoded data page, then a PLAIN data page (v1 pages, OPTIONAL). Built byte by
// byte, so that the bad-file tests can make it lie in one place at a time (o: what to change).
function craft(o = {}) {
    const bytes = [];
    const varint = (v) => { v = BigInt(v); do { let b = Number(v & 0x7fn); v >>= 7n; if (v) b |= 0x80; bytes.push(b); } while (v); };
    const zz = (v) => varint((BigInt(v) << 1n) ^ (BigInt(v) < 0n ? -1n : 0n));
    const field = (last, id, type) => (id - last > 0 && id - last < 16 ? bytes.push(((id - last) << 4) | type) : (bytes.push(type), zz(id)), id);
    // Thrift compact: a struct is [[id, type, value]]; types 5 i32, 6 i64, 8 binary, 9 list ([elemType, items]), 12 struct
    const struct = (fields) => {
        let last = 0;
        for (const [id, type, v] of fields.filter((x) => x)) { last = field(last, id, type); value(type, v); }
        bytes.push(0);
    };
    const value = (type, v) => {
        if (type === 5 || type === 6) zz(v);
        else if (type === 8) { const b = Buffer.from(v); varint(b.length); bytes.push(...b); }
        else if (type === 12) struct(v);
        else if (type === 9) { const [et, items] = v; items.length < 15 ? bytes.push((items.length << 4) | et) : (bytes.push(0xf0 | et), varint(items.length)); items.forEach((x) => value(et, x)); }
    };
    const emit = (fields) => { bytes.length = 0; struct(fields); return Buffer.from(bytes); };
    const u32 = (n) => { const l = Buffer.alloc(4); l.writeUInt32LE(n); return l; };
    const plain = (strs) => Buffer.concat(strs.map((s) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)])));
    const defs = (vals) => { // RLE runs of definition levels, after their 4-byte length
        const out = [];
        for (let i = 0; i < vals.length;) {
            let j = i;
            while (j < vals.length && (vals[j] === null) === (vals[i] === null)) j++;
            bytes.length = 0; varint((j - i) << 1);
            out.push(Buffer.from(bytes), Buffer.from([vals[i] === null ? 0 : 1]));
            i = j;
        }
        const b = Buffer.concat(out);
        return Buffer.concat([u32(b.length), b]);
    };
    const page = (type, nvals, enc, body, sub) => Buffer.concat([emit([[1, 5, type], [2, 5, body.length], [3, 5, body.length],
        [sub, 12, type === 2 ? [[1, 5, nvals], [2, 5, enc]] : [[1, 5, nvals], [2, 5, enc], [3, 5, o.defEnc ?? 3], [4, 5, 3]]]]), body]);
    const dict = ['red', 'green', 'blue', 'ünïcode'];
    const p1 = ['red', null, 'blue', 'blue', 'ünïcode', 'green', null, 'red'];
    const p2 = ['a plain one', null, '', 'after the dictionary filled up', 'red'];
    const idx = (vals) => { // bit-packed indices, width 2
        const ix = vals.filter((v) => v !== null).map((v) => dict.indexOf(v));
        const g = Buffer.alloc(((ix.length + 7) >> 3) * 2);
        ix.forEach((x, i) => { g[i >> 2] |= x << ((i & 3) * 2); });
        bytes.length = 0; varint((((ix.length + 7) >> 3) << 1) | 1);
        return Buffer.concat([Buffer.from([2]), Buffer.from(bytes), g]);
    };
    const dictPage = o.shortDict ? page(2, 3, 0, plain(dict.slice(0, 3)), 7) : page(2, dict.length, 0, plain(dict), 7);
    let chunk = Buffer.concat([dictPage, page(0, p1.length, 8, Buffer.concat([defs(p1), idx(p1)]), 5),
        page(0, p2.length, o.encoding ?? 0, Buffer.concat([defs(p2), plain(p2.filter((v) => v !== null))]), 5)]);
    if (o.cutChunk) chunk = chunk.subarray(0, chunk.length - o.cutChunk);
    if (o.garblePages) chunk = Buffer.concat([Buffer.from([0xff, 0xff, 0xff]), chunk.subarray(3)]);
    const n = o.numValues ?? p1.length + p2.length;
    const leaf = [[1, 5, o.type ?? 6], [3, 5, o.rep ?? 1], [4, 8, 'text'], [6, 5, 0]];
    const schema = o.nested ? [[[4, 8, 'schema'], [5, 5, 1]], [[3, 5, 1], [4, 8, 'text'], [5, 5, 1]], leaf] : [[[4, 8, 'schema'], [5, 5, 1]], leaf];
    const colMeta = [[1, 5, o.type ?? 6], [2, 9, [5, [0, 8, 3]]], [3, 9, [8, ['text']]], [4, 5, o.codec ?? 0], [5, 6, n], [6, 6, chunk.length],
        [7, 6, o.compSize ?? chunk.length], [9, 6, o.dataOff ?? 4 + dictPage.length], [11, 6, o.dictOff ?? 4]];
    const meta = emit([[1, 5, 1], [2, 9, [12, schema]], [3, 6, n],
        [4, 9, [12, [[[1, 9, [12, [[[2, 6, 4], [3, 12, colMeta], o.encrypted && [8, 12, [[1, 12, []]]]]]]], [2, 6, chunk.length], [3, 6, n]]]]],
        [6, 8, 'gpt2 tests/ref/parquet_oracle.js']]);
    return Buffer.concat([Buffer.from('PAR1'), chunk, meta, u32(meta.length), Buffer.from('PAR1')]);
}

// The lies, each with the words the reader's message must contain.
const badCases = {
    'offset-outside': [{ dataOff: 1 << 20, dictOff: 1 << 20 }, 'are not in the file'],
    'size-outside': [{ compSize: 1 << 20 }, 'are not in the file'],
    'page-header': [{ garblePages: true }, 'page header'],
    'chunk-short': [{ cutChunk: 40 }, 'impossible sizes'],
    'values-missing': [{ numValues: 40 }, 'chunk ends after 13 of its 40 values'],
    'snappy-garbage': [{ codec: 1 }, 'does not decompress'],
    'codec-lz4': [{ codec: 5 }, 'codec LZ4 is not supported'],
    'codec-brotli': [{ codec: 4 }, 'codec BROTLI is not supported'],
    'nested': [{ nested: true }, 'nested: not supported'],
    'repeated': [{ rep: 2 }, 'repeated: not supported'],
    'not-string': [{ type: 1 }, 'INT32, not a string'],
    'encrypted-column': [{ encrypted: true }, 'encryption is not supported'],
    'bit-packed-levels': [{ defEnc: 4 }, 'BIT_PACKED is not supported'],
    'dict-index': [{ shortDict: true }, 'dictionary index 3 of 3'],
    'encoding-split': [{ encoding: 9 }, 'BYTE_STREAM_SPLIT is not supported'],
};

async function dumpDuckdb(file) {
    const { DuckDBInstance } = require(path.join(mods, '@duckdb/node-api'));
    const db = await DuckDBInstance.create(':memory:', { threads: '1' });
    const c = await db.connect();
    const r = await c.runAndReadAll(`select text from read_parquet('${file.replace(/'/g, "''")}')`);
    return r.getRows().map((row) => row[0]);
}

async function dumpHyparquet(file) {
    const { parquetReadObjects, asyncBufferFromFile } = await import(path.join(mods, 'hyparquet/src/node.js'));
    const { compressors } = await import(path.join(mods, 'hyparquet-compressors/src/index.js'));
    const rows = await parquetReadObjects({ file: await asyncBufferFromFile(file), columns: ['text'], compressors });
    return rows.map((r) => r.text);
}

function write(values, out) {
    let nulls = 0;
    for (const v of values) {
        if (v === null || v === undefined) { nulls++; continue; }
        const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v);
        out.push(Buffer.from(`${b.length}:`), b, Buffer.from('\n'));
    }
    out.push(Buffer.from(`nulls ${nulls}\n`));
}

(async () => {
    const [cmd, a, b] = process.argv.slice(2);
    if (cmd === 'fixtures') {
        await duckdbFixtures(a);
        await hyparquetFixtures(a);
        fs.writeFileSync(path.join(a, 'craft-fallback.parquet'), craft());
        for (const f of fs.readdirSync(a).filter((f) => f.endsWith('.parquet'))) {
            const p = path.join(a, f.replace(/\.parquet$/, ''));
            const vals = await dumpDuckdb(p + '.parquet');
            fs.writeFileSync(p + '.jsonl', vals.filter((v) => v !== null).map((v) => JSON.stringify({ text: v }) + '\n').join(''));
            for (const [name, got] of [['duckdb', vals], ['hyparquet', await dumpHyparquet(p + '.parquet')]]) {
                const out = [];
                write(got, out);
                fs.writeFileSync(`${p}.${name}`, Buffer.concat(out));
            }
        }
    } else if (cmd === 'bad') {
        fs.mkdirSync(a, { recursive: true });
        for (const [name, [o, msg]] of Object.entries(badCases)) {
            fs.writeFileSync(path.join(a, name + '.parquet'), craft(o));
            fs.writeFileSync(path.join(a, name + '.msg'), msg);
        }
    } else if (cmd === 'dump') {
        const out = [];
        write(a === 'duckdb' ? await dumpDuckdb(b) : await dumpHyparquet(b), out);
        fs.writeFileSync(1, Buffer.concat(out));
    } else {
        console.error('usage: parquet_oracle.js fixtures DIR | bad DIR | dump duckdb|hyparquet FILE');
        process.exit(2);
    }
})().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
