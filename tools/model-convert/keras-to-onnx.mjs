/**
 * A Keras functional model (its layer JSON and float32 weights) as an ONNX graph, described as
 * plain objects (nodes, initializers, input, output) that `onnx-model.mjs` encodes. The graph
 * takes NCHW float32 (`[batch, channels, height, width]`) and answers what the Keras model's last
 * layer does. Batch norm after a convolution is folded into it; zero padding before one becomes
 * its `pads`; dropout is left out (inference).
 *
 * The layers MobileNetV2-style Keras models use are covered: InputLayer, ZeroPadding2D, Conv2D,
 * DepthwiseConv2D, BatchNormalization, ReLU, Activation, Add, AveragePooling2D,
 * GlobalAveragePooling2D, Flatten, Dense, Dropout. Anything else is refused by name.
 */
import { foldBatchNorm } from './fold-batch-norm.mjs';
import { convKernelToOnnx, depthwiseKernelToOnnx, samePadding } from './layouts.mjs';

/**
 * @typedef {import('./tfjs-weights.mjs').Weight} Weight
 * @typedef {{ op: string, inputs: string[], output: string, attributes?: Record<string, number | number[] | string> }} OnnxNode
 * @typedef {{ name: string, shape: number[], data: Float32Array }} Initializer
 * @typedef {{ nodes: OnnxNode[], initializers: Initializer[], input: { name: string, shape: (number | string)[] },
 *   output: { name: string, shape: (number | string)[] } }} OnnxGraph
 * @typedef {{ name: string, class_name: string, config: Record<string, any>, inbound_nodes: any[] }} KerasLayer
 */

/** Name of the graph's input and output. */
export const INPUT_NAME = 'input';
export const OUTPUT_NAME = 'probabilities';

/**
 * @param {{ layers: KerasLayer[], input_layers: any[], output_layers: any[] }} config - `model_config.config`
 * @param {Map<string, Weight>} weights - by Keras weight name (`Conv1/kernel`)
 * @returns {OnnxGraph}
 */
