import { CustomResource, Duration, ITaggable, Lazy, Stack, TagManager, TagType, Token, Tokenization } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct } from 'constructs';
import { isIPv6 } from 'node:net';
import type { IPlantonIamUserProvider } from './provider';

/** The user's access key, stored in Secrets Manager by the function. */
export interface PlantonIamUserAccessKeyOptions {
  /**
   * Whether the user has an access key (and a secret holding it).
   * `false` renders `DisableAccessKeys: "true"`: the function deletes the key and the secret.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Raise it to rotate the key (`KeySerial`). A lower or equal serial never rotates.
   * @default 0 (the function's default; not rendered)
   */
  readonly serial?: number;
  /**
   * The key's status (`KeyStatus`).
   * @default iam.AccessKeyStatus.ACTIVE (the function's default; not rendered)
   */
  readonly status?: iam.AccessKeyStatus;
  /**
   * Scheduled rotation (`RotationDays`): Secrets Manager rotates the key this often, with
   * the function as the rotator. A whole number of days, 1-365 (`Duration.days(90)`).
   * Needs access keys enabled and `status` ACTIVE (each rotation proves the new key
   * works by using it).
   * @default no scheduled rotation (not rendered)
   */
  readonly rotationInterval?: Duration;
}

/** Where the access key is stored. */
export interface PlantonIamUserSecretOptions {
  /**
   * The secret's name (`SecretName`).
   * @default `planton/iam-user/<UserName>` (the function's default; not rendered)
   */
  readonly name?: string;
  /**
   * The KMS key that encrypts the secret (`SecretKmsKeyId`, rendered as the key ARN).
   * @default the account's `aws/secretsmanager` key
   */
  readonly encryptionKey?: kms.IKey;
}

/** Properties of a `PlantonIamUser`. */
export interface PlantonIamUserProps {
  /**
   * The ARN of the planton-iam-user function, e.g.
   * `Fn.importValue('planton-iam-user-ServiceToken')`. Give this or `provider`.
   * @default the `provider`'s service token
   */
  readonly serviceToken?: string;
  /**
   * The function: a `PlantonIamUserProvider` of this app, or one imported with
   * `PlantonIamUserProvider.fromExportName` / `fromServiceToken`. Give this or
   * `serviceToken`. A provider of this app is deployed before the user.
   * @default `serviceToken`
   */
  readonly provider?: IPlantonIamUserProvider;
  /** 1-64 characters of `A-Za-z0-9+=,.@_-`. Changing it replaces the user. */
  readonly userName: string;
  /**
   * `/` or `/a/b/`. The function's deployment may require a prefix
   * (UserPathPrefix, `/service-accounts/` by default).
   * @default '/'
   */
  readonly path?: string;
  /**
   * At most 20. What each one grants is judged by the function at deploy time; the
   * `PlantonIamUserChecks` nag pack flags, at synth time, those it will refuse.
   * @default none
   */
  readonly managedPolicies?: iam.IManagedPolicy[];
  /**
   * Inline policies by name. Rendered at synth time, so statements added to a document
   * after the user was declared are included. All documents together (grants and the
   * source fence included): at most 2048 characters, whitespace not counted. The names
   * `PlantonSourceFence` and `CdkGrants` are reserved.
   * @default none
   */
  readonly inlinePolicies?: { [name: string]: iam.PolicyDocument };
  /**
   * At most 10. The default deployment lets users join no group (AllowedGroupNames).
   * @default none
   */
  readonly groups?: iam.IGroup[];
  /**
   * The user's permissions boundary (`PermissionsBoundary`).
   *
   * Under the default deployment (template.yaml, or `PlantonIamUserProvider` without
   * `withoutPermissionsBoundary`) the function puts the deployment's own boundary on
   * every user and REFUSES any other boundary named here: leave this unset, or name
   * exactly the deployment's boundary (its `PermissionsBoundaryArn` output, or
   * `PlantonIamUserProvider.permissionsBoundary`). Only a deployment configured without
   * a required boundary (PermissionsBoundaryArn `none`) honours another policy here.
   * @default the deployment's boundary
   */
  readonly permissionsBoundary?: iam.IManagedPolicy;
  /**
   * Tags of the user, mirrored on the secret. Tags added with `Tags.of(scope).add(...)`
   * are rendered too (an aspect's tag overrides one given here). At most 46 in all;
   * `aws:` and `planton:` prefixes are reserved.
   * @default none
   */
  readonly tags?: { [key: string]: string };
  /**
   * The access key.
   * @default an active key, never rotated on a schedule
   */
  readonly accessKey?: PlantonIamUserAccessKeyOptions;
  /**
   * Where the access key is stored.
   * @default `planton/iam-user/<UserName>`, encrypted with `aws/secretsmanager`
   */
  readonly secret?: PlantonIamUserSecretOptions;
  /**
   * The networks the user's requests may come from (`AllowedSourceIps`): IPv4 and IPv6
   * CIDRs; a bare address means that one address (`/32`, `/128`). The function writes a
   * Deny policy named `PlantonSourceFence` for requests from anywhere else (AWS services
   * acting for the user excepted). At most 100, not empty, no `/0`, no host bits, no
   * IPv4-mapped IPv6, no duplicates. Private ranges are accepted but never match: list a
   * VPC endpoint in `allowedVpcEndpoints` or the NAT gateway's public addresses instead.
   * @default no source-IP fence (not rendered)
   */
  readonly allowedSourceIps?: string[];
  /**
   * The VPC endpoints the user's requests may come through (`AllowedVpcEndpoints`): ids
   * (`vpce-` and 8 or 17 lowercase hex digits) or endpoints (their `vpcEndpointId`).
   * Part of the same fence as `allowedSourceIps`. At most 100, not empty, no duplicates.
   * @default no VPC endpoint fence (not rendered)
   */
  readonly allowedVpcEndpoints?: Array<string | ec2.IVpcEndpoint>;
  /**
   * How long CloudFormation waits for the function's answer (`ServiceTimeout`).
   * @default CloudFormation's default (3600 seconds)
   */
  readonly serviceTimeout?: Duration;
}

