/**
 * Keras kernels to ONNX layouts. Keras keeps channels last (`[kh, kw, in, out]`); ONNX's Conv
 * takes `[out, in/group, kh, kw]`, and a depthwise convolution is a grouped one with a group per
 * input channel.
 */

/**
 * A Conv2D kernel `[kh, kw, in, out]` as `[out, in, kh, kw]`.
 *
 * @param {Float32Array} data
 * @param {number[]} shape
 */
export function convKernelToOnnx(data, [kh, kw, cin, cout]) {
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++)
          out[((o * cin + i) * kh + y) * kw + x] = data[((y * kw + x) * cin + i) * cout + o];
  return { data: out, shape: [cout, cin, kh, kw] };
}

/**
 * A DepthwiseConv2D kernel `[kh, kw, in, multiplier]` as `[in * multiplier, 1, kh, kw]`: output
 * channel `i * multiplier + m` reads input channel `i`, as Keras orders them.
 *
 * @param {Float32Array} data
 * @param {number[]} shape
 */
export function depthwiseKernelToOnnx(data, [kh, kw, cin, mult]) {
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let m = 0; m < mult; m++)
          out[((i * mult + m) * kh + y) * kw + x] = data[((y * kw + x) * cin + i) * mult + m];
  return { data: out, shape: [cin * mult, 1, kh, kw] };
}

/**
 * TensorFlow's `same` padding along one axis: output `ceil(size / stride)`, the padding it takes
 * split with the odd pixel at the end (bottom, right).
 *
 * @returns {[number, number]} padding before and after
 */
export function samePadding(size, kernel, stride, dilation = 1) {
  const effective = (kernel - 1) * dilation + 1;
  const total = Math.max((Math.ceil(size / stride) - 1) * stride + effective - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}
