// tools/check-deploy.mjs: the repository's deploy files pass it, and each rule bites on a copy of
// them broken in one place (the fixtures below), so that a rule that stopped working shows here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkCompose,
  checkDeploy,
  checkDockerfile,
  checkEnvNames,
  checkKnownFields,
  checkObjects,
  checkWorkflows,
  listApps,
  loadManifests,
  parseStages,
  validateSchemas,
} from './check-deploy.mjs';
import { checkHealth, healthUrl } from '../deploy/docker/healthcheck.mjs';
import { drain } from '../deploy/docker/prestop.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const apps = listApps(root);
const dockerfile = readFileSync(join(root, 'deploy/Dockerfile'), 'utf8');
const compose = readFileSync(join(root, 'deploy/compose.yaml'), 'utf8');
const stages = parseStages(dockerfile).map((s) => s.name);
// The base's files as they are (no kubectl needed), the fixtures' starting point.
const base = loadManifests(root, join(root, 'no-such-kubectl')).sets.find(
  (s) => s.where === 'deploy/k8s/base',
);
const everySecret = new Set(['crank-ca', 'crank-worker-bootstrap', 'crank-db', 'crank-metrics-key']);

/** `text` with `from` replaced by `to`; fails when `from` is not there, so fixtures cannot rot. */
function edit(text, from, to) {
  assert.ok(text.includes(from), `fixture: ${JSON.stringify(from)} is not in the file any more`);
  return text.replaceAll(from, to);
}

function dockerProblems(text) {
  return checkDockerfile(text, { apps }).join('\n');
}

function objectProblems(mutate) {
  const objects = structuredClone(base.objects);
  mutate(objects);
  return checkObjects(objects, { where: 'fixture', apps, documentedSecrets: everySecret }).problems.join(
    '\n',
  );
}

const named = (objects, kind, name) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const container = (workload) => workload.spec.template.spec.containers[0];

test("the repository's deploy files pass every check", { timeout: 60_000 }, async () => {
  const { problems, notes } = await checkDeploy({ root });
  assert.deepEqual(problems, []);
  assert.match(notes.at(-1), /\d+ apps, \d+ Dockerfile stages, \d+ Kubernetes objects/);
});

