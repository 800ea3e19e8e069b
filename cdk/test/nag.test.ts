// PlantonIamUserChecks (cdk-nag): authoring-time feedback that matches the function's
// run-time refusal. The judgement is the function's own (crates/planton-model, run as
// WebAssembly through lib/model.ts); test/model.test.ts holds it to the native model's
// answers, and it is run here on the function's policy corpus (tests/policies).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App, CfnResource, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { PlantonIamUser, PlantonIamUserChecks, PlantonIamUserProps } from '../lib';
import { judge } from '../lib/model';
const POLICIES = path.resolve(__dirname, '..', '..', '..', 'tests', 'policies');
const TOKEN = 'arn:aws:lambda:us-east-1:123456789012:function:planton-iam-user';

function newStack(): Stack {
  return new Stack(new App(), 'Test');
}

function user(stack: Stack, extra: Partial<PlantonIamUserProps> = {}): PlantonIamUser {
  return new PlantonIamUser(stack, 'User', { serviceToken: TOKEN, userName: 'svc-user', ...extra });
}

/** rule id -> description, for every finding of the pack on the stack. */
function nag(stack: Stack): Record<string, string> {
  const report = new PlantonIamUserChecks().validateScope(stack);
  return Object.fromEntries(report.violations.map((v) => [v.ruleName, v.description]));
}

function corpus(kind: 'escalation' | 'benign'): Array<[string, unknown]> {
  const dir = path.join(POLICIES, kind);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [`${kind}/${f}`, JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).document]);
}

const doc = (...statements: object[]) => ({ Version: '2012-10-17', Statement: statements });

const escalation = (d: unknown): string | undefined => judge([d])[0].escalation ?? undefined;

