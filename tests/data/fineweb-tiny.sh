#!/usr/bin/env bash
# Makes fineweb-tiny.parquet: 100 short English documents in FineWeb-Edu's columns (text,
# id, dump, url, file_path, language, language_score, token_count, score, int_score), all
# OPTIONAL, SNAPPY, written by DuckDB as the oracle tests use it. The texts are lines 1-300
# of the demo corpus (data/demo, see its PROVENANCE), three lines a document.
# Usage: tests/data/fineweb-tiny.sh   (needs the npm oracles: npm ci --prefix tests)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
zstd -dc "$top/data/demo/corpus.txt.zst" | head -n 100 >"$top/tests/data/.fineweb-tiny.txt"
node - "$top" <<'JS'
const top = process.argv[2];
const fs = require('fs');
const { DuckDBInstance } = require(top + '/tests/node_modules/@duckdb/node-api');
(async () => {
    const lines = fs.readFileSync(top + '/tests/data/.fineweb-tiny.txt', 'utf8').split('\n');
    const c = await (await DuckDBInstance.create(':memory:')).connect();
    await c.run(`create table t (text varchar, id varchar, dump varchar, url varchar, file_path varchar,
        language varchar, language_score double, token_count bigint, score double, int_score bigint)`);
    const a = await c.createAppender('t');
    for (let i = 0; i < 100; i++) {
        const text = lines[i];
        a.appendVarchar(text);
        a.appendVarchar(`<urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}>`);
        a.appendVarchar('CC-MAIN-2024-10');
        a.appendVarchar(`http://example.org/doc/${i}`);
        a.appendVarchar('s3://commoncrawl/crawl-data/CC-MAIN-2024-10/segments/example.warc.gz');
        a.appendVarchar('en');
        a.appendDouble(0.9 + (i % 10) / 100);
        a.appendBigInt(BigInt(text.split(/\s+/).length));
        a.appendDouble(2.5 + (i % 7) / 4);
        a.appendBigInt(BigInt(3 + (i % 2)));
        a.endRow();
    }
    a.closeSync();
    await c.run(`copy t to '${top}/tests/data/fineweb-tiny.parquet' (FORMAT parquet, COMPRESSION snappy)`);
})().catch((e) => { console.error(e); process.exit(1); });
JS
rm -f "$top/tests/data/.fineweb-tiny.txt"
