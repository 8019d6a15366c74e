# CUDA tests and benchmarks (only when nvcc is found; see the top Makefile's CUDA switch).
#   tests/gpu/<name>.cu -> build/tests/gpu/<name>  (TAP; "1..0 # SKIP no CUDA device" without one)
#   bench/gpu_step.cu   -> build/bench/gpu_step    (training-step timing, GEMM ceiling)
#   make test-gpu       the GPU tests alone, verbose
ifeq ($(CUDA),1)
GPU_TEST_SRC := $(wildcard tests/gpu/*.cu)
GPU_TESTS    := $(GPU_TEST_SRC:tests/gpu/%.cu=$(BUILD)/tests/gpu/%)
GPU_BENCH    := $(BUILD)/bench/gpu_step
UNIT_BINS    += $(GPU_TESTS)

all: $(GPU_TESTS) $(GPU_BENCH)

GPU_NCCL_FLAG := $(if $(filter 1,$(NCCL)),-DGPT2_NCCL)

# nvcc compiles, the C compiler links (LDLIBS carries -Wl options nvcc does not take)
$(BUILD)/tests/gpu/%.cu.o: tests/gpu/%.cu tests/gpu/test_util.h
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -Icommon -Itests -DGPT2_CUDA $(GPU_NCCL_FLAG) -MMD -MP -c $< -o $@
$(BUILD)/bench/gpu_step.cu.o: ABI_FLAGS = $(GPU_NCCL_FLAG)

# the GPU tests and benchmark link the CUDA objects themselves (no plugin)
$(BUILD)/tests/gpu/%: $(BUILD)/tests/gpu/%.cu.o $(CUDA_OBJ) $(LIB)
	$(CC) $(ALL_LDFLAGS) $< $(CUDA_OBJ) $(LIB) $(LDLIBS) -Wl,-rpath,$(CUDA_HOME)/lib64 $(CUDA_LIBS) -o $@

$(GPU_BENCH): $(BUILD)/bench/gpu_step.cu.o $(CUDA_OBJ) $(LIB)
	$(CC) $(ALL_LDFLAGS) $< $(CUDA_OBJ) $(LIB) $(LDLIBS) -Wl,-rpath,$(CUDA_HOME)/lib64 $(CUDA_LIBS) -o $@

.PHONY: test-gpu bench-gpu
test-gpu: $(GPU_TESTS)
	prove -v $(GPU_TESTS)

bench-gpu: all
	BIN=$(abspath $(BINDIR)) BUILD=$(abspath $(BUILD)) bash bench/gpu.sh
endif
