/**
 * The Crank controller as a package: its certificate authority, worker registry, routing, gRPC
 * over mTLS and HTTP API, started in-process by {@link createControllerApp}. The
 * `crank-controller` command runs the same thing as a process, configured by `CRANK_*` env.
 *
 * @example In-process (tests, embedding: `@crank/testkit`'s `startTestCluster` does this)
 * ```ts
 * import { mkdtemp } from 'node:fs/promises';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { createControllerApp } from '@crank/controller';
 *
 * const controller = await createControllerApp(
 *   {
 *     grpcAddr: '127.0.0.1:0', // 0: any free port; the bound one is in controller.grpcAddress
 *     httpAddr: '127.0.0.1:0',
 *     dataDir: await mkdtemp(join(tmpdir(), 'crank-')), // CA, ca.crt and bootstrap-token go here
 *     heartbeatIntervalMs: 200,
 *   },
 *   {}, // env: none of the CRANK_* variables of this process apply
 * );
 * console.log(controller.grpcAddress, controller.httpUrl);
 * await controller.close();
 * ```
 *
 * @example As a process
 * ```sh
 * npm install @crank/controller
 * CRANK_DATA_DIR=./.crank npx crank-controller   # gRPC on 127.0.0.1:8443, HTTP on 127.0.0.1:8000
 * ```
 */
export {
  createControllerApp,
  type ControllerApp,
  type CreateControllerOptions,
} from './create-controller-app.js';
export type { ControllerConfig, ControllerConfigInit, HttpAuthMode } from './config/controller-config.js';
