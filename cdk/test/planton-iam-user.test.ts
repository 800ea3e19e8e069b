import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Annotations, App, CfnParameter, Duration, Fn, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { buildExampleApp } from '../bin/example-app';
import { PlantonIamUser, PlantonIamUserChecks, PlantonIamUserProps } from '../lib';

const TOKEN = 'arn:aws:lambda:us-east-1:123456789012:function:planton-iam-user';
/**
 * Why some refusals of a deploy-time value are todo: the model leaves an unresolved
 * number or list entry out of what it judges (crates/planton-model/src/check.rs
 * `Known::from`), so it makes no refusal that holds whatever the value turns out to be
 * (a RotationDays token with keys disabled or Inactive; a fence of token entries is
 * counted as no fence in the 2048-character budget).
 */
const MODEL_LEAVES_UNKNOWN_OUT = 'the model leaves an unresolved number or list entry out, so a refusal no value could lift is not made';
const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

type Extra = Omit<PlantonIamUserProps, 'serviceToken' | 'userName'> & { userName?: string };
const { ACTIVE, INACTIVE } = iam.AccessKeyStatus;

function newStack(): Stack {
  return new Stack(new App(), 'Test');
}

/** Declares one user, synthesizes, and returns the template. */
function synthUser(extra: Extra = {}, stack: Stack = newStack()): { template: Template; user: PlantonIamUser; stack: Stack } {
  const user = new PlantonIamUser(stack, 'User', { serviceToken: TOKEN, userName: 'svc-user', ...extra });
  return { template: Template.fromStack(stack), user, stack };
}

function userProperties(template: Template): Record<string, unknown> {
  const found = template.findResources('Custom::PlantonIamUser');
  const ids = Object.keys(found);
  assert.equal(ids.length, 1, 'exactly one Custom::PlantonIamUser');
  return found[ids[0]].Properties;
}

/**
 * What the construct said, one `PlantonIamUser Property: rule` per line: at construction,
 * or at synth (where CDK prefixes each message with `  [construct path] `).
 */
function said(err: Error): string {
  return err.message
    .split('\n')
    .map((l) => l.replace(/^\s*\[[^\]]*\] /, ''))
    .filter((l) => /^PlantonIamUser[ :]/.test(l))
    .join('\n');
}

/** The construct refuses the props, at construction or at synth, naming the property. */
function assertRefused(extra: Extra, message: RegExp, stack?: Stack): void {
  assert.throws(() => synthUser(extra, stack), (err: unknown) => {
    assert.ok(err instanceof Error, 'an Error');
    assert.match(said(err), message);
    return true;
  });
}

/**
 * The warnings in a stack after its synthesis (also one that failed: they are added while
 * validating), by id, without CDK's `[ack: id]`.
 */
function warnings(stack: Stack): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of stack.node.findAll()) {
    for (const entry of c.node.metadata) {
      const m = entry.type === 'aws:cdk:warning' ? /^(.*) \[ack: (.*)\]$/.exec(String(entry.data)) : null;
      if (m) out[m[2]] = m[1];
    }
  }
  return out;
}

function assertAccepted(extra: Extra, stack?: Stack): Record<string, unknown> {
  return userProperties(synthUser(extra, stack).template);
}

function names(n: number, prefix: string): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

function awsPolicies(n: number, stack: Stack): iam.IManagedPolicy[] {
  return names(n, 'Policy').map((p) => iam.ManagedPolicy.fromManagedPolicyArn(stack, p, `arn:aws:iam::aws:policy/${p}`));
}

function groups(n: number, stack: Stack): iam.IGroup[] {
  return names(n, 'group-').map((g) => iam.Group.fromGroupName(stack, g, g));
}

function tags(n: number): Record<string, string> {
  return Object.fromEntries(names(n, 'tag').map((k) => [k, 'v']));
}

/** IAM's measure, computed independently of the construct: JSON without whitespace. */
function iamSize(docs: iam.PolicyDocument[]): number {
  return docs.map((d) => JSON.stringify(d.toJSON()).replace(/\s/g, '').length).reduce((a, b) => a + b, 0);
}

/** A document with only string values whose JSON has exactly `size` non-whitespace characters. */
function docOfSize(size: number): iam.PolicyDocument {
  const make = (pad: string) =>
    new iam.PolicyDocument({
      statements: [new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`arn:aws:s3:::bucket/${pad}`] })],
    });
  const base = iamSize([make('')]);
  assert.ok(size >= base, `size ${size} below the minimum ${base}`);
  const doc = make('x'.repeat(size - base));
  assert.equal(iamSize([doc]), size);
  return doc;
}

