# Fuzz targets (libFuzzer, clang): tests/fuzz/<name>_fuzz.c built with the sources of the
# readers it drives, started from seed files.
#   make fuzz   looks for new bugs: FUZZ_SECONDS (default 30) per target from a fresh random
#               seed, so every run tries other inputs
#   make check  replays a fixed search: FUZZ_SEED and FUZZ_RUNS_<name> inputs per target
#               (about 30 s each here), the same inputs on every machine whatever its speed.
#               A bug `make fuzz` finds goes into the seeds (tests/fuzz/<name>/) and then
#               fails `make check` on every run until it is fixed, never by chance.
#   shard  the shard reader (both kinds of shard)
#   files  the readers of model files (llm.c, safetensors), train state, HellaSwag and
#          gpt2-eval's log
#   parquet  the Parquet reader (seeds: tests/fuzz/parquet/, one small file per codec,
#          page version and string encoding, made by DuckDB, hyparquet-writer and
#          tests/ref/parquet_oracle.js's dictionary-then-PLAIN chunk, and inputs that
#          fuzzing found to break it)
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 30
FUZZ_SEED ?= 1
FUZZ_RUNS_shard ?= 200000
FUZZ_RUNS_files ?= 100000
FUZZ_RUNS_parquet ?= 1000000
FUZZ_NAMES := shard files parquet
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Icommon -Wno-unknown-attributes \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

FUZZ_SRC_shard := common/data/shard.c common/base/util.c common/base/crc32c.c
FUZZ_LIBS_shard := -lzstd -lpthread
FUZZ_SRC_files := common/model/modelfile.c common/model/config.c common/model/model.c common/train/state.c common/base/util.c \
                  common/base/crc32c.c \
                  common/eval/hellaswag.c common/eval/evallog.c common/text/bpe.c common/text/bpe_gpt2.c \
                  data/gpt2-vocab/vocab.bpe $(wildcard common/model/kernels/*.c)
FUZZ_LIBS_files := -lpcre2-8 -ljansson -lopenblas -lgomp -lm -lpthread
FUZZ_SRC_parquet := common/text/parquet.c common/base/util.c
FUZZ_LIBS_parquet := -lsnappy -lz -lzstd -lpthread

# seeds, written into $(1), the same bytes on every run: small shards of both kinds (the
# zstd one has several frames, repetitive tokens compress well, so the fuzzer starts from a
# valid frame index); one valid file of each kind the files target reads
FUZZ_DEPS_shard := $(BINDIR)/gpt2-shard
FUZZ_NOISE = python3 -c 'import random, sys; sys.stdout.buffer.write(random.Random(1).randbytes($(1)))'
FUZZ_SEEDS_shard = $(call FUZZ_NOISE,600) | $(BINDIR)/gpt2-shard -f --vocab-size 65536 -o $(1)/a && \
    yes 'shard fuzz seed' | head -c 1200000 | $(BINDIR)/gpt2-shard -f -z19 -o $(1)/b && \
    $(call FUZZ_NOISE,2000) | $(BINDIR)/gpt2-shard -f -z1 --vocab-size 65536 -o $(1)/c
FUZZ_SEEDS_files = python3 tests/fuzz/files_seeds.py $(1)
FUZZ_SEEDS_parquet = cp tests/fuzz/parquet/*.parquet $(1)/

.PHONY: fuzz $(FUZZ_NAMES:%=fuzz-%)
fuzz: $(FUZZ_NAMES:%=fuzz-%)
check: fuzz
check: FUZZ_REPLAY = 1
# a replay starts from the seeds alone; a search also from what earlier searches kept
FUZZ_REPLAY_ARGS = -seed=$(FUZZ_SEED) -runs=$(FUZZ_RUNS_$(1)) $(BUILD)/fuzz/$(1)/seeds
FUZZ_SEARCH_ARGS = -max_total_time=$(FUZZ_SECONDS) $(BUILD)/fuzz/$(1)/corpus $(BUILD)/fuzz/$(1)/seeds

define FUZZ_TARGET
$(BUILD)/fuzz/$(1)_fuzz: tests/fuzz/$(1)_fuzz.c $(FUZZ_SRC_$(1))
	@mkdir -p $$(dir $$@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $$(filter %.c,$$^) $(FUZZ_LIBS_$(1)) -o $$@
ifneq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
fuzz-$(1): $(BUILD)/fuzz/$(1)_fuzz $(FUZZ_DEPS_$(1))
	@rm -rf $(BUILD)/fuzz/$(1)/seeds && mkdir -p $(BUILD)/fuzz/$(1)/seeds $(BUILD)/fuzz/$(1)/corpus
	$(call FUZZ_SEEDS_$(1),$(BUILD)/fuzz/$(1)/seeds)
	$(BUILD)/fuzz/$(1)_fuzz -max_len=65536 -rss_limit_mb=2048 -artifact_prefix=$(BUILD)/fuzz/$(1)/ \
	    $$(if $$(FUZZ_REPLAY),$(FUZZ_REPLAY_ARGS),$(FUZZ_SEARCH_ARGS))
else
# a skip on a user's machine; where GPT2_REQUIRE_REFS=1 (CI) a missing fuzzer fails
fuzz-$(1):
	@if [ "$$$${GPT2_REQUIRE_REFS:-0}" = 1 ]; then \
	    echo "fuzz-$(1): $(FUZZ_CC) not found (required by GPT2_REQUIRE_REFS=1)" >&2; exit 1; fi
	@echo "fuzz-$(1): skipped ($(FUZZ_CC) not found)"
endif
endef
$(foreach f,$(FUZZ_NAMES),$(eval $(call FUZZ_TARGET,$(f))))
