#!/usr/bin/env bash
# The package as a user gets it: pack the tarball, install it into an empty project, then run the
# CLI, import the library in plain Node (no loader) and bundle the public entry for the browser.
# Needs FACEGAR_MODEL_DIR; runs offline (FACEGAR_OFFLINE=1). Prints the sizes and times it measures.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
photo=${1:-$root/../shared/photos/examples/000002.jpg}
# The CLI runs from an empty project elsewhere, so a relative photo path is made absolute here.
photo=$(cd "$(dirname "$photo")" && pwd)/$(basename "$photo")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

echo "== package: npm pack (builds dist/ through prepack)"
npm pack --pack-destination "$work" --json > "$work/pack.json"
tarball=$(node -e "process.stdout.write(require('$work/pack.json')[0].filename)")
node -e "
const [p] = require('$work/pack.json');
console.log('tarball ' + p.filename + ': ' + (p.size / 1e6).toFixed(2) + ' MB packed, ' + (p.unpackedSize / 1e6).toFixed(2) + ' MB unpacked, ' + p.entryCount + ' files');
const strays = p.files.map((f) => f.path).filter((f) => !/^(dist|bin|models)\//.test(f) && !/^(package\.json|README\.md|LICENSE)$/.test(f));
if (strays.length) { console.error('unexpected files in the tarball: ' + strays.join(' ')); process.exit(1); }
for (const needed of ['dist/index.js', 'dist/index.d.ts', 'dist/io/node/index.js', 'dist/engine/generated/register-all-gradients.js', 'models/detector/facemesh.bin', 'models/gar-small/checkpoint.json', 'models/encoder-small/checkpoint.json']) {
  if (!p.files.some((f) => f.path === needed)) { console.error('missing from the tarball: ' + needed); process.exit(1); }
}"

echo "== package: install the tarball into an empty project"
mkdir -p "$work/user" && cd "$work/user"
npm init -y > /dev/null
start=$(now)
npm install --no-audit --no-fund "$work/$tarball"
echo "install time: $(seconds "$start" "$(now)") s"
if [ -e node_modules/tsx ] || [ -e node_modules/esbuild ]; then echo "tsx or esbuild was installed: they must be development dependencies"; exit 1; fi

echo "== package: npx facegar reconstruct (offline, empty cache)"
export FACEGAR_OFFLINE=1 FACEGAR_CACHE_DIR="$work/cache"
start=$(now)
npx facegar reconstruct "$photo" --out out
echo "first reconstruct from the installed package: $(seconds "$start" "$(now)") s (builds the compact model cache)"
test -s out/000002.jpg.obj && test -s out/000002.jpg.json && test -s out/000002.jpg.overlay.png

echo "== package: import { reconstruct } in plain Node (no loader)"
cat > reconstruct.mjs <<'JS'
import { reconstruct } from 'facegar';
import { decodeImageFile, loadReconstructorResources } from 'facegar/node';
const image = await decodeImageFile(process.argv[2]);
const { faces } = await reconstruct(image, await loadReconstructorResources());
if (faces.length !== 1 || faces[0].vertices.length !== 9409 * 3 || !(faces[0].landmarkErrorPx < 10)) throw new Error(`unexpected result: ${faces.length} faces`);
console.log(`plain Node: ${faces.length} face, ${faces[0].vertices.length / 3} vertices, landmark error ${faces[0].landmarkErrorPx.toFixed(2)} px`);
JS
start=$(now)
node reconstruct.mjs "$photo"
echo "plain Node reconstruct: $(seconds "$start" "$(now)") s"

echo "== package: bundle the public entry for the browser (esbuild)"
echo "import { Reconstructor, decodeCompactModel, initBackend } from 'facegar'; console.log(Reconstructor, decodeCompactModel, initBackend);" > entry.mjs
"$root/node_modules/.bin/esbuild" entry.mjs --bundle --platform=browser --format=esm --outfile=bundle.js --log-level=warning
node -e "console.log('browser bundle: ' + (require('fs').statSync('bundle.js').size / 1e6).toFixed(2) + ' MB')"
if grep -q "require(\"sharp\")\|from \"sharp\"\|node:fs" bundle.js; then echo "the browser bundle pulls in Node-only modules"; exit 1; fi
