#!/usr/bin/env node
// The model's WebAssembly module (lib/planton_model.wasm, built by the repository's
// scripts/build-wasm, never committed) sits next to the compiled lib/model.js: jsii's
// build (lib/) finds it there; tsc's (dist/lib/, what the tests and the example app run)
// gets a copy. Fails the build when it has not been built.
const fs = require('node:fs');
const path = require('node:path');

const cdk = path.resolve(__dirname, '..');
const src = path.join(cdk, 'lib', 'planton_model.wasm');
if (!fs.existsSync(src)) {
  console.error(
    'cdk/lib/planton_model.wasm is missing: run scripts/build-wasm (from the repository root) to build the model\'s WebAssembly module first',
  );
  process.exit(1);
}
const dest = path.join(cdk, 'dist', 'lib', 'planton_model.wasm');
fs.mkdirSync(path.dirname(dest), { recursive: true });
fs.copyFileSync(src, dest);
