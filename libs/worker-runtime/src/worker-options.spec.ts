import { resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { DEBUG_ECHO, defineCapability } from '@crank/capabilities';
import { pino } from 'pino';
import { serve, type ServedCapability } from './handler.js';
import { compileWorkerOptions, type WorkerOptions } from './worker-options.js';

const ECHO: ServedCapability = serve(DEBUG_ECHO, () => ({ message: '', workerId: '', receivedAt: '' }));
const base: WorkerOptions = { name: 'echo', capabilities: [ECHO], logger: pino({ level: 'silent' }) };

describe('compileWorkerOptions', () => {
  it('fills the defaults', () => {
    const compiled = compileWorkerOptions(base, {});
    expect(compiled).toMatchObject({
      name: 'echo',
      capabilities: [ECHO],
      location: {
        address: '127.0.0.1:8443',
        dataDir: resolve('.crank'),
        caFile: resolve('.crank', 'ca.crt'),
      },
      host: '127.0.0.1',
      grpcPort: 0,
      advertiseHost: '127.0.0.1',
      httpPort: 0,
      drainTimeoutMs: 30_000,
      heartbeatIntervalMs: 30_000,
      maxBackoffMs: 5_000,
      renewAtRemainingFraction: 0.33,
      gpu: false,
      labels: {},
    });
    expect(compiled.location.bootstrapToken).toBeUndefined();
    expect(compiled.workerId).toMatch(/^echo-[0-9a-f]{6}$/);
  });

  it('derives a DNS label id from a name with capitals and spaces', () => {
    expect(compileWorkerOptions({ ...base, name: 'Doc Converter' }, {}).workerId).toMatch(
      /^doc-converter-[0-9a-f]{6}$/,
    );
  });

  it('reads CRANK_* variables', () => {
    const compiled = compileWorkerOptions(base, {
      CRANK_WORKER_ID: 'echo-7',
      CRANK_DRAIN_MS: '1500',
      CRANK_CONTROLLER_URL: 'https://ctl.internal:9443',
      CRANK_DATA_DIR: '/srv/crank',
      CRANK_BOOTSTRAP_TOKEN: 'secret',
      CRANK_WORKER_HOST: '0.0.0.0',
      CRANK_ADVERTISE_HOST: 'echo-7.svc',
      CRANK_WORKER_GRPC_PORT: '9100',
      CRANK_HEARTBEAT_MS: '250',
    });
    expect(compiled).toMatchObject({
      workerId: 'echo-7',
      drainTimeoutMs: 1_500,
      location: {
        address: 'ctl.internal:9443',
        dataDir: '/srv/crank',
        caFile: '/srv/crank/ca.crt',
        bootstrapToken: 'secret',
      },
      host: '0.0.0.0',
      advertiseHost: 'echo-7.svc',
      grpcPort: 9100,
      heartbeatIntervalMs: 250,
    });
  });

  it('prefers explicit options over the environment', () => {
    const compiled = compileWorkerOptions(
      {
        ...base,
        workerId: 'from-code',
        drainTimeoutMs: 10,
        controllerUrl: '10.0.0.1:1',
        dataDir: '/opt/crank',
      },
      {
        CRANK_WORKER_ID: 'from-env',
        CRANK_DRAIN_MS: '99',
        CRANK_CONTROLLER_URL: '10.0.0.2:2',
        CRANK_DATA_DIR: '/x',
      },
    );
    expect(compiled).toMatchObject({
      workerId: 'from-code',
      drainTimeoutMs: 10,
      location: { address: '10.0.0.1:1', dataDir: '/opt/crank' },
    });
  });

  it.each(['Echo-1', 'echo_1', '-echo', 'echo-'])('refuses the worker id %j, naming workerId', (workerId) => {
    expect(() => compileWorkerOptions({ ...base, workerId }, {})).toThrow(TypeError);
    expect(() => compileWorkerOptions({ ...base, workerId }, {})).toThrow(
      `workerId: "${workerId}" must be a lowercase DNS label`,
    );
  });

  it('refuses an invalid id from CRANK_WORKER_ID', () => {
    expect(() => compileWorkerOptions(base, { CRANK_WORKER_ID: 'Bad Id' })).toThrow(/^workerId: "Bad Id"/);
  });

  it('refuses a worker that serves nothing', () => {
    expect(() => compileWorkerOptions({ ...base, capabilities: [] }, {})).toThrow(TypeError);
    expect(() => compileWorkerOptions({ ...base, capabilities: [] }, {})).toThrow(
      'capabilities: serve at least one capability',
    );
  });

  it('refuses a capability version served twice, and accepts two versions of one id', () => {
    const twice = { ...base, capabilities: [ECHO, { ...ECHO }] };
    expect(() => compileWorkerOptions(twice, {})).toThrow(TypeError);
    expect(() => compileWorkerOptions(twice, {})).toThrow('capabilities: debug.echo@1.0.0 is served twice');

    const v11: ServedCapability = serve(
      defineCapability({ ...DEBUG_ECHO.definition, version: '1.1.0' }),
      () => ({}),
    );
    expect(compileWorkerOptions({ ...base, capabilities: [ECHO, v11] }, {}).capabilities).toHaveLength(2);
  });

  it('refuses a missing name', () => {
    expect(() => compileWorkerOptions({ ...base, name: '' }, {})).toThrow('name: is required');
  });

  it.each([0, 1, -0.1, 1.5])('refuses renewAtRemainingFraction %d', (fraction) => {
    expect(() => compileWorkerOptions({ ...base, renewAtRemainingFraction: fraction }, {})).toThrow(
      TypeError,
    );
    expect(() => compileWorkerOptions({ ...base, renewAtRemainingFraction: fraction }, {})).toThrow(
      'renewAtRemainingFraction: must be between 0 and 1',
    );
  });

  it('refuses a number that is not a non-negative number, naming the variable', () => {
    expect(() => compileWorkerOptions(base, { CRANK_DRAIN_MS: 'soon' })).toThrow(
      'CRANK_DRAIN_MS: must be a non-negative number (got NaN)',
    );
    expect(() => compileWorkerOptions({ ...base, httpPort: -1 }, {})).toThrow(/^CRANK_WORKER_HTTP_PORT: /);
  });
});
