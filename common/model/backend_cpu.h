/* backend_cpu: the Backend over the CPU model (model.h) — for training, and for inference
 * through the key/value cache of generate.h in fp32 or bf16. */
#ifndef GPT2_BACKEND_CPU_H
#define GPT2_BACKEND_CPU_H

#include "model/backend.h"
#include "model/generate.h"
#include "model/model.h"

/* Takes over the model (frees it on be->free): on the CPU the model is the backend's
 * state, so its parameters are used in place, never copied. */
Backend *backend_cpu_create(GPT2 *model, int B, int T);
/* For inference only (eval_losses, logits, decode): fp32 is backend_cpu_create; bf16
 * converts the weights into a Generator (generate.h), frees the model's fp32 block and
 * computes everything through the key/value cache, one row at a time (train_step, update,
 * get_state, set_state, grad_memory and param_memory are NULL). */
Backend *backend_cpu_infer_create(GPT2 *model, int B, int T, GenerateDtype dtype);
/* The bf16 backend of backend_cpu_infer_create on a generator that holds the weights
 * (generate_load_bf16: no fp32 model ever); takes it over, and makes its cache for T
 * positions if it has none. */
Backend *backend_cpu_bf16_create(Generator *gen, int B, int T);

#endif