export function kerasToOnnx(config, weights) {
  const layers = new Map(config.layers.map((layer) => [layer.name, layer]));
  /** Names of the layers each layer feeds. */
  const consumers = new Map(config.layers.map((layer) => [layer.name, []]));
  for (const layer of config.layers)
    for (const source of inboundOf(layer)) consumers.get(source)?.push(layer.name);

  /** @type {OnnxNode[]} */
  const nodes = [];
  /** @type {Initializer[]} */
  const initializers = [];
  /** What each Keras layer's output is in the graph: a tensor name and its shape, batch left out. */
  const tensors = new Map();
  /** Zero padding not emitted, left for the convolution it feeds. */
  const pendingPads = new Map();
  const used = new Set();

  const weight = (name) => {
    const found = weights.get(name);
    if (!found) throw new Error(`weights: ${name} is missing`);
    used.add(name);
    return found;
  };
  const constant = (name, shape, data) => {
    initializers.push({ name, shape, data });
    return name;
  };
  const tensorOf = (name) => {
    const found = tensors.get(name);
    if (!found) throw new Error(`${name}: used before it is defined (layers must be in topological order)`);
    return found;
  };

  const [[inputLayer]] = config.input_layers;
  let input = { name: INPUT_NAME, shape: ['batch'] };
  for (const layer of config.layers) {
    const cfg = layer.config;
    const sources = inboundOf(layer);
    switch (layer.class_name) {
      case 'InputLayer': {
        const [, h, w, c] = cfg.batch_input_shape;
        if (layer.name !== inputLayer) throw new Error(`${layer.name}: only one input is supported`);
        input = { name: INPUT_NAME, shape: ['batch', c, h, w] };
        tensors.set(layer.name, { name: INPUT_NAME, shape: [c, h, w] });
        break;
      }
      case 'ZeroPadding2D': {
        expectChannelsLast(layer);
        const [[top, bottom], [left, right]] = normalisePadding(cfg.padding);
        const source = tensorOf(sources[0]);
        const next = consumers.get(layer.name) ?? [];
        const feedsConvs = next.every((n) =>
          ['Conv2D', 'DepthwiseConv2D'].includes(layers.get(n)?.class_name),
        );
        if (!feedsConvs) throw new Error(`${layer.name}: zero padding is supported before convolutions only`);
        pendingPads.set(layer.name, [top, left, bottom, right]);
        const [c, h, w] = source.shape;
        tensors.set(layer.name, { name: source.name, shape: [c, h + top + bottom, w + left + right] });
        break;
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        expectChannelsLast(layer);
        const depthwise = layer.class_name === 'DepthwiseConv2D';
        const source = tensorOf(sources[0]);
        const [c, h, w] = source.shape;
        const [kh, kw] = cfg.kernel_size;
        const [sh, sw] = cfg.strides;
        const [dh, dw] = cfg.dilation_rate ?? [1, 1];
        const raw = weight(`${layer.name}/${depthwise ? 'depthwise_kernel' : 'kernel'}`);
        const kernel = depthwise
          ? depthwiseKernelToOnnx(raw.data, raw.shape)
          : convKernelToOnnx(raw.data, raw.shape);
        const outChannels = kernel.shape[0];
        let bias = cfg.use_bias ? weight(`${layer.name}/bias`).data : undefined;
        let kernelData = kernel.data;

        // Zero padding folded in; its own size was already added to the source's shape.
        const pad = [...(pendingPads.get(sources[0]) ?? [0, 0, 0, 0])];
        const inH = h - pad[0] - pad[2];
        const inW = w - pad[1] - pad[3];
        if (cfg.padding === 'same') {
          const [t, b] = samePadding(h, kh, sh, dh);
          const [l, r] = samePadding(w, kw, sw, dw);
          pad[0] += t;
          pad[1] += l;
          pad[2] += b;
          pad[3] += r;
        } else if (cfg.padding !== 'valid') {
          throw new Error(`${layer.name}: padding ${cfg.padding} is not supported`);
        }
        const outH = Math.floor((inH + pad[0] + pad[2] - ((kh - 1) * dh + 1)) / sh) + 1;
        const outW = Math.floor((inW + pad[1] + pad[3] - ((kw - 1) * dw + 1)) / sw) + 1;

        // Batch norm of this convolution's output alone: folded, and the layer answers for it.
        const next = consumers.get(layer.name) ?? [];
        const norm = next.length === 1 ? layers.get(next[0]) : undefined;
        let answersFor = layer.name;
        if (norm?.class_name === 'BatchNormalization' && cfg.activation === 'linear') {
          const axis = norm.config.axis;
          if (
            axis !== -1 &&
            axis !== 3 &&
            !(Array.isArray(axis) && axis.length === 1 && (axis[0] === -1 || axis[0] === 3))
          )
            throw new Error(`${norm.name}: batch norm over axis ${JSON.stringify(axis)} is not supported`);
          const folded = foldBatchNorm(kernelData, bias, {
            gamma: norm.config.scale ? weight(`${norm.name}/gamma`).data : undefined,
            beta: norm.config.center ? weight(`${norm.name}/beta`).data : undefined,
            mean: weight(`${norm.name}/moving_mean`).data,
            variance: weight(`${norm.name}/moving_variance`).data,
            epsilon: norm.config.epsilon,
          });
          kernelData = folded.kernel;
          bias = folded.bias;
          answersFor = norm.name;
        }
        const inputs = [source.name, constant(`${layer.name}/W`, kernel.shape, kernelData)];
        if (bias) inputs.push(constant(`${layer.name}/B`, [outChannels], bias));
        const output = activation(
          nodes,
          {
            op: 'Conv',
            inputs,
            output: answersFor,
            attributes: {
              kernel_shape: [kh, kw],
              strides: [sh, sw],
              dilations: [dh, dw],
              pads: pad,
              group: depthwise ? c : 1,
            },
          },
          cfg.activation,
        );
        tensors.set(layer.name, { name: output, shape: [outChannels, outH, outW] });
        if (answersFor !== layer.name) tensors.set(answersFor, tensors.get(layer.name));
        break;
      }
      case 'BatchNormalization':
        if (!tensors.has(layer.name))
          throw new Error(`${layer.name}: batch norm is supported right after a linear convolution only`);
        break;
      case 'ReLU': {
        const source = tensorOf(sources[0]);
        if ((cfg.negative_slope ?? 0) !== 0 || (cfg.threshold ?? 0) !== 0)
          throw new Error(`${layer.name}: ReLU with a negative slope or threshold is not supported`);
        const node =
          cfg.max_value == null
            ? { op: 'Relu', inputs: [source.name], output: layer.name }
            : {
                op: 'Clip',
                inputs: [
                  source.name,
                  constant(`${layer.name}/min`, [], Float32Array.of(0)),
                  constant(`${layer.name}/max`, [], Float32Array.of(cfg.max_value)),
                ],
                output: layer.name,
              };
        nodes.push(node);
        tensors.set(layer.name, { name: layer.name, shape: source.shape });
        break;
      }
      case 'Activation': {
        const source = tensorOf(sources[0]);
        const output = activation(
          nodes,
          { op: 'Identity', inputs: [source.name], output: `${layer.name}/in` },
          cfg.activation,
        );
        tensors.set(layer.name, { name: output, shape: source.shape });
        break;
      }
      case 'Add': {
        const parts = sources.map(tensorOf);
        let sum = parts[0].name;
        for (let i = 1; i < parts.length; i++) {
          const output = i === parts.length - 1 ? layer.name : `${layer.name}/${i}`;
          nodes.push({ op: 'Add', inputs: [sum, parts[i].name], output });
          sum = output;
        }
        tensors.set(layer.name, { name: sum, shape: parts[0].shape });
        break;
      }
      case 'AveragePooling2D': {
        expectChannelsLast(layer);
        if (cfg.padding !== 'valid') throw new Error(`${layer.name}: only valid padding is supported`);
        const source = tensorOf(sources[0]);
        const [c, h, w] = source.shape;
        const [ph, pw] = cfg.pool_size;
        const [sh, sw] = cfg.strides ?? cfg.pool_size;
        nodes.push({
          op: 'AveragePool',
          inputs: [source.name],
          output: layer.name,
          attributes: { kernel_shape: [ph, pw], strides: [sh, sw] },
        });
        tensors.set(layer.name, {
          name: layer.name,
          shape: [c, Math.floor((h - ph) / sh) + 1, Math.floor((w - pw) / sw) + 1],
        });
        break;
      }
      case 'GlobalAveragePooling2D': {
        expectChannelsLast(layer);
        const source = tensorOf(sources[0]);
        nodes.push({ op: 'GlobalAveragePool', inputs: [source.name], output: `${layer.name}/pooled` });
        nodes.push({
          op: 'Flatten',
          inputs: [`${layer.name}/pooled`],
          output: layer.name,
          attributes: { axis: 1 },
        });
        tensors.set(layer.name, { name: layer.name, shape: [source.shape[0]] });
        break;
      }
      case 'Flatten': {
        const source = tensorOf(sources[0]);
        let from = source.name;
        if (source.shape.length === 3) {
          // Keras flattens channels last: the values in height, width, channel order.
          nodes.push({
            op: 'Transpose',
            inputs: [from],
            output: `${layer.name}/nhwc`,
            attributes: { perm: [0, 2, 3, 1] },
          });
          from = `${layer.name}/nhwc`;
        }
        nodes.push({ op: 'Flatten', inputs: [from], output: layer.name, attributes: { axis: 1 } });
        tensors.set(layer.name, { name: layer.name, shape: [source.shape.reduce((a, b) => a * b, 1)] });
        break;
      }
      case 'Dense': {
        const source = tensorOf(sources[0]);
        if (source.shape.length !== 1) throw new Error(`${layer.name}: Dense takes a flat input here`);
        const kernel = weight(`${layer.name}/kernel`);
        const units = kernel.shape[1];
        const bias = cfg.use_bias ? weight(`${layer.name}/bias`).data : new Float32Array(units);
        const output = activation(
          nodes,
          {
            op: 'Gemm',
            inputs: [
              source.name,
              constant(`${layer.name}/W`, kernel.shape, kernel.data),
              constant(`${layer.name}/B`, [units], bias),
            ],
            output: `${layer.name}/linear`,
          },
          cfg.activation,
          layer.name,
        );
        tensors.set(layer.name, { name: output, shape: [units] });
        break;
      }
      case 'Dropout':
        tensors.set(layer.name, tensorOf(sources[0]));
        break;
      default:
        throw new Error(`${layer.name}: layer class ${layer.class_name} is not supported`);
    }
  }

  const unused = [...weights.keys()].filter((name) => !used.has(name));
  if (unused.length > 0) throw new Error(`weights: ${unused.join(', ')} were not used by any layer`);
  const [[outputLayer]] = config.output_layers;
  const last = tensorOf(outputLayer);
  nodes.push({ op: 'Identity', inputs: [last.name], output: OUTPUT_NAME });
  return {
    nodes,
    initializers,
    input,
    output: { name: OUTPUT_NAME, shape: ['batch', ...last.shape] },
  };
}

