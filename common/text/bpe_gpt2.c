/* The shipped GPT-2 merges (data/gpt2-vocab/vocab.bpe, MIT licensed, see LICENSE there),
 * linked into the binary so that nothing is read from disk at run time. The token ids
 * follow from the merges alone; tests check them against encoder.json. */
__asm__(".section .rodata\n"
        ".globl bpe_gpt2_merges\n"
        "bpe_gpt2_merges:\n"
        ".incbin \"data/gpt2-vocab/vocab.bpe\"\n"
        ".globl bpe_gpt2_merges_end\n"
        "bpe_gpt2_merges_end:\n"
        ".previous\n");
