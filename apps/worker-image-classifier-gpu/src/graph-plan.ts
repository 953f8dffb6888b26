import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Opcodes and fields of native/crank_classifier.h; the two must change together. */
export const OPCODE = Object.freeze({ conv: 1, add: 2, gap: 3, gemm: 4, softmax: 5 });
/** int32 values per kernel in {@link KernelPlan.ops} (`CRANK_OP_FIELDS`). */
export const OP_FIELDS = 20;
const ACT_NONE = 0;
const ACT_CLIP = 1;

/** The kernel sequence, the buffers and the weights of one model, planned once at load. */
export interface KernelPlan {
  /** `OP_FIELDS` values per kernel, in the header's field order. */
  readonly ops: Int32Array;
  /** Two floats per kernel: the fused clip's bounds. */
  readonly params: Float32Array;
  /** Every weight and bias the kernels read, one after the other. */
  readonly weights: Float32Array;
  /** Floats per image of each buffer slot; slots are reused once their tensor is dead. */
  readonly slotSizes: BigInt64Array;
  readonly inputSlot: number;
  readonly outputSlot: number;
  /** Side of the square RGB input. */
  readonly side: number;
  /** Columns of the output (the model's labels). */
  readonly outputWidth: number;
  /** One name per kernel (the ONNX node it came from, with what was fused), for per-kernel times. */
  readonly kernels: readonly string[];
}

type Shape = readonly number[];
interface Step {
  readonly name: string;
  readonly fields: Partial<Record<Field, number>>;
  readonly inputs: readonly string[];
  output: string;
  weights?: Float32Array;
  bias?: Float32Array;
  clip?: [number, number];
}
type Field =
  | 'opcode'
  | 'cIn'
  | 'hIn'
  | 'wIn'
  | 'cOut'
  | 'hOut'
  | 'wOut'
  | 'kh'
  | 'kw'
  | 'sh'
  | 'sw'
  | 'padTop'
  | 'padLeft'
  | 'group';
/** Header field index of each named field (CRANK_F_*); IN0, IN1, OUT, WEIGHTS, BIAS, ACT are set apart. */
const FIELD_INDEX: Record<Field, number> = {
  opcode: 0,
  cIn: 6,
  hIn: 7,
  wIn: 8,
  cOut: 9,
  hOut: 10,
  wOut: 11,
  kh: 12,
  kw: 13,
  sh: 14,
  sw: 15,
  padTop: 16,
  padLeft: 17,
  group: 18,
};

/**
 * Plans the kernels for an ONNX classifier (bytes of the file the CPU worker runs): one kernel per
 * Conv (bias and a following Clip or Relu fused), Add, GlobalAveragePool (or an AveragePool over
 * the whole map), Gemm and Softmax; Identity, Dropout, and Transpose or Flatten of a pooled tensor
 * are aliases. The input must be `N x 3 x S x S`.
 *
 * @throws Error naming the node and the rule for an operator or attribute the kernels lack
 */