/** The layers a layer reads, by name. */
function inboundOf(layer) {
  const [node] = layer.inbound_nodes;
  return node ? node.map(([name]) => name) : [];
}

function expectChannelsLast(layer) {
  const format = layer.config.data_format ?? 'channels_last';
  if (format !== 'channels_last') throw new Error(`${layer.name}: data format ${format} is not supported`);
}

/** Keras' padding forms (`1`, `[1, 2]`, `[[t, b], [l, r]]`) as `[[t, b], [l, r]]`. */
function normalisePadding(padding) {
  if (typeof padding === 'number')
    return [
      [padding, padding],
      [padding, padding],
    ];
  const [a, b] = padding;
  return [typeof a === 'number' ? [a, a] : a, typeof b === 'number' ? [b, b] : b];
}

/**
 * Pushes `node`, then the activation Keras applies after it; answers the tensor that holds the
 * result. With an activation, the node's own output keeps its name and the activation's is `name`.
 */
function activation(nodes, node, kind, name = node.output) {
  switch (kind ?? 'linear') {
    case 'linear':
      nodes.push({ ...node, output: name });
      return name;
    case 'relu':
      nodes.push({ ...node, output: `${name}/pre` }, { op: 'Relu', inputs: [`${name}/pre`], output: name });
      return name;
    case 'softmax':
      nodes.push(
        { ...node, output: `${name}/logits` },
        { op: 'Softmax', inputs: [`${name}/logits`], output: name, attributes: { axis: -1 } },
      );
      return name;
    default:
      throw new Error(`activation ${kind} is not supported`);
  }
}
