// The CUDA implementation of crank_classifier.h. No cuBLAS or cuDNN: MobileNetV2's operators are
// few, and owning them keeps the library one file linked against the static CUDA runtime.
//
// Each stream owns its buffers (every slot sized for max_batch images), pinned staging for the
// images and the output, and one CUDA event per kernel boundary, so batches on different streams
// overlap: one's copies with another's kernels.
#include "../crank_classifier.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace {

std::string g_create_error;

constexpr int kTile = 16;

struct Stream {
  cudaStream_t stream = nullptr;
  std::vector<float *> slots;
  uint8_t *images = nullptr;       // device: max_batch RGB8 images
  uint8_t *staged_images = nullptr;  // pinned host
  float *staged_output = nullptr;    // pinned host: max_batch rows
  std::vector<cudaEvent_t> events;   // op_count + 1
  int32_t last_batch = 0;
};

}  // namespace

struct crank_context {
  int32_t device = 0;
  uint64_t budget = 0;
  std::string error;
  std::vector<Stream> streams;
  float *weights = nullptr;
  std::vector<int32_t> ops;
  std::vector<float> params;
  std::vector<int64_t> slot_sizes;
  crank_input_spec input{};
  int32_t output_slot = -1;
  int64_t output_width = 0;
  int32_t max_batch = 0;
  bool loaded = false;
};

namespace {

int32_t fail(crank_context *ctx, int32_t status, const std::string &message) {
  ctx->error = message;
  return status;
}

// A CUDA failure as a status: out of memory is RESOURCE_EXHAUSTED (the caller may retry smaller),
// anything else UNAVAILABLE.
int32_t cuda_fail(crank_context *ctx, cudaError_t error, const char *what) {
  cudaGetLastError();  // clears a non-sticky error so the context stays usable
  return fail(ctx, error == cudaErrorMemoryAllocation ? CRANK_RESOURCE_EXHAUSTED : CRANK_UNAVAILABLE,
              std::string(what) + ": " + cudaGetErrorName(error) + " (" + cudaGetErrorString(error) + ")");
}

#define CRANK_CUDA(ctx, call, what)                 \
  do {                                              \
    cudaError_t crank_status_ = (call);             \
    if (crank_status_ != cudaSuccess) return cuda_fail(ctx, crank_status_, what); \
  } while (0)

__device__ __forceinline__ float activate(float v, int act, float lo, float hi) {
  return act == CRANK_ACT_CLIP ? fminf(fmaxf(v, lo), hi) : v;
}

// RGB8 HWC -> normalised NCHW floats in the input slot.
__global__ void preprocess(const uint8_t *images, float *out, int batch, int side, int64_t stride,
                           float m0, float m1, float m2, float s0, float s1, float s2) {
  const int64_t pixels = static_cast<int64_t>(side) * side;
  const int64_t total = pixels * 3 * batch;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t n = i / (pixels * 3), rest = i % (pixels * 3);
    const int c = static_cast<int>(rest / pixels);
    const int64_t p = rest % pixels;
    const float mean = c == 0 ? m0 : c == 1 ? m1 : m2;
    const float std = c == 0 ? s0 : c == 1 ? s1 : s2;
    out[n * stride + c * pixels + p] = (images[(n * pixels + p) * 3 + c] / 255.0f - mean) / std;
  }
}