// The function's limits (src/spec.rs).
const MAX_USER_NAME = 64;
const MAX_IAM_NAME = 128;
const MAX_PATH = 512;
const MAX_MANAGED_POLICIES = 20;
const MAX_GROUPS = 10;
const MAX_INLINE_TOTAL = 2048;
const MAX_TAGS_TOTAL = 50;
const OWNERSHIP_TAGS = 4;
const MAX_TAGS = MAX_TAGS_TOTAL - OWNERSHIP_TAGS;
const MAX_SECRET_NAME = 256;
const MAX_ROTATION_DAYS = 365;
// The source-network fence (src/fence.rs).
const FENCE_POLICY_NAME = 'PlantonSourceFence';
const SOURCE_IPS = 'AllowedSourceIps';
const VPC_ENDPOINTS = 'AllowedVpcEndpoints';
const MAX_SOURCE_IPS = 100;
const MAX_VPC_ENDPOINTS = 100;
// The inline policy that carries what was granted to the user (`grantPrincipal`).
const GRANTS_POLICY_NAME = 'CdkGrants';
const RESOURCE_TYPE = 'Custom::PlantonIamUser';

/**
 * An IAM service-account user created by the `Custom::PlantonIamUser` function, with its
 * access key stored in Secrets Manager. The template only ever holds ARNs.
 *
 * It is a grantable principal: `bucket.grantRead(user)` adds the statement to the
 * inline policy `CdkGrants` of the user's own properties, so the function, which
 * converges the user's inline policies to the template on every Update, keeps it
 * (a policy attached from outside would be removed as drift). It honours the `Tags`
 * aspect.
 */
export class PlantonIamUser extends Construct implements iam.IPrincipal, ITaggable {
  /** The CloudFormation resource type served by the planton-iam-user function. */
  public static readonly RESOURCE_TYPE = RESOURCE_TYPE;
  /** The name of the inline policy that holds what was granted to the user. */
  public static readonly GRANTS_POLICY_NAME = GRANTS_POLICY_NAME;

  /** The user name (the resource's physical id). */
  public readonly userName: string;
  /** The user's ARN. */
  public readonly userArn: string;
  /** The user's unique id (`AIDA...`). */
  public readonly userId: string;
  /** The underlying custom resource. */
  public readonly resource: CustomResource;
  /** The service token the resource uses. */
  public readonly serviceToken: string;
  /** The user's tags (`Tags`), including those the `Tags` aspect adds. */
  public readonly tags: TagManager;
  /** The principal to grant permissions to: the user itself. */
  public readonly grantPrincipal: iam.IPrincipal;
  /** When this principal is assumed (it is a user: never). */
  public readonly assumeRoleAction: string = 'sts:AssumeRole';
  /** The account the user lives in: the stack's. */
  public readonly principalAccount?: string;

  private readonly _secret?: secretsmanager.ISecret;
  private readonly grants = new iam.PolicyDocument();
  private readonly inlinePolicies: Array<[string, iam.PolicyDocument]>;
  private readonly tagOrder: string[];

