import { CfnResource, Stack } from 'aws-cdk-lib';
import { NagMessageLevel, NagPack, NagPackProps, NagRuleCompliance } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { escalation, managedPolicyRefusal } from './policy-judgement';

const RESOURCE_TYPE = 'Custom::PlantonIamUser';
/** What a value computed at deploy time stands for when a document is judged at synth. */
const DEPLOY_TIME_VALUE = 'planton-deploy-time-value';

/**
 * cdk-nag checks for `Custom::PlantonIamUser` resources (the `PlantonIamUser` construct
 * or a hand-written `CfnResource`), so that authoring-time feedback matches what the
 * function refuses at deploy time under its default configuration:
 *
 * - `PlantonIamUser-PrivilegedPolicy` (error): the user would hold a policy the function
 *   refuses: an inline policy (grants included) or a managed policy that grants what lets
 *   the user raise its own privilege (`*`, `iam:*`, an Allow with `NotAction`, an
 *   escalation action such as `iam:PassRole` without `iam:PassedToService` on anything but
 *   one named resource), a policy on the default denied list (AdministratorAccess,
 *   IAMFullAccess, PowerUserAccess), an AWS managed policy the function's judgement
 *   refuses, or a group of this stack whose policies do. One finding per property, e.g.
 *   `PlantonIamUser-PrivilegedPolicy[InlinePolicies.deploy]`.
 * - `PlantonIamUser-PolicyOutsideUser` (warning): an `AWS::IAM::Policy` or
 *   `AWS::IAM::ManagedPolicy` of this stack attached to a Planton user from outside: the
 *   function converges the user's policies to its own properties and removes it on the
 *   next Update. Grant to the construct instead (`bucket.grantRead(user)`).
 *
 * Register it with `Validations.of(app).addPlugins(new PlantonIamUserChecks(app))`; a
 * deployment whose operator allows more (AllowPrivilegedInline, TrustedPolicyArns) can
 * acknowledge a finding with `Validations.of(user).acknowledge({ id, reason })`.
 *
 * What it cannot see: the content of customer managed policies and groups that the app
 * does not declare (the function reads and judges them at deploy time).
 */
export class PlantonIamUserChecks extends NagPack {
  /** The plugin's name in CDK's validation report. */
  public readonly name = 'PlantonIamUser';

  constructor(scope?: IConstruct, props?: NagPackProps) {
    super(scope, props);
    this.packName = 'PlantonIamUser';
  }

