// The CPU reference of crank_classifier.h: the same plan, run by plain loops. It exists so that
// CI, without a GPU, tests the koffi binding, the planner and the numerics against onnxruntime;
// it is not built for speed. Accumulation is in float, like the CUDA kernels.
#include "../crank_classifier.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace {

std::string g_create_error;

struct Stream {
  std::vector<std::vector<float>> slots;
  int32_t last_batch = 0;
  std::vector<float> times_ms;
};

}  // namespace

struct crank_context {
  std::string error;
  std::vector<float> weights;
  std::vector<int32_t> ops;
  std::vector<float> params;
  std::vector<int64_t> slot_sizes;
  crank_input_spec input{};
  int32_t output_slot = -1;
  /** Columns of the output: the last kernel's, which must write the output slot. */
  int64_t output_width = 0;
  int32_t max_batch = 0;
  uint64_t budget = 0;
  bool loaded = false;
  std::vector<Stream> streams;
};

namespace {

int32_t fail(crank_context *ctx, int32_t status, const std::string &message) {
  ctx->error = message;
  return status;
}

inline float activate(float v, int32_t act, float lo, float hi) {
  return act == CRANK_ACT_CLIP ? std::min(std::max(v, lo), hi) : v;
}

void conv(const int32_t *op, const float *w, const float *bias, float lo, float hi, const float *in,
          float *out) {
  const int ci = op[CRANK_F_C_IN], hi_ = op[CRANK_F_H_IN], wi = op[CRANK_F_W_IN];
  const int co = op[CRANK_F_C_OUT], ho = op[CRANK_F_H_OUT], wo = op[CRANK_F_W_OUT];
  const int kh = op[CRANK_F_KH], kw = op[CRANK_F_KW], sh = op[CRANK_F_STRIDE_H],
            sw = op[CRANK_F_STRIDE_W];
  const int pt = op[CRANK_F_PAD_TOP], pl = op[CRANK_F_PAD_LEFT], group = op[CRANK_F_GROUP];
  const int act = op[CRANK_F_ACT];
  const int cig = ci / group, cog = co / group;
  const size_t plane = static_cast<size_t>(ho) * wo;
  for (int oc = 0; oc < co; ++oc) {
    float *dst = out + oc * plane;
    const float b = bias ? bias[oc] : 0.0f;
    std::fill(dst, dst + plane, 0.0f);
    const int g = oc / cog;
    for (int icg = 0; icg < cig; ++icg) {
      const float *src = in + static_cast<size_t>(g * cig + icg) * hi_ * wi;
      const float *k = w + (static_cast<size_t>(oc) * cig + icg) * kh * kw;
      if (kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0) {
        // Pointwise: one multiply-add over the whole plane, which the compiler vectorises.
        const float kv = k[0];
        for (size_t p = 0; p < plane; ++p) dst[p] += kv * src[p];
        continue;
      }
      for (int y = 0; y < kh; ++y) {
        for (int x = 0; x < kw; ++x) {
          const float kv = k[y * kw + x];
          for (int oy = 0; oy < ho; ++oy) {
            const int iy = oy * sh - pt + y;
            if (iy < 0 || iy >= hi_) continue;
            for (int ox = 0; ox < wo; ++ox) {
              const int ix = ox * sw - pl + x;
              if (ix < 0 || ix >= wi) continue;
              dst[oy * wo + ox] += kv * src[iy * wi + ix];
            }
          }
        }
      }
    }
    for (size_t p = 0; p < plane; ++p) dst[p] = activate(dst[p] + b, act, lo, hi);
  }
}

}  // namespace