export function planModel(bytes: Uint8Array): KernelPlan {
  const graph = readGraph(bytes);
  const initializers = graph.initializers;
  const input = graph.inputs.find((value) => !initializers.has(value.name));
  const dims = input?.dims ?? [];
  const side = dims[2] ?? 0;
  if (!input || dims.length !== 4 || dims[1] !== 3 || side < 1 || dims[3] !== side)
    throw new Error(`model: the input must be N x 3 x S x S (got ${JSON.stringify(dims)})`);

  const shapes = new Map<string, Shape>([[input.name, [3, side, side]]]);
  const alias = new Map<string, string>();
  const real = (name: string): string => alias.get(name) ?? name;
  const shapeOf = (name: string, node: string): Shape => {
    const shape = shapes.get(real(name));
    if (!shape) throw new Error(`${node}: input ${name} is not a tensor computed before it`);
    return shape;
  };
  const uses = new Map<string, number>();
  for (const node of graph.nodes) for (const name of node.input) uses.set(name, (uses.get(name) ?? 0) + 1);

  const steps: Step[] = [];
  const nodes = graph.nodes;
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i] as OnnxNode;
    const { name, attrs } = node;
    const ints = (key: string, fallback: number[]): number[] => attrs.get(key)?.ints ?? fallback;
    const int = (key: string, fallback: number): number => attrs.get(key)?.i ?? fallback;
    const [first = '', second = '', third = ''] = node.input;
    switch (node.opType) {
      case 'Conv': {
        const [c, h, w] = shapeOf(first, name) as [number, number, number];
        const weight = initializers.get(second);
        if (!weight || weight.dims.length !== 4) throw new Error(`${name}: W must be a 4-d initializer`);
        const [co, cig, kh, kw] = weight.dims as [number, number, number, number];
        const group = int('group', 1);
        if (ints('dilations', [1, 1]).some((d) => d !== 1))
          throw new Error(`${name}: dilations other than 1 are not supported`);
        const autoPad = attrs.get('auto_pad')?.s;
        if (autoPad && autoPad !== 'NOTSET')
          throw new Error(`${name}: auto_pad is not supported (explicit pads only)`);
        if (c !== cig * group || co % group !== 0)
          throw new Error(
            `${name}: ${c} input channels do not fit group ${group} and W ${JSON.stringify(weight.dims)}`,
          );
        const [pt = 0, pl = 0, pb = 0, pr = 0] = ints('pads', [0, 0, 0, 0]);
        const [sh = 1, sw = 1] = ints('strides', [1, 1]);
        const ho = Math.floor((h + pt + pb - kh) / sh) + 1;
        const wo = Math.floor((w + pl + pr - kw) / sw) + 1;
        const step: Step = {
          name,
          fields: { opcode: OPCODE.conv, cIn: c, hIn: h, wIn: w, cOut: co, hOut: ho, wOut: wo },
          inputs: [real(first)],
          output: node.output[0] as string,
          weights: weight.data,
          ...(third ? { bias: initializerOf(initializers, third, name) } : {}),
        };
        Object.assign(step.fields, { kh, kw, sh, sw, padTop: pt, padLeft: pl, group });
        shapes.set(step.output, [co, ho, wo]);
        steps.push(step);
        i = fuseActivation(nodes, i, step, uses, initializers, shapes);
        break;
      }
      case 'Add': {
        const shape = shapeOf(first, name);
        if (JSON.stringify(shape) !== JSON.stringify(shapeOf(second, name)))
          throw new Error(`${name}: Add of two shapes that differ (no broadcasting)`);
        const size = shape.reduce((a, b) => a * b, 1);
        const step: Step = {
          name,
          fields: { opcode: OPCODE.add, cIn: size, cOut: size },
          inputs: [real(first), real(second)],
          output: node.output[0] as string,
        };
        shapes.set(step.output, shape);
        steps.push(step);
        i = fuseActivation(nodes, i, step, uses, initializers, shapes);
        break;
      }
      case 'AveragePool':
      case 'GlobalAveragePool': {
        const [c, h, w] = shapeOf(first, name) as [number, number, number];
        // Keras' AveragePooling2D over the whole last feature map is a global average.
        const [kh = h, kw = w] = ints('kernel_shape', [h, w]);
        const pads = ints('pads', [0, 0, 0, 0]);
        if (kh !== h || kw !== w || pads.some((p) => p !== 0))
          throw new Error(
            `${name}: AveragePool is supported over the whole map (${h} x ${w}, no padding) only`,
          );
        steps.push({
          name,
          fields: { opcode: OPCODE.gap, cIn: c, hIn: h, wIn: w, cOut: c },
          inputs: [real(first)],
          output: node.output[0] as string,
        });
        shapes.set(node.output[0] as string, [c]);
        break;
      }
      case 'Flatten': {
        const shape = shapeOf(first, name);
        if (int('axis', 1) !== 1 || shape.slice(1).some((d) => d !== 1))
          throw new Error(`${name}: Flatten is supported on a pooled tensor (C x 1 x 1) only`);
        alias.set(node.output[0] as string, real(first));
        break;
      }
      case 'Transpose': {
        // Of a pooled tensor (C x 1 x 1), any order of the axes is the same C values.
        const shape = shapeOf(first, name);
        if (shape.slice(1).some((d) => d !== 1))
          throw new Error(`${name}: Transpose is supported on a pooled tensor (C x 1 x 1) only`);
        alias.set(node.output[0] as string, real(first));
        break;
      }
      case 'Identity':
      case 'Dropout':
        alias.set(node.output[0] as string, real(first));
        break;
      case 'Gemm': {
        const [k] = shapeOf(first, name) as [number];
        const weight = initializers.get(second);
        if (!weight || weight.dims.length !== 2) throw new Error(`${name}: B must be a 2-d initializer`);
        if (int('transA', 0) !== 0) throw new Error(`${name}: transA is not supported`);
        for (const key of ['alpha', 'beta'])
          if ((attrs.get(key)?.f ?? 1) !== 1)
            throw new Error(`${name}: ${key} other than 1 is not supported`);
        const transB = int('transB', 0) === 1;
        const n = (transB ? weight.dims[0] : weight.dims[1]) as number;
        if ((transB ? weight.dims[1] : weight.dims[0]) !== k)
          throw new Error(`${name}: B ${JSON.stringify(weight.dims)} does not take ${k} inputs`);
        // The kernel reads one row of K weights per output: B as given when transB, else transposed.
        const rows = transB ? weight.data : transpose(weight.data, k, n);
        const step: Step = {
          name,
          fields: { opcode: OPCODE.gemm, cIn: k, cOut: n },
          inputs: [real(first)],
          output: node.output[0] as string,
          weights: rows,
          ...(third ? { bias: initializerOf(initializers, third, name) } : {}),
        };
        shapes.set(step.output, [n]);
        steps.push(step);
        i = fuseActivation(nodes, i, step, uses, initializers, shapes);
        break;
      }
      case 'Softmax': {
        const shape = shapeOf(first, name);
        const axis = int('axis', -1);
        if (shape.length !== 1 || (axis !== -1 && axis !== 1))
          throw new Error(`${name}: Softmax is supported over the last axis of a row only`);
        steps.push({
          name,
          fields: { opcode: OPCODE.softmax, cIn: shape[0] as number, cOut: shape[0] as number },
          inputs: [real(first)],
          output: node.output[0] as string,
        });
        shapes.set(node.output[0] as string, shape);
        break;
      }
      default:
        throw new Error(`${name}: operator ${node.opType} is not supported by the kernels`);
    }
  }
  const outputName = real(graph.outputs[0] ?? '');
  const outputShape = shapes.get(outputName);
  if (!outputShape || outputShape.length !== 1)
    throw new Error('model: the output must be one row per image');
  return assemble(steps, input.name, outputName, side, outputShape[0] as number, shapes);
}