// Pointwise convolution as a tiled matrix product per image: out[oc][p] = sum W[oc][ic] in[ic][p],
// bias and clip fused. blockIdx.z is the image.
__global__ void conv1x1(const float *in, const float *w, const float *bias, float *out, int ci, int co,
                        int plane, int64_t in_stride, int64_t out_stride, int act, float lo, float hi) {
  __shared__ float tw[kTile][kTile + 1];
  __shared__ float ti[kTile][kTile + 1];
  const int oc = blockIdx.y * kTile + threadIdx.y;
  const int p = blockIdx.x * kTile + threadIdx.x;
  const float *src = in + blockIdx.z * in_stride;
  float sum = 0.0f;
  for (int k0 = 0; k0 < ci; k0 += kTile) {
    const int kw = k0 + threadIdx.x, ki = k0 + threadIdx.y;
    tw[threadIdx.y][threadIdx.x] = (oc < co && kw < ci) ? w[static_cast<int64_t>(oc) * ci + kw] : 0.0f;
    ti[threadIdx.y][threadIdx.x] = (ki < ci && p < plane) ? src[static_cast<int64_t>(ki) * plane + p] : 0.0f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kTile; ++k) sum += tw[threadIdx.y][k] * ti[k][threadIdx.x];
    __syncthreads();
  }
  if (oc < co && p < plane)
    out[blockIdx.z * out_stride + static_cast<int64_t>(oc) * plane + p] =
        activate(sum + (bias ? bias[oc] : 0.0f), act, lo, hi);
}

// Direct convolution, any kernel size, stride, padding and group (depthwise is group == ci): one
// thread per output value. blockIdx.y is the image.
__global__ void conv_direct(const float *in, const float *w, const float *bias, float *out, int ci, int hi_,
                            int wi, int co, int ho, int wo, int kh, int kw, int sh, int sw, int pt, int pl,
                            int group, int64_t in_stride, int64_t out_stride, int act, float lo, float hi) {
  const int64_t total = static_cast<int64_t>(co) * ho * wo;
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  const int ox = static_cast<int>(i % wo), oy = static_cast<int>((i / wo) % ho), oc = static_cast<int>(i / (static_cast<int64_t>(wo) * ho));
  const int cig = ci / group, cog = co / group, g = oc / cog;
  const float *src = in + blockIdx.y * in_stride;
  float sum = 0.0f;
  for (int icg = 0; icg < cig; ++icg) {
    const float *plane = src + static_cast<int64_t>(g * cig + icg) * hi_ * wi;
    const float *k = w + (static_cast<int64_t>(oc) * cig + icg) * kh * kw;
    for (int y = 0; y < kh; ++y) {
      const int iy = oy * sh - pt + y;
      if (iy < 0 || iy >= hi_) continue;
      for (int x = 0; x < kw; ++x) {
        const int ix = ox * sw - pl + x;
        if (ix < 0 || ix >= wi) continue;
        sum += k[y * kw + x] * plane[iy * wi + ix];
      }
    }
  }
  out[blockIdx.y * out_stride + i] = activate(sum + (bias ? bias[oc] : 0.0f), act, lo, hi);
}

__global__ void add(const float *a, const float *b, float *out, int64_t size, int64_t a_stride, int64_t b_stride,
                    int64_t out_stride, int act, float lo, float hi) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= size) return;
  const int64_t n = blockIdx.y;
  out[n * out_stride + i] = activate(a[n * a_stride + i] + b[n * b_stride + i], act, lo, hi);
}

// One block per (channel, image): a shared-memory sum over the plane.
__global__ void global_average(const float *in, float *out, int plane, int64_t in_stride, int64_t out_stride) {
  __shared__ float partial[256];
  const int c = blockIdx.x, n = blockIdx.y;
  const float *src = in + n * in_stride + static_cast<int64_t>(c) * plane;
  float sum = 0.0f;
  for (int p = threadIdx.x; p < plane; p += blockDim.x) sum += src[p];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[n * out_stride + c] = partial[0] / static_cast<float>(plane);
}

// One warp per (output, image): weights row-major N x K.
__global__ void gemm(const float *in, const float *w, const float *bias, float *out, int k, int n_out,
                     int64_t in_stride, int64_t out_stride, int act, float lo, float hi) {
  const int j = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (j >= n_out) return;
  const float *src = in + blockIdx.y * in_stride;
  float sum = 0.0f;
  for (int p = lane; p < k; p += 32) sum += w[static_cast<int64_t>(j) * k + p] * src[p];
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
  if (lane == 0) out[blockIdx.y * out_stride + j] = activate(sum + (bias ? bias[j] : 0.0f), act, lo, hi);
}

