# model/kernels: the element-wise loops (AdamW, GELU, ...) vectorise only without errno
# side effects on sqrtf/tanhf; results are unchanged (errno is never read).
$(BUILD)/common/model/kernels/%.o $(BUILD)/common/model/model.o: ALL_CFLAGS += -fno-math-errno
