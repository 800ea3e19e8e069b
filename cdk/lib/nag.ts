import { CfnResource, Stack } from 'aws-cdk-lib';
import { NagMessageLevel, NagPack, NagPackProps, NagRuleCompliance } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { askModel, check, Judged, UNRESOLVED } from './model';
import { isObject, Json, propertiesOf, TemplateReader } from './template';

const RESOURCE_TYPE = 'Custom::PlantonIamUser';

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
 * The verdicts are the function's own: its model, compiled to WebAssembly and shipped
 * with this package (the same the `PlantonIamUser` construct checks its properties with).
 * Beyond that check, the pack judges the documents of this stack's groups and managed
 * policies whose names CloudFormation picks at deploy time, and hand-written resources.
 *
 * Register it with `Validations.of(app).addPlugins(new PlantonIamUserChecks(app))`. A
 * finding is an error even where a deployment setting lifts the refusal (the
 * `PlantonIamUser` construct only warns of those, naming the setting): for a deployment
 * whose operator allows more (AllowPrivilegedInline, TrustedPolicyArns, a DeniedPolicyArns
 * without the policy), acknowledge it with `Validations.of(user).acknowledge({ id, reason })`.
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
            'The planton-iam-user function refuses (under its default configuration) to give a user a policy that lets it raise its own privilege, and refuses the deny-listed AWS managed policies, so this deployment would fail. Grant named resources instead of wildcards; acknowledge the finding only if the operator of the deployment allows it (AllowPrivilegedInline, TrustedPolicyArns, a DeniedPolicyArns without the policy).',
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

/**
 * What the function says of a document that escalates: the model's judgement. A document
 * the model cannot be sent (a lone surrogate: not JSON) is not judged here; the
 * construct's check reports it.
 */
function escalationOf(known: Json): string | undefined {
  const answer = askModel('judge', { Documents: [known] });
  return (answer.ok as Judged[] | undefined)?.[0]?.escalation ?? undefined;
}

function escalation(doc: Json, reader: TemplateReader): string | undefined {
  return escalationOf(reader.known(doc));
}

/** The function's words for one inline document that escalates (or undefined). */
function inlineRefusal(doc: Json, reader: TemplateReader): string | undefined {
  const known = reader.known(doc);
  const what = escalationOf(known);
  if (what === undefined) return undefined;
  // The function's sentence for the document alone; the judgement's own words when
  // the document breaks another rule first.
  const answer = check({ Properties: { UserName: 'u', InlinePolicies: { p: known } }, ...partition(reader) });
  const said = answer.ok ?? [];
  return said.length === 1 && said[0].property === 'InlinePolicies.p' ? said[0].rule : what;
}

/** The function's verdict on a managed policy ARN it knows the content of (an AWS managed or deny-listed one). */
function arnRefusal(text: string, reader: TemplateReader): string | undefined {
  if (text.includes(UNRESOLVED)) return undefined;
  const answer = check({ Properties: { UserName: 'u', ManagedPolicyArns: [text] }, ...partition(reader) });
  const why = (answer.ok ?? [])
    .filter((f) => (f.property === 'ManagedPolicyArns' || f.property === 'ManagedPolicyArns[0]') && f.rule.startsWith(text))
    .map((f) => f.rule);
  return why.length > 0 ? why.join('; ') : undefined;
}

function partition(reader: TemplateReader): { Partition?: string } {
  return reader.partition !== undefined ? { Partition: reader.partition } : {};
}

/** Why a managed policy (as listed in the template) is refused, if it is known. */
function managedRefusal(arn: Json, reader: TemplateReader): string | undefined {
  const declared = reader.referenced(arn);
  if (declared && declared.cfnResourceType === 'AWS::IAM::ManagedPolicy') {
    const what = escalation(propertiesOf(declared).PolicyDocument, reader);
    return what && `the managed policy ${declared.node.path}: ${what}`;
  }
  return arnRefusal(reader.knownText(arn), reader);
}

/** [property, why] for every grant of this Planton user that the function refuses. */
function privilegedGrants(node: CfnResource): Array<[string, string]> {
  const reader = new TemplateReader(Stack.of(node));
  const props = propertiesOf(node);
  const out = new Map<string, string[]>();
  const add = (property: string, why: string) => out.set(property, [...(out.get(property) ?? []), why]);

  const inline = props.InlinePolicies;
  if (isObject(inline)) {
    for (const [name, doc] of Object.entries(inline)) {
      const why = inlineRefusal(doc, reader);
      if (why) add(`InlinePolicies.${name}`, why);
    }
  }
  const managed = props.ManagedPolicyArns;
  if (Array.isArray(managed)) {
    managed.forEach((arn, i) => {
      const why = managedRefusal(arn, reader);
      if (why) add(`ManagedPolicyArns[${i}]`, why);
    });
  }
  const groups = props.Groups;
  if (Array.isArray(groups)) {
    groups.forEach((g, i) => {
      const group = reader.referenced(g);
      if (!group || group.cfnResourceType !== 'AWS::IAM::Group') return;
      for (const why of groupRefusals(group, reader)) add(`Groups[${i}]`, why);
    });
  }
  return [...out].map(([property, whys]) => [property, whys.join('; ')]);
}

/** What a group of this stack would give the user that the function refuses. */
function groupRefusals(group: CfnResource, reader: TemplateReader): string[] {
  const out: string[] = [];
  const name = group.node.path;
  const gp = propertiesOf(group);
  for (const p of Array.isArray(gp.Policies) ? gp.Policies : []) {
    if (!isObject(p)) continue;
    const what = escalation(p.PolicyDocument, reader);
    if (what) out.push(`group ${name} has inline policy ${reader.knownText(p.PolicyName)}: ${what}`);
  }
  for (const arn of Array.isArray(gp.ManagedPolicyArns) ? gp.ManagedPolicyArns : []) {
    const why = managedRefusal(arn, reader);
    if (why) out.push(`group ${name} attaches ${reader.knownText(arn)}: ${why}`);
  }
  // Policies of this stack attached to the group (group.addToPolicy, ManagedPolicy groups).
  for (const r of reader.attachedTo(group, 'Groups')) {
    const what = escalation(propertiesOf(r).PolicyDocument, reader);
    if (what) out.push(`group ${name} has policy ${r.node.path}: ${what}`);
  }
  return out;
}

/** The Planton users of this stack that an IAM policy resource is attached to. */
function plantonUsersNamedBy(node: CfnResource): string[] {
  const reader = new TemplateReader(Stack.of(node));
  const users = propertiesOf(node).Users;
  if (!Array.isArray(users)) return [];
  return users
    .map((u) => reader.referenced(u))
    .filter((r): r is CfnResource => r !== undefined && r.cfnResourceType === RESOURCE_TYPE)
    .map((r) => r.node.path);
}
