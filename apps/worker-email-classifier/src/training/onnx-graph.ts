import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';

// onnx-proto is CommonJS, whose named exports Node cannot see from ESM; its types name them.
const { onnx } = onnxProto as unknown as { onnx: typeof Onnx };
import { MODEL_IO } from '../spam-model.js';

const { DataType } = onnx.TensorProto;
const { AttributeType } = onnx.AttributeProto;

/** What the graph computes with: the IDF and the weights per bucket, and the bias. */
export interface GraphWeights {
  idf: Float32Array;
  weights: Float32Array;
  bias: number;
}

function floatTensor(name: string, values: Float32Array, dims: number[]): Onnx.ITensorProto {
  return {
    name,
    dims,
    dataType: DataType.FLOAT,
    rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  };
}

function int64Tensor(name: string, values: bigint[]): Onnx.ITensorProto {
  const data = BigInt64Array.from(values);
  return { name, dims: [values.length], dataType: DataType.INT64, rawData: new Uint8Array(data.buffer) };
}

function valueInfo(name: string, elemType: number, dims: string[]): Onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((dimParam) => ({ dimParam })) } } } };
}

function node(
  opType: string,
  input: string[],
  output: string[],
  ints: Record<string, number> = {},
): Onnx.INodeProto {
  return {
    opType,
    input,
    output,
    name: output[0] ?? opType,
    attribute: Object.entries(ints).map(([name, i]) => ({ name, type: AttributeType.INT, i })),
  };
}

/**
 * The model as an ONNX graph (opset 13) over sparse input: each message is its buckets
 * (`indices`, int64 [N, K]) and their term frequencies (`tf`, float [N, K], 0 where padded).
 * The graph gathers the IDF and the weights of those buckets only, so a message costs its own
 * features, not 2^18 of them:
 *
 *     x = LpNormalization(tf * idf[indices])        TF-IDF, unit length per message
 *     contributions = x * w[indices]                float [N, K], explains the decision
 *     score = Sigmoid(ReduceSum(contributions) + b) float [N]
 */
export function spamModelGraph(weights: GraphWeights, docString: string): Uint8Array {
  const buckets = weights.idf.length;
  const graph: Onnx.IGraphProto = {
    name: 'spam-logreg',
    initializer: [
      floatTensor('idf', weights.idf, [buckets]),
      floatTensor('weights', weights.weights, [buckets]),
      floatTensor('bias', Float32Array.of(weights.bias), []),
      int64Tensor('sum_axes', [1n]),
    ],
    input: [
      valueInfo(MODEL_IO.indices, DataType.INT64, ['N', 'K']),
      valueInfo(MODEL_IO.tf, DataType.FLOAT, ['N', 'K']),
    ],
    output: [
      valueInfo(MODEL_IO.score, DataType.FLOAT, ['N']),
      valueInfo(MODEL_IO.contributions, DataType.FLOAT, ['N', 'K']),
    ],
    node: [
      node('Gather', ['idf', MODEL_IO.indices], ['idf_of'], { axis: 0 }),
      node('Mul', [MODEL_IO.tf, 'idf_of'], ['tfidf']),
      node('LpNormalization', ['tfidf'], ['x'], { axis: 1, p: 2 }),
      node('Gather', ['weights', MODEL_IO.indices], ['weights_of'], { axis: 0 }),
      node('Mul', ['x', 'weights_of'], [MODEL_IO.contributions]),
      node('ReduceSum', [MODEL_IO.contributions, 'sum_axes'], ['dot'], { keepdims: 0 }),
      node('Add', ['dot', 'bias'], ['logit']),
      node('Sigmoid', ['logit'], [MODEL_IO.score]),
    ],
  };
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'crank worker-email-classifier training',
    docString,
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}