// One thread per row: rows are as wide as the model's labels (a handful).
__global__ void softmax(const float *in, float *out, int width, int batch, int64_t in_stride, int64_t out_stride) {
  const int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= batch) return;
  const float *src = in + n * in_stride;
  float *dst = out + n * out_stride;
  float top = src[0];
  for (int p = 1; p < width; ++p) top = fmaxf(top, src[p]);
  float sum = 0.0f;
  for (int p = 0; p < width; ++p) sum += (dst[p] = expf(src[p] - top));
  for (int p = 0; p < width; ++p) dst[p] /= sum;
}

unsigned blocks(int64_t threads, unsigned per_block) {
  return static_cast<unsigned>((threads + per_block - 1) / per_block);
}

void release(crank_context *ctx) {
  cudaSetDevice(ctx->device);
  for (auto &s : ctx->streams) {
    for (float *slot : s.slots) cudaFree(slot);
    cudaFree(s.images);
    cudaFreeHost(s.staged_images);
    cudaFreeHost(s.staged_output);
    for (cudaEvent_t e : s.events) cudaEventDestroy(e);
    if (s.stream) cudaStreamDestroy(s.stream);
  }
  ctx->streams.clear();
  cudaFree(ctx->weights);
  ctx->weights = nullptr;
}

}  // namespace

extern "C" {

const char *crank_backend(void) { return "cuda"; }

int32_t crank_device_count(void) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

crank_context *crank_create(int32_t device, int32_t streams, uint64_t memory_budget_bytes) {
  const int32_t count = crank_device_count();
  if (device < 0 || device >= count) {
    g_create_error = count == 0 ? "no CUDA device found"
                                : "device: " + std::to_string(device) + " not found (" + std::to_string(count) + " devices)";
    return nullptr;
  }
  if (streams < 1 || streams > 8) {
    g_create_error = "streams: must be 1 to 8 (got " + std::to_string(streams) + ")";
    return nullptr;
  }
  cudaError_t status = cudaSetDevice(device);
  if (status != cudaSuccess) {
    g_create_error = std::string("cudaSetDevice: ") + cudaGetErrorString(status);
    return nullptr;
  }
  auto *ctx = new (std::nothrow) crank_context();
  if (!ctx) {
    g_create_error = "out of host memory";
    return nullptr;
  }
  ctx->device = device;
  ctx->budget = memory_budget_bytes;
  ctx->streams.resize(static_cast<size_t>(streams));
  for (auto &s : ctx->streams) {
    status = cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking);
    if (status != cudaSuccess) {
      g_create_error = std::string("cudaStreamCreate: ") + cudaGetErrorString(status);
      release(ctx);
      delete ctx;
      return nullptr;
    }
  }
  g_create_error.clear();
  return ctx;
}

void crank_destroy(crank_context *ctx) {
  if (!ctx) return;
  release(ctx);
  delete ctx;
}