/** Fuses the Clip or Relu that alone consumes `step`'s output; answers the index of the last node used. */
function fuseActivation(
  nodes: readonly OnnxNode[],
  index: number,
  step: Step,
  uses: ReadonlyMap<string, number>,
  initializers: ReadonlyMap<string, { data: Float32Array }>,
  shapes: Map<string, Shape>,
): number {
  const next = nodes[index + 1];
  if (!next || uses.get(step.output) !== 1 || next.input[0] !== step.output) return index;
  if (next.opType === 'Relu') step.clip = [0, Infinity];
  else if (next.opType === 'Clip') {
    const bound = (name: string | undefined, fallback: number): number =>
      name ? (initializers.get(name)?.data[0] ?? fallback) : fallback;
    step.clip = [bound(next.input[1], -Infinity), bound(next.input[2], Infinity)];
  } else return index;
  const shape = shapes.get(step.output) as Shape;
  step.output = next.output[0] as string;
  shapes.set(step.output, shape);
  return index + 1;
}

/** Packs the weights, assigns buffer slots by liveness and writes the header's fields. */
function assemble(
  steps: readonly Step[],
  inputName: string,
  outputName: string,
  side: number,
  outputWidth: number,
  shapes: ReadonlyMap<string, Shape>,
): KernelPlan {
  const size = (name: string): number => (shapes.get(name) as Shape).reduce((a, b) => a * b, 1);
  const lastUse = new Map<string, number>();
  steps.forEach((step, index) => step.inputs.forEach((name) => lastUse.set(name, index)));
  lastUse.set(outputName, Infinity);

  const slotSizes: number[] = [size(inputName)];
  const slotOf = new Map<string, number>([[inputName, 0]]);
  const free: number[] = [];
  let weightCount = 0;
  for (const step of steps) weightCount += (step.weights?.length ?? 0) + (step.bias?.length ?? 0);
  const weights = new Float32Array(weightCount);
  const ops = new Int32Array(steps.length * OP_FIELDS);
  const params = new Float32Array(steps.length * 2);
  let at = 0;
  steps.forEach((step, index) => {
    // The output never shares a slot with an input of the same kernel: taken before they are freed.
    const need = size(step.output);
    const reused = free.length > 0 ? (free.pop() as number) : slotSizes.push(0) - 1;
    slotSizes[reused] = Math.max(slotSizes[reused] as number, need);
    slotOf.set(step.output, reused);
    for (const name of new Set(step.inputs))
      if (lastUse.get(name) === index) free.push(slotOf.get(name) as number);

    const base = index * OP_FIELDS;
    ops.fill(-1, base, base + OP_FIELDS);
    for (const [field, value] of Object.entries(step.fields)) ops[base + FIELD_INDEX[field as Field]] = value;
    ops[base + 1] = slotOf.get(step.inputs[0] as string) as number;
    ops[base + 2] = step.inputs[1] === undefined ? -1 : (slotOf.get(step.inputs[1]) as number);
    ops[base + 3] = reused;
    if (step.weights) {
      weights.set(step.weights, at);
      ops[base + 4] = at;
      at += step.weights.length;
    }
    if (step.bias) {
      weights.set(step.bias, at);
      ops[base + 5] = at;
      at += step.bias.length;
    }
    ops[base + 19] = step.clip ? ACT_CLIP : ACT_NONE;
    params[index * 2] = step.clip?.[0] ?? 0;
    params[index * 2 + 1] = step.clip?.[1] ?? 0;
  });
  return {
    ops,
    params,
    weights,
    slotSizes: BigInt64Array.from(slotSizes, BigInt),
    inputSlot: 0,
    outputSlot: slotOf.get(outputName) as number,
    side,
    outputWidth,
    kernels: steps.map((step) => (step.clip ? `${step.name}+clip` : step.name)),
  };
}

