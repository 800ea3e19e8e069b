// The construct composes: grants (iam.IGrantable), the Tags aspect, providers.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, Duration, Fn, Stack, TagManager, Tags } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { PlantonIamUser, PlantonIamUserProvider } from '../lib';

const TOKEN = 'arn:aws:lambda:us-east-1:123456789012:function:planton-iam-user';

function newStack(): Stack {
  return new Stack(new App(), 'Test');
}

function user(stack: Stack, extra: Partial<ConstructorParameters<typeof PlantonIamUser>[2]> = {}): PlantonIamUser {
  return new PlantonIamUser(stack, 'User', { serviceToken: TOKEN, userName: 'svc-user', ...extra });
}

function userProperties(stack: Stack): Record<string, any> {
  const found = Template.fromStack(stack).findResources('Custom::PlantonIamUser');
  assert.equal(Object.keys(found).length, 1);
  return Object.values(found)[0].Properties;
}

describe('grants (iam.IGrantable)', () => {
  it('bucket.grantRead(user) lands in the user\'s own InlinePolicies (CdkGrants), not in a policy attached from outside', () => {
    const stack = newStack();
    const u = user(stack);
    const bucket = new s3.Bucket(stack, 'Bucket');
    const grant = bucket.grantRead(u);
    assert.equal(grant.success, true);
    const bucketArn = { 'Fn::GetAtt': [stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket), 'Arn'] };
    assert.deepEqual(userProperties(stack).InlinePolicies, {
      CdkGrants: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: ['s3:GetObject*', 's3:GetBucket*', 's3:List*'],
            Resource: [bucketArn, { 'Fn::Join': ['', [bucketArn, '/*']] }],
          },
        ],
      },
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::IAM::Policy', 0);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
  });

  it('grants accumulate in one document, next to the given inline policies', () => {
    const stack = newStack();
    const own = new iam.PolicyDocument({
      statements: [new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: ['arn:aws:sqs:us-east-1:123456789012:q'] })],
    });
    const u = user(stack, { inlinePolicies: { own } });
    new dynamodb.Table(stack, 'Table', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } }).grantReadData(u);
    new sqs.Queue(stack, 'Queue').grantConsumeMessages(u);
    const inline = userProperties(stack).InlinePolicies;
    assert.deepEqual(Object.keys(inline), ['own', 'CdkGrants']);
    const actions = JSON.stringify(inline.CdkGrants.Statement);
    assert.match(actions, /dynamodb:GetItem/);
    assert.match(actions, /sqs:ReceiveMessage/);
  });

  it('addToPrincipalPolicy reports the statement added, with the custom resource as the dependable', () => {
    const stack = newStack();
    const u = user(stack);
    assert.equal(u.grantPrincipal, u);
    const result = u.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::b/*'] }),
    );
    assert.equal(result.statementAdded, true);
    assert.equal(result.policyDependable, u.resource);
    assert.equal(u.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: ['arn:aws:s3:::b/*'] })), true);
    assert.equal(userProperties(stack).InlinePolicies.CdkGrants.Statement.length, 2);
  });

  it('is a principal in resource policies by its ARN (e.g. a key policy)', () => {
    const stack = newStack();
    const u = user(stack);
    const id = stack.getLogicalId(u.resource.node.defaultChild as never);
    assert.deepEqual(stack.resolve(u.policyFragment.principalJson), { AWS: [{ 'Fn::GetAtt': [id, 'Arn'] }] });
    assert.equal(u.assumeRoleAction, 'sts:AssumeRole');
    const key = new kms.Key(stack, 'Key');
    key.grantDecrypt(u);
    assert.match(JSON.stringify(userProperties(stack).InlinePolicies.CdkGrants), /kms:Decrypt/);
  });

  it('no grant, no CdkGrants: InlinePolicies is omitted', () => {
    const stack = newStack();
    user(stack);
    assert.equal(userProperties(stack).InlinePolicies, undefined);
  });

  it('grants count in the 2048-character inline budget', () => {
    const stack = newStack();
    const u = user(stack);
    for (let i = 0; i < 40; i++) {
      u.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`arn:aws:s3:::bucket-number-${i}/*`] }));
    }
    assert.throws(() => Template.fromStack(stack), /PlantonIamUser InlinePolicies: all documents together are \d+ characters/);
  });

  it('CdkGrants is reserved as an inline policy name, in any case', () => {
    for (const name of ['CdkGrants', 'cdkgrants']) {
      const doc = new iam.PolicyDocument({ statements: [new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] })] });
      assert.throws(() => user(newStack(), { inlinePolicies: { [name]: doc } }), new RegExp(`PlantonIamUser InlinePolicies\\.${name}: the name CdkGrants is reserved`));
    }
  });
});

describe('the Tags aspect', () => {
  it('Tags.of(app).add(...) reaches the user\'s Tags, after the props\' own', () => {
    const app = new App();
    const stack = new Stack(app, 'Test');
    user(stack, { tags: { team: 'payments' } });
    Tags.of(app).add('cost-center', 'cc-42');
    Tags.of(stack).add('app', 'orders');
    assert.deepEqual(userProperties(stack).Tags, [
      { Key: 'team', Value: 'payments' },
      { Key: 'app', Value: 'orders' },
      { Key: 'cost-center', Value: 'cc-42' },
    ]);
  });

  it('an aspect\'s tag overrides a prop\'s of the same key; Tags.of(...).remove removes it', () => {
    const app = new App();
    const stack = new Stack(app, 'Test');
    user(stack, { tags: { team: 'payments', temp: 'x' } });
    Tags.of(app).add('team', 'platform');
    Tags.of(app).remove('temp');
    assert.deepEqual(userProperties(stack).Tags, [{ Key: 'team', Value: 'platform' }]);
  });

  it('honours includeResourceTypes / excludeResourceTypes with Custom::PlantonIamUser', () => {
    let app = new App();
    let stack = new Stack(app, 'Test');
    user(stack);
    Tags.of(app).add('only-buckets', 'x', { includeResourceTypes: ['AWS::S3::Bucket'] });
    Tags.of(app).add('users', 'y', { includeResourceTypes: [PlantonIamUser.RESOURCE_TYPE] });
    assert.deepEqual(userProperties(stack).Tags, [{ Key: 'users', Value: 'y' }]);
    app = new App();
    stack = new Stack(app, 'Test');
    user(stack);
    Tags.of(app).add('not-users', 'z', { excludeResourceTypes: [PlantonIamUser.RESOURCE_TYPE] });
    assert.equal(userProperties(stack).Tags, undefined);
  });

  it('an aspect\'s tags are checked at synth like the props\' (count, reserved prefixes, case)', () => {
    let app = new App();
    let stack = new Stack(app, 'Test');
    user(stack, { tags: Object.fromEntries(Array.from({ length: 46 }, (_, i) => [`k${i}`, 'v'])) });
    Tags.of(app).add('one-more', 'v');
    assert.throws(() => Template.fromStack(stack), /PlantonIamUser Tags: 47 tags given; at most 46/);

    app = new App();
    stack = new Stack(app, 'Test');
    user(stack, { tags: { Team: 'a' } });
    Tags.of(app).add('team', 'b');
    assert.throws(() => Template.fromStack(stack), /PlantonIamUser Tags\[1\]\.Key: team is given twice/);

    app = new App();
    stack = new Stack(app, 'Test');
    user(stack);
    Tags.of(app).add('planton:owner', 'me');
    assert.throws(() => Template.fromStack(stack), /PlantonIamUser Tags\[0\]\.Key: the planton: prefix is reserved/);
  });

  it('is an ITaggable the Tags aspect recognises', () => {
    const stack = newStack();
    const u = user(stack, { tags: { team: 'payments' } });
    assert.equal(TagManager.isTaggable(u), true);
    assert.deepEqual(u.tags.tagValues(), { team: 'payments' });
    // The custom resource underneath has no tags of its own to set.
    assert.equal(TagManager.isTaggable(u.resource.node.defaultChild!), false);
  });
});

describe('AccessKeyStatus and Duration', () => {
  it('renders iam.AccessKeyStatus and a Duration in days', () => {
    const stack = newStack();
    user(stack, { accessKey: { status: iam.AccessKeyStatus.INACTIVE } });
    assert.equal(userProperties(stack).KeyStatus, 'Inactive');
    const stack2 = newStack();
    user(stack2, { accessKey: { status: iam.AccessKeyStatus.ACTIVE, rotationInterval: Duration.days(30) } });
    assert.deepEqual([userProperties(stack2).KeyStatus, userProperties(stack2).RotationDays], ['Active', '30']);
  });
});

describe('providers', () => {
  it('a provider imported by export name gives the ServiceToken', () => {
    const stack = newStack();
    const provider = PlantonIamUserProvider.fromExportName(stack, 'Provider', 'serverlessrepo-planton-iam-user-ServiceToken');
    new PlantonIamUser(stack, 'User', { provider, userName: 'u' });
    assert.deepEqual(userProperties(stack).ServiceToken, { 'Fn::ImportValue': 'serverlessrepo-planton-iam-user-ServiceToken' });
  });

  it('the default export name is template.yaml\'s for a stack named planton-iam-user', () => {
    const stack = newStack();
    new PlantonIamUser(stack, 'User', { provider: PlantonIamUserProvider.fromExportName(stack, 'P'), userName: 'u' });
    assert.deepEqual(userProperties(stack).ServiceToken, { 'Fn::ImportValue': 'planton-iam-user-ServiceToken' });
  });

  it('a provider imported by service token', () => {
    const stack = newStack();
    new PlantonIamUser(stack, 'User', { provider: PlantonIamUserProvider.fromServiceToken(stack, 'P', TOKEN), userName: 'u' });
    assert.equal(userProperties(stack).ServiceToken, TOKEN);
  });

  it('serviceToken or provider: one of the two', () => {
    const stack = newStack();
    assert.throws(() => new PlantonIamUser(stack, 'A', { userName: 'u' }), /PlantonIamUser Test\/A: serviceToken or provider is required/);
    const provider = PlantonIamUserProvider.fromServiceToken(stack, 'P', TOKEN);
    assert.throws(
      () => new PlantonIamUser(stack, 'B', { userName: 'u', serviceToken: Fn.importValue('x'), provider }),
      /give serviceToken or provider, not both/,
    );
  });

  it('the ServiceToken of a user stays what it was given (Match)', () => {
    const stack = newStack();
    user(stack);
    Template.fromStack(stack).hasResourceProperties('Custom::PlantonIamUser', { ServiceToken: Match.exact(TOKEN) });
  });
});