  protected checkResource(node: CfnResource): void {
    if (node.cfnResourceType === RESOURCE_TYPE) {
      for (const [property, why] of privilegedGrants(node)) {
        this.applyRule({
          ruleSuffixOverride: 'PrivilegedPolicy',
          info: `${property}: ${why}`,
          explanation:
            'The planton-iam-user function refuses (under its default configuration) to give a user a policy that lets it raise its own privilege, and refuses the deny-listed AWS managed policies, so this deployment would fail. Grant named resources instead of wildcards; acknowledge the finding only if the operator of the deployment allows it (AllowPrivilegedInline, TrustedPolicyArns).',
          level: NagMessageLevel.ERROR,
          node,
          rule: () => [property],
        });
      }
    } else if (node.cfnResourceType === 'AWS::IAM::Policy' || node.cfnResourceType === 'AWS::IAM::ManagedPolicy') {
      const users = plantonUsersNamedBy(node);
      this.applyRule({
        ruleSuffixOverride: 'PolicyOutsideUser',
        info: `this policy is attached to the PlantonIamUser ${users.join(', ')} from outside; the function converges the user's policies to its own properties and removes it on the next Update: grant to the construct instead (bucket.grantRead(user) adds to the user's CdkGrants inline policy)`,
        explanation:
          'A Custom::PlantonIamUser resource owns its user: policies, groups and tags not in its properties are drift, converged away on every Update.',
        level: NagMessageLevel.WARN,
        node,
        rule: () => (users.length > 0 ? NagRuleCompliance.NON_COMPLIANT : NagRuleCompliance.NOT_APPLICABLE),
      });
    }
  }
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A resource as its template will hold it (property overrides included), resolved. */
function template(node: CfnResource): Record<string, Json> {
  const stack = Stack.of(node);
  const rendered = (node as unknown as { _toCloudFormation(): { Resources: Record<string, Json> } })._toCloudFormation();
  const resolved = stack.resolve(rendered) as { Resources: Record<string, Record<string, Json>> };
  return Object.values(resolved.Resources)[0] ?? {};
}

function properties(node: CfnResource): Record<string, Json> {
  const p = template(node).Properties;
  return isObject(p) ? p : {};
}

/** Every CfnResource of the stack by logical id. */
function resourcesOf(stack: Stack): Map<string, CfnResource> {
  const m = new Map<string, CfnResource>();
  for (const c of stack.node.findAll()) {
    if (CfnResource.isCfnResource(c) && Stack.of(c) === stack) m.set(stack.resolve(c.logicalId) as string, c);
  }
  return m;
}

/** The stack being judged and its resources (listed once per judged resource). */
class Scope {
  private _resources?: Map<string, CfnResource>;
  constructor(public readonly stack: Stack) {}
  public get resources(): Map<string, CfnResource> {
    return (this._resources ??= resourcesOf(this.stack));
  }
}

/**
 * The value CloudFormation will deliver, as far as it is known at synth: the stack's
 * partition and account where referenced, every other value computed at deploy time
 * replaced by a placeholder that names one thing (no wildcard), `Fn::Join` and `Fn::Sub`
 * spelled out around them. The function judges the real value at deploy time.
 */
function delivered(v: Json, stack: Stack): Json {
  const pseudo = (name: string): string => {
    const known = (x: string) => (typeof x === 'string' && !x.includes('${Token') ? x : undefined);
    if (name === 'AWS::Partition') return known(stack.partition) ?? 'aws';
    if (name === 'AWS::AccountId') return known(stack.account) ?? '123456789012';
    if (name === 'AWS::Region') return known(stack.region) ?? 'us-east-1';
    return DEPLOY_TIME_VALUE;
  };
  const walk = (x: Json): Json => {
    if (Array.isArray(x)) return x.map(walk);
    if (!isObject(x)) return x;
    const keys = Object.keys(x);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) {
      const [k] = keys;
      const arg = x[k];
      if (k === 'Ref' && typeof arg === 'string') return pseudo(arg);
      if (k === 'Fn::Join' && Array.isArray(arg) && typeof arg[0] === 'string' && Array.isArray(arg[1])) {
        return arg[1].map((part) => String(walk(part))).join(arg[0]);
      }
      if (k === 'Fn::Sub') {
        const text = Array.isArray(arg) ? arg[0] : arg;
        if (typeof text === 'string') return text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => pseudo(name));
      }
      if (k === 'Fn::If' && Array.isArray(arg)) return walk(arg[1]);
      return DEPLOY_TIME_VALUE;
    }
    return Object.fromEntries(Object.entries(x).map(([key, val]) => [key, walk(val)]));
  };
  return walk(v);
}

/** The resource a `{Ref}` or `{Fn::GetAtt}` names, if it is one of this stack's. */
function referenced(v: Json, scope: Scope): CfnResource | undefined {
  if (!isObject(v)) return undefined;
  const id = typeof v.Ref === 'string' ? v.Ref : Array.isArray(v['Fn::GetAtt']) ? v['Fn::GetAtt'][0] : undefined;
  return typeof id === 'string' ? scope.resources.get(id) : undefined;
}