int32_t crank_load(crank_context *ctx, const float *weights, int64_t weight_count, const int32_t *ops,
                   int32_t op_count, const float *op_params, const int64_t *slot_sizes, int32_t slot_count,
                   const crank_input_spec *input, int32_t output_slot, int32_t max_batch) {
  if (!ctx) return CRANK_INVALID_ARGUMENT;
  if (ctx->loaded) return fail(ctx, CRANK_INVALID_ARGUMENT, "load: the context already holds a model");
  if (op_count < 1 || slot_count < 1 || max_batch < 1 || weight_count < 0 || !input || !ops || !op_params ||
      !slot_sizes)
    return fail(ctx, CRANK_INVALID_ARGUMENT, "load: empty plan, no slots or no input");
  if (output_slot < 0 || output_slot >= slot_count || input->slot < 0 || input->slot >= slot_count)
    return fail(ctx, CRANK_INVALID_ARGUMENT, "load: input or output slot out of range");
  if (input->side < 1 || slot_sizes[input->slot] < static_cast<int64_t>(3) * input->side * input->side)
    return fail(ctx, CRANK_INVALID_ARGUMENT, "load: the input slot holds less than 3 x side x side");
  const int32_t *last = ops + static_cast<size_t>(op_count - 1) * CRANK_OP_FIELDS;
  if (last[CRANK_F_OUT] != output_slot)
    return fail(ctx, CRANK_INVALID_ARGUMENT, "load: the last op must write the output slot");

  const size_t image_bytes = static_cast<size_t>(input->side) * input->side * 3;
  uint64_t bytes = static_cast<uint64_t>(weight_count) * sizeof(float);
  for (int32_t s = 0; s < slot_count; ++s)
    bytes += static_cast<uint64_t>(slot_sizes[s]) * max_batch * sizeof(float) * ctx->streams.size();
  bytes += static_cast<uint64_t>(image_bytes) * max_batch * ctx->streams.size();
  if (ctx->budget != 0 && bytes > ctx->budget)
    return fail(ctx, CRANK_RESOURCE_EXHAUSTED,
                "load: weights and buffers need " + std::to_string(bytes) + " bytes, over the budget of " +
                    std::to_string(ctx->budget));

  CRANK_CUDA(ctx, cudaSetDevice(ctx->device), "cudaSetDevice");
  CRANK_CUDA(ctx, cudaMalloc(&ctx->weights, std::max<size_t>(1, weight_count * sizeof(float))), "weights");
  CRANK_CUDA(ctx, cudaMemcpy(ctx->weights, weights, weight_count * sizeof(float), cudaMemcpyHostToDevice),
             "weights upload");
  const int64_t width = last[CRANK_F_C_OUT];
  for (auto &s : ctx->streams) {
    s.slots.assign(static_cast<size_t>(slot_count), nullptr);
    for (int32_t i = 0; i < slot_count; ++i)
      CRANK_CUDA(ctx, cudaMalloc(&s.slots[i], slot_sizes[i] * max_batch * sizeof(float)), "buffers");
    CRANK_CUDA(ctx, cudaMalloc(&s.images, image_bytes * max_batch), "image buffer");
    CRANK_CUDA(ctx, cudaMallocHost(&s.staged_images, image_bytes * max_batch), "pinned image staging");
    CRANK_CUDA(ctx, cudaMallocHost(&s.staged_output, width * max_batch * sizeof(float)), "pinned output staging");
    s.events.assign(static_cast<size_t>(op_count) + 1, nullptr);
    for (auto &e : s.events) CRANK_CUDA(ctx, cudaEventCreate(&e), "cudaEventCreate");
  }
  ctx->ops.assign(ops, ops + static_cast<size_t>(op_count) * CRANK_OP_FIELDS);
  ctx->params.assign(op_params, op_params + static_cast<size_t>(op_count) * 2);
  ctx->slot_sizes.assign(slot_sizes, slot_sizes + slot_count);
  ctx->input = *input;
  ctx->output_slot = output_slot;
  ctx->output_width = width;
  ctx->max_batch = max_batch;
  ctx->loaded = true;
  ctx->error.clear();
  return CRANK_OK;
}

