# gpt2-tokenize: the GPT-2 merges are assembled into libgpt2.a (.incbin in
# common/text/bpe_gpt2.c), so that object depends on the data files.
$(BUILD)/common/text/bpe_gpt2.o: data/gpt2-vocab/vocab.bpe
