import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App, CfnParameter, Duration, Fn, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { buildExampleApp } from '../bin/example-app';
import { PlantonIamUser, PlantonIamUserProps } from '../lib';

const TOKEN = 'arn:aws:lambda:us-east-1:123456789012:function:planton-iam-user';
const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

type Extra = Omit<PlantonIamUserProps, 'serviceToken' | 'userName'> & { userName?: string };

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

/** The construct refuses the props, at construction or at synth, naming the property. */
function assertRefused(extra: Extra, message: RegExp, stack?: Stack): void {
  assert.throws(() => synthUser(extra, stack), (err: unknown) => {
    assert.ok(err instanceof Error, 'an Error');
    assert.match(err.message, message);
    return true;
  });
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
        permissionsBoundary: iam.ManagedPolicy.fromManagedPolicyArn(
          stack,
          'Boundary',
          'arn:aws:iam::123456789012:policy/service-account-boundary',
        ),
        tags: { team: 'payments', purpose: 'ci-deploy' },
        accessKey: { serial: 3, status: 'Inactive' },
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
      PermissionsBoundary: 'arn:aws:iam::123456789012:policy/service-account-boundary',
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
    assertAccepted({ userName: 'Az09+=,.@_-' });
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

  it('PermissionsBoundary: a malformed ARN is refused', () => {
    const stack = newStack();
    assertRefused(
      { permissionsBoundary: iam.ManagedPolicy.fromManagedPolicyArn(stack, 'B', 'arn:aws:iam::12345:policy/x') },
      /PlantonIamUser PermissionsBoundary: must be a managed policy ARN/,
      stack,
    );
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

  it('Tags: 47 pass, 48 are refused', () => {
    assert.equal((assertAccepted({ tags: tags(47) }).Tags as unknown[]).length, 47);
    assertRefused({ tags: tags(48) }, /PlantonIamUser Tags: 48 tags given; at most 47/);
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
    for (const serial of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
      assertRefused({ accessKey: { serial } }, /PlantonIamUser KeySerial: must be a whole number 0 or greater/);
    }
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
    assertRefused(
      { userName: 'a b', path: 'x', tags: { 'aws:x': 'v' }, secret: { name: '' } },
      /PlantonIamUser UserName: .*\nPlantonIamUser Path: .*\nPlantonIamUser Tags\[0\]\.Key: .*\nPlantonIamUser SecretName: .*\n\(in construct Test\/User\)/,
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
        accessKey: { serial: new CfnParameter(stack, 'Serial', { type: 'Number' }).valueAsNumber },
        secret: { name: str('SecretName') },
        managedPolicies: [iam.ManagedPolicy.fromManagedPolicyArn(stack, 'P', str('PolicyArn'))],
        permissionsBoundary: iam.ManagedPolicy.fromManagedPolicyArn(stack, 'B', str('BoundaryArn')),
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
    assert.deepEqual(props.SecretName, { Ref: 'SecretName' });
  });

  it('counts deploy-time values in inline documents as empty: refuses only what is surely too big', () => {
    const stack = newStack();
    const tableArn = Fn.importValue('orders-table-arn');
    const withToken = (pad: string) =>
      new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [tableArn] }),
          new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`arn:aws:s3:::b/${pad}`] }),
        ],
      });
    assertAccepted({ inlinePolicies: { small: withToken('x'.repeat(1800)) } }, stack);
    assertRefused({ inlinePolicies: { big: withToken('x'.repeat(2100)) } }, /PlantonIamUser InlinePolicies: all documents together are at least \d+ characters/);
  });
});

describe('example app', () => {
  it('synthesizes offline, with ARNs only in its outputs', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'planton-cdk-'));
    try {
      const assembly = buildExampleApp(outdir).synth();
      const stack = assembly.getStackByName('PlantonIamUserExample');
      const template = Template.fromJSON(stack.template);
      template.resourceCountIs('Custom::PlantonIamUser', 2);
      template.hasResourceProperties('Custom::PlantonIamUser', {
        ServiceToken: { 'Fn::ImportValue': 'planton-iam-user-ServiceToken' },
        UserName: 'ci-deployer',
        KeySerial: '1',
        Tags: [{ Key: 'team', Value: 'payments' }],
        ManagedPolicyArns: Match.arrayWith([
          { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AmazonEC2ContainerRegistryPowerUser']] },
        ]),
      });
      template.hasResourceProperties('Custom::PlantonIamUser', {
        UserName: 'orders-legacy-app',
        InlinePolicies: Match.objectLike({}),
        SecretKmsKeyId: Match.objectLike({ 'Fn::GetAtt': Match.arrayWith(['Arn']) }),
      });
      template.resourceCountIs('AWS::DynamoDB::Table', 1);
      template.resourceCountIs('AWS::KMS::Key', 1);
      template.resourceCountIs('AWS::Lambda::Function', 0);
      const outputs = Object.values(stack.template.Outputs as Record<string, { Value: { 'Fn::GetAtt': [string, string] } }>);
      assert.equal(outputs.length, 4);
      for (const o of outputs) assert.ok(['Arn', 'SecretArn'].includes(o.Value['Fn::GetAtt'][1]));
      assert.doesNotMatch(JSON.stringify(stack.template), /SecretAccessKey|AccessKeyId/);
      assert.ok(fs.existsSync(path.join(outdir, 'PlantonIamUserExample.template.json')));
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});
