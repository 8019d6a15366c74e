# model/kernels: the element-wise loops (AdamW, GELU, ...) vectorise only without errno
# side effects on sqrtf/tanhf; results are unchanged (errno is never read).
$(BUILD)/common/kernels/%.o $(BUILD)/common/model.o: ALL_CFLAGS += -fno-math-errno
