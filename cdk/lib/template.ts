// Reading the template at synth as the function will receive it: resolved, every scalar
// a string, and what only CloudFormation can decide (parameters, attributes, imports,
// most intrinsics) written as the model's UNRESOLVED character, so the model gives it the
// benefit of the doubt and still judges the text around it. Reading only: every verdict
// comes from the model (./model).
import { CfnResource, Stack, Token } from 'aws-cdk-lib';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { CheckRequest, KnownGroup, UNRESOLVED } from './model';

export type Json = unknown;

export function isObject(v: Json): v is Record<string, Json> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `{Ref}` or `{Fn::...}`: a value CloudFormation computes. */
export function isIntrinsic(o: Record<string, Json>): boolean {
  const keys = Object.keys(o);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'));
}

/** A resource as its template will hold it (property overrides included), resolved. */
export function propertiesOf(node: CfnResource): Record<string, Json> {
  const stack = Stack.of(node);
  const rendered = (node as unknown as { _toCloudFormation(): { Resources: Record<string, Json> } })._toCloudFormation();
  const resolved = stack.resolve(rendered) as { Resources: Record<string, Record<string, Json>> };
  const p = (Object.values(resolved.Resources)[0] ?? {}).Properties;
  return isObject(p) ? p : {};
}

/** The stack's partition when it is known at synth: given, or from its region. */
export function stackPartition(stack: Stack): string | undefined {
  if (!Token.isUnresolved(stack.partition)) return stack.partition;
  if (Token.isUnresolved(stack.region)) return undefined;
  return RegionInfo.get(stack.region).partition;
}

/** One stack's template, read as far as it is known at synth. */
export class TemplateReader {
  /** The stack's partition, when known. */
  public readonly partition?: string;
  private readonly account?: string;
  private readonly region?: string;
  private _resources?: Map<string, CfnResource>;

  constructor(public readonly stack: Stack) {
    this.partition = stackPartition(stack);
    this.account = Token.isUnresolved(stack.account) ? undefined : stack.account;
    this.region = Token.isUnresolved(stack.region) ? undefined : stack.region;
  }

  /** Every CfnResource of the stack by logical id (listed once). */
  public get resources(): Map<string, CfnResource> {
    if (!this._resources) {
      const m = new Map<string, CfnResource>();
      for (const c of this.stack.node.findAll()) {
        if (CfnResource.isCfnResource(c) && Stack.of(c) === this.stack) m.set(this.stack.resolve(c.logicalId) as string, c);
      }
      this._resources = m;
    }
    return this._resources;
  }

  /** The resource of this stack a `{Ref}` or `{Fn::GetAtt}` names. */
  public referenced(v: Json): CfnResource | undefined {
    if (!isObject(v)) return undefined;
    const id = typeof v.Ref === 'string' ? v.Ref : Array.isArray(v['Fn::GetAtt']) ? v['Fn::GetAtt'][0] : undefined;
    return typeof id === 'string' ? this.resources.get(id) : undefined;
  }

