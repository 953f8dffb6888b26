#!/usr/bin/env node
// Keeps deploy/ honest where there is no container engine and no cluster (`npm run check:deploy`;
// CI runs it, and tools/check-deploy.test.mjs runs it under `npm test`):
// - deploy/Dockerfile is parsed and linted (dockerfile-utils), then held to the project's rules: a
//   target per app (apps/*, e2e aside) that copies only its own deps-<app> stage, on a shared base
//   that runs as a non-root user under tini with a HEALTHCHECK on /health; base images pinned by a
//   tag other than latest; the GPU worker on nvidia/cuda.
// - deploy/compose.yaml runs the controller, PostgreSQL (CRANK_DB_URL) and every worker.
// - deploy/k8s: base and every overlay rendered with `kubectl kustomize` (kubectl 1.21 or newer;
//   without one, each folder's files are checked as they are, and the report says so). Every object
//   is validated offline against the Kubernetes schemas (kubernetes-models; the prometheus-operator
//   models for ServiceMonitors), and type-checked against the same models' TypeScript types, which
//   also catches misspelt or misplaced fields. Then the rules: probes on /health, a preStop and a
//   grace period that covers the drain, a PodDisruptionBudget per Deployment, workers that find the
//   node-local controller through status.hostIP, GPU limits, Services and ServiceMonitors that
//   select something, and Secrets that are rendered or made in README.md "Running in production".
// - Every environment variable the files set is in README.md's Configuration table or in the code.
// - The workflows run `nx affected` and this check, and publish with changesets and npm provenance.
// Prints one line per problem; exits 1 when there is any.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DockerfileParser } from 'dockerfile-ast';
import { validate as lintDockerfile } from 'dockerfile-utils';
import ts from 'typescript';
import { parse as parseYaml, parseAllDocuments } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Variables the files may set that are not Crank's: the base images' and tools' own. */
const THIRD_PARTY_ENV = new Set([
  'CI',
  'NODE_ENV',
  'NX_DAEMON',
  'NX_NO_CLOUD',
  'NX_TUI',
  'ONNXRUNTIME_NODE_INSTALL',
  'PATH',
  'PGDATA',
  'POSTGRES_DB',
  'POSTGRES_PASSWORD',
  'POSTGRES_USER',
]);
/** Where the models of an apiVersion live, when not in kubernetes-models itself. */
const MODEL_MODULES = {
  'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
};
const WORKLOAD_KINDS = new Set(['Deployment', 'DaemonSet', 'StatefulSet']);

/** The deployable apps: every folder of apps/ with a package.json, the end-to-end tests aside. */
export function listApps(root = ROOT) {
  return readdirSync(join(root, 'apps'))
    .filter((name) => name !== 'e2e' && existsSync(join(root, 'apps', name, 'package.json')))
    .sort();
}

// ---------------------------------------------------------------- Dockerfile

/** The stages of a Dockerfile, each with its FROM and its instructions. */
export function parseStages(text) {
  const stages = [];
  for (const instruction of DockerfileParser.parse(text).getInstructions()) {
    const keyword = instruction.getKeyword();
    const line = instruction.getRange().start.line + 1;
    if (keyword === 'FROM') {
      stages.push({
        name: instruction.getBuildStage() ?? undefined,
        image: instruction.getImageName() ?? '',
        tag: instruction.getImageTag() ?? undefined,
        digest: instruction.getImageDigest() ?? undefined,
        line,
        instructions: [],
      });
      continue;
    }
    stages.at(-1)?.instructions.push({
      keyword,
      line,
      args: instruction.getArgumentsContent() ?? '',
      flags: Object.fromEntries((instruction.getFlags?.() ?? []).map((f) => [f.getName(), f.getValue()])),
      env: keyword === 'ENV' ? instruction.getProperties().map((p) => p.getName()) : [],
    });
  }
  return stages;
}

