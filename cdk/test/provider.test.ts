// PlantonIamUserProvider: the function deployed by CDK, mirroring template.yaml. The
// mirror is checked against template.yaml itself (statement ids, effects and actions of
// both roles and of the default boundary; the functions' settings and environment
// variable names), so the two deployments cannot drift apart unnoticed.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { PlantonIamUser, PlantonIamUserProvider, PlantonIamUserProviderProps } from '../lib';

const TEMPLATE = fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'template.yaml'), 'utf8');
// The function's code is never built here: a directory asset stands in for the zip.
const CODE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'planton-code-'));
fs.writeFileSync(path.join(CODE_DIR, 'bootstrap'), '#!/bin/sh\n');
after(() => fs.rmSync(CODE_DIR, { recursive: true, force: true }));

function synth(props: PlantonIamUserProviderProps = {}, stackName = 'planton-iam-user'): { stack: Stack; provider: PlantonIamUserProvider; template: Template } {
  const stack = new Stack(new App(), 'Provider', { stackName });
  const provider = new PlantonIamUserProvider(stack, 'Provider', { code: lambda.Code.fromAsset(CODE_DIR), ...props });
  return { stack, provider, template: Template.fromStack(stack) };
}

// ---------------------------------------------------------------------------------------
// A reader for the few shapes of template.yaml compared here (not a YAML parser).
// ---------------------------------------------------------------------------------------