  /**
   * A resolved template value as the function will receive it, as far as it is known:
   * scalars as strings, `Fn::Join` and `Fn::Sub` spelled out, the stack's partition,
   * account and region where they are known, and the name or ARN a `Ref` to a group or
   * managed policy of this stack returns when its template decides it; anything else
   * CloudFormation computes is {@link UNRESOLVED}.
   *
   * An unknown partition is read as `aws` (and the check is asked without one): every
   * partition's ARNs are judged alike, and an AWS managed policy keeps its verdict.
   */
  public known(v: Json): Json {
    if (v === null || v === undefined) return v;
    if (typeof v === 'string') return v.replace(/\{\{resolve:.*?\}\}/g, UNRESOLVED);
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
    if (Array.isArray(v)) return v.map((x) => this.known(x));
    if (!isObject(v)) return UNRESOLVED;
    if (isIntrinsic(v)) return this.intrinsic(v);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.known(x)]));
  }

  /** {@link known} for a value that must be text: anything else is unknown text. */
  public knownText(v: Json): string {
    const k = this.known(v);
    return typeof k === 'string' ? k : UNRESOLVED;
  }

  private intrinsic(o: Record<string, Json>): string {
    const [fn] = Object.keys(o);
    const arg = o[fn];
    if (fn === 'Ref') return typeof arg === 'string' ? this.ref(arg) : UNRESOLVED;
    if (fn === 'Fn::Join' && Array.isArray(arg) && typeof arg[0] === 'string' && Array.isArray(arg[1])) {
      return arg[1].map((part) => this.knownText(part)).join(arg[0]);
    }
    if (fn === 'Fn::Sub') {
      const [text, vars] = Array.isArray(arg) ? arg : [arg, {}];
      if (typeof text !== 'string') return UNRESOLVED;
      return text.replace(/\$\{([^}]*)\}/g, (_, name: string) => {
        if (name.startsWith('!')) return `\${${name.slice(1)}}`;
        if (isObject(vars) && name in vars) return this.knownText(vars[name]);
        return name.includes('.') ? UNRESOLVED : this.ref(name);
      });
    }
    return UNRESOLVED;
  }

  /** What `{Ref: name}` returns, as far as the template decides it. */
  private ref(name: string): string {
    switch (name) {
      case 'AWS::Partition':
        return this.partition ?? 'aws';
      case 'AWS::AccountId':
        return this.account ?? UNRESOLVED;
      case 'AWS::Region':
        return this.region ?? UNRESOLVED;
    }
    const r = this.resources.get(name);
    if (!r) return UNRESOLVED;
    const p = propertiesOf(r);
    if (r.cfnResourceType === 'AWS::IAM::Group' && p.GroupName !== undefined) return this.knownText(p.GroupName);
    if (r.cfnResourceType === 'AWS::IAM::ManagedPolicy' && p.ManagedPolicyName !== undefined) {
      const path = p.Path === undefined ? '/' : this.knownText(p.Path);
      return `arn:${this.partition ?? 'aws'}:iam::${this.account ?? UNRESOLVED}:policy${path}${this.knownText(p.ManagedPolicyName)}`;
    }
    return UNRESOLVED;
  }

  /** The `AWS::IAM::Policy` and `AWS::IAM::ManagedPolicy` resources of this stack that list `target` (a Ref) under `key`. */
  public attachedTo(target: CfnResource, key: 'Users' | 'Groups'): CfnResource[] {
    const id = this.stack.resolve(target.logicalId);
    return [...this.resources.values()].filter((r) => {
      if (r.cfnResourceType !== 'AWS::IAM::Policy' && r.cfnResourceType !== 'AWS::IAM::ManagedPolicy') return false;
      const list = propertiesOf(r)[key];
      return Array.isArray(list) && list.some((x) => isObject(x) && x.Ref === id);
    });
  }

  /**
   * The model's check request for a `Custom::PlantonIamUser`: its properties, the stack's
   * partition when known, and the documents of the managed policies and groups of this
   * stack it names, where the template decides their ARN or name (the model can only
   * match a known one).
   */
  public checkRequest(node: CfnResource): CheckRequest {
    const raw = propertiesOf(node);
    const managed: Record<string, Json> = {};
    const groups: Record<string, KnownGroup> = {};
    const addManaged = (arn: Json): string => {
      const text = this.knownText(arn);
      const declared = this.referenced(arn);
      if (declared?.cfnResourceType === 'AWS::IAM::ManagedPolicy' && !text.includes(UNRESOLVED)) {
        managed[text] = this.known(propertiesOf(declared).PolicyDocument);
      }
      return text;
    };
    for (const arn of Array.isArray(raw.ManagedPolicyArns) ? raw.ManagedPolicyArns : []) addManaged(arn);
    for (const g of Array.isArray(raw.Groups) ? raw.Groups : []) {
      const group = this.referenced(g);
      const name = this.knownText(g);
      if (group?.cfnResourceType !== 'AWS::IAM::Group' || name.includes(UNRESOLVED)) continue;
      const gp = propertiesOf(group);
      const arns = (Array.isArray(gp.ManagedPolicyArns) ? gp.ManagedPolicyArns : []).map(addManaged);
      const policies: Record<string, Json> = {};
      for (const p of Array.isArray(gp.Policies) ? gp.Policies : []) {
        if (isObject(p)) policies[this.knownText(p.PolicyName)] = this.known(p.PolicyDocument);
      }
      for (const r of this.attachedTo(group, 'Groups')) {
        const rp = propertiesOf(r);
        if (r.cfnResourceType === 'AWS::IAM::Policy') {
          policies[this.knownText(rp.PolicyName)] = this.known(rp.PolicyDocument);
        } else {
          arns.push(addManaged({ Ref: this.stack.resolve(r.logicalId) }));
        }
      }
      groups[name] = { ManagedPolicyArns: arns, Policies: policies };
    }
    return {
      Properties: this.known(raw),
      ...(this.partition !== undefined ? { Partition: this.partition } : {}),
      ...(Object.keys(managed).length > 0 ? { ManagedPolicies: managed } : {}),
      ...(Object.keys(groups).length > 0 ? { Groups: groups } : {}),
    };
  }
}
