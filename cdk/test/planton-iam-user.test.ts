import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App, CfnParameter, Duration, Fn, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { buildExampleApp } from '../bin/example-app';
import { PlantonIamUser, PlantonIamUserProps } from '../lib';

const TOKEN = 'arn:aws:lambda:us-east-1:123456789012:function:planton-iam-user';
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
    for (const serial of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
      assertRefused({ accessKey: { serial } }, /PlantonIamUser KeySerial: must be a whole number 0 or greater/);
    }
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
        accessKey: {
          serial: new CfnParameter(stack, 'Serial', { type: 'Number' }).valueAsNumber,
          rotationInterval: Duration.days(new CfnParameter(stack, 'Days', { type: 'Number' }).valueAsNumber),
          status: str('Status') as iam.AccessKeyStatus,
        },
        allowedSourceIps: new CfnParameter(stack, 'Cidrs', { type: 'CommaDelimitedList' }).valueAsList,
        allowedVpcEndpoints: [str('Vpce')],
        secret: { name: str('StoreAt') },
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
    assert.deepEqual(props.RotationDays, { Ref: 'Days' });
    assert.deepEqual(props.KeyStatus, { Ref: 'Status' });
    assert.deepEqual(props.AllowedSourceIps, { Ref: 'Cidrs' });
    assert.deepEqual(props.AllowedVpcEndpoints, [{ Ref: 'Vpce' }]);
    assert.deepEqual(props.SecretName, { Ref: 'StoreAt' });
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
        /^PlantonIamUser RotationDays: must be a whole number 1-365 \(days between scheduled rotations\), got /,
      );
    }
    for (const d of [Duration.hours(36), Duration.days(1.5), Duration.minutes(5)]) {
      assertRefused(
        { accessKey: { rotationInterval: d } },
        /^PlantonIamUser RotationDays: must be a whole number of days 1-365 \(days between scheduled rotations\), got /,
      );
    }
  });

  it('is refused with access keys disabled (DisableAccessKeys)', () => {
    assertRefused(
      { accessKey: { enabled: false, rotationInterval: Duration.days(30) } },
      /^PlantonIamUser RotationDays: rotates the access key, but accessKey\.enabled is false \(DisableAccessKeys is true\): remove one of the two/,
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

  it('a token is rendered as a reference; with keys disabled or Inactive it is refused all the same', () => {
    const withDays = (): [Stack, Duration] => {
      const stack = newStack();
      return [stack, Duration.days(new CfnParameter(stack, 'Days', { type: 'Number', default: 30 }).valueAsNumber)];
    };
    let [stack, days] = withDays();
    assert.deepEqual(assertAccepted({ accessKey: { rotationInterval: days } }, stack).RotationDays, { Ref: 'Days' });
    [stack, days] = withDays();
    assertRefused({ accessKey: { enabled: false, rotationInterval: days } }, /PlantonIamUser RotationDays: rotates the access key/, stack);
    [stack, days] = withDays();
    assertRefused({ accessKey: { status: INACTIVE, rotationInterval: days } }, /PlantonIamUser RotationDays: needs KeyStatus Active/, stack);
    // A token in another unit than days cannot be converted at synth time.
    stack = newStack();
    const hours = Duration.hours(new CfnParameter(stack, 'Hours', { type: 'Number' }).valueAsNumber);
    assertRefused({ accessKey: { rotationInterval: hours } }, /PlantonIamUser RotationDays: must be a whole number of days/, stack);
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
        const lines = err.message.split('\n').filter((l) => l.startsWith('PlantonIamUser '));
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
      ['long garbage is clipped', ['x'.repeat(500)], 'AllowedSourceIps[0]', `"${'x'.repeat(50)}..." is not`],
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
        new RegExp(`^PlantonIamUser InlinePolicies\\.${name}: the name PlantonSourceFence is reserved for the policy this resource writes for AllowedSourceIps and AllowedVpcEndpoints`),
      );
    }
    assertAccepted({ inlinePolicies: { PlantonSourceFence2: docOfSize(200) } });
  });

  it('the fence policy shares the 2048-character inline budget (236 characters for one IPv4 CIDR)', () => {
    const allowedSourceIps = ['203.0.113.0/24'];
    assertAccepted({ allowedSourceIps, inlinePolicies: { one: docOfSize(2048 - 236) } });
    assertRefused(
      { allowedSourceIps, inlinePolicies: { one: docOfSize(2049 - 236) } },
      /PlantonIamUser InlinePolicies: all documents together are 2049 characters, including the 236-character PlantonSourceFence policy written for AllowedSourceIps\/AllowedVpcEndpoints/,
    );
  });

  it('counts a CIDR and an endpoint as the function does (300 characters), normalised', () => {
    // Normalised: "2001:DB8:0::/32" is counted as "2001:db8::/32" (13 characters, not 15).
    assertAccepted({ allowedSourceIps: ['203.0.113.0/24'], allowedVpcEndpoints: [VPCE17], inlinePolicies: { one: docOfSize(2048 - 300) } });
    assertRefused(
      { allowedSourceIps: ['203.0.113.0/24'], allowedVpcEndpoints: [VPCE17], inlinePolicies: { one: docOfSize(2049 - 300) } },
      /all documents together are 2049 characters, including the 300-character PlantonSourceFence/,
    );
    assertAccepted({ allowedSourceIps: ['2001:DB8:0::/32'], inlinePolicies: { one: docOfSize(2048 - 235) } });
    assertRefused({ allowedSourceIps: ['2001:DB8:0::/32'], inlinePolicies: { one: docOfSize(2049 - 235) } }, /are 2049 characters, including the 235-character/);
  });

  it('a fence alone can be too big: 100 IPv6 addresses', () => {
    const list = Array.from({ length: 100 }, (_, i) => `2001:db8::${(i + 1).toString(16)}`);
    assertRefused(
      { allowedSourceIps: list },
      /PlantonIamUser AllowedSourceIps: the PlantonSourceFence policy written for AllowedSourceIps\/AllowedVpcEndpoints is \d{4} characters \(whitespace not counted\); IAM allows at most 2048 for all inline policies of a user/,
    );
  });

  it('counts token entries as empty: refuses only what is surely too big', () => {
    const office = Fn.importValue('office-cidr');
    // Counted as "": 236 - 14 = 222 characters at least.
    assertAccepted({ allowedSourceIps: [office], inlinePolicies: { one: docOfSize(2048 - 222) } });
    assertRefused(
      { allowedSourceIps: [office], inlinePolicies: { one: docOfSize(2049 - 222) } },
      /PlantonIamUser InlinePolicies: all documents together are at least 2049 characters, including at least 222 characters of the PlantonSourceFence policy/,
    );
  });
});