int32_t crank_run(crank_context *ctx, int32_t stream_index, const uint8_t *images, int32_t batch, float *output) {
  if (!ctx) return CRANK_INVALID_ARGUMENT;
  if (!ctx->loaded) return fail(ctx, CRANK_INVALID_ARGUMENT, "run: no model loaded");
  if (stream_index < 0 || stream_index >= static_cast<int32_t>(ctx->streams.size()))
    return fail(ctx, CRANK_INVALID_ARGUMENT, "run: stream out of range");
  if (batch < 1 || batch > ctx->max_batch)
    return fail(ctx, CRANK_RESOURCE_EXHAUSTED,
                "run: batch must be 1 to " + std::to_string(ctx->max_batch) + " (got " + std::to_string(batch) + ")");
  Stream &s = ctx->streams[stream_index];
  CRANK_CUDA(ctx, cudaSetDevice(ctx->device), "cudaSetDevice");
  const int side = ctx->input.side;
  const size_t image_bytes = static_cast<size_t>(side) * side * 3;
  std::memcpy(s.staged_images, images, image_bytes * batch);
  CRANK_CUDA(ctx, cudaMemcpyAsync(s.images, s.staged_images, image_bytes * batch, cudaMemcpyHostToDevice, s.stream),
             "image upload");
  const auto &in = ctx->input;
  preprocess<<<std::min<unsigned>(4096, blocks(static_cast<int64_t>(image_bytes) * batch, 256)), 256, 0, s.stream>>>(
      s.images, s.slots[in.slot], batch, side, ctx->slot_sizes[in.slot], in.mean[0], in.mean[1], in.mean[2], in.std[0],
      in.std[1], in.std[2]);
  const size_t op_count = ctx->ops.size() / CRANK_OP_FIELDS;
  CRANK_CUDA(ctx, cudaEventRecord(s.events[0], s.stream), "cudaEventRecord");
  for (size_t i = 0; i < op_count; ++i) {
    const int32_t *op = ctx->ops.data() + i * CRANK_OP_FIELDS;
    const float lo = ctx->params[i * 2], hi = ctx->params[i * 2 + 1];
    const int act = op[CRANK_F_ACT];
    const float *src = s.slots[op[CRANK_F_IN0]];
    float *dst = s.slots[op[CRANK_F_OUT]];
    const int64_t in_stride = ctx->slot_sizes[op[CRANK_F_IN0]], out_stride = ctx->slot_sizes[op[CRANK_F_OUT]];
    const float *w = op[CRANK_F_WEIGHTS] >= 0 ? ctx->weights + op[CRANK_F_WEIGHTS] : nullptr;
    const float *b = op[CRANK_F_BIAS] >= 0 ? ctx->weights + op[CRANK_F_BIAS] : nullptr;
    switch (op[CRANK_F_OPCODE]) {
      case CRANK_OP_CONV: {
        const int ho = op[CRANK_F_H_OUT], wo = op[CRANK_F_W_OUT], co = op[CRANK_F_C_OUT];
        const bool pointwise = op[CRANK_F_KH] == 1 && op[CRANK_F_KW] == 1 && op[CRANK_F_STRIDE_H] == 1 &&
                               op[CRANK_F_STRIDE_W] == 1 && op[CRANK_F_PAD_TOP] == 0 && op[CRANK_F_PAD_LEFT] == 0 &&
                               op[CRANK_F_GROUP] == 1;
        if (pointwise) {
          const dim3 grid(blocks(static_cast<int64_t>(ho) * wo, kTile), blocks(co, kTile), batch);
          conv1x1<<<grid, dim3(kTile, kTile), 0, s.stream>>>(src, w, b, dst, op[CRANK_F_C_IN], co, ho * wo, in_stride,
                                                             out_stride, act, lo, hi);
        } else {
          const dim3 grid(blocks(static_cast<int64_t>(co) * ho * wo, 256), batch);
          conv_direct<<<grid, 256, 0, s.stream>>>(src, w, b, dst, op[CRANK_F_C_IN], op[CRANK_F_H_IN], op[CRANK_F_W_IN],
                                                  co, ho, wo, op[CRANK_F_KH], op[CRANK_F_KW], op[CRANK_F_STRIDE_H],
                                                  op[CRANK_F_STRIDE_W], op[CRANK_F_PAD_TOP], op[CRANK_F_PAD_LEFT],
                                                  op[CRANK_F_GROUP], in_stride, out_stride, act, lo, hi);
        }
        break;
      }
      case CRANK_OP_ADD: {
        const int64_t size = op[CRANK_F_C_OUT];
        add<<<dim3(blocks(size, 256), batch), 256, 0, s.stream>>>(src, s.slots[op[CRANK_F_IN1]], dst, size, in_stride,
                                                                 ctx->slot_sizes[op[CRANK_F_IN1]], out_stride, act, lo, hi);
        break;
      }
      case CRANK_OP_GAP:
        global_average<<<dim3(op[CRANK_F_C_IN], batch), 256, 0, s.stream>>>(
            src, dst, op[CRANK_F_H_IN] * op[CRANK_F_W_IN], in_stride, out_stride);
        break;
      case CRANK_OP_GEMM:
        gemm<<<dim3(blocks(op[CRANK_F_C_OUT], 8), batch), 256, 0, s.stream>>>(src, w, b, dst, op[CRANK_F_C_IN],
                                                                             op[CRANK_F_C_OUT], in_stride, out_stride,
                                                                             act, lo, hi);
        break;
      case CRANK_OP_SOFTMAX:
        softmax<<<blocks(batch, 64), 64, 0, s.stream>>>(src, dst, op[CRANK_F_C_IN], batch, in_stride, out_stride);
        break;
      default:
        return fail(ctx, CRANK_INVALID_ARGUMENT, "run: op " + std::to_string(i) + " has an unknown opcode");
    }
    CRANK_CUDA(ctx, cudaGetLastError(), "kernel launch");
    CRANK_CUDA(ctx, cudaEventRecord(s.events[i + 1], s.stream), "cudaEventRecord");
  }
  const int64_t width = ctx->output_width, stride = ctx->slot_sizes[ctx->output_slot];
  CRANK_CUDA(ctx,
             cudaMemcpy2DAsync(s.staged_output, width * sizeof(float), s.slots[ctx->output_slot], stride * sizeof(float),
                               width * sizeof(float), batch, cudaMemcpyDeviceToHost, s.stream),
             "output download");
  CRANK_CUDA(ctx, cudaStreamSynchronize(s.stream), "kernels");
  std::memcpy(output, s.staged_output, sizeof(float) * width * batch);
  s.last_batch = batch;
  ctx->error.clear();
  return CRANK_OK;
}