interface OnnxAttribute {
  readonly i?: number;
  readonly f?: number;
  readonly ints?: number[];
  readonly s?: string;
}
interface OnnxNode {
  readonly name: string;
  readonly opType: string;
  readonly input: readonly string[];
  readonly output: readonly string[];
  readonly attrs: ReadonlyMap<string, OnnxAttribute>;
}
interface OnnxGraph {
  readonly nodes: readonly OnnxNode[];
  readonly initializers: ReadonlyMap<string, { dims: number[]; data: Float32Array }>;
  readonly inputs: readonly { name: string; dims: number[] }[];
  readonly outputs: readonly string[];
}

/** The decoded file, with protobuf's optional fields filled and int64s as numbers. */
function readGraph(bytes: Uint8Array): OnnxGraph {
  const graph = onnx.ModelProto.decode(bytes).graph;
  if (!graph) throw new Error('model: the file holds no graph');
  const initializers = new Map<string, { dims: number[]; data: Float32Array }>();
  for (const init of graph.initializer ?? []) {
    initializers.set(init.name ?? '', {
      dims: (init.dims ?? []).map(toNumber),
      data: tensorData(init.name ?? '', init.dataType ?? 0, init.rawData, init.floatData),
    });
  }
  const nodes = (graph.node ?? []).map((node, index): OnnxNode => {
    const attrs = new Map<string, OnnxAttribute>();
    for (const a of node.attribute ?? []) {
      attrs.set(a.name ?? '', {
        ...(a.i != null ? { i: toNumber(a.i) } : {}),
        ...(a.f != null ? { f: a.f } : {}),
        ...(a.ints && a.ints.length > 0 ? { ints: a.ints.map(toNumber) } : {}),
        ...(a.s && a.s.length > 0 ? { s: Buffer.from(a.s).toString() } : {}),
      });
    }
    return {
      name: node.name || `${node.opType ?? ''}_${index}`,
      opType: node.opType ?? '',
      input: node.input ?? [],
      output: node.output ?? [],
      attrs,
    };
  });
  const inputs = (graph.input ?? []).map((value) => ({
    name: value.name ?? '',
    dims: (value.type?.tensorType?.shape?.dim ?? []).map((d) => toNumber(d.dimValue ?? 0)),
  }));
  return { nodes, initializers, inputs, outputs: (graph.output ?? []).map((value) => value.name ?? '') };
}

/** protobufjs answers int64 fields as numbers or as Long objects, by build. */
function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(String(value));
}

function tensorData(
  name: string,
  dataType: number,
  rawData: Uint8Array | null | undefined,
  floatData: number[] | null | undefined,
): Float32Array {
  if (dataType !== onnx.TensorProto.DataType.FLOAT)
    throw new Error(`${name}: initializers must be float32 (got data type ${dataType})`);
  if (rawData && rawData.length > 0) {
    // Copied: raw bytes inside the file's buffer need not be 4-byte aligned.
    const copy = new Uint8Array(rawData);
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  return Float32Array.from(floatData ?? []);
}

function initializerOf(
  initializers: ReadonlyMap<string, { data: Float32Array }>,
  name: string,
  node: string,
): Float32Array {
  const found = initializers.get(name);
  if (!found) throw new Error(`${node}: ${name} must be an initializer`);
  return found.data;
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c] as number;
  return out;
}
