# gpt2 — one build for every tool. `make` builds bin/gpt2-*; `make test` runs the
# suite under prove; `make check` adds the sanitizer run and the man-page lint.
# CUDA objects are built whenever nvcc is found (override with CUDA=0); MPI (data-parallel
# training) whenever pkg-config knows OpenMPI (MPI=0 to leave it out), and NCCL with it
# when the CUDA toolkit has nccl.h (NCCL=0); oneDNN (bf16 inference products) whenever
# its header is installed (ONEDNN=0 to leave it out).

VERSION  := 0.1.0
.DEFAULT_GOAL := all
PREFIX   ?= /usr/local
CC       ?= cc
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
BUILD    ?= build
BINDIR   ?= bin
SAN      ?=

CUDA_HOME ?= /usr/local/cuda
NVCC     ?= $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard $(CUDA_HOME)/bin/nvcc))
CUDA     ?= $(if $(NVCC),1,0)
NVCC_ARCH ?= -gencode arch=compute_90a,code=sm_90a -gencode arch=compute_90,code=sm_90 \
             -gencode arch=compute_80,code=sm_80
NVCCFLAGS ?= -O3 -std=c++17 $(NVCC_ARCH) -Xcompiler -Wall,-Wextra,-Werror -Xcudafe --display_error_number

ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fopenmp -Icommon -Itests \
             -DGPT2_VERSION='"$(VERSION)"' -MMD -MP $(CFLAGS) $(SAN)
LDLIBS   = -lpcre2-8 -lzstd -lsnappy -lz -ljansson -lopenblas -lm -lpthread
ALL_LDFLAGS = -fopenmp -Wl,--as-needed $(LDFLAGS) $(SAN)

MPI      ?= $(if $(shell pkg-config --exists ompi-c 2>/dev/null && echo y),1,0)
NCCL     ?= $(if $(filter 11,$(CUDA)$(MPI)),$(if $(wildcard $(CUDA_HOME)/include/nccl.h),1,0),0)
ifeq ($(MPI),1)
ALL_CFLAGS  += -DGPT2_MPI $(shell pkg-config --cflags ompi-c)
LDLIBS      += $(shell pkg-config --libs ompi-c)
endif
ONEDNN   ?= $(if $(wildcard /usr/include/oneapi/dnnl/dnnl.h),1,0)
ifeq ($(ONEDNN),1)
ALL_CFLAGS  += -DGPT2_ONEDNN
LDLIBS      += -ldnnl
endif