/** Problems of a Dockerfile: lint findings, then the rules above for each app's target. */
export function checkDockerfile(text, { apps, file = 'deploy/Dockerfile' }) {
  const problems = lintDockerfile(text).map((d) => `${file}:${d.range.start.line + 1}: ${d.message}`);
  const stages = parseStages(text);
  const byName = new Map(stages.filter((s) => s.name).map((s) => [s.name, s]));
  for (const stage of stages) {
    if (byName.has(stage.image) || stage.image === 'scratch') continue;
    const ref = `${file}:${stage.line}: FROM ${stage.image}`;
    if (stage.image.includes('$'))
      problems.push(`${ref}: name the base image literally, so it can be checked`);
    else if (!stage.tag && !stage.digest)
      problems.push(`${ref}: pin the base image by tag (no tag means latest)`);
    else if (stage.tag === 'latest')
      problems.push(`${ref}:latest: pin the base image by a tag other than latest`);
  }
  for (const app of apps) {
    const target = byName.get(app);
    if (!target) {
      problems.push(`${file}: no target for apps/${app} (a stage "FROM ... AS ${app}")`);
      continue;
    }
    const where = `${file}:${target.line}: target ${app}`;
    const chain = chainOf(target, byName);
    const all = chain.flatMap((s) => s.instructions);
    const last = (keyword) => all.filter((i) => i.keyword === keyword).at(-1);
    const user = last('USER')?.args.split(':')[0].trim();
    if (!user || user === 'root' || user === '0')
      problems.push(`${where}: runs as root (USER not set to another user)`);
    if (!/\btini\b/.test(last('ENTRYPOINT')?.args ?? '')) problems.push(`${where}: ENTRYPOINT is not tini`);
    const health = last('HEALTHCHECK')?.args ?? '';
    if (!health || /^NONE\b/i.test(health) || !/health/.test(health))
      problems.push(`${where}: no HEALTHCHECK on /health`);
    if (!commandArgs(last('CMD')?.args).includes(`apps/${app}/dist/main.js`))
      problems.push(`${where}: CMD does not run apps/${app}/dist/main.js (exec form)`);
    for (const stage of chain.slice(0, -1)) {
      if (stage.name === 'build' || stage.name?.startsWith('deps-'))
        problems.push(
          `${where}: builds on stage ${stage.name}, which holds build tools and the whole workspace`,
        );
    }
    for (const i of all) {
      if (i.keyword === 'RUN' && /\bnpm (ci|install|i)\b/.test(i.args))
        problems.push(
          `${file}:${i.line}: target ${app}: installs packages in the runtime line; do it in deps-${app}`,
        );
    }
    for (const i of target.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')) {
      if (i.flags.from !== `deps-${app}`)
        problems.push(
          `${file}:${i.line}: target ${app}: copies from ${i.flags.from ?? 'the build context'}, not deps-${app}`,
        );
    }
    const deps = byName.get(`deps-${app}`);
    if (!deps?.instructions.some((i) => i.keyword === 'RUN' && assembles(i.args, app)))
      problems.push(`${where}: no stage deps-${app} that runs deploy/docker/assemble-app.sh ${app}`);
    const base = chain[0].image;
    if (app.endsWith('-gpu') && !base.startsWith('nvidia/cuda'))
      problems.push(`${where}: a GPU worker must build on an nvidia/cuda image, not ${base}`);
  }
  return problems;
}

function chainOf(stage, byName) {
  const chain = [];
  for (let s = stage; s && !chain.includes(s); s = byName.get(s.image)) chain.unshift(s);
  return chain;
}