test('without kubectl the overlays are not rendered, says so, and the files are still checked', async () => {
  const { problems, notes } = await checkDeploy({ root, kubectl: join(root, 'no-such-kubectl') });
  assert.deepEqual(problems, []);
  assert.match(notes[0], /overlays not rendered \(.*not found\); checked each folder's files/);
});

test('Dockerfile: a missing target, root, no tini, no HEALTHCHECK fail', () => {
  const noTarget = edit(
    dockerfile,
    'FROM worker-base AS worker-streaming',
    'FROM worker-base AS streaming-old',
  );
  assert.match(dockerProblems(noTarget), /no target for apps\/worker-streaming/);
  assert.match(
    dockerProblems(edit(dockerfile, 'USER 10001:10001', 'USER root')),
    /target worker-echo: runs as root/,
  );
  assert.match(
    dockerProblems(edit(dockerfile, 'ENTRYPOINT ["/usr/bin/tini", "--"]', 'ENTRYPOINT ["node"]')),
    /target controller: ENTRYPOINT is not tini/,
  );
  const noHealth = edit(
    dockerfile,
    'HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \\\n  CMD ["node", "/usr/local/lib/crank/healthcheck.mjs"]',
    'HEALTHCHECK NONE',
  );
  assert.match(dockerProblems(noHealth), /target worker-email-parser: no HEALTHCHECK on \/health/);
});

test('Dockerfile: unpinned and latest base images fail, and so does a lint error', () => {
  assert.match(
    dockerProblems(edit(dockerfile, 'FROM node:20.20-bookworm-slim AS', 'FROM node AS')),
    /FROM node: pin the base image by tag/,
  );
  assert.match(
    dockerProblems(edit(dockerfile, 'FROM node:20.20-bookworm-slim AS', 'FROM node:latest AS')),
    /FROM node:latest: pin the base image by a tag other than latest/,
  );
  assert.match(dockerProblems(`${dockerfile}\nFROOM scratch\n`), /Unknown instruction: FROOM/);
});

test('Dockerfile: a target with another stage inside, or the GPU worker off CUDA, fails', () => {
  const fromBuild = edit(
    dockerfile,
    'COPY --from=deps-worker-echo /out/ /srv/',
    'COPY --from=build /repo/ /srv/',
  );
  assert.match(dockerProblems(fromBuild), /target worker-echo: copies from build, not deps-worker-echo/);
  const onBuild = edit(dockerfile, 'FROM runtime AS worker-base', 'FROM build AS worker-base');
  assert.match(dockerProblems(onBuild), /target worker-streaming: builds on stage build/);
  const noDeps = edit(
    dockerfile,
    'assemble-app.sh worker-email-parser /out',
    'assemble-app.sh worker-echo /out',
  );
  assert.match(
    dockerProblems(noDeps),
    /no stage deps-worker-email-parser that runs .*assemble-app.sh worker-email-parser/,
  );
  const gpuOnNode = edit(
    dockerfile,
    'FROM runtime-cuda AS worker-image-classifier-gpu',
    'FROM runtime AS worker-image-classifier-gpu',
  );
  assert.match(dockerProblems(gpuOnNode), /a GPU worker must build on an nvidia\/cuda image, not node/);
});

test('compose.yaml: a missing worker, no PostgreSQL, no CRANK_DB_URL fail', () => {
  const problems = (text) => checkCompose(text, { apps, stages }).problems.join('\n');
  assert.equal(problems(compose), '');
  assert.match(
    problems(edit(compose, 'target: worker-streaming }', 'target: worker-echo }')),
    /no service builds target worker-streaming/,
  );
  assert.match(
    problems(edit(compose, 'image: postgres:16-bookworm', 'image: mysql:8')),
    /no PostgreSQL service/,
  );
  assert.match(
    problems(
      edit(compose, 'CRANK_DB_URL: postgres://crank:crank@postgres:5432/crank', 'CRANK_DB_SCHEMA2: x'),
    ),
    /services\.controller: no CRANK_DB_URL/,
  );
});

test('Kubernetes: a worker without preStop, or with a grace period shorter than its drain, fails', () => {
  assert.equal(
    objectProblems(() => {}),
    '',
  );
  assert.match(
    objectProblems((o) => delete container(named(o, 'Deployment', 'crank-worker-echo')).lifecycle),
    /Deployment\/crank-worker-echo: no preStop hook/,
  );
  assert.match(
    objectProblems(
      (o) =>
        (named(o, 'Deployment', 'crank-worker-echo').spec.template.spec.terminationGracePeriodSeconds = 30),
    ),
    /terminationGracePeriodSeconds 30 does not cover CRANK_DRAIN_MS 30000 \+ 10 s/,
  );
  assert.match(
    objectProblems(
      (o) => (container(named(o, 'Deployment', 'crank-worker-echo')).livenessProbe.httpGet.path = '/'),
    ),
    /livenessProbe is not an HTTP GET of \/health/,
  );
});

test('Kubernetes: no PDB, a $(VAR) used before it is defined, a Service selecting nothing fail', () => {
  assert.match(
    objectProblems((o) => o.splice(o.indexOf(named(o, 'PodDisruptionBudget', 'crank-worker-echo')), 1)),
    /Deployment\/crank-worker-echo: no PodDisruptionBudget selects its pods/,
  );
  assert.match(
    objectProblems((o) => container(named(o, 'Deployment', 'crank-worker-streaming')).env.reverse()),
    /env CRANK_CONTROLLER_URLS uses \$\(NODE_IP\), which is not defined before it/,
  );
  assert.match(
    objectProblems((o) => (named(o, 'Service', 'crank-controller').spec.selector = { app: 'crank' })),
    /Service\/crank-controller: its selector matches no pod template/,
  );
});

test('Kubernetes: the GPU worker without a GPU, the controller without a node-local port, a stray Secret fail', () => {
  assert.match(
    objectProblems(
      (o) => delete container(named(o, 'Deployment', 'crank-worker-image-classifier-gpu')).resources.limits,
    ),
    /a GPU worker needs an nvidia.com\/gpu limit/,
  );
  assert.match(
    objectProblems((o) =>
      container(named(o, 'DaemonSet', 'crank-controller')).ports.forEach((p) => delete p.hostPort),
    ),
    /workers cannot reach the node-local controller/,
  );
  const undocumented = checkObjects(base.objects, { where: 'fixture', apps, documentedSecrets: new Set() });
  assert.match(
    undocumented.problems.join('\n'),
    /DaemonSet\/crank-controller: Secret crank-ca is neither rendered nor made in README.md "Running in production"/,
  );
});

test('Kubernetes: a wrong type fails the schema, an unknown field fails the type check', async () => {
  const objects = structuredClone(base.objects);
  container(named(objects, 'Deployment', 'crank-worker-echo')).ports[0].containerPort = 'nine';
  const schema = await validateSchemas(objects, 'fixture');
  assert.match(schema.join('\n'), /Deployment\/crank-worker-echo: .*containerPort must be integer/);

  const typo = structuredClone(base.objects);
  container(named(typo, 'Deployment', 'crank-worker-echo')).readinessprobe = { httpGet: { path: '/health' } };
  const types = checkKnownFields([{ where: 'fixture', objects: typo }], root);
  assert.equal(types.length, 1, types.join('\n'));
  assert.match(
    types[0],
    /^fixture: Deployment\/crank-worker-echo: spec\.template\.spec\.containers\[0\]\.readinessprobe: .*'"?readinessprobe"?' does not exist in type 'IContainer'/,
  );
});

test('environment: unknown Crank settings and unexplained variables fail', () => {
  const known = new Set(['CRANK_DRAIN_MS']);
  assert.deepEqual(
    checkEnvNames(
      [
        { name: 'CRANK_DRAIN_MS', where: 'w' },
        { name: 'NODE_ENV', where: 'w' },
      ],
      known,
    ),
    [],
  );
  assert.deepEqual(checkEnvNames([{ name: 'CRANK_DRAIN_SECONDS', where: 'w' }], known), [
    "w: CRANK_DRAIN_SECONDS is neither in README.md's Configuration table nor in the code",
  ]);
  assert.match(checkEnvNames([{ name: 'POD_IP', where: 'w' }], known)[0], /POD_IP is not Crank's/);
});

test('workflows: no nx affected, no provenance, no changesets fail', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'crank-check-deploy-'));
  try {
    mkdirSync(join(scratch, '.github/workflows'), { recursive: true });
    writeFileSync(
      join(scratch, '.github/workflows/ci.yml'),
      'jobs:\n  a:\n    steps:\n      - run: npm test\n',
    );
    writeFileSync(
      join(scratch, '.github/workflows/release.yml'),
      'jobs:\n  p:\n    steps:\n      - run: npx changeset publish\n',
    );
    const problems = checkWorkflows(scratch).join('\n');
    assert.match(problems, /ci.yml: no `nx affected` step/);
    assert.match(problems, /permissions id-token: write/);
    assert.match(problems, /publishes without npm provenance/);
    assert.match(problems, /\.changeset\/config.json: missing/);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('images: the HEALTHCHECK finds each app port, and the preStop drain waits for the app to stop', async () => {
  assert.equal(healthUrl({ CRANK_WORKER_HTTP_PORT: '9000' }), 'http://127.0.0.1:9000/health');
  assert.equal(healthUrl({ CRANK_HTTP_ADDR: '0.0.0.0:8000' }), 'http://127.0.0.1:8000/health');
  assert.equal(
    healthUrl({ CRANK_HTTP_ADDR: '[::]:8001', CRANK_HTTP_AUTH: 'mtls' }),
    'https://127.0.0.1:8001/health',
  );

  // A stand-in app: /health answers until it gets SIGTERM (here, the fake signal), then it closes.
  const app = createServer((req, res) => res.writeHead(req.url === '/health' ? 200 : 404).end());
  await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
  const env = { CRANK_WORKER_HTTP_PORT: `${app.address().port}`, CRANK_DRAIN_MS: '20000' };
  assert.equal(await checkHealth(healthUrl(env)), true);
  const signals = [];
  const result = await drain({
    env,
    pid: 4242,
    pollMs: 20,
    signal: (pid, name) => {
      signals.push([pid, name]);
      setTimeout(() => app.close(), 100);
      app.closeAllConnections();
    },
  });
  assert.equal(result, 'stopped');
  assert.deepEqual(signals, [[4242, 'SIGTERM']]);
  assert.equal(await checkHealth(healthUrl(env)), false);
});