describe('the policy judgement (the function\'s own, through the module)', () => {
  it('refuses every document of the function\'s escalation corpus (tests/policies/escalation)', () => {
    const docs = corpus('escalation');
    assert.ok(docs.length >= 40, `${docs.length} escalation documents`);
    const accepted = docs.filter(([, d]) => escalation(d) === undefined).map(([n]) => n);
    assert.deepEqual(accepted, []);
  });

  it('accepts every document of the function\'s benign corpus (tests/policies/benign), but a PassRole that needs a passable role path', () => {
    const docs = corpus('benign');
    assert.ok(docs.length >= 10, `${docs.length} benign documents`);
    // The corpus is benign where /service-roles/ is passable (the native test's scope);
    // the module judges in the default deployment's, where no role path is (an empty
    // PassableRolePaths): a PassRole on a wildcard is refused even for one service.
    const needsPassablePath = (d: unknown) => /:role\/service-roles\/[^"]*\*"/.test(JSON.stringify(d));
    const refused = docs.filter(([, d]) => escalation(d) !== undefined);
    assert.deepEqual(
      refused.map(([n]) => n),
      docs.filter(([, d]) => needsPassablePath(d)).map(([n]) => n),
    );
    assert.ok(refused.length > 0);
    for (const [n, d] of refused) assert.match(String(escalation(d)), /^statement 0: "iam:PassRole" grants iam:PassRole on "arn:aws:iam::123456789012:role\/service-roles\//, n);
  });
});

describe('PlantonIamUserChecks', () => {
  it('flags the deny-listed AWS managed policies (AdministratorAccess, PowerUserAccess, IAMFullAccess), in any case', () => {
    const stack = newStack();
    user(stack, {
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess'),
        iam.ManagedPolicy.fromAwsManagedPolicyName('AdministratorAccess'),
        iam.ManagedPolicy.fromAwsManagedPolicyName('PowerUserAccess'),
        iam.ManagedPolicy.fromManagedPolicyArn(stack, 'Iam', 'arn:aws:iam::aws:policy/iamfullaccess'),
      ],
    });
    const found = nag(stack);
    assert.deepEqual(Object.keys(found).sort(), [
      'PlantonIamUser-PrivilegedPolicy[ManagedPolicyArns[1]]',
      'PlantonIamUser-PrivilegedPolicy[ManagedPolicyArns[2]]',
      'PlantonIamUser-PrivilegedPolicy[ManagedPolicyArns[3]]',
    ]);
    assert.equal(
      found['PlantonIamUser-PrivilegedPolicy[ManagedPolicyArns[1]]'],
      'ManagedPolicyArns[1]: arn:aws:iam::aws:policy/AdministratorAccess may not be attached through this function (PLANTON_DENIED_POLICY_ARNS)',
    );
  });

  it('flags an AWS managed policy the function\'s judgement refuses (docs/aws-managed-policies.md), whatever its path', () => {
    const stack = newStack();
    user(stack, { managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('job-function/SystemAdministrator')] });
    assert.match(
      nag(stack)['PlantonIamUser-PrivilegedPolicy[ManagedPolicyArns[0]]'],
      /^ManagedPolicyArns\[0\]: arn:aws:iam::aws:policy\/job-function\/SystemAdministrator: statement \d+: .* grants /,
    );
  });

  it('flags inline Action "*", "iam:*", iam:PassRole on "*" (with iam:PassedToService too: no role path is passable by default), NotAction', () => {
    const stack = newStack();
    const policy = (s: object) => iam.PolicyDocument.fromJson(doc(s));
    user(stack, {
      inlinePolicies: {
        everything: policy({ Effect: 'Allow', Action: '*', Resource: '*' }),
        self: policy({ Effect: 'Allow', Action: 'iam:*', Resource: 'arn:aws:iam::123456789012:user/svc-user' }),
        deploy: policy({ Effect: 'Allow', Action: ['ecs:RunTask', 'iam:PassRole'], Resource: '*' }),
        allbuts3: policy({ Effect: 'Allow', NotAction: 's3:*', Resource: '*' }),
        ecs: policy({
          Effect: 'Allow',
          Action: 'iam:PassRole',
          Resource: '*',
          Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
        }),
        reads: policy({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }),
        ecsOne: policy({
          Effect: 'Allow',
          Action: 'iam:PassRole',
          Resource: 'arn:aws:iam::123456789012:role/ecs-task',
          Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
        }),
      },
    });
    const found = nag(stack);
    assert.deepEqual(Object.keys(found).sort(), [
      'PlantonIamUser-PrivilegedPolicy[InlinePolicies.allbuts3]',
      'PlantonIamUser-PrivilegedPolicy[InlinePolicies.deploy]',
      'PlantonIamUser-PrivilegedPolicy[InlinePolicies.ecs]',
      'PlantonIamUser-PrivilegedPolicy[InlinePolicies.everything]',
      'PlantonIamUser-PrivilegedPolicy[InlinePolicies.self]',
    ]);
    assert.equal(
      found['PlantonIamUser-PrivilegedPolicy[InlinePolicies.everything]'],
      'InlinePolicies.everything: statement 0: "*" grants every action on "*", which would let this user raise its own privilege; refused unless the operator sets PLANTON_ALLOW_PRIVILEGED_INLINE=true',
    );
  });

  it('flags a privileged grant (it lands in CdkGrants); ordinary grants pass, deploy-time ARNs counting as one named resource', () => {
    let stack = newStack();
    let u = user(stack);
    new s3.Bucket(stack, 'Bucket').grantReadWrite(u);
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    role.grantPassRole(u);
    assert.deepEqual(nag(stack), {});

    stack = newStack();
    u = user(stack);
    u.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: ['*'] }));
    assert.match(nag(stack)['PlantonIamUser-PrivilegedPolicy[InlinePolicies.CdkGrants]'], /"iam:PassRole" grants iam:PassRole on "\*"/);
  });

  it('judges a customer managed policy and a group declared in the stack by their documents', () => {
    const stack = newStack();
    const admin = new iam.ManagedPolicy(stack, 'SelfAdmin', {
      statements: [new iam.PolicyStatement({ actions: ['iam:*'], resources: ['*'] })],
    });
    const fine = new iam.ManagedPolicy(stack, 'Fine', {
      statements: [new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::b/*'] })],
    });
    const group = new iam.Group(stack, 'Deployers', {
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('PowerUserAccess')],
    });
    group.addToPolicy(new iam.PolicyStatement({ actions: ['lambda:CreateFunction'], resources: ['*'] }));
    user(stack, { managedPolicies: [fine, admin], groups: [group] });
    const found = nag(stack);
    assert.deepEqual(Object.keys(found).sort(), [
      'PlantonIamUser-PrivilegedPolicy[Groups[0]]',
      'PlantonIamUser-PrivilegedPolicy[ManagedPolicyArns[1]]',
    ]);
    assert.match(found['PlantonIamUser-PrivilegedPolicy[ManagedPolicyArns[1]]'], /the managed policy Test\/SelfAdmin\/Resource: statement 0: "iam:\*" grants every IAM action/);
    assert.match(found['PlantonIamUser-PrivilegedPolicy[Groups[0]]'], /group Test\/Deployers\/Resource attaches arn:aws:iam::aws:policy\/PowerUserAccess: .*may not be attached/);
    assert.match(found['PlantonIamUser-PrivilegedPolicy[Groups[0]]'], /group Test\/Deployers\/Resource has policy Test\/Deployers\/DefaultPolicy\/Resource: .*lambda:CreateFunction/);
  });

  it('checks a hand-written Custom::PlantonIamUser too, with documents as JSON text', () => {
    const stack = newStack();
    new CfnResource(stack, 'Raw', {
      type: 'Custom::PlantonIamUser',
      properties: {
        ServiceToken: TOKEN,
        UserName: 'raw',
        InlinePolicies: { sneaky: '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"\\u002a","Resource":"\\u002a"}}' },
      },
    });
    assert.match(nag(stack)['PlantonIamUser-PrivilegedPolicy[InlinePolicies.sneaky]'], /"\*" grants every action/);
  });

  it('runs every document of the escalation corpus through a user: each is flagged, as CloudFormation delivers it', () => {
    const stack = newStack();
    const docs = corpus('escalation');
    docs.forEach(([name, d], i) => {
      new CfnResource(stack, `User${i}`, {
        type: 'Custom::PlantonIamUser',
        properties: { ServiceToken: TOKEN, UserName: `u${i}`, InlinePolicies: { [path.basename(name, '.json')]: d } },
      });
    });
    const report = new PlantonIamUserChecks().validateScope(stack);
    const flagged = new Set(report.violations.flatMap((v) => v.violatingResources.map((r) => r.constructPath)));
    const missed = docs.filter((_, i) => !flagged.has(`Test/User${i}`)).map(([n]) => n);
    // CloudFormation delivers a custom resource's every scalar as a string: the Action 42
    // the function refuses in an event arrives as "42" from a template, an action name
    // that grants nothing.
    assert.deepEqual(missed, ['escalation/malformed-action-number.json']);
  });

  it('a finding can be acknowledged on the user (for a deployment that allows it)', () => {
    const stack = newStack();
    const u = user(stack);
    u.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['iam:*'], resources: ['*'] }));
    Validations.of(u).acknowledge({
      id: 'PlantonIamUser-PrivilegedPolicy[InlinePolicies.CdkGrants]',
      reason: 'this deployment sets AllowPrivilegedInline',
    });
    assert.deepEqual(nag(stack), {});
  });

  it('warns about a policy attached to a Planton user from outside (the function would remove it)', () => {
    const stack = newStack();
    const u = user(stack);
    new iam.Policy(stack, 'Outside', {
      users: [iam.User.fromUserName(stack, 'Imported', u.userName)],
      statements: [new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::b/*'] })],
    });
    const report = new PlantonIamUserChecks().validateScope(stack);
    const v = report.violations.find((x) => x.ruleName === 'PlantonIamUser-PolicyOutsideUser');
    assert.ok(v, JSON.stringify(report.violations));
    assert.equal(v.severity, 'warning');
    assert.match(v.description, /attached to the PlantonIamUser Test\/User\/Resource\/Default from outside/);
  });

  it('fails synthesis as a CDK validation plugin (Validations.of(app).addPlugins)', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'planton-nag-'));
    try {
      const app = new App({ outdir });
      const stack = new Stack(app, 'Test');
      // A policy of the app whose ARN is only known at deploy time: the construct's check
      // cannot match it, the nag pack judges its document.
      const admin = new iam.ManagedPolicy(stack, 'SelfAdmin', {
        statements: [new iam.PolicyStatement({ actions: ['iam:*'], resources: ['*'] })],
      });
      user(stack, { managedPolicies: [admin] });
      Validations.of(app).addPlugins(new PlantonIamUserChecks(app));
      const log = console.error;
      console.error = () => undefined; // the report is printed too
      try {
        assert.throws(() => app.synth(), /Validation failed/);
      } finally {
        console.error = log;
      }
      const report = fs.readFileSync(path.join(outdir, 'validation-report.json'), 'utf8');
      assert.match(report, /PlantonIamUser-PrivilegedPolicy\[ManagedPolicyArns\[0\]\]/);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});