function commandArgs(args) {
  try {
    const parsed = JSON.parse(args ?? '');
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

/** Whether a RUN assembles `app` (app names are [a-z0-9-], nothing to escape). */
function assembles(run, app) {
  return new RegExp(`assemble-app\\.sh\\s+${app}(\\s|$)`).test(run);
}

/** The assemble script installs production dependencies only. */
export function checkAssembleScript(text, file = 'deploy/docker/assemble-app.sh') {
  return /npm ci\b[^\n]*--omit=dev/.test(text) ? [] : [`${file}: npm ci without --omit=dev`];
}

// ---------------------------------------------------------------- compose

/** Problems of compose.yaml, and the variables it sets (for {@link checkEnvNames}). */
export function checkCompose(text, { apps, stages, file = 'deploy/compose.yaml' }) {
  const problems = [];
  const env = [];
  const services = parseYaml(text, { merge: true })?.services ?? {};
  const environment = (service) =>
    Array.isArray(service.environment)
      ? Object.fromEntries(service.environment.map((e) => [e.split('=')[0], e.split('=').slice(1).join('=')]))
      : (service.environment ?? {});
  const byTarget = new Map();
  for (const [name, service] of Object.entries(services)) {
    const where = `${file}: services.${name}`;
    for (const variable of Object.keys(environment(service))) env.push({ name: variable, where });
    if (service.build) {
      const build = typeof service.build === 'string' ? { context: service.build } : service.build;
      if (build.dockerfile !== 'deploy/Dockerfile' || build.context !== '..')
        problems.push(`${where}: build from context .. with dockerfile deploy/Dockerfile`);
      if (!stages.includes(build.target))
        problems.push(`${where}: target ${build.target} is not a Dockerfile stage`);
      byTarget.set(build.target, [name, service]);
    } else if (!/:[^/]+$/.test(service.image ?? '') || /:latest$/.test(service.image)) {
      problems.push(`${where}: image ${service.image} is not pinned by a tag other than latest`);
    }
  }
  for (const app of apps) {
    if (!byTarget.has(app)) problems.push(`${file}: no service builds target ${app}`);
  }
  const postgres = Object.entries(services).find(([, s]) => /^postgres:/.test(s.image ?? ''));
  if (!postgres) problems.push(`${file}: no PostgreSQL service (image postgres:<tag>)`);
  const [controllerName, controller] = byTarget.get('controller') ?? [];
  if (controller) {
    const url = String(environment(controller).CRANK_DB_URL ?? '');
    if (!/^postgres(ql)?:\/\//.test(url))
      problems.push(`${file}: services.${controllerName}: no CRANK_DB_URL`);
    else if (postgres && !url.includes(`@${postgres[0]}:`))
      problems.push(
        `${file}: services.${controllerName}: CRANK_DB_URL does not name the ${postgres[0]} service`,
      );
    const dependsOn = Array.isArray(controller.depends_on)
      ? controller.depends_on
      : Object.keys(controller.depends_on ?? {});
    if (postgres && !dependsOn.includes(postgres[0]))
      problems.push(`${file}: services.${controllerName}: does not depend on ${postgres[0]}`);
  }
  for (const app of apps.filter((a) => a.startsWith('worker-'))) {
    const [name, service] = byTarget.get(app) ?? [];
    if (!service) continue;
    const variables = environment(service);
    if (!variables.CRANK_CONTROLLER_URLS && !variables.CRANK_CONTROLLER_URL)
      problems.push(`${file}: services.${name}: no CRANK_CONTROLLER_URLS`);
    const devices = service.deploy?.resources?.reservations?.devices ?? [];
    if (app.endsWith('-gpu') && !devices.some((d) => d.driver === 'nvidia'))
      problems.push(`${file}: services.${name}: a GPU worker needs an nvidia device reservation`);
  }
  return { problems, env };
}

// ---------------------------------------------------------------- Kubernetes: render

/** The kustomize version kubectl embeds, or why there is none that can render these files. */
export function findKustomize(kubectl) {
  const result = spawnSync(kubectl, ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
  if (result.error?.code === 'ENOENT') return { missing: `${kubectl} not found` };
  if (result.error || result.status !== 0) return { missing: `${kubectl} version failed` };
  let version;
  try {
    version = JSON.parse(result.stdout);
  } catch {
    return { missing: `${kubectl} version printed no JSON` };
  }
  const major = Number(/^v(\d+)/.exec(version.kustomizeVersion ?? '')?.[1] ?? 0);
  if (major < 4)
    return {
      missing: `kubectl ${version.clientVersion?.gitVersion ?? '?'} embeds kustomize ${version.kustomizeVersion ?? 'v2 or older'}; components and patches need kubectl 1.21 or newer`,
    };
  return { version: version.kustomizeVersion };
}

/** base and each overlay, rendered by kubectl, or each folder's files as they are. */
export function loadManifests(root, kubectl) {
  const k8s = join(root, 'deploy/k8s');
  const dirs = ['base', ...listDirs(join(k8s, 'overlays')).map((d) => `overlays/${d}`)];
  const kustomize = findKustomize(kubectl);
  const problems = [];
  if (kustomize.version) {
    const sets = dirs.map((dir) => {
      const where = `deploy/k8s/${dir}`;
      const result = spawnSync(kubectl, ['kustomize', join(k8s, dir)], { encoding: 'utf8' });
      if (result.status !== 0) problems.push(`${where}: kubectl kustomize failed: ${result.stderr.trim()}`);
      return { where, objects: result.status === 0 ? parseDocuments(result.stdout) : [], generated: [] };
    });
    return { sets, problems, notes: [`rendered ${dirs.join(', ')} with kustomize ${kustomize.version}`] };
  }
  const folders = [...dirs, ...listDirs(join(k8s, 'components')).map((d) => `components/${d}`)];
  const sets = folders.map((dir) => {
    const files = readdirSync(join(k8s, dir)).filter(
      (f) => /\.ya?ml$/.test(f) && !/^kustomization\./.test(f),
    );
    const kustomization = parseYaml(readFileSync(join(k8s, dir, 'kustomization.yaml'), 'utf8')) ?? {};
    for (const path of [...(kustomization.resources ?? []), ...(kustomization.components ?? [])]) {
      if (!existsSync(join(k8s, dir, path)))
        problems.push(`deploy/k8s/${dir}/kustomization.yaml: ${path} does not exist`);
    }
    return {
      where: `deploy/k8s/${dir}`,
      objects: files.flatMap((f) => parseDocuments(readFileSync(join(k8s, dir, f), 'utf8'))),
      generated: (kustomization.secretGenerator ?? []).map((g) => g.name),
      partial: dir !== 'base',
    };
  });
  return {
    sets,
    problems,
    notes: [`overlays not rendered (${kustomize.missing}); checked each folder's files as they are`],
  };
}

function listDirs(path) {
  return existsSync(path)
    ? readdirSync(path, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
    : [];
}

function parseDocuments(text) {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS())
    .filter((o) => o && o.apiVersion && o.kind);
}

// ---------------------------------------------------------------- Kubernetes: schemas

/** Validates each object against its kubernetes-models schema (types, formats, required fields). */
export async function validateSchemas(objects, where) {
  const problems = [];
  for (const object of objects) {
    const model = await modelOf(object);
    const name = `${where}: ${object.kind}/${object.metadata?.name}`;
    if (!model) {
      problems.push(
        `${name}: no model for ${object.apiVersion} ${object.kind}; add its module to MODEL_MODULES`,
      );
      continue;
    }
    try {
      new model(normalise(object)).validate();
    } catch (error) {
      problems.push(`${name}: ${error.message}`);
    }
  }
  return problems;
}

/** Secret data as the API server reads it: base64 whose line breaks (kustomize's) are skipped. */
function normalise(object) {
  if (object.kind !== 'Secret' || !object.data) return object;
  const data = Object.fromEntries(
    Object.entries(object.data).map(([k, v]) => [k, `${v}`.replace(/\s+/g, '')]),
  );
  return { ...object, data };
}

async function modelOf({ apiVersion, kind }) {
  try {
    return (await import(modelModule(apiVersion)))[kind];
  } catch {
    return undefined;
  }
}

function modelModule(apiVersion) {
  return MODEL_MODULES[apiVersion] ?? `kubernetes-models/${apiVersion}`;
}

/**
 * Type-checks every object as an object literal of its model's TypeScript interface, so that a
 * field the schema does not know (a typo, or a field at the wrong level) is reported: the JSON
 * schemas allow unknown fields, and the API server only warns about them.
 */
export function checkKnownFields(sets, root = ROOT) {
  const file = join(root, 'tmp', '__check-deploy-types.mts');
  const lines = [];
  const imports = new Map();
  for (const { where, objects } of sets) {
    for (const object of objects) {
      const from = `import type { I${object.kind} as T${imports.size} } from '${modelModule(object.apiVersion)}';`;
      if (!imports.has(from)) imports.set(from, `T${imports.size}`);
      const type = imports.get(from);
      const label = `${where}: ${object.kind}/${object.metadata?.name}`;
      emitLiteral(object, { label, path: '' }, '', lines, `export const _${lines.length}: ${type} = `, ';');
    }
  }
  const header = [...imports.keys()].map((line) => [line, { label: 'deploy/k8s', path: '' }]);
  const all = [...header, ...lines];
  const source = all.map(([text]) => text).join('\n');
  const host = ts.createCompilerHost({});
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name === file ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest);
  const program = ts.createProgram(
    [file],
    {
      noEmit: true,
      strict: true,
      skipLibCheck: true,
      types: [],
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
    },
    host,
  );
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    const { label, path } = all[line]?.[1] ?? { label: 'deploy/k8s', path: '' };
    return `${label}: ${path ? `${path}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

/**
 * Writes `value` as a TypeScript literal, one property per line, each line remembering the object
 * (`at.label`) and the field (`at.path`, e.g. `spec.template.spec.containers[0].image`) it holds.
 * Nulls are left out: Kubernetes reads them as unset, TypeScript would not.
 */
function emitLiteral(value, at, indent, lines, prefix, suffix) {
  if (value === null || typeof value !== 'object') {
    lines.push([`${indent}${prefix}${JSON.stringify(value)}${suffix}`, at]);
    return;
  }
  const array = Array.isArray(value);
  const entries = array ? value.map((v, i) => [i, v]) : Object.entries(value).filter(([, v]) => v !== null);
  lines.push([`${indent}${prefix}${array ? '[' : '{'}`, at]);
  for (const [key, item] of entries) {
    const path = array ? `${at.path}[${key}]` : at.path ? `${at.path}.${key}` : key;
    emitLiteral(
      item,
      { label: at.label, path },
      `${indent}  `,
      lines,
      array ? '' : `${JSON.stringify(key)}: `,
      ',',
    );
  }
  lines.push([`${indent}${array ? ']' : '}'}${suffix}`, at]);
}

// ---------------------------------------------------------------- Kubernetes: rules

/**
 * The project's rules over one rendered set of objects. `documentedSecrets` are the Secrets that
 * README.md says how to make; `apps` the apps each complete set must deploy.
 */
export function checkObjects(
  objects,
  { where, apps, documentedSecrets = new Set(), generated = [], partial = false },
) {
  const problems = [];
  const env = [];
  const say = (object, message) =>
    problems.push(`${where}: ${object.kind}/${object.metadata?.name}: ${message}`);
  const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.kind));
  const services = objects.filter((o) => o.kind === 'Service');
  const secrets = new Set([
    ...objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata?.name),
    ...generated,
  ]);
  const checkSecret = (object, name) => {
    if (name && !secrets.has(name) && !documentedSecrets.has(name))
      say(object, `Secret ${name} is neither rendered nor made in README.md "Running in production"`);
  };

  if (!partial) {
    for (const app of apps) {
      if (!workloads.some((w) => w.metadata?.name === `crank-${app}`))
        problems.push(`${where}: nothing deploys apps/${app} (crank-${app})`);
    }
  }
  for (const workload of workloads) {
    const pod = workload.spec?.template?.spec ?? {};
    const labels = workload.spec?.template?.metadata?.labels ?? {};
    const component = labels['app.kubernetes.io/component'];
    for (const volume of pod.volumes ?? []) checkSecret(workload, volume.secret?.secretName);
    for (const container of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
      const image = container.image ?? '';
      if (!/:[^/]+$/.test(image) && !image.includes('@'))
        say(workload, `image ${image} is not pinned by a tag`);
      else if (/:latest$/.test(image)) say(workload, `image ${image}: pin a tag other than latest`);
      const defined = new Set();
      const referenced = new Set();
      for (const variable of container.env ?? []) {
        for (const [, name] of `${variable.value ?? ''}`.matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          referenced.add(name);
          if (!defined.has(name))
            say(workload, `env ${variable.name} uses $(${name}), which is not defined before it`);
        }
        defined.add(variable.name);
        checkSecret(workload, variable.valueFrom?.secretKeyRef?.name);
      }
      for (const variable of container.env ?? []) {
        if (variable.name.startsWith('CRANK_') || !referenced.has(variable.name))
          env.push({ name: variable.name, where: `${where}: ${workload.kind}/${workload.metadata?.name}` });
      }
    }
    if (component === 'worker' || component === 'controller') {
      problems.push(...checkCrankWorkload(workload, { where, services }));
    }
    if (workload.kind === 'Deployment') {
      const covered = objects.some(
        (o) => o.kind === 'PodDisruptionBudget' && selects(o.spec?.selector?.matchLabels, labels),
      );
      if (!covered) say(workload, 'no PodDisruptionBudget selects its pods');
    }
  }
  for (const service of services) {
    const selected = workloads.filter((w) =>
      selects(service.spec?.selector, w.spec?.template?.metadata?.labels),
    );
    if (!selected.length) {
      if (!partial) say(service, 'its selector matches no pod template');
      continue;
    }
    const names = new Set(selected.flatMap((w) => containerPorts(w).map((p) => p.name)));
    for (const port of service.spec?.ports ?? []) {
      if (typeof port.targetPort === 'string' && !names.has(port.targetPort))
        say(service, `targetPort ${port.targetPort} is no container port of the pods it selects`);
    }
  }
  for (const monitor of objects.filter((o) => o.kind === 'ServiceMonitor')) {
    const matched = services.filter((s) => selects(monitor.spec?.selector?.matchLabels, s.metadata?.labels));
    if (!matched.length && !partial) say(monitor, 'its selector matches no Service');
    for (const endpoint of monitor.spec?.endpoints ?? []) {
      if (matched.length && !matched.some((s) => (s.spec?.ports ?? []).some((p) => p.name === endpoint.port)))
        say(monitor, `endpoint port ${endpoint.port} is not a port of the Services it selects`);
      checkSecret(monitor, endpoint.authorization?.credentials?.name);
      checkSecret(monitor, endpoint.bearerTokenSecret?.name);
    }
  }
  return { problems: [...new Set(problems)], env };
}

function checkCrankWorkload(workload, { where, services }) {
  const problems = [];
  const say = (message) => problems.push(`${where}: ${workload.kind}/${workload.metadata?.name}: ${message}`);
  const pod = workload.spec.template.spec ?? {};
  const labels = workload.spec.template.metadata?.labels ?? {};
  const worker = labels['app.kubernetes.io/component'] === 'worker';
  const [container] = pod.containers ?? [];
  if (!container) return [`${where}: ${workload.kind}/${workload.metadata?.name}: no container`];
  const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e]));
  const value = (name) => env[name]?.value;
  for (const probe of ['readinessProbe', 'livenessProbe']) {
    if (container[probe]?.httpGet?.path !== '/health') say(`${probe} is not an HTTP GET of /health`);
  }
  if (!(pod.securityContext?.runAsNonRoot || container.securityContext?.runAsNonRoot))
    say('runAsNonRoot is not set');
  const preStop = container.lifecycle?.preStop;
  if (!preStop) say('no preStop hook');
  const graceMs = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
  if (worker) {
    if (workload.kind !== 'Deployment') say('a worker runs as a Deployment');
    const drainMs = Number(value('CRANK_DRAIN_MS'));
    if (!value('CRANK_DRAIN_MS'))
      say('CRANK_DRAIN_MS is not set, so the grace period cannot be checked against it');
    else if (graceMs < drainMs + 10_000)
      say(`terminationGracePeriodSeconds ${graceMs / 1000} does not cover CRANK_DRAIN_MS ${drainMs} + 10 s`);
    if (preStop && !(preStop.exec?.command ?? []).some((part) => /prestop\.mjs$/.test(part)))
      say('preStop does not run the drain (/usr/local/lib/crank/prestop.mjs)');
    const hostIp = (container.env ?? []).find((e) => e.valueFrom?.fieldRef?.fieldPath === 'status.hostIP');
    const urls = value('CRANK_CONTROLLER_URLS') ?? value('CRANK_CONTROLLER_URL') ?? '';
    if (!hostIp || !urls.includes(`$(${hostIp.name})`))
      say('CRANK_CONTROLLER_URLS does not lead with the node-local controller (downward API status.hostIP)');
    if (/gpu/.test(workload.metadata.name)) {
      if (!(Number(container.resources?.limits?.['nvidia.com/gpu']) >= 1))
        say('a GPU worker needs an nvidia.com/gpu limit');
      if (!Object.keys(pod.nodeSelector ?? {}).length && !pod.affinity?.nodeAffinity)
        say('a GPU worker needs a node selector');
    }
  } else {
    if (workload.kind !== 'DaemonSet') say('the controller runs as a DaemonSet, one per node');
    const local =
      containerPorts(workload).some((p) => p.hostPort) ||
      services.some((s) => s.spec?.internalTrafficPolicy === 'Local' && selects(s.spec?.selector, labels));
    if (!local)
      say(
        'workers cannot reach the node-local controller: no hostPort and no Service with internalTrafficPolicy Local',
      );
    const sleepMs = Number((preStop?.exec?.command ?? []).find((part) => /^\d+$/.test(part)) ?? 0) * 1000;
    const shutdownMs = Number(value('CRANK_SHUTDOWN_GRACE_MS') ?? 10_000);
    if (graceMs < sleepMs + shutdownMs + 5000)
      say(
        `terminationGracePeriodSeconds ${graceMs / 1000} does not cover the preStop and CRANK_SHUTDOWN_GRACE_MS ${shutdownMs} + 5 s`,
      );
    const dataDir = value('CRANK_DATA_DIR');
    const mount = (container.volumeMounts ?? []).find((m) => m.mountPath === dataDir);
    const volume = (pod.volumes ?? []).find((v) => v.name === mount?.name);
    if (!volume?.secret)
      say('CRANK_DATA_DIR is not mounted from a Secret, so the controllers would not share one CA');
  }
  return problems;
}

