#!/usr/bin/env python3
"""Rebuild corpus.txt from the nlp-corpus npm package (see PROVENANCE):
    npm pack nlp-corpus@4.4.0 && tar xzf nlp-corpus-4.4.0.tgz
    python3 extract.py package/builds > corpus.txt && zstd -19 corpus.txt
Keeps single-line ASCII sentences of 40-600 characters that look like prose
(capital or quote first, sentence punctuation or quote last, no URLs, handles,
hashtags, tabs or double spaces), in the package's order, the first 30000."""
import glob
import json
import os
import re
import sys

builds = sys.argv[1]
docs = sorted(glob.glob(os.path.join(builds, "doc-*.json")),
              key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[0]))
kept = []
for doc in docs:
    for s in json.load(open(doc, encoding="utf-8")):
        s = s.strip()
        if "\n" in s or not 40 <= len(s) <= 600 or not s.isascii():
            continue
        if not re.match(r"^[A-Z\"']", s) or not re.search(r"[.!?\"']$", s):
            continue
        if re.search(r"https?:|www\.|@|#|\t|  ", s):
            continue
        kept.append(s)
sys.stdout.write("\n".join(kept[:30000]) + "\n")