describe('rendered properties', () => {
  it('renders only UserName for a minimal user', () => {
    const { template } = synthUser();
    template.resourceCountIs('Custom::PlantonIamUser', 1);
    assert.deepEqual(userProperties(template), { ServiceToken: TOKEN, UserName: 'svc-user' });
  });

  it('omits empty lists, empty maps and defaults', () => {
    const stack = newStack();
    const props = assertAccepted(
      { managedPolicies: [], groups: [], inlinePolicies: {}, tags: {}, accessKey: { enabled: true }, secret: {} },
      stack,
    );
    assert.deepEqual(props, { ServiceToken: TOKEN, UserName: 'svc-user' });
  });

  it('renders every property, all scalars as strings', () => {
    const stack = newStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', KEY_ARN);
    const { template } = synthUser(
      {
        userName: 'payments-ci-deployer',
        path: '/service-accounts/ci/',
        managedPolicies: [
          iam.ManagedPolicy.fromManagedPolicyArn(stack, 'Ecr', 'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser'),
          iam.ManagedPolicy.fromManagedPolicyArn(stack, 'Own', 'arn:aws:iam::123456789012:policy/team/deploy'),
        ],
        inlinePolicies: {
          'deploy-artifacts': new iam.PolicyDocument({
            statements: [
              new iam.PolicyStatement({
                actions: ['s3:PutObject', 's3:GetObject'],
                resources: ['arn:aws:s3:::payments-artifacts/*'],
              }),
            ],
          }),
        },
        groups: [iam.Group.fromGroupName(stack, 'Deployers', 'deployers')],
        tags: { team: 'payments', purpose: 'ci-deploy' },
        accessKey: { serial: 3, status: INACTIVE },
        secret: { name: 'ci/payments-deployer', encryptionKey: key },
        serviceTimeout: Duration.minutes(5),
      },
      stack,
    );
    assert.deepEqual(userProperties(template), {
      ServiceToken: TOKEN,
      ServiceTimeout: '300',
      UserName: 'payments-ci-deployer',
      Path: '/service-accounts/ci/',
      ManagedPolicyArns: [
        'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser',
        'arn:aws:iam::123456789012:policy/team/deploy',
      ],
      InlinePolicies: {
        'deploy-artifacts': {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject'], Resource: 'arn:aws:s3:::payments-artifacts/*' },
          ],
        },
      },
      Groups: ['deployers'],
      Tags: [
        { Key: 'team', Value: 'payments' },
        { Key: 'purpose', Value: 'ci-deploy' },
      ],
      KeySerial: '3',
      KeyStatus: 'Inactive',
      SecretName: 'ci/payments-deployer',
      SecretKmsKeyId: KEY_ARN,
    });
  });

  it('renders tokens as CloudFormation references', () => {
    const stack = newStack();
    const managed = iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess');
    const group = new iam.Group(stack, 'Group');
    const key = new kms.Key(stack, 'Key');
    const props = assertAccepted(
      {
        serviceTimeout: Duration.seconds(60),
        managedPolicies: [managed],
        groups: [group],
        secret: { encryptionKey: key },
      },
      stack,
    );
    assert.deepEqual(props.ManagedPolicyArns, [
      { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/ReadOnlyAccess']] },
    ]);
    assert.deepEqual(props.Groups, [{ Ref: stack.getLogicalId(group.node.defaultChild as iam.CfnGroup) }]);
    assert.deepEqual(props.SecretKmsKeyId, { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as kms.CfnKey), 'Arn'] });
    assert.equal(props.ServiceTimeout, '60');
  });

  it('renders KeySerial 0 when given', () => {
    assert.equal(assertAccepted({ accessKey: { serial: 0 } }).KeySerial, '0');
  });

  it('renders a KeySerial token as a string reference', () => {
    const stack = newStack();
    const serial = new CfnParameter(stack, 'Serial', { type: 'Number', default: 2 });
    const props = assertAccepted({ accessKey: { serial: serial.valueAsNumber } }, stack);
    assert.deepEqual(props.KeySerial, { Ref: 'Serial' });
  });

  it('renders DisableAccessKeys "true" only when keys are disabled, and keeps SecretName', () => {
    const props = assertAccepted({ accessKey: { enabled: false }, secret: { name: 'old/place' } });
    assert.deepEqual(props, {
      ServiceToken: TOKEN,
      UserName: 'svc-user',
      DisableAccessKeys: 'true',
      SecretName: 'old/place',
    });
    assert.equal(assertAccepted({ accessKey: { enabled: true } }).DisableAccessKeys, undefined);
  });

  it('renders inline documents at synth time, including statements added later', () => {
    const stack = newStack();
    const doc = new iam.PolicyDocument();
    const user = new PlantonIamUser(stack, 'User', { serviceToken: TOKEN, userName: 'u', inlinePolicies: { late: doc } });
    doc.addStatements(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: ['arn:aws:sqs:us-east-1:123456789012:q'] }));
    assert.ok(user);
    assert.deepEqual(userProperties(Template.fromStack(stack)).InlinePolicies, {
      late: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: 'arn:aws:sqs:us-east-1:123456789012:q' }],
      },
    });
  });

  it('declares no other resource than the custom resource', () => {
    const { template } = synthUser({ secret: { encryptionKey: kms.Key.fromKeyArn(newStack(), 'K', KEY_ARN) } });
    assert.deepEqual(
      Object.values(template.toJSON().Resources).map((r) => (r as { Type: string }).Type),
      ['Custom::PlantonIamUser'],
    );
  });
});

describe('attributes', () => {
  it('resolves userName, userArn, userId and secret to Ref and GetAtt', () => {
    const stack = newStack();
    const user = new PlantonIamUser(stack, 'User', { serviceToken: TOKEN, userName: 'u' });
    const id = stack.getLogicalId(user.resource.node.defaultChild as never);
    assert.deepEqual(stack.resolve(user.userName), { Ref: id });
    assert.deepEqual(stack.resolve(user.userArn), { 'Fn::GetAtt': [id, 'Arn'] });
    assert.deepEqual(stack.resolve(user.userId), { 'Fn::GetAtt': [id, 'UserId'] });
    assert.deepEqual(stack.resolve(user.secret.secretArn), { 'Fn::GetAtt': [id, 'SecretArn'] });
    assert.equal(user.secret.encryptionKey, undefined);
  });

  it('gives the secret its encryption key', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    const user = new PlantonIamUser(stack, 'User', { serviceToken: TOKEN, userName: 'u', secret: { encryptionKey: key } });
    assert.equal(user.secret.encryptionKey, key);
  });

  it('refuses to hand out a secret when access keys are disabled', () => {
    const stack = newStack();
    const user = new PlantonIamUser(stack, 'User', { serviceToken: TOKEN, userName: 'u', accessKey: { enabled: false } });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    assert.throws(() => user.secret, /accessKey\.enabled is false/);
    assert.throws(() => user.grantReadCredentials(role), /accessKey\.enabled is false/);
    assert.deepEqual(stack.resolve(user.userArn), { 'Fn::GetAtt': [stack.getLogicalId(user.resource.node.defaultChild as never), 'Arn'] });
  });
});

describe('grantReadCredentials', () => {
  const userId = (stack: Stack, user: PlantonIamUser) => stack.getLogicalId(user.resource.node.defaultChild as never);

  it('grants GetSecretValue on the secret ARN, and no KMS without a key', () => {
    const stack = newStack();
    const user = new PlantonIamUser(stack, 'User', { serviceToken: TOKEN, userName: 'u' });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    const grant = user.grantReadCredentials(role);
    assert.equal(grant.success, true);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
            Resource: { 'Fn::GetAtt': [userId(stack, user), 'SecretArn'] },
          },
        ],
      },
      Roles: [{ Ref: stack.getLogicalId(role.node.defaultChild as iam.CfnRole) }],
    });
    assert.doesNotMatch(JSON.stringify(template.toJSON()), /kms:/);
  });

  it('adds kms:Decrypt through Secrets Manager for a key of the same stack', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key');
    const user = new PlantonIamUser(stack, 'User', { serviceToken: TOKEN, userName: 'u', secret: { encryptionKey: key } });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    user.grantReadCredentials(role);
    const template = Template.fromStack(stack);
    const keyArn = { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as kms.CfnKey), 'Arn'] };
    const viaService = {
      StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
    };
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
            Resource: { 'Fn::GetAtt': [userId(stack, user), 'SecretArn'] },
          }),
          Match.objectLike({ Action: 'kms:Decrypt', Resource: keyArn, Condition: viaService }),
        ]),
      },
    });
    // The key's own policy lets the role decrypt too (CDK's Secret.grantRead).
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'kms:Decrypt',
            Principal: { AWS: { 'Fn::GetAtt': [stack.getLogicalId(role.node.defaultChild as iam.CfnRole), 'Arn'] } },
          }),
        ]),
      },
    });
  });

  it('adds kms:Decrypt for an imported key (whose policy cannot be changed)', () => {
    const stack = newStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', KEY_ARN);
    const user = new PlantonIamUser(stack, 'User', { serviceToken: TOKEN, userName: 'u', secret: { encryptionKey: key } });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    assert.equal(user.grantReadCredentials(role).success, true);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'] }),
          Match.objectLike({ Action: 'kms:Decrypt', Resource: KEY_ARN }),
        ]),
      },
    });
  });
});

describe('validation', () => {
  it('UserName: 64 characters pass, 65 are refused', () => {
    assert.equal(assertAccepted({ userName: 'a'.repeat(64) }).UserName, 'a'.repeat(64));
    assertRefused({ userName: 'a'.repeat(65) }, /PlantonIamUser UserName: must be 1-64 characters of letters, digits and \+=,\.@_- .*65 characters/);
  });

  it('UserName: empty and bad characters are refused; the whole IAM set passes', () => {
    assertRefused({ userName: '' }, /PlantonIamUser UserName: must be 1-64/);
    assertRefused({ userName: 'has space' }, /PlantonIamUser UserName: must be 1-64/);
    assertRefused({ userName: 'slash/name' }, /PlantonIamUser UserName: must be 1-64/);
    // A comma is an IAM name character but not a secret name's: the default secret name
    // (planton/iam-user/<UserName>) is then refused, so such a user needs its own.
    assertAccepted({ userName: 'Az09+=,.@_-', secret: { name: 'svc/Az09' } });
    assertAccepted({ userName: 'Az09+=,.@_-', accessKey: { enabled: false } });
    assertRefused(
      { userName: 'Az09+=,.@_-' },
      /^PlantonIamUser SecretName: not given, and the default "planton\/iam-user\/Az09\+=,\.@_-" is not a valid secret name/,
    );
  });

  it('Path: good paths pass', () => {
    for (const p of ['/', '/a/', '/service-accounts/ci/', `/${'a'.repeat(510)}/`]) {
      assert.equal(assertAccepted({ path: p }).Path, p);
    }
  });

  it('Path: bad paths are refused', () => {
    for (const p of ['', 'a/', '/a', '//', '/a//b/', '/a b/', '/é/', `/${'a'.repeat(511)}/`]) {
      assertRefused({ path: p }, /PlantonIamUser Path: must be/);
    }
    assertRefused({ path: `/${'a'.repeat(511)}/` }, /PlantonIamUser Path: must be at most 512 characters \(got 513\)/);
  });

  it('ManagedPolicyArns: 20 pass, 21 are refused', () => {
    let stack = newStack();
    assert.equal((assertAccepted({ managedPolicies: awsPolicies(20, stack) }, stack).ManagedPolicyArns as unknown[]).length, 20);
    stack = newStack();
    assertRefused({ managedPolicies: awsPolicies(21, stack) }, /PlantonIamUser ManagedPolicyArns: 21 policies given; IAM attaches at most 20/, stack);
  });

  it('ManagedPolicyArns: malformed ARNs and duplicates are refused', () => {
    const stack = newStack();
    assertRefused(
      { managedPolicies: [iam.ManagedPolicy.fromManagedPolicyArn(stack, 'Bad', 'arn:aws:s3:::bucket')] },
      /PlantonIamUser ManagedPolicyArns\[0\]: must be a managed policy ARN/,
      stack,
    );
    assertRefused(
      {
        managedPolicies: [
          iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess'),
          iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess'),
        ],
      },
      /PlantonIamUser ManagedPolicyArns\[1\]: .*ReadOnlyAccess.* is listed twice/,
    );
  });

  it('PermissionsBoundary: none can be named; the function gives every user the deployment\'s', () => {
    // Not a prop (the jsii assembly has none either, test/package.test.ts): a value
    // smuggled in from JavaScript is not rendered.
    const stack = newStack();
    const boundary = iam.ManagedPolicy.fromManagedPolicyArn(stack, 'B', 'arn:aws:iam::123456789012:policy/wide-open');
    const props = assertAccepted({ permissionsBoundary: boundary } as Extra, stack);
    assert.equal(props.PermissionsBoundary, undefined);
  });

  it('Groups: 10 pass, 11 are refused', () => {
    let stack = newStack();
    assert.equal((assertAccepted({ groups: groups(10, stack) }, stack).Groups as unknown[]).length, 10);
    stack = newStack();
    assertRefused({ groups: groups(11, stack) }, /PlantonIamUser Groups: 11 groups given; IAM puts a user in at most 10 groups/, stack);
  });

  it('Groups: bad names and case-insensitive duplicates are refused', () => {
    let stack = newStack();
    assertRefused({ groups: [iam.Group.fromGroupName(stack, 'G', 'bad name')] }, /PlantonIamUser Groups\[0\]: must be 1-128/, stack);
    stack = newStack();
    assertRefused(
      { groups: [iam.Group.fromGroupName(stack, 'A', 'Devs'), iam.Group.fromGroupName(stack, 'B', 'devs')] },
      /PlantonIamUser Groups\[1\]: group devs is listed twice/,
      stack,
    );
  });

  it('Tags: 46 pass, 47 are refused (50 minus the 4 ownership tags)', () => {
    assert.equal((assertAccepted({ tags: tags(46) }).Tags as unknown[]).length, 46);
    assertRefused({ tags: tags(47) }, /PlantonIamUser Tags: 47 tags given; at most 46 .*uses 4 for ownership/);
  });

  it('Tags: key 1-128 and value 0-256 characters', () => {
    assertAccepted({ tags: { ['k'.repeat(128)]: 'v'.repeat(256), empty: '' } });
    assertRefused({ tags: { ['k'.repeat(129)]: 'v' } }, /PlantonIamUser Tags\[0\]\.Key: must be 1-128 characters/);
    assertRefused({ tags: { '': 'v' } }, /PlantonIamUser Tags\[0\]\.Key: must be 1-128 characters/);
    assertRefused({ tags: { ok: 'v', k: 'v'.repeat(257) } }, /PlantonIamUser Tags\[1\]\.Value: must be 0-256 characters .*got 257 characters/);
    assertRefused({ tags: { k: 'semi;colon' } }, /PlantonIamUser Tags\[0\]\.Value: must be 0-256/);
    assertAccepted({ tags: { 'Team Name_.:/=+-@': 'Zürich 2' } });
  });

  it('Tags: aws: and planton: prefixes are refused, in any case', () => {
    assertRefused({ tags: { 'aws:cloudformation:x': 'v' } }, /PlantonIamUser Tags\[0\]\.Key: the aws: prefix is reserved by AWS/);
    assertRefused({ tags: { 'AWS:x': 'v' } }, /PlantonIamUser Tags\[0\]\.Key: the aws: prefix is reserved/);
    assertRefused({ tags: { 'planton:stack-id': 'v' } }, /PlantonIamUser Tags\[0\]\.Key: the planton: prefix is reserved/);
    assertRefused({ tags: { 'Planton:x': 'v' } }, /PlantonIamUser Tags\[0\]\.Key: the planton: prefix is reserved/);
    assertAccepted({ tags: { 'awsx:y': 'v', planton: 'v' } });
  });

  it('Tags: keys differing only in case are refused', () => {
    assertRefused({ tags: { Team: 'a', team: 'b' } }, /PlantonIamUser Tags\[1\]\.Key: team is given twice \(tag keys are case-insensitive\)/);
  });

  it('InlinePolicies: names 1-128 of the IAM character set', () => {
    const doc = () => docOfSize(200);
    assertAccepted({ inlinePolicies: { ['p'.repeat(128)]: doc() } });
    assertRefused({ inlinePolicies: { ['p'.repeat(129)]: doc() } }, /PlantonIamUser InlinePolicies\.p+\.\.\.: must be 1-128 characters/);
    assertRefused({ inlinePolicies: { 'bad/name': doc() } }, /PlantonIamUser InlinePolicies\.bad\/name: must be 1-128/);
  });

  it('InlinePolicies: 2048 characters pass, 2049 are refused (whitespace not counted)', () => {
    assertAccepted({ inlinePolicies: { one: docOfSize(2048) } });
    assertRefused(
      { inlinePolicies: { one: docOfSize(2049) } },
      /PlantonIamUser InlinePolicies: all documents together are 2049 characters \(whitespace not counted\); IAM allows at most 2048/,
    );
  });

  it('InlinePolicies: the limit is on all documents together', () => {
    assertAccepted({ inlinePolicies: { a: docOfSize(1024), b: docOfSize(1024) } });
    assertRefused({ inlinePolicies: { a: docOfSize(1024), b: docOfSize(1025) } }, /PlantonIamUser InlinePolicies: all documents together are 2049/);
  });

  it('InlinePolicies: sizes count scalars as the strings CloudFormation delivers', () => {
    const make = (pad: string) =>
      new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            actions: ['s3:GetObject'],
            resources: [`arn:aws:s3:::b/${pad}`],
            conditions: { Bool: { 'aws:SecureTransport': true } },
          }),
        ],
      });
    // As JSON.stringify writes it: 2047 characters; as delivered ("true"): 2049.
    const doc = make('x'.repeat(2047 - iamSize([make('')])));
    assert.equal(iamSize([doc]), 2047);
    assertRefused({ inlinePolicies: { d: doc } }, /PlantonIamUser InlinePolicies: all documents together are 2049 characters/);
  });

  it('InlinePolicies: an empty document is refused at synth', () => {
    assertRefused({ inlinePolicies: { empty: new iam.PolicyDocument() } }, /PlantonIamUser InlinePolicies\.empty: document must have a Statement/);
  });

  it('KeySerial: a whole number 0 or greater', () => {
    assert.equal(assertAccepted({ accessKey: { serial: 0 } }).KeySerial, '0');
    assert.equal(assertAccepted({ accessKey: { serial: 42 } }).KeySerial, '42');
    for (const serial of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 64, 1e21]) {
      assertRefused({ accessKey: { serial } }, /PlantonIamUser KeySerial: must be a whole number 0 or greater/);
    }
    // A whole number is rendered in all its digits (String(2 ** 60) would round them), and
    // the function takes any that fits 64 bits.
    assert.equal(assertAccepted({ accessKey: { serial: 2 ** 60 } }).KeySerial, '1152921504606846976');
    // Quoted as the string the function receives, as the function quotes it.
    assertRefused({ accessKey: { serial: -1 } }, /PlantonIamUser KeySerial: must be a whole number 0 or greater, got "-1"/);
  });

  it('KeyStatus: Active or Inactive', () => {
    assertRefused({ accessKey: { status: 'Enabled' as never } }, /PlantonIamUser KeyStatus: must be Active or Inactive, got "Enabled"/);
  });

  it('SecretName: 1-256 of letters, digits and /_+=.@-', () => {
    assert.equal(assertAccepted({ secret: { name: 's'.repeat(256) } }).SecretName, 's'.repeat(256));
    assertAccepted({ secret: { name: 'team/app_1+=.@-x' } });
    assertRefused({ secret: { name: 's'.repeat(257) } }, /PlantonIamUser SecretName: must be 1-256 characters .*257 characters/);
    assertRefused({ secret: { name: '' } }, /PlantonIamUser SecretName: must be 1-256/);
    assertRefused({ secret: { name: 'has space' } }, /PlantonIamUser SecretName: must be 1-256/);
  });

  it('reports every violation at once, with the construct path', () => {
    assert.throws(
      () => synthUser({ userName: 'a b', path: 'x', tags: { 'aws:x': 'v' }, secret: { name: '' } }),
      /\[Test\/User\] PlantonIamUser UserName: .*\n {2}\[Test\/User\] PlantonIamUser Path: .*\n {2}\[Test\/User\] PlantonIamUser Tags\[0\]\.Key: .*\n {2}\[Test\/User\] PlantonIamUser SecretName: /,
    );
  });

  it('skips validation of unresolved tokens', () => {
    const stack = newStack();
    const str = (name: string) => new CfnParameter(stack, name, { type: 'String' }).valueAsString;
    const props = assertAccepted(
      {
        userName: str('UserName'),
        path: str('Path'),
        tags: { team: str('Team') },
        accessKey: {
          serial: new CfnParameter(stack, 'Serial', { type: 'Number' }).valueAsNumber,
          rotationInterval: Duration.days(new CfnParameter(stack, 'Days', { type: 'Number' }).valueAsNumber),
          status: str('Status') as iam.AccessKeyStatus,
        },
        allowedSourceIps: new CfnParameter(stack, 'Cidrs', { type: 'CommaDelimitedList' }).valueAsList,
        allowedVpcEndpoints: [str('Vpce')],
        secret: { name: str('StoreAt') },
        managedPolicies: [iam.ManagedPolicy.fromManagedPolicyArn(stack, 'P', str('PolicyArn'))],
        groups: [iam.Group.fromGroupName(stack, 'G', str('GroupName'))],
        inlinePolicies: {
          tokens: new iam.PolicyDocument({
            statements: [new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [Fn.importValue('huge-arn-list')] })],
          }),
        },
      },
      stack,
    );
    assert.deepEqual(props.UserName, { Ref: 'UserName' });
    assert.deepEqual(props.Path, { Ref: 'Path' });
    assert.deepEqual(props.Tags, [{ Key: 'team', Value: { Ref: 'Team' } }]);
    assert.deepEqual(props.KeySerial, { Ref: 'Serial' });
    assert.deepEqual(props.RotationDays, { Ref: 'Days' });
    assert.deepEqual(props.KeyStatus, { Ref: 'Status' });
    assert.deepEqual(props.AllowedSourceIps, { Ref: 'Cidrs' });
    assert.deepEqual(props.AllowedVpcEndpoints, [{ Ref: 'Vpce' }]);
    assert.deepEqual(props.SecretName, { Ref: 'StoreAt' });
  });

  it('judges the fixed text around a deploy-time value', () => {
    const stack = newStack();
    const prefix = new CfnParameter(stack, 'Prefix', { type: 'String' }).valueAsString;
    assert.deepEqual(assertAccepted({ userName: `${prefix}-deployer` }, stack).UserName, { 'Fn::Join': ['', [{ Ref: 'Prefix' }, '-deployer']] });
    const stack2 = newStack();
    const prefix2 = new CfnParameter(stack2, 'Prefix', { type: 'String' }).valueAsString;
    assertRefused(
      { userName: `${prefix2}/deployer` },
      /^PlantonIamUser UserName: must be 1-64 characters of letters, digits and \+=,\.@_-; the fixed text "\/deployer" has '\/'$/,
      stack2,
    );
  });

  it('counts deploy-time values in inline documents as one character: refuses only what is surely too big', () => {
    const stack = newStack();
    const tableArn = Fn.importValue('orders-table-arn');
    const withToken = (pad: string) =>
      new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [tableArn] }),
          new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`arn:aws:s3:::b/${pad}`] }),
        ],
      });
    // Beside the padding, 172 characters with the import counted as one.
    assertAccepted({ inlinePolicies: { small: withToken('x'.repeat(2048 - 172)) } }, stack);
    assertRefused(
      { inlinePolicies: { big: withToken('x'.repeat(2049 - 172)) } },
      /^PlantonIamUser InlinePolicies: all documents together are 2049 characters \(whitespace not counted\); IAM allows at most 2048 per user/,
    );
  });
});

describe('example app', () => {
  it('synthesizes offline, with ARNs only in its outputs', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'planton-cdk-'));
    try {
      const assembly = buildExampleApp({ outdir }).synth();
      assert.deepEqual(assembly.stacks.map((s) => s.stackName), ['PlantonIamUserExample']);
      const stack = assembly.getStackByName('PlantonIamUserExample');
      const template = Template.fromJSON(stack.template);
      template.resourceCountIs('Custom::PlantonIamUser', 2);
      template.hasResourceProperties('Custom::PlantonIamUser', {
        ServiceToken: { 'Fn::ImportValue': 'planton-iam-user-ServiceToken' },
        UserName: 'ci-deployer',
        KeySerial: '1',
        KeyStatus: 'Active',
        RotationDays: '90',
        // The props' tag, then the one Tags.of(stack) added.
        Tags: [
          { Key: 'team', Value: 'payments' },
          { Key: 'cost-center', Value: 'payments-1234' },
        ],
        ManagedPolicyArns: Match.arrayWith([
          { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AmazonEC2ContainerRegistryPowerUser']] },
        ]),
      });
      template.hasResourceProperties('Custom::PlantonIamUser', {
        UserName: 'orders-legacy-app',
        InlinePolicies: {
          'orders-table': Match.objectLike({}),
          // bucket.grantRead(appUser)
          CdkGrants: Match.objectLike({
            Statement: [Match.objectLike({ Action: ['s3:GetObject*', 's3:GetBucket*', 's3:List*'] })],
          }),
        },
        SecretKmsKeyId: Match.objectLike({ 'Fn::GetAtt': Match.arrayWith(['Arn']) }),
      });
      template.resourceCountIs('AWS::DynamoDB::Table', 1);
      template.resourceCountIs('AWS::KMS::Key', 1);
      template.resourceCountIs('AWS::Lambda::Function', 0);
      // The grant is in the user's properties, not a policy attached from outside.
      assert.equal(
        Object.values(template.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p).includes('s3:GetObject')).length,
        0,
      );
      const outputs = Object.values(stack.template.Outputs as Record<string, { Value: { 'Fn::GetAtt': [string, string] } }>);
      assert.equal(outputs.length, 4);
      for (const o of outputs) assert.ok(['Arn', 'SecretArn'].includes(o.Value['Fn::GetAtt'][1]));
      assert.doesNotMatch(JSON.stringify(stack.template), /SecretAccessKey|AccessKeyId/);
      assert.ok(fs.existsSync(path.join(outdir, 'PlantonIamUserExample.template.json')));
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('takes the export name as context (a Serverless Application Repository install)', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'planton-cdk-'));
    try {
      const exportName = 'serverlessrepo-planton-iam-user-ServiceToken';
      const assembly = buildExampleApp({ outdir, context: { 'planton:serviceTokenExport': exportName } }).synth();
      const template = Template.fromJSON(assembly.getStackByName('PlantonIamUserExample').template);
      template.allResourcesProperties('Custom::PlantonIamUser', { ServiceToken: { 'Fn::ImportValue': exportName } });
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('with a zip (context planton:zip), also deploys the function itself and imports it by its export', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'planton-cdk-'));
    try {
      const zip = path.join(outdir, 'bootstrap.zip');
      fs.writeFileSync(zip, 'not really a zip: the asset is only hashed and copied at synth');
      const assembly = buildExampleApp({ outdir, context: { 'planton:zip': zip } }).synth();
      const provider = Template.fromJSON(assembly.getStackByName('PlantonIamUserProvider').template);
      provider.resourceCountIs('AWS::Lambda::Function', 2);
      provider.hasOutput('*', { Export: { Name: 'planton-iam-user-ServiceToken' } });
      const example = Template.fromJSON(assembly.getStackByName('PlantonIamUserExample').template);
      example.allResourcesProperties('Custom::PlantonIamUser', {
        ServiceToken: { 'Fn::ImportValue': 'planton-iam-user-ServiceToken' },
      });
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe('RotationDays (accessKey.rotationInterval)', () => {
  it('renders the number of days as a string, next to the other key properties', () => {
    const props = assertAccepted({ accessKey: { serial: 2, status: ACTIVE, rotationInterval: Duration.days(90) } });
    assert.deepEqual(props, {
      ServiceToken: TOKEN,
      UserName: 'svc-user',
      KeySerial: '2',
      KeyStatus: 'Active',
      RotationDays: '90',
    });
  });

  it('1 and 365 days pass (in any unit that is whole days); 0, 366 and fractions of a day are refused', () => {
    assert.equal(assertAccepted({ accessKey: { rotationInterval: Duration.days(1) } }).RotationDays, '1');
    assert.equal(assertAccepted({ accessKey: { rotationInterval: Duration.days(365) } }).RotationDays, '365');
    assert.equal(assertAccepted({ accessKey: { rotationInterval: Duration.hours(48) } }).RotationDays, '2');
    for (const d of [Duration.days(0), Duration.days(366), Duration.days(2 ** 60)]) {
      assertRefused(
        { accessKey: { rotationInterval: d } },
        /^PlantonIamUser RotationDays: must be 1-365 \(days between scheduled rotations\), got /,
      );
    }
    // A fraction of a day is rendered as such, and refused by the function.
    for (const [d, days] of [[Duration.hours(36), '1.5'], [Duration.days(1.5), '1.5'], [Duration.minutes(5), '0.003472222222222222']] as const) {
      assertRefused({ accessKey: { rotationInterval: d } }, new RegExp(`^PlantonIamUser RotationDays: must be a whole number 0 or greater, got "${days}"`));
    }
  });

  it('is refused with access keys disabled (DisableAccessKeys)', () => {
    assertRefused(
      { accessKey: { enabled: false, rotationInterval: Duration.days(30) } },
      /^PlantonIamUser RotationDays: rotates the access key, but DisableAccessKeys is true: remove one of the two/,
    );
  });

  it('is refused with KeyStatus Inactive (a plain string from JavaScript too, in any case)', () => {
    for (const status of [INACTIVE, 'inactive' as iam.AccessKeyStatus]) {
      assertRefused(
        { accessKey: { status, rotationInterval: Duration.days(30) } },
        /^PlantonIamUser RotationDays: needs KeyStatus Active: each rotation proves the new key works by using it/,
      );
    }
  });

  const withDays = (): [Stack, Duration] => {
    const stack = newStack();
    return [stack, Duration.days(new CfnParameter(stack, 'Days', { type: 'Number', default: 30 }).valueAsNumber)];
  };

  it('a token is rendered as a reference; in another unit than days it cannot be rendered', () => {
    const [stack, days] = withDays();
    assert.deepEqual(assertAccepted({ accessKey: { rotationInterval: days } }, stack).RotationDays, { Ref: 'Days' });
    // A token in another unit than days cannot be converted at synth time.
    const stack2 = newStack();
    const hours = Duration.hours(new CfnParameter(stack2, 'Hours', { type: 'Number' }).valueAsNumber);
    assertRefused(
      { accessKey: { rotationInterval: hours } },
      /^PlantonIamUser Test\/User: accessKey\.rotationInterval is a deploy-time value in hours, which cannot be rendered as RotationDays \(days\): give it as Duration\.days/,
      stack2,
    );
  });

  it('a token with keys disabled or Inactive is refused all the same', { todo: MODEL_LEAVES_UNKNOWN_OUT }, () => {
    let [stack, days] = withDays();
    assertRefused({ accessKey: { enabled: false, rotationInterval: days } }, /PlantonIamUser RotationDays: rotates the access key/, stack);
    [stack, days] = withDays();
    assertRefused({ accessKey: { status: INACTIVE, rotationInterval: days } }, /PlantonIamUser RotationDays: needs KeyStatus Active/, stack);
  });

  it('an unresolved KeyStatus is not held against it', () => {
    const stack = newStack();
    const status = new CfnParameter(stack, 'Status', { type: 'String' }).valueAsString as iam.AccessKeyStatus;
    const props = assertAccepted({ accessKey: { status, rotationInterval: Duration.days(7) } }, stack);
    assert.equal(props.RotationDays, '7');
  });
});

const VPCE17 = 'vpce-0123456789abcdef0';
const VPCE8 = 'vpce-1a2b3c4d';

/** Each case: the given list, and the rule the AllowedSourceIps[i] message must contain. */
type FenceRefusal = [name: string, list: string[], property: string, rule: string];

function assertFenceRefused(key: 'allowedSourceIps' | 'allowedVpcEndpoints', cases: FenceRefusal[]): void {
  for (const [name, list, property, rule] of cases) {
    assert.throws(
      () => synthUser({ [key]: list }),
      (err: unknown) => {
        assert.ok(err instanceof Error, name);
        const lines = said(err).split('\n');
        assert.equal(lines.length, 1, `${name}: exactly one violation, got ${err.message}`);
        const prefix = `PlantonIamUser ${property}: `;
        assert.ok(lines[0].startsWith(prefix), `${name}: ${lines[0]} should start with ${prefix}`);
        assert.ok(lines[0].includes(rule), `${name}: ${lines[0]} should contain ${rule}`);
        return true;
      },
      name,
    );
  }
}

describe('AllowedSourceIps (allowedSourceIps)', () => {
  it('renders the list exactly as given (the function normalises it)', () => {
    const list = ['203.0.113.0/24', '198.51.100.7', '2001:DB8::/32', ' 192.0.2.0/24\n'];
    const props = assertAccepted({ allowedSourceIps: list });
    assert.deepEqual(props, { ServiceToken: TOKEN, UserName: 'svc-user', AllowedSourceIps: list });
  });

  it('renders what was given at construction, even if the caller changes the list later', () => {
    const stack = newStack();
    const list = ['203.0.113.0/24'];
    new PlantonIamUser(stack, 'User', { serviceToken: TOKEN, userName: 'u', allowedSourceIps: list });
    list.push('not a cidr');
    assert.deepEqual(userProperties(Template.fromStack(stack)).AllowedSourceIps, ['203.0.113.0/24']);
  });

  it('accepts what the function accepts', () => {
    const cases: string[][] = [
      ['203.0.113.0/24'],
      ['203.0.113.7/32'],
      ['128.0.0.0/1'],
      ['10.0.0.0/8'],
      ['203.0.113.7'],
      ['0.0.0.0/32'],
      ['255.255.255.255'],
      ['2001:db8::/32'],
      ['2001:0DB8:0000:0000::/64'],
      ['2001:db8::1/128'],
      ['8000::/1'],
      ['2001:db8::1'],
      ['::1'],
      ['::/128'],
      ['1:2:3:4:5:6:7::/128'],
      ['64:ff9b::203.0.113.0/120'],
      [' 198.51.100.0/24\n'],
      ['198.51.100.0/024'],
      ['2001:db8::/32', '203.0.113.0/24', '198.51.100.7'],
      ['10.0.0.0/16', '10.0.0.0/8'],
    ];
    for (const list of cases) {
      assert.deepEqual(assertAccepted({ allowedSourceIps: list }).AllowedSourceIps, list, list.join(', '));
    }
  });

  it('100 CIDRs pass, 101 are refused', () => {
    const cidrs = (n: number) => Array.from({ length: n }, (_, i) => `10.${Math.floor(i / 256)}.${i % 256}.0/24`);
    assert.equal((assertAccepted({ allowedSourceIps: cidrs(100) }).AllowedSourceIps as unknown[]).length, 100);
    assertRefused({ allowedSourceIps: cidrs(101) }, /^PlantonIamUser AllowedSourceIps: 101 CIDRs given; at most 100/);
  });

  it('an empty list is refused (omit it for no fence)', () => {
    assertRefused(
      { allowedSourceIps: [] },
      /^PlantonIamUser AllowedSourceIps: is an empty list, which would allow no network and deny every request: give at least one CIDR or omit the property for no fence/,
    );
  });

  it('host bits beyond the prefix are refused, with the network meant', () => {
    assertFenceRefused('allowedSourceIps', [
      [
        'IPv4 /24',
        ['10.0.0.5/24'],
        'AllowedSourceIps[0]',
        '10.0.0.5/24 has host bits set beyond the /24 prefix; did you mean 10.0.0.0/24 (the network) or 10.0.0.5/32 (only that address)?',
      ],
      ['IPv4 /31', ['203.0.113.1/31'], 'AllowedSourceIps[0]', 'did you mean 203.0.113.0/31'],
      ['IPv4 /1', ['192.0.0.0/1'], 'AllowedSourceIps[0]', 'did you mean 128.0.0.0/1'],
      [
        'IPv6 /32',
        ['2001:db8::1/32'],
        'AllowedSourceIps[0]',
        '2001:db8::1/32 has host bits set beyond the /32 prefix; did you mean 2001:db8::/32 (the network) or 2001:db8::1/128 (only that address)?',
      ],
      ['IPv6 /127', ['2001:db8::1/127'], 'AllowedSourceIps[0]', 'did you mean 2001:db8::/127'],
      [
        'IPv6 written long',
        ['2001:0DB8:0:0:1:0:0:1/64'],
        'AllowedSourceIps[0]',
        'did you mean 2001:db8::/64 (the network) or 2001:db8::1:0:0:1/128 (only that address)?',
      ],
      ['second entry is named', ['203.0.113.0/24', '198.51.100.9/24'], 'AllowedSourceIps[1]', 'did you mean 198.51.100.0/24'],
    ]);
  });

  it('prefixes out of range or malformed are refused', () => {
    assertFenceRefused('allowedSourceIps', [
      ['IPv4 /33', ['10.0.0.0/33'], 'AllowedSourceIps[0]', 'prefix /33 is out of range; IPv4 prefixes are 1-32'],
      ['IPv4 /255', ['10.0.0.0/255'], 'AllowedSourceIps[0]', 'prefix /255 is out of range'],
      ['IPv4 /999', ['10.0.0.0/999'], 'AllowedSourceIps[0]', 'prefix /999 is out of range'],
      ['IPv6 /129', ['2001:db8::/129'], 'AllowedSourceIps[0]', 'prefix /129 is out of range; IPv6 prefixes are 1-128'],
      ['empty prefix', ['10.0.0.0/'], 'AllowedSourceIps[0]', 'the prefix after / must be a number 1-32 for IPv4'],
      ['negative prefix', ['10.0.0.0/-8'], 'AllowedSourceIps[0]', 'must be a number'],
      ['plus sign', ['10.0.0.0/+8'], 'AllowedSourceIps[0]', 'must be a number'],
      ['word prefix', ['2001:db8::/abc'], 'AllowedSourceIps[0]', 'must be a number 1-128 for IPv6'],
      ['four digits', ['10.0.0.0/0008'], 'AllowedSourceIps[0]', 'must be a number'],
      ['two slashes', ['10.0.0.0/8/8'], 'AllowedSourceIps[0]', 'must be a number'],
      ['space inside', ['10.0.0.0/ 8'], 'AllowedSourceIps[0]', 'must be a number'],
    ]);
  });

  it('prefix 0 is refused for both families (it would allow everything)', () => {
    assertFenceRefused('allowedSourceIps', [
      ['0.0.0.0/0', ['0.0.0.0/0'], 'AllowedSourceIps[0]', 'allows every IPv4 address, so the fence would not fence anything'],
      ['::/0', ['::/0'], 'AllowedSourceIps[0]', 'allows every IPv6 address, so the fence would not fence anything'],
      ['IPv4 /0 with host bits', ['10.0.0.0/0'], 'AllowedSourceIps[0]', 'allows every IPv4 address'],
      ['IPv6 /0 with host bits', ['2001:db8::/0'], 'AllowedSourceIps[0]', 'allows every IPv6 address'],
      ['/00', ['0.0.0.0/00'], 'AllowedSourceIps[0]', 'allows every IPv4 address'],
      ['IPv4-mapped /96 is every IPv4 address too', ['::ffff:0.0.0.0/96'], 'AllowedSourceIps[0]', 'list the IPv4 networks themselves'],
    ]);
  });

  it('anything that is not an address or CIDR is refused', () => {
    const notAddress = 'is not an IPv4 or IPv6 address or CIDR';
    assertFenceRefused('allowedSourceIps', [
      ['a word', ['office'], 'AllowedSourceIps[0]', '"office" is not an IPv4 or IPv6 address or CIDR'],
      ['empty string', [''], 'AllowedSourceIps[0]', notAddress],
      ['only a prefix', ['/24'], 'AllowedSourceIps[0]', notAddress],
      ['three octets', ['10.0.0/24'], 'AllowedSourceIps[0]', notAddress],
      ['octet over 255', ['10.0.0.256'], 'AllowedSourceIps[0]', 'each of the four numbers must be 0-255 without leading zeros'],
      ['leading zero', ['010.0.0.0/8'], 'AllowedSourceIps[0]', 'without leading zeros'],
      ['leading zero in the last octet', ['10.0.0.01'], 'AllowedSourceIps[0]', 'without leading zeros'],
      ['hostname', ['example.com'], 'AllowedSourceIps[0]', notAddress],
      ['range', ['10.0.0.1-10.0.0.9'], 'AllowedSourceIps[0]', notAddress],
      ['bracketed IPv6', ['[2001:db8::1]'], 'AllowedSourceIps[0]', notAddress],
      ['IPv6 zone id', ['fe80::1%eth0'], 'AllowedSourceIps[0]', notAddress],
      ['IPv6 two ::', ['2001::db8::1'], 'AllowedSourceIps[0]', notAddress],
      ['IPv6 nine groups', ['1:2:3:4:5:6:7:8:9'], 'AllowedSourceIps[0]', notAddress],
      ['IPv6 five hex digits', ['00001::'], 'AllowedSourceIps[0]', notAddress],
      ['IPv6 bad IPv4 tail', ['::ffff:1.2.3.256'], 'AllowedSourceIps[0]', notAddress],
      ['long garbage is clipped', ['x'.repeat(500)], 'AllowedSourceIps[0]', `"${'x'.repeat(40)}..." is not`],
    ]);
  });

  it('IPv4-mapped IPv6 is refused, with the IPv4 network to write instead', () => {
    assertFenceRefused('allowedSourceIps', [
      [
        '/120',
        ['::ffff:203.0.113.0/120'],
        'AllowedSourceIps[0]',
        '::ffff:203.0.113.0/120 is an IPv4-mapped IPv6 range, which aws:SourceIp never carries (IPv4 callers appear as IPv4): write 203.0.113.0/24',
      ],
      ['hex form, bare', ['::ffff:cb00:7107'], 'AllowedSourceIps[0]', 'IPv4-mapped IPv6 range, which aws:SourceIp never carries (IPv4 callers appear as IPv4): write 203.0.113.7/32'],
    ]);
  });

  it('duplicates after normalisation are refused, naming the first', () => {
    assertFenceRefused('allowedSourceIps', [
      ['same text', ['203.0.113.0/24', '203.0.113.0/24'], 'AllowedSourceIps[1]', '203.0.113.0/24 is listed twice (also AllowedSourceIps[0])'],
      [
        'bare and /32',
        ['203.0.113.7', '198.51.100.0/24', '203.0.113.7/32'],
        'AllowedSourceIps[2]',
        '203.0.113.7/32 is listed twice (also AllowedSourceIps[0])',
      ],
      ['IPv6 spelled two ways', ['2001:DB8:0::/32', '2001:db8::/32'], 'AllowedSourceIps[1]', '2001:db8::/32 is listed twice (also AllowedSourceIps[0])'],
      ['bare IPv6 and /128', ['2001:db8::1/128', '2001:0db8::0001'], 'AllowedSourceIps[1]', '2001:db8::1/128 is listed twice'],
      ['whitespace does not make it different', ['10.0.0.0/8', ' 10.0.0.0/8 '], 'AllowedSourceIps[1]', '10.0.0.0/8 is listed twice'],
      ['prefix with a leading zero', ['10.0.0.0/8', '10.0.0.0/08'], 'AllowedSourceIps[1]', '10.0.0.0/8 is listed twice'],
    ]);
  });

  it('tokens pass through unchecked: a list token and token entries', () => {
    const stack = newStack();
    const list = new CfnParameter(stack, 'Cidrs', { type: 'CommaDelimitedList' }).valueAsList;
    assert.deepEqual(assertAccepted({ allowedSourceIps: list }, stack).AllowedSourceIps, { Ref: 'Cidrs' });

    const stack2 = newStack();
    const office = new CfnParameter(stack2, 'Office', { type: 'String' }).valueAsString;
    const props = assertAccepted({ allowedSourceIps: ['203.0.113.0/24', office, `${office}/32`] }, stack2);
    assert.deepEqual(props.AllowedSourceIps, [
      '203.0.113.0/24',
      { Ref: 'Office' },
      { 'Fn::Join': ['', [{ Ref: 'Office' }, '/32']] },
    ]);
  });

  it('the literal entries next to a token are still checked', () => {
    const stack = newStack();
    const office = new CfnParameter(stack, 'Office', { type: 'String' }).valueAsString;
    assertRefused({ allowedSourceIps: [office, '10.0.0.5/24'] }, /^PlantonIamUser AllowedSourceIps\[1\]: 10\.0\.0\.5\/24 has host bits set/, stack);
  });
});

describe('AllowedVpcEndpoints (allowedVpcEndpoints)', () => {
  it('renders ids exactly as given: 17 and 8 hex digits', () => {
    const props = assertAccepted({ allowedVpcEndpoints: [VPCE17, VPCE8] });
    assert.deepEqual(props, { ServiceToken: TOKEN, UserName: 'svc-user', AllowedVpcEndpoints: [VPCE17, VPCE8] });
  });

  it('accepts IVpcEndpoint objects: an imported one is checked, a new one renders its Ref', () => {
    let stack = newStack();
    const imported = ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(stack, 'Imported', {
      vpcEndpointId: VPCE17,
      port: 443,
    });
    assert.deepEqual(assertAccepted({ allowedVpcEndpoints: [imported, VPCE8] }, stack).AllowedVpcEndpoints, [VPCE17, VPCE8]);

    stack = newStack();
    const bad = ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(stack, 'Bad', { vpcEndpointId: 'vpce-XYZ', port: 443 });
    assertRefused({ allowedVpcEndpoints: [bad] }, /^PlantonIamUser AllowedVpcEndpoints\[0\]: "vpce-XYZ" is not a VPC endpoint id/, stack);

    stack = newStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0 });
    const s3 = vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    const props = assertAccepted({ allowedVpcEndpoints: [s3] }, stack);
    assert.deepEqual(props.AllowedVpcEndpoints, [{ Ref: stack.getLogicalId(s3.node.defaultChild as ec2.CfnVPCEndpoint) }]);
  });

  it('100 pass, 101 are refused; an empty list is refused', () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `vpce-${i.toString(16).padStart(8, '0')}`);
    // 100 8-digit ids make a 1700-character fence: within the inline budget.
    assert.equal((assertAccepted({ allowedVpcEndpoints: ids(100) }).AllowedVpcEndpoints as unknown[]).length, 100);
    assertRefused({ allowedVpcEndpoints: ids(101) }, /^PlantonIamUser AllowedVpcEndpoints: 101 VPC endpoints given; at most 100/);
    assertRefused(
      { allowedVpcEndpoints: [] },
      /^PlantonIamUser AllowedVpcEndpoints: is an empty list, which would allow no network and deny every request: give at least one VPC endpoint id or omit the property for no fence/,
    );
  });

  it('malformed ids and duplicates are refused', () => {
    const notId = 'is not a VPC endpoint id: vpce- followed by 8 or 17 lowercase hex digits, like vpce-0123456789abcdef0';
    assertFenceRefused('allowedVpcEndpoints', [
      ['uppercase', ['vpce-0123456789ABCDEF0'], 'AllowedVpcEndpoints[0]', 'must be written exactly as AWS shows it (lowercase, no spaces): vpce-0123456789abcdef0'],
      ['spaces', [` ${VPCE17} `], 'AllowedVpcEndpoints[0]', `must be written exactly as AWS shows it (lowercase, no spaces): ${VPCE17}`],
      ['16 digits', ['vpce-0123456789abcdef'], 'AllowedVpcEndpoints[0]', notId],
      ['9 digits', ['vpce-0123456789'], 'AllowedVpcEndpoints[0]', notId],
      ['not hex', ['vpce-0123456789abcdefg'], 'AllowedVpcEndpoints[0]', notId],
      ['no prefix', ['0123456789abcdef0'], 'AllowedVpcEndpoints[0]', notId],
      ['another resource', ['vpc-0123456789abcdef0'], 'AllowedVpcEndpoints[0]', notId],
      ['empty', [''], 'AllowedVpcEndpoints[0]', notId],
      ['twice', [VPCE17, VPCE8, VPCE17], 'AllowedVpcEndpoints[2]', `${VPCE17} is listed twice (also AllowedVpcEndpoints[0])`],
    ]);
  });

  it('a token passes through unchecked', () => {
    const stack = newStack();
    const id = Fn.importValue('shared-vpce-id');
    assert.deepEqual(assertAccepted({ allowedVpcEndpoints: [id] }, stack).AllowedVpcEndpoints, [{ 'Fn::ImportValue': 'shared-vpce-id' }]);
  });
});

describe('the fence and the inline policies', () => {
  it('PlantonSourceFence is reserved as an inline policy name, in any case', () => {
    for (const name of ['PlantonSourceFence', 'plantonsourcefence']) {
      assertRefused(
        { inlinePolicies: { [name]: docOfSize(200) } },
        new RegExp(`^PlantonIamUser InlinePolicies\\.${name}: PlantonSourceFence is reserved: the function writes the AllowedSourceIps fence under that name; choose another`),
      );
    }
    assertAccepted({ inlinePolicies: { PlantonSourceFence2: docOfSize(200) } });
  });

  it('the fence policy shares the 2048-character inline budget (236 characters for one IPv4 CIDR)', () => {
    const allowedSourceIps = ['203.0.113.0/24'];
    assertAccepted({ allowedSourceIps, inlinePolicies: { one: docOfSize(2048 - 236) } });
    assertRefused(
      { allowedSourceIps, inlinePolicies: { one: docOfSize(2049 - 236) } },
      /^PlantonIamUser AllowedSourceIps: the fence policy it makes is 236 characters, and with InlinePolicies' 1813 that exceeds the 2048 IAM allows per user: list fewer or wider networks, or move an inline policy to a managed policy$/,
    );
  });

  it('counts a CIDR and an endpoint as the function does (300 characters), normalised', () => {
    // Normalised: "2001:DB8:0::/32" is counted as "2001:db8::/32" (13 characters, not 15).
    assertAccepted({ allowedSourceIps: ['203.0.113.0/24'], allowedVpcEndpoints: [VPCE17], inlinePolicies: { one: docOfSize(2048 - 300) } });
    assertRefused(
      { allowedSourceIps: ['203.0.113.0/24'], allowedVpcEndpoints: [VPCE17], inlinePolicies: { one: docOfSize(2049 - 300) } },
      /^PlantonIamUser AllowedSourceIps: the fence policy it makes is 300 characters, and with InlinePolicies' 1749 that exceeds the 2048/,
    );
    assertAccepted({ allowedSourceIps: ['2001:DB8:0::/32'], inlinePolicies: { one: docOfSize(2048 - 235) } });
    assertRefused({ allowedSourceIps: ['2001:DB8:0::/32'], inlinePolicies: { one: docOfSize(2049 - 235) } }, /the fence policy it makes is 235 characters, and with InlinePolicies' 1814 that exceeds the 2048/);
  });

  it('a fence alone can be too big: 100 IPv6 addresses', () => {
    const list = Array.from({ length: 100 }, (_, i) => `2001:db8::${(i + 1).toString(16)}`);
    assertRefused(
      { allowedSourceIps: list },
      /^PlantonIamUser AllowedSourceIps: the fence policy it makes is \d{4} characters, and with InlinePolicies' 0 that exceeds the 2048 IAM allows per user/,
    );
  });

  it('counts token entries as empty: refuses only what is surely too big', { todo: MODEL_LEAVES_UNKNOWN_OUT }, () => {
    const office = Fn.importValue('office-cidr');
    // Counted as "": 236 - 14 = 222 characters at least.
    assertAccepted({ allowedSourceIps: [office], inlinePolicies: { one: docOfSize(2048 - 222) } });
    assertRefused(
      { allowedSourceIps: [office], inlinePolicies: { one: docOfSize(2049 - 222) } },
      // The model's words for it are to come: any refusal of the budget.
      /^PlantonIamUser (InlinePolicies|AllowedSourceIps): /,
    );
  });
});

describe('the function\'s judgement of the grants, at synth', () => {
  it('an AWS managed policy the function refuses is a warning naming the setting that lifts it, in the stack\'s partition (aws when it is not known)', () => {
    let { stack } = synthUser({ managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AdministratorAccess')] });
    // Denied by default, and judged: each lifted by its own setting.
    assert.deepEqual(warnings(stack), {
      'PlantonIamUser:ManagedPolicyArns[0]:PLANTON_DENIED_POLICY_ARNS':
        "PlantonIamUser ManagedPolicyArns: arn:aws:iam::aws:policy/AdministratorAccess may not be attached through this function (PLANTON_DENIED_POLICY_ARNS) (lifted by PLANTON_DENIED_POLICY_ARNS: refused under the function's default settings; a deployment whose DeniedPolicyArns (the provider's deniedPolicyArns) leaves the policy out lifts it)",
      'PlantonIamUser:ManagedPolicyArns[0]:PLANTON_TRUSTED_POLICY_ARNS':
        'PlantonIamUser ManagedPolicyArns[0]: arn:aws:iam::aws:policy/AdministratorAccess: statement 0: "*" grants every action on "*" (lifted by PLANTON_TRUSTED_POLICY_ARNS: refused under the function\'s default settings; a deployment whose TrustedPolicyArns (the provider\'s trustedPolicyArns) lists the policy lifts it)',
    });
    ({ stack } = synthUser({
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess'), iam.ManagedPolicy.fromAwsManagedPolicyName('job-function/SystemAdministrator')],
    }));
    assert.deepEqual(Object.keys(warnings(stack)), ['PlantonIamUser:ManagedPolicyArns[1]:PLANTON_TRUSTED_POLICY_ARNS']);
    assert.match(
      Object.values(warnings(stack))[0],
      /^PlantonIamUser ManagedPolicyArns\[1\]: arn:aws:iam::aws:policy\/job-function\/SystemAdministrator: statement \d+: .* \(lifted by PLANTON_TRUSTED_POLICY_ARNS: /,
    );
    const china = new Stack(new App(), 'Test', { env: { region: 'cn-north-1', account: '123456789012' } });
    synthUser({ managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('IAMFullAccess')] }, china);
    assert.match(warnings(china)['PlantonIamUser:ManagedPolicyArns[0]:PLANTON_DENIED_POLICY_ARNS'], /^PlantonIamUser ManagedPolicyArns: arn:aws-cn:iam::aws:policy\/IAMFullAccess may not be attached/);
    ({ stack } = synthUser({ managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess')] }));
    assert.deepEqual(warnings(stack), {});
  });

  it('an inline policy or grant that lets the user raise its own privilege is a warning naming AllowPrivilegedInline', () => {
    const stack = newStack();
    const u = new PlantonIamUser(stack, 'User', { serviceToken: TOKEN, userName: 'u' });
    u.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['iam:PutUserPolicy'], resources: ['*'] }));
    Template.fromStack(stack);
    assert.deepEqual(Object.keys(warnings(stack)), ['PlantonIamUser:InlinePolicies.CdkGrants:PLANTON_ALLOW_PRIVILEGED_INLINE']);
    assert.match(
      warnings(stack)['PlantonIamUser:InlinePolicies.CdkGrants:PLANTON_ALLOW_PRIVILEGED_INLINE'],
      /^PlantonIamUser InlinePolicies\.CdkGrants: statement 0: "iam:PutUserPolicy" grants iam:PutUserPolicy on "\*", which would let this user raise its own privilege; refused unless the operator sets PLANTON_ALLOW_PRIVILEGED_INLINE=true \(lifted by PLANTON_ALLOW_PRIVILEGED_INLINE: .*AllowPrivilegedInline true/,
    );
  });

  it('a warning can be acknowledged; the nag pack still reports the grant as an error, which can be acknowledged too', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'planton-ack-'));
    try {
      const app = new App({ outdir });
      const stack = new Stack(app, 'Test');
      const u = new PlantonIamUser(stack, 'User', { serviceToken: TOKEN, userName: 'u' });
      u.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['iam:*'], resources: ['*'] }));
      Validations.of(app).addPlugins(new PlantonIamUserChecks(app));
      Annotations.of(u).acknowledgeWarning('PlantonIamUser:InlinePolicies.CdkGrants:PLANTON_ALLOW_PRIVILEGED_INLINE', 'this deployment sets AllowPrivilegedInline');
      const log = console.error;
      console.error = () => undefined; // the validation report is printed too
      try {
        assert.throws(() => app.synth(), /Validation failed/);
      } finally {
        console.error = log;
      }
      Validations.of(u).acknowledge({ id: 'PlantonIamUser-PrivilegedPolicy[InlinePolicies.CdkGrants]', reason: 'this deployment sets AllowPrivilegedInline' });
      app.synth({ force: true });
      assert.deepEqual(warnings(stack), {});
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('what no setting lifts still fails synthesis, also behind a refusal a setting lifts', () => {
    const env = { account: '123456789012', region: 'us-east-1' };
    let stack = new Stack(new App(), 'Test', { env });
    const group = new iam.Group(stack, 'Deployers', { groupName: 'deployers' });
    group.addToPolicy(new iam.PolicyStatement({ actions: ['lambda:CreateFunction'], resources: ['*'] }));
    // The function would stop at the guardrails (the inline "*"); the construct goes on.
    const star = new iam.PolicyDocument({ statements: [new iam.PolicyStatement({ actions: ['*'], resources: ['*'] })] });
    assertRefused(
      { groups: [group], inlinePolicies: { star } },
      /^PlantonIamUser Groups\[0\]: group deployers has inline policy \w+: statement 0: "lambda:CreateFunction" grants lambda:CreateFunction on "\*"/,
      stack,
    );
    assert.deepEqual(Object.keys(warnings(stack)), ['PlantonIamUser:InlinePolicies.star:PLANTON_ALLOW_PRIVILEGED_INLINE']);
    // A role taker inline beside a group's PassRole on "*": refused together, whatever the settings.
    stack = new Stack(new App(), 'Test', { env });
    const passing = new iam.Group(stack, 'Passing', { groupName: 'passing' });
    passing.addToPolicy(new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: ['*'] }));
    const runTask = new iam.PolicyDocument({
      statements: [new iam.PolicyStatement({ actions: ['ecs:RunTask'], resources: ['arn:aws:ecs:us-east-1:123456789012:task-definition/app:1'] })],
    });
    assertRefused({ groups: [passing], inlinePolicies: { run: runTask } }, /^PlantonIamUser InlinePolicies\.run: inline policy run grants ecs:RunTask .*together they put to work any role the user may pass/m, stack);
  });

  it('a group and a customer managed policy of the app whose name the template decides are judged by their documents', () => {
    const env = { account: '123456789012', region: 'us-east-1' };
    let stack = new Stack(new App(), 'Test', { env });
    const group = new iam.Group(stack, 'Deployers', { groupName: 'deployers' });
    group.addToPolicy(new iam.PolicyStatement({ actions: ['lambda:CreateFunction'], resources: ['*'] }));
    assertRefused({ groups: [group] }, /^PlantonIamUser Groups\[0\]: group deployers has inline policy \w+: statement 0: "lambda:CreateFunction" grants lambda:CreateFunction on "\*"/, stack);

    stack = new Stack(new App(), 'Test', { env });
    const mine = new iam.ManagedPolicy(stack, 'Mine', {
      managedPolicyName: 'mine',
      path: '/team/',
      statements: [new iam.PolicyStatement({ actions: ['iam:*'], resources: ['*'] })],
    });
    synthUser({ managedPolicies: [mine] }, stack);
    assert.match(
      warnings(stack)['PlantonIamUser:ManagedPolicyArns[0]:PLANTON_TRUSTED_POLICY_ARNS'],
      /^PlantonIamUser ManagedPolicyArns\[0\]: arn:aws:iam::123456789012:policy\/team\/mine: statement 0: "iam:\*" grants every IAM action on "\*" \(lifted by PLANTON_TRUSTED_POLICY_ARNS: /,
    );

    // Named by CloudFormation at deploy time: the check cannot match it (the nag pack
    // judges its document, test/nag.test.ts).
    stack = new Stack(new App(), 'Test', { env });
    const unnamed = new iam.ManagedPolicy(stack, 'Unnamed', {
      statements: [new iam.PolicyStatement({ actions: ['iam:*'], resources: ['*'] })],
    });
    assertAccepted({ managedPolicies: [unnamed] }, stack);
    assert.deepEqual(warnings(stack), {});
  });

  it('a document JSON cannot carry (a lone surrogate) is refused as a whole', () => {
    const doc = new iam.PolicyDocument({
      statements: [new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::b/\ud800'] })],
    });
    assertRefused({ inlinePolicies: { odd: doc } }, /^PlantonIamUser: these properties cannot be sent to the function as JSON \(the request is not valid: /);
  });
});