function selects(selector, labels) {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([key, value]) => labels?.[key] === value);
}

function containerPorts(workload) {
  return (workload.spec?.template?.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
}

// ---------------------------------------------------------------- names and docs

/** The CRANK_* names README.md's Configuration section documents. */
export function documentedSettings(readme) {
  return new Set(section(readme, 'Configuration').match(/\bCRANK_[A-Z0-9_]+/g) ?? []);
}

/** Secrets that README.md's "Running in production" section makes (`create secret generic NAME`). */
export function documentedSecrets(readme) {
  return new Set(
    [...section(readme, 'Running in production').matchAll(/create secret generic ([a-z0-9-]+)/g)].map(
      (m) => m[1],
    ),
  );
}

function section(markdown, title) {
  const start = markdown.search(new RegExp(`^## ${title}\\s*$`, 'm'));
  if (start < 0) return '';
  const rest = markdown.slice(start + 3);
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** The CRANK_* names the production code of apps/ and libs/ mentions. */
export function settingsInCode(root = ROOT) {
  const names = new Set();
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!['node_modules', 'dist', '__fixtures__', 'test'].includes(entry.name)) walk(path);
      } else if (/\.(ts|js|mjs|cjs)$/.test(entry.name) && !/\.(spec|test)\./.test(entry.name)) {
        for (const name of readFileSync(path, 'utf8').match(/\bCRANK_[A-Z0-9_]+/g) ?? []) names.add(name);
      }
    }
  };
  for (const top of ['apps', 'libs']) {
    for (const project of listDirs(join(root, top))) {
      for (const part of ['src', 'bin'])
        if (existsSync(join(root, top, project, part))) walk(join(root, top, project, part));
    }
  }
  return names;
}