  constructor(scope: Construct, id: string, givenProps: PlantonIamUserProps) {
    super(scope, id);
    // What is rendered and checked is what was given now, even if the caller's lists
    // change later (documents are the exception: they are rendered at synth).
    const props: PlantonIamUserProps = {
      ...givenProps,
      managedPolicies: givenProps.managedPolicies && [...givenProps.managedPolicies],
      groups: givenProps.groups && [...givenProps.groups],
      inlinePolicies: givenProps.inlinePolicies && { ...givenProps.inlinePolicies },
      tags: givenProps.tags && { ...givenProps.tags },
      allowedSourceIps: copyList(givenProps.allowedSourceIps),
      allowedVpcEndpoints: copyList(givenProps.allowedVpcEndpoints),
    };
    this.inlinePolicies = Object.entries(props.inlinePolicies ?? {});
    this.tagOrder = Object.keys(props.tags ?? {});

    const violations = validateProps(props, stackPartition(Stack.of(this)));
    const fence = checkFence(props);
    violations.push(...fence.violations);
    if (violations.length > 0) {
      throw new Error(this.formatViolations(violations));
    }
    this.serviceToken = serviceTokenOf(props, this.node.path);

    this.tags = new TagManager(TagType.KEY_VALUE, RESOURCE_TYPE, props.tags);
    this.grantPrincipal = this;
    this.principalAccount = Stack.of(this).account;

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.serviceToken,
      resourceType: RESOURCE_TYPE,
      serviceTimeout: props.serviceTimeout,
      properties: renderProperties(props, {
        inlinePolicies: () => this.renderInlinePolicies(),
        tags: () => {
          const list = Object.entries(this.renderedTags()).map(([Key, Value]) => ({ Key, Value }));
          return list.length > 0 ? list : undefined;
        },
      }),
    });
    // A provider of this app (its function, role and permissions) is in place first.
    if (props.provider && Construct.isConstruct(props.provider)) {
      this.resource.node.addDependency(props.provider);
    }

    // Documents and tags can still change (statements, grants, the Tags aspect): check
    // them, and anything that needs resolving, when the app is synthesized.
    this.node.addValidation({
      validate: () => {
        const v = validateAtSynth(Stack.of(this), props, this.inlinePolicyList(), this.renderedTags(), fence.size);
        // CDK prefixes each message with the construct path.
        return v.map(([prop, rule]) => `PlantonIamUser ${prop}: ${rule}`);
      },
    });

    this.userName = this.resource.ref;
    this.userArn = this.resource.getAttString('Arn');
    this.userId = this.resource.getAttString('UserId');

    if (props.accessKey?.enabled !== false) {
      this._secret = secretsmanager.Secret.fromSecretAttributes(this, 'Secret', {
        secretCompleteArn: this.resource.getAttString('SecretArn'),
        encryptionKey: props.secret?.encryptionKey,
      });
    }
  }

  /**
   * The secret holding the access key (`{AccessKeyId, SecretAccessKey, UserName, UserArn}`),
   * from the resource's `SecretArn` attribute. Throws when access keys are disabled.
   */
  public get secret(): secretsmanager.ISecret {
    if (!this._secret) {
      throw new Error(
        `PlantonIamUser ${this.node.path}: this user has no secret because accessKey.enabled is false (DisableAccessKeys); enable access keys to read or grant its credentials`,
      );
    }
    return this._secret;
  }

  /** The user as a principal in resource policies (its ARN). */
  public get policyFragment(): iam.PrincipalPolicyFragment {
    return new iam.ArnPrincipal(this.userArn).policyFragment;
  }

  /**
   * Adds a statement to the user's `CdkGrants` inline policy, which the function
   * manages with the user's other inline policies. This is what `bucket.grantRead(user)`
   * and every other grant call.
   */
  public addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    this.grants.addStatements(statement);
    return { statementAdded: true, policyDependable: this.resource };
  }

  /** Same as `addToPrincipalPolicy`. */
  public addToPolicy(statement: iam.PolicyStatement): boolean {
    return this.addToPrincipalPolicy(statement).statementAdded;
  }

  /**
   * Lets `grantee` read the credentials: `secretsmanager:GetSecretValue` and
   * `secretsmanager:DescribeSecret` on the secret and, when the secret has its own key,
   * `kms:Decrypt` on that key through Secrets Manager (`kms:ViaService`). Throws when
   * access keys are disabled.
   */
  public grantReadCredentials(grantee: iam.IGrantable): iam.Grant {
    const secret = this.secret;
    // For a key whose policy this app controls, grantRead adds kms:Decrypt to the key
    // policy; for an imported key it silently adds nothing. The identity-policy statement
    // below covers both (IAM policies count for keys whose policy trusts the account).
    const grant = secret.grantRead(grantee);
    const key = secret.encryptionKey;
    if (!key) return grant;
    const decrypt = iam.Grant.addToPrincipal({
      grantee,
      actions: ['kms:Decrypt'],
      resourceArns: [key.keyArn],
      conditions: {
        StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` },
      },
    });
    return grant.combine(decrypt);
  }

  /** The inline documents as rendered: the given ones, then the grants (when any). */
  private inlinePolicyList(): Array<[string, iam.PolicyDocument]> {
    const list = [...this.inlinePolicies];
    if (!this.grants.isEmpty) list.push([GRANTS_POLICY_NAME, this.grants]);
    return list;
  }

  private renderInlinePolicies(): Record<string, unknown> | undefined {
    const list = this.inlinePolicyList();
    if (list.length === 0) return undefined;
    return Object.fromEntries(list.map(([name, doc]) => [name, doc.toJSON()]));
  }

  /** The tags as rendered: the props' keys in their order, then the aspects' sorted. */
  private renderedTags(): Record<string, string> {
    const values = this.tags.tagValues();
    const out: Record<string, string> = {};
    for (const k of this.tagOrder) if (k in values) out[k] = values[k];
    for (const k of Object.keys(values).sort()) if (!(k in out)) out[k] = values[k];
    return out;
  }

  private formatViolations(violations: Violation[]): string {
    return (
      violations.map(([prop, rule]) => `PlantonIamUser ${prop}: ${rule}`).join('\n') +
      `\n(in construct ${this.node.path})`
    );
  }
}

type Violation = [property: string, rule: string];

const unresolved = (v: unknown): boolean => Token.isUnresolved(v);

function serviceTokenOf(props: PlantonIamUserProps, path: string): string {
  const given = props.serviceToken;
  const fromProvider = props.provider?.serviceToken;
  if (given !== undefined && fromProvider !== undefined) {
    throw new Error(`PlantonIamUser ${path}: give serviceToken or provider, not both`);
  }
  const token = given ?? fromProvider;
  if (typeof token !== 'string') {
    throw new Error(
      `PlantonIamUser ${path}: serviceToken or provider is required (e.g. provider: PlantonIamUserProvider.fromExportName(this, 'Provider', 'planton-iam-user-ServiceToken'))`,
    );
  }
  return token;
}

/** The stack's partition when it is known at synth: given, or from its region. */
function stackPartition(stack: Stack): string | undefined {
  if (!unresolved(stack.partition)) return stack.partition;
  if (unresolved(stack.region)) return undefined;
  return RegionInfo.get(stack.region).partition;
}

/** `RotationDays` from `rotationInterval`: a number of days (maybe a token), or the rule it breaks. */
function rotationDays(interval: Duration): { days?: number; error?: string } {
  try {
    return { days: interval.toDays() };
  } catch {
    return {
      error: `must be a whole number of days 1-${MAX_ROTATION_DAYS} (days between scheduled rotations), got ${interval.toHumanString()}`,
    };
  }
}

/** Renders the function's properties; everything the user did not give is omitted. */
function renderProperties(
  props: PlantonIamUserProps,
  late: { inlinePolicies: () => unknown; tags: () => unknown },
): Record<string, unknown> {
  const p: Record<string, unknown> = { UserName: props.userName };
  if (props.path !== undefined) p.Path = props.path;
  if (props.managedPolicies && props.managedPolicies.length > 0) {
    p.ManagedPolicyArns = props.managedPolicies.map((m) => m.managedPolicyArn);
  }
  // Documents, grants and tags change until synthesis: rendered then (omitted when empty).
  p.InlinePolicies = Lazy.any({ produce: late.inlinePolicies });
  if (props.groups && props.groups.length > 0) {
    p.Groups = props.groups.map((g) => g.groupName);
  }
  if (props.permissionsBoundary) {
    p.PermissionsBoundary = props.permissionsBoundary.managedPolicyArn;
  }
  p.Tags = Lazy.any({ produce: late.tags });
  const key = props.accessKey ?? {};
  if (key.enabled === false) p.DisableAccessKeys = 'true';
  if (key.serial !== undefined) p.KeySerial = Tokenization.stringifyNumber(key.serial);
  if (key.status !== undefined) p.KeyStatus = key.status;
  if (key.rotationInterval !== undefined) {
    const days = rotationDays(key.rotationInterval).days;
    if (days !== undefined) p.RotationDays = Tokenization.stringifyNumber(days);
  }
  // Rendered even when keys are disabled: the function needs it to find the secret to remove.
  if (props.secret?.name !== undefined) p.SecretName = props.secret.name;
  if (props.secret?.encryptionKey) p.SecretKmsKeyId = props.secret.encryptionKey.keyArn;
  // Rendered as given (empty lists too, which validation refuses): the function normalises.
  if (props.allowedSourceIps !== undefined) p.AllowedSourceIps = props.allowedSourceIps;
  if (props.allowedVpcEndpoints !== undefined) {
    const list = props.allowedVpcEndpoints;
    p.AllowedVpcEndpoints = unresolved(list) ? list : list.map(vpcEndpointId);
  }
  return p;
}

function validateProps(props: PlantonIamUserProps, partition: string | undefined): Violation[] {
  const v: Violation[] = [];

  if (typeof props.userName !== 'string') {
    v.push(['UserName', 'is required']);
  } else if (!unresolved(props.userName)) {
    const rule = iamNameRule(props.userName, MAX_USER_NAME);
    if (rule) v.push(['UserName', rule]);
  }

  if (props.path !== undefined && !unresolved(props.path)) {
    const rule = pathRule(props.path);
    if (rule) v.push(['Path', rule]);
  }

  const managed = props.managedPolicies ?? [];
  if (managed.length > MAX_MANAGED_POLICIES) {
    v.push([
      'ManagedPolicyArns',
      `${managed.length} policies given; IAM attaches at most ${MAX_MANAGED_POLICIES} managed policies to a user`,
    ]);
  }
  managed.forEach((m, i) => {
    const arn = m.managedPolicyArn;
    if (!unresolved(arn)) {
      const rule = policyArnRule(arn, partition);
      if (rule) v.push([`ManagedPolicyArns[${i}]`, rule]);
    }
  });

  const inlineNames = Object.keys(props.inlinePolicies ?? {});
  for (const name of inlineNames) {
    if (unresolved(name)) continue;
    const rule = iamNameRule(name, MAX_IAM_NAME);
    if (rule) {
      v.push([`InlinePolicies.${clip(name)}`, rule]);
    } else if (name.toLowerCase() === FENCE_POLICY_NAME.toLowerCase()) {
      v.push([
        `InlinePolicies.${name}`,
        `the name ${FENCE_POLICY_NAME} is reserved for the policy this resource writes for ${SOURCE_IPS} and ${VPC_ENDPOINTS}: choose another name`,
      ]);
    } else if (name.toLowerCase() === GRANTS_POLICY_NAME.toLowerCase()) {
      v.push([
        `InlinePolicies.${name}`,
        `the name ${GRANTS_POLICY_NAME} is reserved for the statements granted to the user (grantPrincipal, e.g. bucket.grantRead(user)): choose another name`,
      ]);
    }
  }

  const groups = props.groups ?? [];
  if (groups.length > MAX_GROUPS) {
    v.push(['Groups', `${groups.length} groups given; IAM puts a user in at most ${MAX_GROUPS} groups`]);
  }
  groups.forEach((g, i) => {
    const name = g.groupName;
    if (unresolved(name)) return;
    const rule = iamNameRule(name, MAX_IAM_NAME);
    if (rule) v.push([`Groups[${i}]`, rule]);
  });

  if (props.permissionsBoundary) {
    const arn = props.permissionsBoundary.managedPolicyArn;
    if (!unresolved(arn)) {
      const rule = policyArnRule(arn, partition);
      if (rule) v.push(['PermissionsBoundary', rule]);
    }
  }

  v.push(...tagViolations(props.tags ?? {}));

  const key = props.accessKey ?? {};
  if (key.serial !== undefined && !unresolved(key.serial)) {
    if (typeof key.serial !== 'number' || !Number.isSafeInteger(key.serial) || key.serial < 0) {
      // Quoted: the function receives the number as the string it is rendered as.
      v.push(['KeySerial', `must be a whole number 0 or greater, got ${quote(String(key.serial))}`]);
    }
  }
  if (key.status !== undefined && !unresolved(key.status)) {
    const s = String(key.status).toLowerCase();
    if (s !== 'active' && s !== 'inactive') {
      v.push(['KeyStatus', `must be Active or Inactive, got ${quote(String(key.status))}`]);
    }
  }
  if (key.rotationInterval !== undefined) {
    // As the function: the range first, then (for a valid or unknown number of days)
    // the combinations that are always refused.
    const { days, error } = rotationDays(key.rotationInterval);
    const known = days !== undefined && !unresolved(days);
    if (error !== undefined) {
      v.push(['RotationDays', error]);
    } else if (known && (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > MAX_ROTATION_DAYS)) {
      v.push([
        'RotationDays',
        `must be a whole number 1-${MAX_ROTATION_DAYS} (days between scheduled rotations), got ${clip(String(days))}`,
      ]);
    } else if (key.enabled === false) {
      v.push([
        'RotationDays',
        'rotates the access key, but accessKey.enabled is false (DisableAccessKeys is true): remove one of the two',
      ]);
    } else if (key.status !== undefined && !unresolved(key.status) && String(key.status).toLowerCase() === 'inactive') {
      v.push(['RotationDays', 'needs KeyStatus Active: each rotation proves the new key works by using it']);
    }
  }

  const secretName = props.secret?.name;
  if (secretName !== undefined && !unresolved(secretName)) {
    const rule = secretNameRule(secretName);
    if (rule) v.push(['SecretName', rule]);
  }
  const kmsKey = props.secret?.encryptionKey?.keyArn;
  if (kmsKey !== undefined && !unresolved(kmsKey)) {
    if (kmsKey.length === 0 || kmsKey.length > 2048 || /[\s\p{Cc}]/u.test(kmsKey)) {
      v.push([
        'SecretKmsKeyId',
        'must be a KMS key id, key ARN, alias name or alias ARN (1-2048 characters, no spaces)',
      ]);
    }
  }
  return v;
}

function tagViolations(tags: Record<string, string>): Violation[] {
  const v: Violation[] = [];
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS) {
    v.push([
      'Tags',
      `${entries.length} tags given; at most ${MAX_TAGS} (IAM allows ${MAX_TAGS_TOTAL} per user and this resource uses ${OWNERSHIP_TAGS} for ownership)`,
    ]);
  }
  const seen = new Set<string>();
  entries.forEach(([key, value], i) => {
    const prop = `Tags[${i}]`;
    if (unresolved(key)) return;
    const kn = [...key].length;
    if (kn === 0 || kn > 128 || !TAG_CHARS.test(key)) {
      v.push([`${prop}.Key`, `must be 1-128 characters of letters, digits, spaces and _.:/=+-@ (got ${quote(key)})`]);
      return;
    }
    const lower = key.toLowerCase();
    if (lower.startsWith('aws:')) {
      v.push([`${prop}.Key`, 'the aws: prefix is reserved by AWS']);
      return;
    }
    if (lower.startsWith('planton:')) {
      v.push([`${prop}.Key`, "the planton: prefix is reserved for this resource's ownership tags"]);
      return;
    }
    if (!unresolved(value)) {
      const text = String(value ?? '');
      const vn = [...text].length;
      if (vn > 256 || !TAG_CHARS.test(text)) {
        v.push([
          `${prop}.Value`,
          `must be 0-256 characters of letters, digits, spaces and _.:/=+-@ (got ${vn} characters)`,
        ]);
        return;
      }
    }
    if (seen.has(lower)) {
      v.push([`${prop}.Key`, `${key} is given twice (tag keys are case-insensitive)`]);
      return;
    }
    seen.add(lower);
  });
  return v;
}

/**
 * Rules that need the resolved template: inline documents (shape and total size, as
 * CloudFormation will deliver them) and duplicate policies or groups.
 */
function validateAtSynth(
  stack: Stack,
  props: PlantonIamUserProps,
  inlinePolicies: Array<[string, iam.PolicyDocument]>,
  tags: Record<string, string>,
  fenceSize: PolicySize | undefined,
): Violation[] {
  const v: Violation[] = [];
  // The tags as rendered: the props' were checked when the user was declared, so what
  // is found here comes from a Tags aspect (or the two together, such as the count).
  v.push(...tagViolations(tags));
  const resolve = (x: unknown): unknown => {
    try {
      return stack.resolve(x);
    } catch {
      return undefined;
    }
  };

  const seenPolicies = new Set<string>();
  (props.managedPolicies ?? []).forEach((m, i) => {
    const resolved = resolve(m.managedPolicyArn);
    if (resolved === undefined) return;
    const k = JSON.stringify(resolved);
    if (seenPolicies.has(k)) {
      v.push([`ManagedPolicyArns[${i}]`, `${display(resolved)} is listed twice`]);
    }
    seenPolicies.add(k);
  });

  const seenGroups = new Set<string>();
  (props.groups ?? []).forEach((g, i) => {
    const resolved = resolve(g.groupName);
    if (resolved === undefined) return;
    // IAM group names are case-insensitive.
    const k = typeof resolved === 'string' ? `s:${resolved.toLowerCase()}` : JSON.stringify(resolved);
    if (seenGroups.has(k)) {
      v.push([`Groups[${i}]`, `group ${display(resolved)} is listed twice`]);
    }
    seenGroups.add(k);
  });

  let total = 0;
  let exact = true;
  for (const [name, doc] of inlinePolicies) {
    const prop = `InlinePolicies.${clip(name)}`;
    const resolved = resolve(doc.toJSON());
    if (resolved === undefined || resolved === null || typeof resolved !== 'object' || Array.isArray(resolved)) {
      v.push([prop, 'document must have a Statement (an object or a non-empty list)']);
      continue;
    }
    const d = resolved as Record<string, unknown>;
    if (isIntrinsic(d)) continue; // the whole document is computed at deploy time
    const lone = loneSurrogate(d);
    if (lone !== undefined) {
      v.push([prop, `document holds a lone surrogate (\\u${lone.toString(16)}), which is not valid JSON to the function (or to IAM)`]);
    }
    if (d.Version !== '2012-10-17') {
      v.push([prop, 'document must have "Version": "2012-10-17"']);
    }
    const st = d.Statement;
    const stOk = Array.isArray(st) ? st.length > 0 : st !== null && typeof st === 'object';
    if (!stOk) {
      v.push([prop, 'document must have a Statement (an object or a non-empty list)']);
    }
    const size = deliveredSize(d);
    if (size === undefined) continue; // its size is only known at deploy time
    total += size.chars;
    exact = exact && size.exact;
  }
  const inlineTotal = total;
  if (fenceSize) {
    // The fence is one more inline policy of the user: it shares the budget.
    total += fenceSize.chars;
    exact = exact && fenceSize.exact;
  }
  if (total > MAX_INLINE_TOTAL) {
    const atLeast = exact ? '' : 'at least ';
    if (!fenceSize) {
      v.push([
        'InlinePolicies',
        `all documents together are ${atLeast}${total} characters (whitespace not counted); IAM allows at most ${MAX_INLINE_TOTAL} per user: use a managed policy for the rest`,
      ]);
    } else {
      const fenceProp = props.allowedSourceIps !== undefined ? SOURCE_IPS : VPC_ENDPOINTS;
      const fencePolicy = `${FENCE_POLICY_NAME} policy written for ${SOURCE_IPS}/${VPC_ENDPOINTS}`;
      const fenceText = fenceSize.exact
        ? `the ${fenceSize.chars}-character ${fencePolicy}`
        : `at least ${fenceSize.chars} characters of the ${fencePolicy}`;
      v.push(
        inlineTotal > 0
          ? [
              'InlinePolicies',
              `all documents together are ${atLeast}${total} characters, including ${fenceText} (whitespace not counted); IAM allows at most ${MAX_INLINE_TOTAL} per user: use a managed policy for the rest, or list fewer, wider networks`,
            ]
          : [
              fenceProp,
              `the ${FENCE_POLICY_NAME} policy written for ${SOURCE_IPS}/${VPC_ENDPOINTS} is ${atLeast}${total} characters (whitespace not counted); IAM allows at most ${MAX_INLINE_TOTAL} for all inline policies of a user: list fewer, wider networks`,
            ],
      );
    }
  }
  return v;
}

interface PolicySize {
  readonly chars: number;
  /** false: some values are only known at deploy time and counted as empty strings. */
  readonly exact: boolean;
}

/**
 * The size the function will measure: the document's JSON as CloudFormation delivers it
 * (every scalar a string), counting characters that are not whitespace.
 *
 * Values computed at deploy time (`Ref`, `Fn::*`, dynamic references) count as an empty
 * string, so the result is then a lower bound (`exact: false`). A document using
 * `Fn::If` or `AWS::NoValue` may lose keys at deploy time: undefined (not checked).
 */
function deliveredSize(doc: unknown): { chars: number; exact: boolean } | undefined {
  let exact = true;
  let unknowable = false;
  const deliver = (x: unknown): unknown => {
    if (x === null || x === undefined) return x;
    if (Array.isArray(x)) return x.map(deliver);
    if (typeof x === 'object') {
      const o = x as Record<string, unknown>;
      if (isIntrinsic(o)) {
        if ('Fn::If' in o || JSON.stringify(o).includes('AWS::NoValue')) unknowable = true;
        exact = false;
        return '';
      }
      return Object.fromEntries(Object.entries(o).map(([k, val]) => [k, deliver(val)]));
    }
    if (typeof x === 'string') {
      if (x.includes('{{resolve:')) {
        exact = false;
        return '';
      }
      return x;
    }
    return String(x);
  };
  const delivered = deliver(doc);
  if (unknowable) return undefined;
  const json = JSON.stringify(delivered) ?? '';
  return { chars: [...json.replace(/\p{White_Space}/gu, '')].length, exact };
}

/** A resolved value for a message: `arn:${AWS::Partition}:iam::aws:policy/X` for a join. */
function display(resolved: unknown): string {
  const part = (x: unknown): string => {
    if (typeof x === 'string') return x;
    if (x && typeof x === 'object' && !Array.isArray(x)) {
      const o = x as Record<string, unknown>;
      if (typeof o.Ref === 'string') return `\${${o.Ref}}`;
      const join = o['Fn::Join'];
      if (Array.isArray(join) && join[0] === '' && Array.isArray(join[1])) return join[1].map(part).join('');
    }
    return '${...}';
  };
  const s = part(resolved);
  return s.length > 120 ? `${s.slice(0, 120)}...` : s;
}

function isIntrinsic(o: Record<string, unknown>): boolean {
  const keys = Object.keys(o);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'));
}

const IAM_NAME_CHARS = /^[A-Za-z0-9+=,.@_-]*$/;
// A UTF-16 surrogate without its pair: JavaScript strings may hold one, JSON text
// (as serde_json reads it) may not.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The first lone surrogate in any key or string of a JSON value, as a code unit. */
function loneSurrogate(x: unknown): number | undefined {
  if (typeof x === 'string') {
    const m = LONE_SURROGATE.exec(x);
    return m ? m[0].charCodeAt(0) : undefined;
  }
  if (x === null || typeof x !== 'object') return undefined;
  for (const [k, val] of Object.entries(x)) {
    const found = loneSurrogate(k) ?? loneSurrogate(val);
    if (found !== undefined) return found;
  }
  return undefined;
}
const TAG_CHARS = /^[\p{Alphabetic}\p{N} _.:/=+\-@]*$/u;
const SECRET_NAME_CHARS = /^[A-Za-z0-9/_+=.@-]*$/;

/** Shortens user input quoted back in a message, as the function does. */
function clip(s: string): string {
  const chars = [...s];
  return chars.length > 40 ? `${chars.slice(0, 40).join('')}...` : s;
}

function quote(s: string): string {
  return JSON.stringify(clip(s));
}

function iamNameRule(s: string, max: number): string | undefined {
  const n = [...s].length;
  if (n === 0 || n > max || !IAM_NAME_CHARS.test(s)) {
    return `must be 1-${max} characters of letters, digits and +=,.@_- (got ${quote(s)}, ${n} characters)`;
  }
  return undefined;
}

function pathRule(p: string): string | undefined {
  const n = [...p].length;
  if (n > MAX_PATH) return `must be at most ${MAX_PATH} characters (got ${n})`;
  const printable = /^[\x21-\x7e]*$/.test(p);
  if (p === '/' || (n >= 3 && p.startsWith('/') && p.endsWith('/') && printable && !p.includes('//'))) {
    return undefined;
  }
  return `must be / or start and end with / with printable ASCII and no empty segment between, like /service-accounts/ (got ${quote(p)})`;
}

/** `arn:{aws,aws-cn,aws-us-gov}:iam::{aws|account}:policy/{path/}{name}`. */
function policyArnRule(arn: string, stackPartition: string | undefined): string | undefined {
  const bad = `must be a managed policy ARN like arn:aws:iam::aws:policy/ReadOnlyAccess or arn:aws:iam::123456789012:policy/name (got ${quote(arn)})`;
  const parts = splitN(arn, ':', 6);
  if (parts.length !== 6 || parts[0] !== 'arn' || parts[2] !== 'iam' || parts[3] !== '') return bad;
  const partition = parts[1];
  if (!['aws', 'aws-cn', 'aws-us-gov'].includes(partition)) {
    return `partition ${quote(partition)} is not aws, aws-cn or aws-us-gov`;
  }
  const account = parts[4];
  if (!(account === 'aws' || /^[0-9]{12}$/.test(account))) return bad;
  if (!parts[5].startsWith('policy/')) return bad;
  const rest = parts[5].slice('policy/'.length);
  const slash = rest.lastIndexOf('/');
  const path = slash >= 0 ? rest.slice(0, slash + 1) : '';
  const name = slash >= 0 ? rest.slice(slash + 1) : rest;
  if (name.length === 0 || name.length > 128 || !IAM_NAME_CHARS.test(name)) return bad;
  if (path !== '' && pathRule(`/${path}`) !== undefined) return bad;
  if (stackPartition !== undefined && stackPartition !== partition) {
    return `is in partition ${partition} but the stack is in partition ${stackPartition}`;
  }
  return undefined;
}

function splitN(s: string, sep: string, n: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (out.length < n - 1) {
    const i = rest.indexOf(sep);
    if (i < 0) break;
    out.push(rest.slice(0, i));
    rest = rest.slice(i + sep.length);
  }
  out.push(rest);
  return out;
}

function secretNameRule(s: string): string | undefined {
  const n = [...s].length;
  if (n === 0 || n > MAX_SECRET_NAME || !SECRET_NAME_CHARS.test(s)) {
    return `must be 1-${MAX_SECRET_NAME} characters of letters, digits and /_+=.@- (got ${quote(s)}, ${n} characters)`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// The source-network fence: AllowedSourceIps and AllowedVpcEndpoints (src/fence.rs)
// ---------------------------------------------------------------------------------------

/** A snapshot of a list prop; a list token (one encoded element) is kept as it is. */
function copyList<T>(list: T[] | undefined): T[] | undefined {
  if (list === undefined || unresolved(list) || !Array.isArray(list)) return list;
  return [...list];
}

/** A string, or the id of an `ec2.IVpcEndpoint`-like object. */
function vpcEndpointId(e: string | ec2.IVpcEndpoint): unknown {
  if (e !== null && typeof e === 'object' && 'vpcEndpointId' in e) return e.vpcEndpointId;
  return e;
}

function kind(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'a list';
  switch (typeof x) {
    case 'boolean':
      return 'a boolean';
    case 'number':
    case 'bigint':
      return 'a number';
    case 'string':
      return 'a string';
    case 'object':
      return 'an object';
    default:
      return typeof x;
  }
}

/** The fence module's clip (50 characters) and quoting. */
function quote50(s: string): string {
  const chars = [...s];
  return JSON.stringify(chars.length > 50 ? `${chars.slice(0, 50).join('')}...` : s);
}

/**
 * The function's rules for `AllowedSourceIps` and `AllowedVpcEndpoints`, and the size of
 * the `PlantonSourceFence` policy they produce (undefined: no fence, or a refused one).
 * Entries that are tokens are not checked and count as empty strings in the size.
 */
function checkFence(props: PlantonIamUserProps): { violations: Violation[]; size?: PolicySize } {
  const v: Violation[] = [];
  const ipList = props.allowedSourceIps;
  const vpceList = props.allowedVpcEndpoints;
  if (ipList === undefined && vpceList === undefined) return { violations: v };

  let exact = true;
  const nets = new Map<string, number>(); // normalised CIDR -> first index
  let ipTokens = 0;
  if (ipList !== undefined) {
    if (unresolved(ipList)) {
      exact = false;
    } else if (!Array.isArray(ipList)) {
      v.push([SOURCE_IPS, `must be a list of strings, got ${kind(ipList)}`]);
    } else {
      if (ipList.length === 0) {
        v.push([
          SOURCE_IPS,
          'is an empty list, which would allow no network and deny every request: give at least one CIDR or omit the property for no fence',
        ]);
      }
      if (ipList.length > MAX_SOURCE_IPS) {
        v.push([
          SOURCE_IPS,
          `${ipList.length} CIDRs given; at most ${MAX_SOURCE_IPS} (and all inline policies of a user share ${MAX_INLINE_TOTAL} characters)`,
        ]);
      }
      ipList.forEach((raw: unknown, i) => {
        const prop = `${SOURCE_IPS}[${i}]`;
        if (unresolved(raw)) {
          ipTokens++;
          exact = false;
          return;
        }
        if (typeof raw !== 'string') {
          v.push([prop, `must be a string, got ${kind(raw)}`]);
          return;
        }
        const net = parseCidr(raw);
        if (typeof net === 'string') {
          v.push([prop, net]);
          return;
        }
        const key = formatNet(net);
        const first = nets.get(key);
        if (first !== undefined) {
          v.push([prop, `${key} is listed twice (also ${SOURCE_IPS}[${first}])`]);
        } else {
          nets.set(key, i);
        }
      });
    }
  }

  const endpoints = new Map<string, number>();
  let vpceTokens = 0;
  if (vpceList !== undefined) {
    if (unresolved(vpceList)) {
      exact = false;
    } else if (!Array.isArray(vpceList)) {
      v.push([VPC_ENDPOINTS, `must be a list of strings, got ${kind(vpceList)}`]);
    } else {
      if (vpceList.length === 0) {
        v.push([
          VPC_ENDPOINTS,
          'is an empty list, which would allow no network and deny every request: give at least one VPC endpoint id or omit the property for no fence',
        ]);
      }
      if (vpceList.length > MAX_VPC_ENDPOINTS) {
        v.push([
          VPC_ENDPOINTS,
          `${vpceList.length} VPC endpoints given; at most ${MAX_VPC_ENDPOINTS} (and all inline policies of a user share ${MAX_INLINE_TOTAL} characters)`,
        ]);
      }
      vpceList.forEach((entry, i) => {
        const prop = `${VPC_ENDPOINTS}[${i}]`;
        const id = vpcEndpointId(entry);
        if (unresolved(id)) {
          vpceTokens++;
          exact = false;
          return;
        }
        if (typeof id !== 'string') {
          v.push([prop, `must be a string (or an IVpcEndpoint), got ${kind(id)}`]);
          return;
        }
        const rule = vpceRule(id);
        if (rule) {
          v.push([prop, rule]);
          return;
        }
        const first = endpoints.get(id);
        if (first !== undefined) {
          v.push([prop, `${id} is listed twice (also ${VPC_ENDPOINTS}[${first}])`]);
        } else {
          endpoints.set(id, i);
        }
      });
    }
  }

  if (v.length > 0) return { violations: v };
  // The document the function writes (src/fence.rs `document`); values only known at
  // deploy time count as empty strings, so the size is then a lower bound.
  const condition: Record<string, unknown> = {};
  if (ipList !== undefined) {
    condition.NotIpAddress = { 'aws:SourceIp': [...nets.keys(), ...Array<string>(ipTokens).fill('')] };
  }
  if (vpceList !== undefined) {
    condition.StringNotEquals = { 'aws:SourceVpce': [...endpoints.keys(), ...Array<string>(vpceTokens).fill('')] };
  }
  condition.BoolIfExists = { 'aws:ViaAWSService': 'false' };
  const doc = {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'PlantonDenyOutsideAllowedNetworks',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: condition,
      },
    ],
  };
  return { violations: v, size: { chars: [...JSON.stringify(doc).replace(/\p{White_Space}/gu, '')].length, exact } };
}

/** A network with its host bits clear. */
interface Net {
  readonly v6: boolean;
  readonly bits: bigint;
  readonly prefix: number;
}

const IPV4 = /^(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

/** Dotted decimal, four numbers 0-255 without leading zeros (as Rust and AWS parse it). */
function parseIpv4(s: string): bigint | undefined {
  if (!IPV4.test(s)) return undefined;
  return s.split('.').reduce((acc, o) => (acc << 8n) | BigInt(o), 0n);
}

/** An IPv6 address (no zone id, no brackets; an IPv4 tail is allowed) as 128 bits. */
function parseIpv6(s: string): bigint | undefined {
  if (s.includes('%') || !isIPv6(s)) return undefined;
  let text = s;
  const tail = /(?:^|:)([0-9.]+)$/.exec(s);
  if (tail && tail[1].includes('.')) {
    const v4 = parseIpv4(tail[1]);
    if (v4 === undefined) return undefined;
    text = `${s.slice(0, s.length - tail[1].length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): string[] => (h === '' ? [] : h.split(':'));
  const left = groups(halves[0]);
  const right = halves.length === 2 ? groups(halves[1]) : [];
  const all = [...left, ...right];
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  if (halves.length === 2 ? all.length > 7 : all.length !== 8) return undefined;
  const full = [...left, ...Array<string>(8 - all.length).fill('0'), ...right];
  return full.reduce((acc, g) => (acc << 16n) | BigInt(`0x${g}`), 0n);
}

function formatIpv4(bits: bigint): string {
  return [24n, 16n, 8n, 0n].map((sh) => ((bits >> sh) & 0xffn).toString()).join('.');
}

/** RFC 5952, as Rust displays it: the longest run (2+) of zero groups as `::`, mapped as dotted. */
function formatIpv6(bits: bigint): string {
  if (bits >> 32n === 0xffffn) return `::ffff:${formatIpv4(bits & 0xffffffffn)}`;
  const g = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((sh) => Number((bits >> sh) & 0xffffn));
  let best = { start: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best.len) best = { start: i, len: j - i };
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (best.len < 2) return hex(g);
  return `${hex(g.slice(0, best.start))}::${hex(g.slice(best.start + best.len))}`;
}

function formatAddr(v6: boolean, bits: bigint): string {
  return v6 ? formatIpv6(bits) : formatIpv4(bits);
}

function formatNet(n: Net): string {
  return `${formatAddr(n.v6, n.bits)}/${n.prefix}`;
}

/** One `AllowedSourceIps` entry -> its network, or the rule it breaks (src/fence.rs `parse_cidr`). */
function parseCidr(raw: string): Net | string {
  const s = raw.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const prefixText = slash < 0 ? undefined : s.slice(slash + 1);
  const v4 = parseIpv4(addr);
  const v6 = v4 === undefined ? parseIpv6(addr) : undefined;
  if (v4 === undefined && v6 === undefined) {
    const octets = addr.split('.');
    if (octets.length === 4 && octets.every((o) => /^[0-9]+$/.test(o))) {
      return `${quote50(raw)} is not an IPv4 address: each of the four numbers must be 0-255 without leading zeros`;
    }
    return `${quote50(raw)} is not an IPv4 or IPv6 address or CIDR (like 203.0.113.0/24, 203.0.113.7 or 2001:db8::/32)`;
  }
  const isV6 = v4 === undefined;
  const bits = (v4 ?? v6) as bigint;
  const max = isV6 ? 128 : 32;
  const family = isV6 ? 'IPv6' : 'IPv4';
  let prefix = max;
  if (prefixText !== undefined) {
    if (!/^[0-9]{1,3}$/.test(prefixText)) {
      return `${quote50(raw)}: the prefix after / must be a number 1-${max} for ${family}`;
    }
    prefix = Number(prefixText);
    if (prefix > max) {
      return `${quote50(raw)}: prefix /${prefixText} is out of range; ${family} prefixes are 1-${max}`;
    }
  }
  if (prefix === 0) {
    return `${quote50(raw)} allows every ${family} address, so the fence would not fence anything: list the networks the user calls from (or omit ${SOURCE_IPS} for no fence)`;
  }
  const width = BigInt(max);
  const mask = ((1n << width) - 1n) ^ ((1n << (width - BigInt(prefix))) - 1n);
  const network = bits & mask;
  if (network !== bits) {
    return `${s} has host bits set beyond the /${prefix} prefix; did you mean ${formatAddr(isV6, network)}/${prefix} (the network) or ${formatAddr(isV6, bits)}/${max} (only that address)?`;
  }
  // Host bits are clear, so a mapped address has a prefix of at least 96.
  if (isV6 && bits >> 32n === 0xffffn) {
    const instead = prefix - 96 <= 0 ? 'list the IPv4 networks themselves' : `write ${formatIpv4(bits & 0xffffffffn)}/${prefix - 96}`;
    return `${s} is an IPv4-mapped IPv6 range, which aws:SourceIp never carries (IPv4 callers appear as IPv4): ${instead}`;
  }
  return { v6: isV6, bits, prefix };
}

/** `vpce-` followed by 8 (older) or 17 lowercase hex digits (src/fence.rs `vpce_rule`). */
function vpceRule(id: string): string | undefined {
  const ok = (x: string) => /^vpce-(?:[0-9a-f]{8}|[0-9a-f]{17})$/.test(x);
  if (ok(id)) return undefined;
  const lower = id.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '').replace(/[A-Z]/g, (c) => c.toLowerCase());
  if (ok(lower)) {
    return `${quote50(id)} must be written exactly as AWS shows it (lowercase, no spaces): ${lower}`;
  }
  return `${quote50(id)} is not a VPC endpoint id: vpce- followed by 8 or 17 lowercase hex digits, like vpce-0123456789abcdef0`;
}
