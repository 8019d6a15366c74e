# make demo: the whole pipeline on the shipped demo corpus, on a fresh machine without
# network — tokenize, pack shards, train a small GPT-2 for a few minutes (on the GPU when
# there is one, else the CPU), print the validation loss, sample a paragraph, draw the
# run's picture (scripts/plot-run) into $(DEMO_DIR)/run/chart.png.
# Knobs: DEMO_STEPS, DEMO_MODEL (LAYERS:HEADS:CHANNELS; head size 64 as the CUDA
# attention needs), DEMO_PROMPT, DEMO_DEVICE (auto|cpu|cuda), DEMO_DIR. With none of
# them set, the picture also replaces doc/demo.png, the one the README shows.
DEMO_DIR    ?= build/demo
DEMO_CORPUS ?= $(firstword $(wildcard data/demo/*.txt.zst data/demo/*.txt))
DEMO_MODEL  ?= 4:1:64
DEMO_STEPS  ?= 480
DEMO_DEVICE ?= auto
DEMO_PROMPT ?= The
DEMO_BINS   := $(addprefix $(BINDIR)/gpt2-,tokenize shard train sample)
# 1 when no knob was set on the command line or in the environment
DEMO_DEFAULTS := $(if $(filter-out file,$(foreach v,DIR CORPUS MODEL STEPS DEVICE PROMPT,$(origin DEMO_$(v)))),,1)

demo: $(DEMO_BINS)
	@test -n "$(DEMO_CORPUS)" || { echo "make demo: no corpus in data/demo/" >&2; exit 1; }
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	@echo "== 1/5 tokenize $(DEMO_CORPUS)"
	$(if $(filter %.zst,$(DEMO_CORPUS)),zstd -dc,cat) $(DEMO_CORPUS) | $(BINDIR)/gpt2-tokenize -o $(DEMO_DIR)/corpus.tok
	@echo "== 2/5 pack shards (the first 32768 tokens are the validation set)"
	$(BINDIR)/gpt2-shard -o $(DEMO_DIR)/demo --val-tokens 32768 $(DEMO_DIR)/corpus.tok
	@echo "== 3/5 train a $(DEMO_MODEL) (layers:heads:channels) GPT-2 for $(DEMO_STEPS) steps"
	$(BINDIR)/gpt2-train -i '$(DEMO_DIR)/demo_train_*.bin' -j '$(DEMO_DIR)/demo_val_*.bin' \
	    -o $(DEMO_DIR)/run --init $(DEMO_MODEL) --max-seq-len 64 -t 64 -b 8 -d 512 \
	    -x $(DEMO_STEPS) -u 20 -l 2e-3 -v 60 -m 16 -n 0 --device $(DEMO_DEVICE) --progress
	@sed -n 's/.*"type":"val","step":\([0-9]*\),"loss":\([0-9.]*\).*/validation loss \2 at step \1/p' \
	    $(DEMO_DIR)/run/log.jsonl
	@echo "== 4/5 sample from $$(ls $(DEMO_DIR)/run/model_*.bin | tail -n 1)"
	$(BINDIR)/gpt2-sample -m $$(ls $(DEMO_DIR)/run/model_*.bin | tail -n 1) -p "$(DEMO_PROMPT)" \
	    -n 120 -k 40 --seed 42 --echo
	@echo
	@echo "== 5/5 draw the run: $(DEMO_DIR)/run/chart.png"
	@if command -v gnuplot >/dev/null 2>&1; then \
	    scripts/plot-run -t "make demo: a $(DEMO_MODEL) GPT-2, $(DEMO_STEPS) steps on the demo corpus" \
	        -o $(DEMO_DIR)/run/chart.png $(DEMO_DIR)/run/log.jsonl \
	    $(if $(DEMO_DEFAULTS),&& cp $(DEMO_DIR)/run/chart.png doc/demo.png.tmp && mv doc/demo.png.tmp doc/demo.png); \
	else echo "make demo: no gnuplot (Debian: gnuplot-nox), so no picture" >&2; fi