/** Each variable set in the files must be Crank's (documented or in the code) or a known tool's. */
export function checkEnvNames(uses, known) {
  const problems = new Set();
  for (const { name, where } of uses) {
    if (name.startsWith('CRANK_') ? !known.has(name) : !THIRD_PARTY_ENV.has(name))
      problems.add(
        name.startsWith('CRANK_')
          ? `${where}: ${name} is neither in README.md's Configuration table nor in the code`
          : `${where}: ${name} is not Crank's, not a known tool's, and no other variable uses it`,
      );
  }
  return [...problems];
}

/** ci.yml runs `nx affected` and this check; release.yml publishes with changesets and provenance. */
export function checkWorkflows(root = ROOT) {
  const problems = [];
  const workflow = (name) => {
    const path = join(root, '.github/workflows', name);
    return existsSync(path) ? parseYaml(readFileSync(path, 'utf8')) : undefined;
  };
  const steps = (doc) => Object.values(doc?.jobs ?? {}).flatMap((job) => job.steps ?? []);
  const ci = steps(workflow('ci.yml'));
  if (!ci.some((s) => /\bnx affected\b/.test(s.run ?? '')))
    problems.push('.github/workflows/ci.yml: no `nx affected` step');
  if (!ci.some((s) => /check-deploy\.mjs/.test(s.run ?? '')))
    problems.push('.github/workflows/ci.yml: does not run tools/check-deploy.mjs');
  const release = workflow('release.yml');
  const publishing = Object.values(release?.jobs ?? {}).find((job) =>
    (job.steps ?? []).some(
      (s) => /changesets\/action/.test(s.uses ?? '') || /changeset publish/.test(s.run ?? ''),
    ),
  );
  if (!publishing) problems.push('.github/workflows/release.yml: no job publishes with changesets');
  else {
    if (publishing.permissions?.['id-token'] !== 'write')
      problems.push(
        '.github/workflows/release.yml: the publishing job needs permissions id-token: write (npm provenance)',
      );
    const provenance = (publishing.steps ?? []).some(
      (s) =>
        `${s.env?.NPM_CONFIG_PROVENANCE}` === 'true' ||
        /--provenance/.test(`${s.run ?? ''}${s.with?.publish ?? ''}`),
    );
    if (!provenance) problems.push('.github/workflows/release.yml: publishes without npm provenance');
  }
  if (!existsSync(join(root, '.changeset/config.json'))) problems.push('.changeset/config.json: missing');
  return problems;
}

