// The package's shape: publishable, jsii-compatible (npm test runs the jsii build
// first, so .jsii is the assembly of this very source), shipping only the compiled lib/
// and the model's WebAssembly module.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const CDK = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(CDK, 'package.json'), 'utf8'));

describe('the package', () => {
  it('has the license of the crate (Cargo.toml)', () => {
    const cargo = fs.readFileSync(path.join(CDK, '..', 'Cargo.toml'), 'utf8');
    const license = /^license\s*=\s*"([^"]+)"/m.exec(cargo)?.[1];
    assert.ok(license, 'Cargo.toml has a license');
    assert.equal(pkg.license, license);
  });

  it('names its author and repository, and depends on the CDK as peers (not bundled)', () => {
    assert.ok(pkg.author?.name);
    assert.equal(pkg.repository?.directory, 'cdk');
    assert.equal(pkg.private, undefined, 'publishable');
    for (const peer of ['aws-cdk-lib', 'constructs', 'cdk-nag']) {
      assert.ok(pkg.peerDependencies?.[peer], `peerDependencies.${peer}`);
      assert.ok(pkg.devDependencies?.[peer], `devDependencies.${peer} (to build and test against)`);
    }
    assert.equal(pkg.dependencies, undefined, 'no bundled dependencies');
  });

  it('ships only the compiled lib/, the model\'s WebAssembly module and the jsii assembly (npm pack)', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: CDK, encoding: 'utf8' });
    const packed: Array<{ path: string; size: number }> = JSON.parse(out)[0].files;
    const files = packed.map((f) => f.path).sort();
    const unexpected = files.filter(
      (f) => !/^lib\/[\w-]+\.(js|d\.ts)$/.test(f) && !['.jsii', 'package.json', 'README.md', 'lib/planton_model.wasm'].includes(f),
    );
    assert.deepEqual(unexpected, []);
    for (const f of ['lib/index.js', 'lib/index.d.ts', 'lib/provider.js', 'lib/nag.js', 'lib/model.js', 'lib/planton_model.wasm', '.jsii']) {
      assert.ok(files.includes(f), f);
    }
    const wasm = packed.find((f) => f.path === 'lib/planton_model.wasm')!;
    assert.equal(wasm.size, fs.statSync(path.join(CDK, 'lib', 'planton_model.wasm')).size, 'the module as scripts/build-wasm built it');
  });

  it('its build fails, saying what to run, when the model\'s module has not been built', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'planton-cdk-'));
    try {
      fs.mkdirSync(path.join(tmp, 'scripts'));
      fs.mkdirSync(path.join(tmp, 'lib'));
      fs.copyFileSync(path.join(CDK, 'scripts', 'copy-model.js'), path.join(tmp, 'scripts', 'copy-model.js'));
      const run = spawnSync(process.execPath, [path.join(tmp, 'scripts', 'copy-model.js')], { encoding: 'utf8' });
      assert.equal(run.status, 1);
      assert.match(run.stderr, /cdk\/lib\/planton_model\.wasm is missing: run scripts\/build-wasm/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('is a jsii assembly with Python and Java targets, exposing the constructs', () => {
    const assembly = JSON.parse(fs.readFileSync(path.join(CDK, '.jsii'), 'utf8'));
    assert.equal(assembly.schema, 'jsii/0.10.0');
    assert.equal(assembly.name, pkg.name);
    assert.equal(assembly.license, pkg.license);
    assert.ok(assembly.targets.python.module);
    assert.ok(assembly.targets.java.package);
    for (const t of [
      'PlantonIamUser',
      'PlantonIamUserProps',
      'PlantonIamUserAccessKeyOptions',
      'PlantonIamUserSecretOptions',
      'PlantonIamUserProvider',
      'PlantonIamUserProviderProps',
      'IPlantonIamUserProvider',
      'PlantonIamUserChecks',
    ]) {
      assert.ok(assembly.types[`${pkg.name}.${t}`], t);
    }
    const user = assembly.types[`${pkg.name}.PlantonIamUser`];
    assert.deepEqual(user.interfaces.sort(), ['aws-cdk-lib.ITaggable', 'aws-cdk-lib.aws_iam.IPrincipal']);
    // No boundary but the deployment's: the user's props cannot name one.
    const props = assembly.types[`${pkg.name}.PlantonIamUserProps`].properties.map((p: { name: string }) => p.name);
    assert.ok(props.includes('userName'));
    assert.ok(!props.includes('permissionsBoundary'), props.join(', '));
  });
});
