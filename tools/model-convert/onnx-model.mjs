/**
 * An {@link import('./keras-to-onnx.mjs').OnnxGraph} as ONNX model bytes, through onnx-proto's
 * generated protobuf classes. Opset 13: Clip takes its bounds as inputs, Softmax works on one axis.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
const OPSET = 13;
/** IR version 7 goes with opset 13 (ONNX 1.8); every runtime since reads it. */
const IR_VERSION = 7;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

/**
 * @param {import('./keras-to-onnx.mjs').OnnxGraph} graph
 * @param {{ name: string, docString?: string, metadata?: Record<string, string> }} info
 * @returns {Uint8Array}
 */
export function encodeModel(graph, info) {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'crank-model-convert',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: OPSET }],
    docString: info.docString ?? '',
    metadataProps: Object.entries(info.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: info.name,
      node: graph.nodes.map((node, index) => ({
        name: `${node.op}_${index}`,
        opType: node.op,
        input: node.inputs,
        output: [node.output],
        attribute: Object.entries(node.attributes ?? {}).map(([name, value]) => attribute(name, value)),
      })),
      initializer: graph.initializers.map(({ name, shape, data }) => ({
        name,
        dims: shape,
        dataType: FLOAT,
        rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      })),
      input: [valueInfo(graph.input)],
      output: [valueInfo(graph.output)],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

function attribute(name, value) {
  const { AttributeType } = onnx.AttributeProto;
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: Buffer.from(value) };
  if (Number.isInteger(value)) return { name, type: AttributeType.INT, i: value };
  return { name, type: AttributeType.FLOAT, f: value };
}

function valueInfo({ name, shape }) {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}