/** The lines of one top-level resource of template.yaml. */
function resourceLines(name: string): string[] {
  const lines = TEMPLATE.split('\n');
  const start = lines.indexOf(`  ${name}:`);
  assert.ok(start >= 0, `template.yaml has no resource ${name}`);
  const end = lines.findIndex((l, i) => i > start && /^ {2}\S/.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

const indent = (l: string) => l.length - l.trimStart().length;

/** Sid -> "Effect Action|NotAction a,b,c" for every statement with a Sid. */
function templateStatements(name: string): Map<string, string> {
  const lines = resourceLines(name);
  const out = new Map<string, string>();
  lines.forEach((line, i) => {
    const m = /^(\s*)- Sid: (\S+)$/.exec(line);
    if (!m) return;
    const body = indent(line) + 2;
    const block: string[] = [line.replace('- ', '  ')];
    for (let j = i + 1; j < lines.length && (lines[j].trim() === '' || indent(lines[j]) >= body || lines[j].trimStart().startsWith('#')); j++) {
      if (indent(lines[j]) === body && lines[j].trimStart().startsWith('- ')) break;
      block.push(lines[j]);
    }
    let effect = '';
    let element = '';
    const actions: string[] = [];
    block.forEach((l, k) => {
      const t = l.trim();
      const e = /^Effect: (\w+)$/.exec(t);
      if (e) effect = e[1];
      const a = /^(Action|NotAction):\s*(.*)$/.exec(t);
      if (a && indent(l) === body) {
        element = a[1];
        const unquote = (x: string) => x.replace(/^"(.*)"$/, '$1');
        if (a[2] !== '') {
          actions.push(unquote(a[2]));
        } else {
          for (let n = k + 1; n < block.length && indent(block[n]) > body && block[n].trim().startsWith('- '); n++) {
            actions.push(unquote(block[n].trim().slice(2)));
          }
        }
      }
    });
    out.set(m[2], `${effect} ${element} ${actions.sort().join(',')}`);
  });
  return out;
}

/** A parameter's Default (`Default: s3,dynamodb`). */
function templateParameterDefault(name: string): string {
  const line = resourceLines(name).find((l) => l.trim().startsWith('Default:'));
  assert.ok(line, `template.yaml parameter ${name} has no Default`);
  return line.trim().slice('Default:'.length).trim().replace(/^"(.*)"$/, '$1');
}

/**
 * The default boundary's statements, its ceiling resolved: template.yaml builds the
 * ceiling's actions from AllowedServices (`!Split [...]`); here they are its default.
 */
function templateBoundaryStatements(): Map<string, string> {
  const out = templateStatements('DefaultPermissionsBoundary');
  const ceiling = out.get('AllowOnlyTheAllowedServices');
  assert.ok(ceiling?.includes('!Ref AllowedServices'), `the ceiling is built from AllowedServices: ${ceiling}`);
  const actions = templateParameterDefault('AllowedServices').split(',').map((s) => `${s}:*`).sort();
  out.set('AllowOnlyTheAllowedServices', `Allow Action ${actions.join(',')}`);
  return out;
}

/** A scalar property of a resource (`Runtime: provided.al2023`). */
function templateScalar(name: string, key: string): string {
  const line = resourceLines(name).find((l) => l.trim().startsWith(`${key}:`));
  assert.ok(line, `template.yaml ${name} has no ${key}`);
  return line.trim().slice(key.length + 1).trim();
}

/** The environment variable names of a function. */
function templateEnvironment(name: string): string[] {
  return resourceLines(name)
    .map((l) => /^\s+(PLANTON_\w+):/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined)
    .sort();
}

/** The same "Effect Action a,b" shape from synthesized statements. */
function statements(docs: unknown[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of docs) {
    for (const s of (d as { Statement: Array<Record<string, unknown>> }).Statement) {
      if (typeof s.Sid !== 'string') continue;
      const element = 'NotAction' in s ? 'NotAction' : 'Action';
      const list = ([] as string[]).concat(s[element] as string | string[]).sort();
      out.set(s.Sid, `${s.Effect} ${element} ${list.join(',')}`);
    }
  }
  return out;
}

function rolePolicies(template: Template, roleLogicalIdPrefix: string): unknown[] {
  const roles = template.findResources('AWS::IAM::Role');
  const id = Object.keys(roles).find((k) => k.startsWith(roleLogicalIdPrefix));
  assert.ok(id, `no role ${roleLogicalIdPrefix}*`);
  return (roles[id].Properties.Policies as Array<{ PolicyDocument: unknown }>).map((p) => p.PolicyDocument);
}

function functionsByName(template: Template): Record<string, Record<string, any>> {
  const out: Record<string, Record<string, any>> = {};
  for (const f of Object.values(template.findResources('AWS::Lambda::Function'))) {
    const name = JSON.stringify(f.Properties.FunctionName);
    out[name.includes('planton-audit') ? 'scheduled' : 'custom'] = f.Properties;
  }
  return out;
}

describe('PlantonIamUserProvider mirrors template.yaml', () => {
  // Every statement appears in one of these configurations (the template's conditions).
  const configs: PlantonIamUserProviderProps[] = [
    {},
    { allowedGroupNames: ['deployers'], groupPathPrefix: '/teams/', secretEncryptionKey: undefined },
    { withoutPermissionsBoundary: true, groupPathPrefix: '/teams/', verifyRequests: false },
  ];

  it('the custom-resource function\'s role: the same statement ids, effects and actions', () => {
    const synthesized = new Map<string, string>();
    for (const props of configs) {
      const stack = new Stack(new App(), 'Provider', { stackName: 'planton-iam-user' });
      const key = props.allowedGroupNames ? new kms.Key(stack, 'Key') : undefined;
      new PlantonIamUserProvider(stack, 'Provider', { code: lambda.Code.fromAsset(CODE_DIR), ...props, secretEncryptionKey: key });
      for (const [k, v] of statements(rolePolicies(Template.fromStack(stack), 'ProviderRole'))) synthesized.set(k, v);
    }
    assert.deepEqual(Object.fromEntries([...synthesized].sort()), Object.fromEntries([...templateStatements('Function')].sort()));
  });

  it('the scheduled function\'s role: the same statement ids, effects and actions', () => {
    const { template } = synth();
    assert.deepEqual(
      Object.fromEntries([...statements(rolePolicies(template, 'ProviderScheduledRole'))].sort()),
      Object.fromEntries([...templateStatements('ScheduledFunction')].sort()),
    );
  });

  it('the default permissions boundary: the same statement ids, effects and actions', () => {
    // The conditional statements (passable role paths, the secrets' key) exist in the second.
    const synthesized = new Map<string, string>();
    for (const withOptions of [false, true]) {
      const stack = new Stack(new App(), 'Provider', { stackName: 'planton-iam-user' });
      const options = withOptions ? { passableRolePaths: ['/app/'], secretEncryptionKey: new kms.Key(stack, 'Key') } : {};
      new PlantonIamUserProvider(stack, 'Provider', { code: lambda.Code.fromAsset(CODE_DIR), ...options });
      const template = Template.fromStack(stack);
      const boundaries = Object.values(template.findResources('AWS::IAM::ManagedPolicy'));
      assert.equal(boundaries.length, 1);
      for (const [k, v] of statements([boundaries[0].Properties.PolicyDocument])) synthesized.set(k, v);
      assert.equal(boundaries[0].Properties.Path, '/planton-iam-user/');
      template.hasResource('AWS::IAM::ManagedPolicy', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    }
    assert.deepEqual(Object.fromEntries([...synthesized].sort()), Object.fromEntries([...templateBoundaryStatements()].sort()));
  });

  it('both functions: runtime, architecture, handler, memory, timeout, JSON logs, environment variable names', () => {
    const { template } = synth();
    const fns = functionsByName(template);
    for (const [kind, name] of [['custom', 'Function'], ['scheduled', 'ScheduledFunction']] as const) {
      const f = fns[kind];
      assert.equal(f.Runtime, templateScalar(name, 'Runtime'));
      assert.equal(f.Handler, templateScalar(name, 'Handler'));
      assert.equal(String(f.MemorySize), templateScalar(name, 'MemorySize'));
      assert.equal(String(f.Timeout), templateScalar(name, 'Timeout'));
      assert.deepEqual(f.Architectures, [templateScalar(name, 'Architectures').replace(/[[\]]/g, '')]);
      assert.equal(f.LoggingConfig.LogFormat, 'JSON');
      assert.deepEqual(Object.keys(f.Environment.Variables).sort(), templateEnvironment(name), `${name}'s environment`);
    }
  });
});

describe('PlantonIamUserProvider', () => {
  it('deploys both functions from the given code, named after the stack, with the default guardrails', () => {
    const { template, stack } = synth();
    const fns = functionsByName(template);
    assert.deepEqual(stack.resolve(fns.custom.FunctionName), { 'Fn::Sub': '${AWS::StackName}-planton-iam-user' });
    assert.deepEqual(stack.resolve(fns.scheduled.FunctionName), { 'Fn::Sub': '${AWS::StackName}-planton-audit' });
    const env = fns.custom.Environment.Variables;
    assert.equal(env.PLANTON_SERVES, 'custom-resource,rotation');
    assert.equal(env.PLANTON_ALLOWED_PATH_PREFIX, '/service-accounts/');
    assert.equal(env.PLANTON_ALLOWED_GROUPS, 'none');
    assert.equal(env.PLANTON_ALLOW_PRIVILEGED_INLINE, 'false');
    assert.equal(env.PLANTON_VERIFY_REQUESTS, 'true');
    assert.equal(env.PLANTON_SECRET_NAME_PREFIX, 'planton/');
    assert.equal(env.PLANTON_SECRET_KMS_KEY_ARN, 'none');
    assert.equal(env.PLANTON_ROTATION_GRACE_HOURS, '24');
    assert.equal(env.PLANTON_PASSABLE_ROLE_PATHS, '');
    assert.match(env.PLANTON_DENIED_POLICY_ARNS, /^arn:aws:iam::aws:policy\/AdministratorAccess,.*PowerUserAccess$/);
    assert.deepEqual(env.PLANTON_PERMISSIONS_BOUNDARY, { Ref: Object.keys(template.findResources('AWS::IAM::ManagedPolicy'))[0] });
    const sched = fns.scheduled.Environment.Variables;
    assert.deepEqual(
      [sched.PLANTON_SERVES, sched.PLANTON_KEY_MAX_AGE_DAYS, sched.PLANTON_KEY_MAX_IDLE_DAYS, sched.PLANTON_AUDIT_DEACTIVATE],
      ['schedule', '90', '90', 'false'],
    );
    template.allResourcesProperties('AWS::IAM::Role', { Path: '/planton-iam-user/' });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  it('the boundary is a condition of the user writes, and is never removed', () => {
    const { template } = synth();
    const boundary = { Ref: Object.keys(template.findResources('AWS::IAM::ManagedPolicy'))[0] };
    const docs = rolePolicies(template, 'ProviderRole') as Array<{ Statement: Array<Record<string, any>> }>;
    const bySid = Object.fromEntries(docs.flatMap((d) => d.Statement).map((s) => [s.Sid, s]));
    assert.deepEqual(bySid.BoundedUserWrites.Condition, { StringEquals: { 'iam:PermissionsBoundary': boundary } });
    assert.deepEqual(bySid.DenyUnboundedUserWrites.Condition, { StringNotEquals: { 'iam:PermissionsBoundary': boundary } });
    assert.equal(bySid.NeverRemoveTheBoundary.Effect, 'Deny');
    assert.equal(bySid.RemoveBoundaries, undefined);
  });

  it('withoutPermissionsBoundary: no boundary, no condition, boundaries may be removed', () => {
    const { template } = synth({ withoutPermissionsBoundary: true });
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    const env = functionsByName(template).custom.Environment.Variables;
    assert.equal(env.PLANTON_PERMISSIONS_BOUNDARY, '');
    const bySid = Object.fromEntries(
      (rolePolicies(template, 'ProviderRole') as Array<{ Statement: Array<Record<string, any>> }>).flatMap((d) => d.Statement).map((s) => [s.Sid, s]),
    );
    assert.equal(bySid.BoundedUserWrites.Condition, undefined);
    assert.ok(bySid.RemoveBoundaries);
    template.hasOutput('*', { Value: 'none' });
  });

  it('the default boundary: allowed services, passable role paths, the secrets\' key', () => {
    const boundaryStatements = (template: Template) =>
      Object.fromEntries(
        (Object.values(template.findResources('AWS::IAM::ManagedPolicy'))[0].Properties.PolicyDocument.Statement as Array<Record<string, any>>).map(
          (s) => [s.Sid, s],
        ),
      );
    let bySid = boundaryStatements(synth().template);
    assert.deepEqual(bySid.AllowOnlyTheAllowedServices.Resource, '*');
    assert.ok(bySid.AllowOnlyTheAllowedServices.Action.includes('s3:*'));
    assert.ok(!bySid.AllowOnlyTheAllowedServices.Action.includes('lambda:*'));
    assert.equal(bySid.AllowPassingRolesUnderPassableRolePaths, undefined);
    assert.deepEqual(bySid.DenyPassingRolesOutsidePassableRolePaths.Resource, '*');
    assert.equal(bySid.DenyTheSecretsKey, undefined);

    const stack = new Stack(new App(), 'Provider');
    const key = new kms.Key(stack, 'Key');
    new PlantonIamUserProvider(stack, 'Provider', {
      code: lambda.Code.fromAsset(CODE_DIR),
      allowedServices: ['s3', 'lambda'],
      passableRolePaths: ['/app/', '/ecs-tasks/'],
      secretEncryptionKey: key,
    });
    bySid = boundaryStatements(Template.fromStack(stack));
    assert.deepEqual(bySid.AllowOnlyTheAllowedServices.Action, ['s3:*', 'lambda:*']);
    const roles = ['arn:*:iam::*:role/app/*', 'arn:*:iam::*:role/ecs-tasks/*'];
    assert.deepEqual(bySid.AllowPassingRolesUnderPassableRolePaths.Resource, roles);
    assert.deepEqual(bySid.DenyPassingRolesOutsidePassableRolePaths.NotResource, roles);
    assert.equal(bySid.DenyPassingRolesOutsidePassableRolePaths.Resource, undefined);
    assert.deepEqual(bySid.DenyTheSecretsKey.Action, 'kms:*');
    assert.deepEqual(bySid.DenyTheSecretsKey.Resource, stack.resolve(key.keyArn));
  });

  it('reserved concurrency: on the custom-resource function only, none by default or with 0', () => {
    for (const [value, want] of [[undefined, undefined], [0, undefined], [20, 20]] as const) {
      const fns = functionsByName(synth(value === undefined ? {} : { reservedConcurrentExecutions: value }).template);
      assert.equal(fns.custom.ReservedConcurrentExecutions, want);
      assert.equal(fns.scheduled.ReservedConcurrentExecutions, undefined);
    }
  });

  it('a given boundary is used as is; the passable role paths still reach the judgement', () => {
    const stack = new Stack(new App(), 'Provider');
    const boundary = iam.ManagedPolicy.fromManagedPolicyArn(stack, 'B', 'arn:aws:iam::123456789012:policy/my-boundary');
    const provider = new PlantonIamUserProvider(stack, 'Provider', {
      code: lambda.Code.fromAsset(CODE_DIR),
      permissionsBoundary: boundary,
      passableRolePaths: ['/app/', '/ecs-tasks/'],
    });
    assert.equal(provider.permissionsBoundary, boundary);
    const env = functionsByName(Template.fromStack(stack)).custom.Environment.Variables;
    assert.equal(env.PLANTON_PERMISSIONS_BOUNDARY, 'arn:aws:iam::123456789012:policy/my-boundary');
    assert.equal(env.PLANTON_PASSABLE_ROLE_PATHS, '/app/,/ecs-tasks/');
  });

  it('exports the ServiceToken as <stack name>-ServiceToken, or under the given name', () => {
    let { template, provider } = synth();
    template.hasOutput('*', { Export: { Name: 'planton-iam-user-ServiceToken' } });
    assert.equal(provider.exportName, 'planton-iam-user-ServiceToken');
    ({ template, provider } = synth({ exportName: 'serverlessrepo-planton-iam-user-ServiceToken' }));
    template.hasOutput('*', { Export: { Name: 'serverlessrepo-planton-iam-user-ServiceToken' } });
  });

  it('Secrets Manager may invoke the custom-resource function for the secrets under the prefix; the rules invoke the scheduled one', () => {
    const { template } = synth({ auditSchedule: events.Schedule.rate(Duration.days(1)) });
    const ids = Object.fromEntries(
      Object.entries(template.findResources('AWS::Lambda::Function')).map(([id, f]) => [
        JSON.stringify(f.Properties.FunctionName).includes('planton-audit') ? 'scheduled' : 'custom',
        id,
      ]),
    );
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'secretsmanager.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [ids.custom, 'Arn'] },
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
    // The audit's schedule, the grace sweep's and the audit's continuation; all target
    // the scheduled function.
    template.resourceCountIs('AWS::Events::Rule', 3);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ source: ['lambda'] }),
    });
    template.allResourcesProperties('AWS::Events::Rule', {
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [ids.scheduled, 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [Match.objectLike({ Input: JSON.stringify({ version: '0', 'detail-type': 'Scheduled Event', source: 'aws.events', detail: { 'planton-task': 'end-rotation-grace' } }) })],
    });
  });

  it('no grace period: no hourly rule; no audit schedule: no audit rule', () => {
    const { template } = synth({ rotationGracePeriod: Duration.hours(0) });
    // Only the audit's continuation rule is left.
    template.resourceCountIs('AWS::Events::Rule', 1);
    assert.equal(functionsByName(template).custom.Environment.Variables.PLANTON_ROTATION_GRACE_HOURS, '0');
  });

  it('groups, trusted policies, privileged inline and a KMS key reach the environment and the role', () => {
    const stack = new Stack(new App(), 'Provider');
    const key = new kms.Key(stack, 'Key');
    new PlantonIamUserProvider(stack, 'Provider', {
      code: lambda.Code.fromAsset(CODE_DIR),
      allowedGroupNames: ['deployers', 'readers'],
      trustedPolicyArns: ['arn:aws:iam::aws:policy/job-function/*'],
      allowPrivilegedInline: true,
      secretEncryptionKey: key,
      architecture: lambda.Architecture.X86_64,
    });
    const template = Template.fromStack(stack);
    const f = functionsByName(template).custom;
    assert.equal(f.Environment.Variables.PLANTON_ALLOWED_GROUPS, 'deployers,readers');
    assert.equal(f.Environment.Variables.PLANTON_TRUSTED_POLICY_ARNS, 'arn:aws:iam::aws:policy/job-function/*');
    assert.equal(f.Environment.Variables.PLANTON_ALLOW_PRIVILEGED_INLINE, 'true');
    assert.deepEqual(f.Architectures, ['x86_64']);
    const bySid = Object.fromEntries(
      (rolePolicies(template, 'ProviderRole') as Array<{ Statement: Array<Record<string, any>> }>).flatMap((d) => d.Statement).map((s) => [s.Sid, s]),
    );
    assert.deepEqual(bySid.AllowedGroupMembership.Resource, [
      'arn:*:iam::*:group/deployers',
      'arn:*:iam::*:group/readers',
      'arn:*:iam::*:group/*/deployers',
      'arn:*:iam::*:group/*/readers',
    ]);
    assert.ok(bySid.EncryptSecretsWithTheConfiguredKey);
  });

  it('one per stack', () => {
    const stack = new Stack(new App(), 'Provider');
    new PlantonIamUserProvider(stack, 'A', { code: lambda.Code.fromAsset(CODE_DIR) });
    assert.throws(() => new PlantonIamUserProvider(stack, 'B', { code: lambda.Code.fromAsset(CODE_DIR) }), /Provider\/A is this stack's provider already/);
  });

  it('refuses what template.yaml\'s parameters refuse', () => {
    assert.throws(() => synth({ userPathPrefix: 'service-accounts' }), /userPathPrefix: must be an IAM path/);
    assert.throws(() => synth({ secretNamePrefix: 'planton' }), /secretNamePrefix: must be a secret name prefix ending in \//);
    assert.throws(() => synth({ rotationGracePeriod: Duration.minutes(90) }), /rotationGracePeriod: must be a whole number of hours/);
    assert.throws(() => synth({ keyMaxAge: Duration.days(0) }), /keyMaxAge: must be 1-36500 days/);
    assert.throws(() => synth({ allowedServices: ['s3:*'] }), /allowedServices: "s3:\*" is not an IAM service prefix/);
    assert.throws(() => synth({ allowedServices: [] }), /allowedServices: name at least one service prefix/);
    assert.throws(() => synth({ passableRolePaths: ['app/'] }), /passableRolePaths: "app\/" is not an IAM path/);
    assert.throws(() => synth({ passableRolePaths: ['/planton-iam-user/'] }), /passableRolePaths: \/planton-iam-user\/ holds this deployment's roles/);
    assert.throws(() => synth({ reservedConcurrentExecutions: 1.5 }), /reservedConcurrentExecutions: must be a whole number from 0 to 9999/);
    assert.throws(
      () => synth({ withoutPermissionsBoundary: true, allowedServices: ['s3'] }),
      /allowedServices shapes the default boundary only/,
    );
    assert.throws(() => synth({}, 'a-stack-name-that-is-much-too-long-for-the-function-name'), /longer than 47 characters/);
  });

  it('without code or a zip, says how to build one', () => {
    const stack = new Stack(new App(), 'Provider');
    assert.throws(
      () => new PlantonIamUserProvider(stack, 'P', { codePath: path.join(CODE_DIR, 'missing.zip') }),
      /no function code: .*missing\.zip does not exist\. Build it with scripts\/package --arm64, or pass codePath or code/,
    );
  });

  it('a user of the same stack is deployed after the provider (function and role)', () => {
    const stack = new Stack(new App(), 'Provider');
    const provider = new PlantonIamUserProvider(stack, 'Provider', { code: lambda.Code.fromAsset(CODE_DIR) });
    const user = new PlantonIamUser(stack, 'User', { provider, userName: 'u', path: '/service-accounts/' });
    const template = Template.fromStack(stack);
    const id = stack.getLogicalId(user.resource.node.defaultChild as never);
    const r = template.toJSON().Resources[id];
    assert.deepEqual(r.Properties.ServiceToken, { 'Fn::GetAtt': [stack.getLogicalId(provider.function.node.defaultChild as lambda.CfnFunction), 'Arn'] });
    const dependsOn: string[] = r.DependsOn;
    assert.ok(dependsOn.includes(stack.getLogicalId(provider.role.node.defaultChild as iam.CfnRole)), dependsOn.join(','));
    assert.ok(dependsOn.includes(stack.getLogicalId(provider.function.node.defaultChild as lambda.CfnFunction)));
  });
});
