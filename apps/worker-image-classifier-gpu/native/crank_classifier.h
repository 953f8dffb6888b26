/*
 * The C API of Crank's image classifier kernels. Two libraries implement it: libcrank_cuda.so
 * (CUDA, native/cuda) serves; libcrank_ref.so (plain C++, native/cpu) is the reference that CI
 * runs through the same koffi binding, so the binding, the plan and the numerics are tested on
 * machines without a GPU.
 *
 * The caller (src/graph-plan.ts) reads the ONNX file, plans the kernel sequence and the buffers,
 * and hands both over once with the weights; each run then takes a batch of RGB8 images already
 * resized to the model's side and answers one row of probabilities per image.
 *
 * Every call but crank_last_error returns a CRANK_* status; on failure the text of
 * crank_last_error(ctx) (or crank_last_error(NULL) after a failed create) says why.
 */
#ifndef CRANK_CLASSIFIER_H
#define CRANK_CLASSIFIER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Statuses. UNAVAILABLE: no device, or the device or a kernel failed; RESOURCE_EXHAUSTED: the
 * request does not fit the memory budget or the device's memory. */
#define CRANK_OK 0
#define CRANK_INVALID_ARGUMENT 1
#define CRANK_UNAVAILABLE 2
#define CRANK_RESOURCE_EXHAUSTED 3

/* Kernel opcodes of a plan. */
#define CRANK_OP_CONV 1    /* direct, depthwise or grouped convolution, bias and activation fused */
#define CRANK_OP_ADD 2     /* elementwise sum of two slots, activation fused */
#define CRANK_OP_GAP 3     /* global average pooling: C x H x W -> C */
#define CRANK_OP_GEMM 4    /* fully connected: K -> N, weights row-major N x K, bias */
#define CRANK_OP_SOFTMAX 5 /* softmax over a row of C */

/* Fused activations. */
#define CRANK_ACT_NONE 0
#define CRANK_ACT_CLIP 1 /* min(max(x, lo), hi); ReLU is a clip to [0, +inf) */

/* One kernel of a plan is CRANK_OP_FIELDS int32 values, in this order. Slots hold one tensor per
 * image of the batch; sizes below are per image. */
#define CRANK_OP_FIELDS 20
enum crank_op_field {
  CRANK_F_OPCODE = 0,
  CRANK_F_IN0,     /* input slot */
  CRANK_F_IN1,     /* second input slot (ADD), else -1 */
  CRANK_F_OUT,     /* output slot */
  CRANK_F_WEIGHTS, /* offset, in floats, of the weights in the uploaded array, else -1 */
  CRANK_F_BIAS,    /* offset of the bias, else -1 */
  CRANK_F_C_IN,
  CRANK_F_H_IN,
  CRANK_F_W_IN,
  CRANK_F_C_OUT,
  CRANK_F_H_OUT,
  CRANK_F_W_OUT,
  CRANK_F_KH,
  CRANK_F_KW,
  CRANK_F_STRIDE_H,
  CRANK_F_STRIDE_W,
  CRANK_F_PAD_TOP,
  CRANK_F_PAD_LEFT,
  CRANK_F_GROUP,
  CRANK_F_ACT
};

/* The model's input: side x side RGB8 images (HWC, as decoded), normalised on the device as
 * (x / 255 - mean[c]) / std[c] into the NCHW input slot. */
typedef struct crank_input_spec {
  int32_t side;
  int32_t slot;
  float mean[3];
  float std[3];
} crank_input_spec;

typedef struct crank_context crank_context;

/* "cuda" or "cpu-reference". */
const char *crank_backend(void);

/* Devices this library can use: CUDA devices found, 0 where there is no driver or no GPU; the
 * reference answers 1 (the CPU). Never fails. */
int32_t crank_device_count(void);

/* Creates a context on `device` with `streams` streams (1 to 8) and a memory budget in bytes for
 * weights and buffers (0: no budget of its own). NULL on failure: see crank_last_error(NULL). */
crank_context *crank_create(int32_t device, int32_t streams, uint64_t memory_budget_bytes);

/* Frees the context and all it holds. NULL is a no-op. */
void crank_destroy(crank_context *ctx);

/* Uploads the weights and the plan once: `ops` is op_count * CRANK_OP_FIELDS values, `op_params`
 * two floats (clip lo, hi) per op, `slot_sizes` floats per image of each slot. Buffers are sized
 * for `max_batch` images per stream. RESOURCE_EXHAUSTED when they do not fit. */
int32_t crank_load(crank_context *ctx, const float *weights, int64_t weight_count, const int32_t *ops,
                   int32_t op_count, const float *op_params, const int64_t *slot_sizes,
                   int32_t slot_count, const crank_input_spec *input, int32_t output_slot,
                   int32_t max_batch);

/* Runs `batch` images (batch * side * side * 3 bytes) on stream `stream` and writes batch rows of
 * the output slot's size into `output`. Concurrent calls on different streams overlap. */
int32_t crank_run(crank_context *ctx, int32_t stream, const uint8_t *images, int32_t batch,
                  float *output);

/* The k best columns of each row of the last run on `stream`, best first: batch * k indices and
 * scores. */
int32_t crank_top_k(crank_context *ctx, int32_t stream, int32_t k, int32_t *indices, float *scores);

/* Milliseconds each op of the plan took in the last run on `stream` (CUDA events; wall clock in
 * the reference), op_count values. */
int32_t crank_kernel_times(crank_context *ctx, int32_t stream, float *milliseconds);

/* Text of the last failure on this context (or of the last failed create, for NULL); "" if none.
 * Valid until the next call on the same context. */
const char *crank_last_error(const crank_context *ctx);

#ifdef __cplusplus
}
#endif

#endif