extern "C" {

const char *crank_backend(void) { return "cpu-reference"; }

int32_t crank_device_count(void) { return 1; }

crank_context *crank_create(int32_t device, int32_t streams, uint64_t memory_budget_bytes) {
  if (device != 0) {
    g_create_error = "device: the CPU reference has device 0 only (got " + std::to_string(device) + ")";
    return nullptr;
  }
  if (streams < 1 || streams > 8) {
    g_create_error = "streams: must be 1 to 8 (got " + std::to_string(streams) + ")";
    return nullptr;
  }
  auto *ctx = new (std::nothrow) crank_context();
  if (!ctx) {
    g_create_error = "out of host memory";
    return nullptr;
  }
  ctx->budget = memory_budget_bytes;
  ctx->streams.resize(static_cast<size_t>(streams));
  g_create_error.clear();
  return ctx;
}

void crank_destroy(crank_context *ctx) { delete ctx; }

int32_t crank_load(crank_context *ctx, const float *weights, int64_t weight_count, const int32_t *ops,
                   int32_t op_count, const float *op_params, const int64_t *slot_sizes,
                   int32_t slot_count, const crank_input_spec *input, int32_t output_slot,
                   int32_t max_batch) {
  if (!ctx) return CRANK_INVALID_ARGUMENT;
  if (ctx->loaded) return fail(ctx, CRANK_INVALID_ARGUMENT, "load: the context already holds a model");
  if (op_count < 1 || slot_count < 1 || max_batch < 1 || weight_count < 0 || !input || !ops ||
      !op_params || !slot_sizes)
    return fail(ctx, CRANK_INVALID_ARGUMENT, "load: empty plan, no slots or no input");
  if (output_slot < 0 || output_slot >= slot_count || input->slot < 0 || input->slot >= slot_count)
    return fail(ctx, CRANK_INVALID_ARGUMENT, "load: input or output slot out of range");
  if (input->side < 1 || slot_sizes[input->slot] < static_cast<int64_t>(3) * input->side * input->side)
    return fail(ctx, CRANK_INVALID_ARGUMENT, "load: the input slot holds less than 3 x side x side");
  for (int32_t i = 0; i < op_count; ++i) {
    const int32_t *op = ops + static_cast<size_t>(i) * CRANK_OP_FIELDS;
    for (int f : {CRANK_F_IN0, CRANK_F_OUT})
      if (op[f] < 0 || op[f] >= slot_count)
        return fail(ctx, CRANK_INVALID_ARGUMENT, "load: op " + std::to_string(i) + " names a slot out of range");
    if (op[CRANK_F_OPCODE] == CRANK_OP_ADD && (op[CRANK_F_IN1] < 0 || op[CRANK_F_IN1] >= slot_count))
        return fail(ctx, CRANK_INVALID_ARGUMENT, "load: op " + std::to_string(i) + " names a slot out of range");
    for (int f : {CRANK_F_WEIGHTS, CRANK_F_BIAS})
      if (op[f] >= weight_count)
        return fail(ctx, CRANK_INVALID_ARGUMENT, "load: op " + std::to_string(i) + " names weights out of range");
    if (op[CRANK_F_OPCODE] < CRANK_OP_CONV || op[CRANK_F_OPCODE] > CRANK_OP_SOFTMAX)
      return fail(ctx, CRANK_INVALID_ARGUMENT, "load: op " + std::to_string(i) + " has an unknown opcode");
  }
  const int32_t *last = ops + static_cast<size_t>(op_count - 1) * CRANK_OP_FIELDS;
  if (last[CRANK_F_OUT] != output_slot)
    return fail(ctx, CRANK_INVALID_ARGUMENT, "load: the last op must write the output slot");
  uint64_t bytes = static_cast<uint64_t>(weight_count) * sizeof(float);
  for (int32_t s = 0; s < slot_count; ++s)
    bytes += static_cast<uint64_t>(slot_sizes[s]) * max_batch * sizeof(float) * ctx->streams.size();
  if (ctx->budget != 0 && bytes > ctx->budget)
    return fail(ctx, CRANK_RESOURCE_EXHAUSTED,
                "load: weights and buffers need " + std::to_string(bytes) + " bytes, over the budget of " +
                    std::to_string(ctx->budget));
  try {
    ctx->weights.assign(weights, weights + weight_count);
    ctx->ops.assign(ops, ops + static_cast<size_t>(op_count) * CRANK_OP_FIELDS);
    ctx->params.assign(op_params, op_params + static_cast<size_t>(op_count) * 2);
    ctx->slot_sizes.assign(slot_sizes, slot_sizes + slot_count);
    for (auto &stream : ctx->streams) {
      stream.slots.resize(static_cast<size_t>(slot_count));
      for (int32_t s = 0; s < slot_count; ++s)
        stream.slots[s].assign(static_cast<size_t>(slot_sizes[s]) * max_batch, 0.0f);
      stream.times_ms.assign(static_cast<size_t>(op_count), 0.0f);
    }
  } catch (const std::bad_alloc &) {
    return fail(ctx, CRANK_RESOURCE_EXHAUSTED, "load: out of host memory");
  }
  ctx->input = *input;
  ctx->output_slot = output_slot;
  ctx->output_width = last[CRANK_F_C_OUT];
  ctx->max_batch = max_batch;
  ctx->loaded = true;
  ctx->error.clear();
  return CRANK_OK;
}

int32_t crank_run(crank_context *ctx, int32_t stream_index, const uint8_t *images, int32_t batch,
                  float *output) {
  if (!ctx) return CRANK_INVALID_ARGUMENT;
  if (!ctx->loaded) return fail(ctx, CRANK_INVALID_ARGUMENT, "run: no model loaded");
  if (stream_index < 0 || stream_index >= static_cast<int32_t>(ctx->streams.size()))
    return fail(ctx, CRANK_INVALID_ARGUMENT, "run: stream out of range");
  if (batch < 1 || batch > ctx->max_batch)
    return fail(ctx, CRANK_RESOURCE_EXHAUSTED,
                "run: batch must be 1 to " + std::to_string(ctx->max_batch) + " (got " + std::to_string(batch) + ")");
  Stream &stream = ctx->streams[stream_index];
  const int side = ctx->input.side;
  const size_t pixels = static_cast<size_t>(side) * side;
  float *in = stream.slots[ctx->input.slot].data();
  for (int32_t n = 0; n < batch; ++n) {
    const uint8_t *rgb = images + n * pixels * 3;
    float *dst = in + n * ctx->slot_sizes[ctx->input.slot];
    for (int c = 0; c < 3; ++c)
      for (size_t p = 0; p < pixels; ++p)
        dst[c * pixels + p] = (rgb[p * 3 + c] / 255.0f - ctx->input.mean[c]) / ctx->input.std[c];
  }
  const size_t op_count = ctx->ops.size() / CRANK_OP_FIELDS;
  for (size_t i = 0; i < op_count; ++i) {
    const auto started = std::chrono::steady_clock::now();
    const int32_t *op = ctx->ops.data() + i * CRANK_OP_FIELDS;
    const float lo = ctx->params[i * 2], hi = ctx->params[i * 2 + 1];
    const int64_t in_size = ctx->slot_sizes[op[CRANK_F_IN0]];
    const int64_t out_size = ctx->slot_sizes[op[CRANK_F_OUT]];
    const float *w = op[CRANK_F_WEIGHTS] >= 0 ? ctx->weights.data() + op[CRANK_F_WEIGHTS] : nullptr;
    const float *b = op[CRANK_F_BIAS] >= 0 ? ctx->weights.data() + op[CRANK_F_BIAS] : nullptr;
    for (int32_t n = 0; n < batch; ++n) {
      const float *src = stream.slots[op[CRANK_F_IN0]].data() + n * in_size;
      float *dst = stream.slots[op[CRANK_F_OUT]].data() + n * out_size;
      switch (op[CRANK_F_OPCODE]) {
        case CRANK_OP_CONV:
          conv(op, w, b, lo, hi, src, dst);
          break;
        case CRANK_OP_ADD: {
          const float *other = stream.slots[op[CRANK_F_IN1]].data() + n * ctx->slot_sizes[op[CRANK_F_IN1]];
          for (int64_t p = 0; p < out_size; ++p) dst[p] = activate(src[p] + other[p], op[CRANK_F_ACT], lo, hi);
          break;
        }
        case CRANK_OP_GAP: {
          const int64_t plane = static_cast<int64_t>(op[CRANK_F_H_IN]) * op[CRANK_F_W_IN];
          for (int c = 0; c < op[CRANK_F_C_IN]; ++c) {
            float sum = 0.0f;
            for (int64_t p = 0; p < plane; ++p) sum += src[c * plane + p];
            dst[c] = sum / static_cast<float>(plane);
          }
          break;
        }
        case CRANK_OP_GEMM: {
          const int k = op[CRANK_F_C_IN];
          for (int j = 0; j < op[CRANK_F_C_OUT]; ++j) {
            float sum = b ? b[j] : 0.0f;
            for (int p = 0; p < k; ++p) sum += w[static_cast<size_t>(j) * k + p] * src[p];
            dst[j] = activate(sum, op[CRANK_F_ACT], lo, hi);
          }
          break;
        }
        case CRANK_OP_SOFTMAX: {
          const int c = op[CRANK_F_C_IN];
          float top = src[0];
          for (int p = 1; p < c; ++p) top = std::max(top, src[p]);
          float sum = 0.0f;
          for (int p = 0; p < c; ++p) sum += (dst[p] = std::exp(src[p] - top));
          for (int p = 0; p < c; ++p) dst[p] /= sum;
          break;
        }
      }
    }
    stream.times_ms[i] =
        std::chrono::duration<float, std::milli>(std::chrono::steady_clock::now() - started).count();
  }
  // Output rows are as wide as the plan says the output is, however large its slot.
  const int64_t stride = ctx->slot_sizes[ctx->output_slot];
  const int64_t width = ctx->output_width;
  for (int32_t n = 0; n < batch; ++n)
    std::memcpy(output + n * width, stream.slots[ctx->output_slot].data() + n * stride, sizeof(float) * width);
  stream.last_batch = batch;
  ctx->error.clear();
  return CRANK_OK;
}

int32_t crank_top_k(crank_context *ctx, int32_t stream_index, int32_t k, int32_t *indices, float *scores) {
  if (!ctx) return CRANK_INVALID_ARGUMENT;
  if (stream_index < 0 || stream_index >= static_cast<int32_t>(ctx->streams.size()))
    return fail(ctx, CRANK_INVALID_ARGUMENT, "top_k: stream out of range");
  Stream &stream = ctx->streams[stream_index];
  const int64_t width = ctx->output_width;
  const int64_t stride = ctx->loaded ? ctx->slot_sizes[ctx->output_slot] : 0;
  if (stream.last_batch == 0) return fail(ctx, CRANK_INVALID_ARGUMENT, "top_k: nothing has run on this stream");
  if (k < 1 || k > width) return fail(ctx, CRANK_INVALID_ARGUMENT, "top_k: k must be 1 to the output's width");
  std::vector<int32_t> order(static_cast<size_t>(width));
  for (int32_t n = 0; n < stream.last_batch; ++n) {
    const float *row = stream.slots[ctx->output_slot].data() + n * stride;
    for (int64_t i = 0; i < width; ++i) order[i] = static_cast<int32_t>(i);
    std::stable_sort(order.begin(), order.end(), [row](int32_t a, int32_t b) { return row[a] > row[b]; });
    for (int32_t i = 0; i < k; ++i) {
      indices[n * k + i] = order[i];
      scores[n * k + i] = row[order[i]];
    }
  }
  return CRANK_OK;
}

int32_t crank_kernel_times(crank_context *ctx, int32_t stream_index, float *milliseconds) {
  if (!ctx) return CRANK_INVALID_ARGUMENT;
  if (stream_index < 0 || stream_index >= static_cast<int32_t>(ctx->streams.size()))
    return fail(ctx, CRANK_INVALID_ARGUMENT, "kernel_times: stream out of range");
  const auto &times = ctx->streams[stream_index].times_ms;
  std::copy(times.begin(), times.end(), milliseconds);
  return CRANK_OK;
}

const char *crank_last_error(const crank_context *ctx) {
  return ctx ? ctx->error.c_str() : g_create_error.c_str();
}

}  // extern "C"