int32_t crank_top_k(crank_context *ctx, int32_t stream_index, int32_t k, int32_t *indices, float *scores) {
  if (!ctx) return CRANK_INVALID_ARGUMENT;
  if (stream_index < 0 || stream_index >= static_cast<int32_t>(ctx->streams.size()))
    return fail(ctx, CRANK_INVALID_ARGUMENT, "top_k: stream out of range");
  Stream &s = ctx->streams[stream_index];
  const int64_t width = ctx->output_width;
  if (s.last_batch == 0) return fail(ctx, CRANK_INVALID_ARGUMENT, "top_k: nothing has run on this stream");
  if (k < 1 || k > width) return fail(ctx, CRANK_INVALID_ARGUMENT, "top_k: k must be 1 to the output's width");
  // The rows are already in pinned memory from the last run: a handful of columns, ranked here.
  std::vector<int32_t> order(static_cast<size_t>(width));
  for (int32_t n = 0; n < s.last_batch; ++n) {
    const float *row = s.staged_output + n * width;
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
  Stream &s = ctx->streams[stream_index];
  if (s.last_batch == 0) return fail(ctx, CRANK_INVALID_ARGUMENT, "kernel_times: nothing has run on this stream");
  for (size_t i = 0; i + 1 < s.events.size(); ++i)
    CRANK_CUDA(ctx, cudaEventElapsedTime(&milliseconds[i], s.events[i], s.events[i + 1]), "cudaEventElapsedTime");
  return CRANK_OK;
}

const char *crank_last_error(const crank_context *ctx) { return ctx ? ctx->error.c_str() : g_create_error.c_str(); }

}  // extern "C"
