# shard: the reader's fuzz target (libFuzzer, clang), run for a bounded time by
# `make fuzz` (SHARD_FUZZ_SECONDS, default 30) and by `make check`.
FUZZ_CC ?= clang
SHARD_FUZZ_SECONDS ?= 30
SHARD_FUZZ := $(BUILD)/fuzz/shard_fuzz
SHARD_FUZZ_DIR := $(BUILD)/fuzz/shard

.PHONY: fuzz fuzz-shard
fuzz: fuzz-shard
check: fuzz-shard

$(SHARD_FUZZ): tests/fuzz/shard_fuzz.c common/shard.c common/shard.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 -Icommon -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all $(filter %.c,$^) -lzstd -lpthread -o $@

# Seeds: small shards of both kinds; the zstd one has several frames (repetitive tokens
# compress well) so the fuzzer starts from a valid frame index.
ifneq ($(shell command -v $(FUZZ_CC) 2>/dev/null),)
fuzz-shard: $(SHARD_FUZZ) $(BINDIR)/gpt2-shard
	@mkdir -p $(SHARD_FUZZ_DIR)/seeds $(SHARD_FUZZ_DIR)/corpus
	head -c 600 /dev/urandom | $(BINDIR)/gpt2-shard -f --vocab-size 65536 -o $(SHARD_FUZZ_DIR)/seeds/a
	yes 'shard fuzz seed' | head -c 1200000 | $(BINDIR)/gpt2-shard -f -z19 -o $(SHARD_FUZZ_DIR)/seeds/b
	head -c 2000 /dev/urandom | $(BINDIR)/gpt2-shard -f -z1 --vocab-size 65536 -o $(SHARD_FUZZ_DIR)/seeds/c
	$(SHARD_FUZZ) -max_total_time=$(SHARD_FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=2048 \
	    -artifact_prefix=$(SHARD_FUZZ_DIR)/ $(SHARD_FUZZ_DIR)/corpus $(SHARD_FUZZ_DIR)/seeds
else
fuzz-shard:
	@echo "fuzz-shard: skipped ($(FUZZ_CC) not found)"
endif