/** Why a managed policy (as listed in the template) is refused, if it is known. */
function managedRefusal(arn: Json, scope: Scope): string | undefined {
  const stack = scope.stack;
  const declared = referenced(arn, scope);
  if (declared && declared.cfnResourceType === 'AWS::IAM::ManagedPolicy') {
    const what = escalation(delivered(properties(declared).PolicyDocument, stack));
    return what && `the managed policy ${declared.node.path}: ${what}`;
  }
  const text = delivered(arn, stack);
  return typeof text === 'string' ? managedPolicyRefusal(text) : undefined;
}

/** [property, why] for every grant of this Planton user that the function refuses. */
function privilegedGrants(node: CfnResource): Array<[string, string]> {
  const stack = Stack.of(node);
  const scope = new Scope(stack);
  const props = properties(node);
  const out = new Map<string, string[]>();
  const add = (property: string, why: string) => out.set(property, [...(out.get(property) ?? []), why]);

  const inline = props.InlinePolicies;
  if (isObject(inline)) {
    for (const [name, doc] of Object.entries(inline)) {
      const what = escalation(delivered(doc, stack));
      if (what) {
        add(
          `InlinePolicies.${name}`,
          `${what}, which would let this user raise its own privilege; refused unless the operator sets PLANTON_ALLOW_PRIVILEGED_INLINE=true`,
        );
      }
    }
  }
  const managed = props.ManagedPolicyArns;
  if (Array.isArray(managed)) {
    managed.forEach((arn, i) => {
      const why = managedRefusal(arn, scope);
      if (why) add(`ManagedPolicyArns[${i}]`, why);
    });
  }
  const groups = props.Groups;
  if (Array.isArray(groups)) {
    groups.forEach((g, i) => {
      const group = referenced(g, scope);
      if (!group || group.cfnResourceType !== 'AWS::IAM::Group') return;
      for (const why of groupRefusals(group, scope)) add(`Groups[${i}]`, why);
    });
  }
  return [...out].map(([property, whys]) => [property, whys.join('; ')]);
}

/** What a group of this stack would give the user that the function refuses. */
function groupRefusals(group: CfnResource, scope: Scope): string[] {
  const stack = scope.stack;
  const out: string[] = [];
  const name = group.node.path;
  const gp = properties(group);
  for (const p of Array.isArray(gp.Policies) ? gp.Policies : []) {
    if (!isObject(p)) continue;
    const what = escalation(delivered(p.PolicyDocument, stack));
    if (what) out.push(`group ${name} has inline policy ${String(delivered(p.PolicyName, stack))}: ${what}`);
  }
  for (const arn of Array.isArray(gp.ManagedPolicyArns) ? gp.ManagedPolicyArns : []) {
    const why = managedRefusal(arn, scope);
    if (why) out.push(`group ${name} attaches ${String(delivered(arn, stack))}: ${why}`);
  }
  // Policies of this stack attached to the group (group.addToPolicy, ManagedPolicy groups).
  const groupId = stack.resolve(group.logicalId);
  for (const r of scope.resources.values()) {
    if (r.cfnResourceType !== 'AWS::IAM::Policy' && r.cfnResourceType !== 'AWS::IAM::ManagedPolicy') continue;
    const rp = properties(r);
    const names = Array.isArray(rp.Groups) ? rp.Groups : [];
    if (!names.some((n) => isObject(n) && n.Ref === groupId)) continue;
    const what = escalation(delivered(rp.PolicyDocument, stack));
    if (what) out.push(`group ${name} has policy ${r.node.path}: ${what}`);
  }
  return out;
}

/** The Planton users of this stack that an IAM policy resource is attached to. */
function plantonUsersNamedBy(node: CfnResource): string[] {
  const scope = new Scope(Stack.of(node));
  const users = properties(node).Users;
  if (!Array.isArray(users)) return [];
  return users
    .map((u) => referenced(u, scope))
    .filter((r): r is CfnResource => r !== undefined && r.cfnResourceType === RESOURCE_TYPE)
    .map((r) => r.node.path);
}