# The CUDA code is a plugin, $(BINDIR)/gpt2-cuda.so, that the tools open only when a GPU
# may be used (model/cuda_plugin.h): linked in, cuBLAS cost every run 210 MiB resident. Its
# entries carry GPT2_CUDA_ABI, a hash of the headers that declare them, so that a program
# refuses a plugin from another build.
ifeq ($(CUDA),1)
CUDA_SRC    := $(wildcard common/*/*.cu common/model/kernels/*.cu)
# the NCCL collectives only in a build with NCCL
ifneq ($(NCCL),1)
CUDA_SRC    := $(filter-out %_nccl.cu,$(CUDA_SRC))
endif
CUDA_OBJ    := $(CUDA_SRC:%.cu=$(BUILD)/%.cu.o)
CUDA_LIBS   := -L$(CUDA_HOME)/lib64 -lcublasLt -lcublas -lcudart $(if $(filter 1,$(NCCL)),-lnccl) \
               -lstdc++
CUDA_PLUGIN := $(BINDIR)/gpt2-cuda.so
CUDA_ABI_HEADERS := common/model/backend.h common/model/config.h common/model/backend_cuda.h \
                    common/train/dist_nccl.h
CUDA_ABI    := 0x$(shell cat $(CUDA_ABI_HEADERS) | md5sum | cut -c1-15)UL
CUDA_ABI_OBJ := $(BUILD)/common/model/cuda_plugin.o $(BUILD)/common/model/backend_cuda.cu.o \
                $(BUILD)/common/train/dist_nccl.cu.o
$(CUDA_ABI_OBJ): $(CUDA_ABI_HEADERS)
$(CUDA_ABI_OBJ): ABI_FLAGS = -DGPT2_CUDA_ABI=$(CUDA_ABI)
endif

COMMON_SRC := $(wildcard common/*/*.c common/model/kernels/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
LIB        := $(BUILD)/libgpt2.a

TOOLS      := $(notdir $(patsubst %/,%,$(dir $(wildcard tools/*/main.c))))
TOOL_BINS  := $(TOOLS:%=$(BINDIR)/gpt2-%)

UNIT_SRC   := $(wildcard tests/unit/*.c)
UNIT_BINS  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
CLI_TESTS  := $(wildcard tests/cli/*.sh)
# programs the tests drive (not tests themselves): tests/helpers/x.c -> build/tests/helpers/x
HELPER_SRC := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)
MANPAGES   := $(wildcard man/*.[1-8])

# prove's own parallelism; each test may use OpenMP threads too
PROVE_JOBS ?= 2

.SECONDARY:
.PHONY: all test test-asan check lint install clean bench demo
all: $(TOOL_BINS) $(CUDA_PLUGIN) $(UNIT_BINS) $(HELPER_BINS)

# per-area build rules (generated sources, fuzzers...) live beside their code
-include $(wildcard mk/*.mk)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ABI_FLAGS) -c $< -o $@

$(BUILD)/%.cu.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -Xcompiler -fPIC -Icommon -DGPT2_CUDA $(ABI_FLAGS) -MMD -MP -c $< -o $@

# its calls into the library (die, the model layout) resolve against the program
$(CUDA_PLUGIN): $(CUDA_OBJ)
	@mkdir -p $(dir $@)
	$(NVCC) -shared -cudart shared $^ -Xlinker -rpath,$(CUDA_HOME)/lib64 $(CUDA_LIBS) -o $@

$(LIB): $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/helpers/%: $(BUILD)/tests/helpers/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

# a tool is every .c file in its directory, linked against the library; it exports its
# symbols (-rdynamic) for the CUDA plugin
.SECONDEXPANSION:
$(TOOL_BINS): $(BINDIR)/gpt2-%: $$(addprefix $(BUILD)/,$$(subst .c,.o,$$(wildcard tools/$$*/*.c))) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -rdynamic $(filter %.o,$^) $(LIB) $(LDLIBS) -o $@

test: all
	BIN=$(abspath $(BINDIR)) TESTBIN=$(abspath $(BUILD)/tests) \
	    prove -j$(PROVE_JOBS) $(UNIT_BINS) $(CLI_TESTS)

# Everything again under AddressSanitizer + UBSan (CPU code only).
test-asan:
	$(MAKE) BUILD=build-asan BINDIR=bin-asan CUDA=0 OPT=-O1 \
	    SAN='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' test

lint:
	scripts/lint-layers.sh
	$(if $(MANPAGES),mandoc -T lint -W warning $(MANPAGES))

check: lint test test-asan

bench: all
	@for b in bench/*.sh; do echo "== $$b"; BIN=$(abspath $(BINDIR)) bash $$b || exit 1; done

# each man page into the directory of its section (1, 5, 7...), made as needed
install: $(TOOL_BINS) $(CUDA_PLUGIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(TOOL_BINS) $(DESTDIR)$(PREFIX)/bin/
	$(if $(CUDA_PLUGIN),install -D -m 755 $(CUDA_PLUGIN) $(DESTDIR)$(PREFIX)/lib/gpt2/gpt2-cuda.so)
	for m in $(MANPAGES); do \
	    install -D -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/$${m##*/} || exit 1; \
	done

clean:
	rm -rf build build-asan bin bin-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
