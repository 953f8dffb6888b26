import type { Capability } from '@crank/capabilities';
import type { CallOptions, CrankClient } from '@crank/controller-client';
import { codeOf, failed, messageOf, passed, type ConformanceResult } from './conformance-result.js';

/** What every case of a conformance run shares. */
export interface Run {
  client: CrankClient;
  capability: Capability;
  /** The worker every answer must come from; any worker when undefined. */
  workerId: string | undefined;
  timeoutMs: number;
}

/** A call that answered: its output records (one for a unary call) and who answered. */
export interface Answer {
  records: unknown[];
  workerId: string | undefined;
}

/**
 * Calls the capability once, as its streaming mode wants: `invoke` for a unary capability, else
 * `invokeStream` with `input` as the one record (or, for a capability that streams its input, the
 * records when `input` is an array).
 *
 * @throws the call's error (a CrankError), with `workerId` set on it when the stream was accepted
 */
export async function callOnce(
  run: Run,
  input: unknown,
  options: Omit<CallOptions, 'version'> = {},
): Promise<Answer> {
  const callOptions = { timeoutMs: run.timeoutMs, ...options, version: run.capability.version };
  if (run.capability.streaming === 'none') {
    const result = await run.client.invoke(run.capability.id, input, callOptions);
    return { records: [result.output], workerId: result.workerId };
  }
  const streamsIn = run.capability.streaming === 'input' || run.capability.streaming === 'bidi';
  const records = streamsIn && Array.isArray(input) ? input : [input];
  const stream = run.client.invokeStream(run.capability.id, records, callOptions);
  const out: unknown[] = [];
  const { workerId } = await stream.accepted;
  for await (const record of stream) out.push(record);
  return { records: out, workerId };
}

/** The verdict of a call that failed: passed only with the code the case expects. */
export function failedCall(
  name: string,
  expectError: string | undefined,
  error: unknown,
  workerId?: string,
): ConformanceResult {
  const code = codeOf(error);
  if (expectError !== undefined && code === expectError) return passed(name, workerId);
  return failed(
    name,
    `${expectError ? `expected ${expectError}, got` : 'call failed with'} ${code}: ${messageOf(error)}`,
    workerId,
  );
}

/** The first way an answer breaks the contract, in words; undefined when it keeps it. */
export function answerProblem(run: Run, answer: Answer): string | undefined {
  for (const [index, output] of answer.records.entries()) {
    if (output instanceof Uint8Array) continue;
    const first = run.capability.validateOutput(output)[0];
    if (first) {
      const where =
        answer.records.length > 1 || run.capability.streaming !== 'none' ? `record ${index} ` : '';
      return `output ${where}${first.path || '/'}: ${first.message}`;
    }
  }
  if (!answer.workerId) return 'no worker id in the answer';
  if (run.workerId && answer.workerId !== run.workerId) {
    return `answered by worker "${answer.workerId}", not by the worker under test "${run.workerId}"`;
  }
  return undefined;
}

/** The verdict of a call that answered: its outputs, the worker that answered, the case's check. */
export async function answered(
  run: Run,
  name: string,
  expectError: string | undefined,
  answer: Answer,
  check: () => Promise<void>,
): Promise<ConformanceResult> {
  const { workerId } = answer;
  if (expectError) return failed(name, `expected ${expectError}, got success`, workerId);
  const problem = answerProblem(run, answer);
  if (problem) return failed(name, problem, workerId);
  try {
    await check();
  } catch (error) {
    return failed(name, `check failed: ${messageOf(error)}`, workerId);
  }
  return passed(name, workerId);
}

/** `value` as JSON, cut to 120 characters, for a reason. */
export function preview(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 120 ? `${json.slice(0, 117)}...` : json;
}
