#!/bin/sh
# Assembles one app for its image, from the repository root after the workspace is built:
#   sh deploy/docker/assemble-app.sh <app> <out> [extra workspace package ...]
# <out> gets the app's production dependencies only (`npm ci --omit=dev` for that one workspace,
# native modules compiled here, where the build tools are), the app's dist, and the dist of the
# workspace libraries it links to. Nothing of the other apps, no dev tools, no sources.
set -eu

app="$1"
out="$2"
shift 2
src=$(pwd)
name=$(node -p "require('./apps/${app}/package.json').name")

rm -rf "$out"
mkdir -p "$out"
# npm ci checks the lockfile against every workspace, so every manifest comes along; the
# workspaces the app does not use are removed again below.
cp package.json package-lock.json .npmrc "$out/"
for manifest in apps/*/package.json libs/*/package.json; do
  mkdir -p "$out/$(dirname "$manifest")"
  cp "$manifest" "$out/$manifest"
done

cd "$out"
workspaces="--workspace=$name"
for extra in "$@"; do workspaces="$workspaces --workspace=$extra"; done
# shellcheck disable=SC2086 # one word per --workspace flag
npm ci --omit=dev $workspaces --include-workspace-root=false --prefer-offline --no-audit --no-fund

# Keep the workspaces node_modules links to (the app, its libraries, the extras) with what they
# ship (dist, bin, and the model a worker's build trained); drop the rest.
linked=" "
for link in node_modules/@crank/*; do
  if [ -L "$link" ]; then linked="$linked$(readlink "$link" | sed 's|^\(\.\./\)*||') "; fi
done
kept=""
for dir in apps/* libs/*; do
  case "$linked" in
    *" $dir "*)
      kept="$kept $dir"
      for part in dist bin model; do
        if [ -d "$src/$dir/$part" ]; then cp -R "$src/$dir/$part" "$dir/"; fi
      done
      ;;
    *) rm -rf "$dir" ;;
  esac
done
# npm links no commands of workspaces; link the kept ones' (`crank`, `crank-controller`) into
# node_modules/.bin, which the images put on PATH.
# shellcheck disable=SC2086 # one argument per kept workspace
node -e '
  const { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync } = require("node:fs");
  const { join } = require("node:path");
  mkdirSync("node_modules/.bin", { recursive: true });
  for (const dir of process.argv.slice(1)) {
    const { name, bin } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    const bins = typeof bin === "string" ? { [name.split("/").pop()]: bin } : (bin ?? {});
    for (const [command, file] of Object.entries(bins)) {
      rmSync(join("node_modules/.bin", command), { force: true });
      symlinkSync(join("../..", dir, file), join("node_modules/.bin", command));
      chmodSync(join(dir, file), 0o755);
    }
  }
' $kept
if [ ! -f "apps/$app/dist/main.js" ]; then
  echo "assemble-app: apps/$app/dist/main.js is missing (was the app built?)" >&2
  exit 1
fi
rm -f package-lock.json .npmrc
