/* ckptinfo: what gpt2-eval knows about a checkpoint from its name and neighbours. gpt2-train
 * (like llm.c) writes <dir>/model_<step>.bin, state_<step>.bin, then an empty DONE_<step>
 * (<step> in eight digits or more), each file through a temp name "<file>.tmp.XXXXXX" + rename. */
#ifndef GPT2_CKPTINFO_H
#define GPT2_CKPTINFO_H

typedef struct {
    long long step;   /* from model_<step>.bin, else -1 */
    long long tokens; /* training tokens seen, from state_<step>.bin, else -1 */
} CkptInfo;

/* 0 for a temp file and for a model_<step>.bin whose DONE_<step> is missing (still being
 * written); 1 otherwise. */
int ckptinfo_complete(const char *path);
void ckptinfo_read(const char *path, CkptInfo *info);

#endif