// ---------------------------------------------------------------- all of it

/** Runs every check over the repository at `root`. Resolves `{ problems, notes }`. */
export async function checkDeploy({ root = ROOT, kubectl = 'kubectl' } = {}) {
  const read = (path) => readFileSync(join(root, path), 'utf8');
  const apps = listApps(root);
  const readme = read('README.md');
  const dockerfile = read('deploy/Dockerfile');
  const stages = parseStages(dockerfile);
  const problems = [
    ...checkDockerfile(dockerfile, { apps }),
    ...checkAssembleScript(read('deploy/docker/assemble-app.sh')),
  ];
  const env = stages.flatMap((s) =>
    s.instructions.flatMap((i) => i.env.map((name) => ({ name, where: `deploy/Dockerfile:${i.line}` }))),
  );
  const compose = checkCompose(read('deploy/compose.yaml'), { apps, stages: stages.map((s) => s.name) });
  problems.push(...compose.problems);
  env.push(...compose.env);

  const { sets, problems: renderProblems, notes } = loadManifests(root, kubectl);
  problems.push(...renderProblems);
  const secrets = documentedSecrets(readme);
  for (const set of sets) {
    problems.push(...(await validateSchemas(set.objects, set.where)));
    const result = checkObjects(set.objects, { ...set, apps, documentedSecrets: secrets });
    problems.push(...result.problems);
    env.push(...result.env);
  }
  problems.push(...checkKnownFields(sets, root));
  problems.push(...checkEnvNames(env, new Set([...documentedSettings(readme), ...settingsInCode(root)])));
  problems.push(...checkWorkflows(root));
  const objects = sets.reduce((n, s) => n + s.objects.length, 0);
  notes.push(
    `${apps.length} apps, ${stages.length} Dockerfile stages, ${objects} Kubernetes objects in ${sets.length} sets`,
  );
  return { problems, notes };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { problems, notes } = await checkDeploy();
  for (const note of notes) console.log(`check-deploy: ${note}`);
  for (const problem of problems) console.log(`  ${problem}`);
  console.log(problems.length ? `check-deploy: ${problems.length} problem(s)` : 'check-deploy: ok');
  process.exitCode = problems.length ? 1 : 0;
}
