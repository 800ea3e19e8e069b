import { Annotations, CfnResource, CustomResource, Duration, ITaggable, Lazy, Stack, TagManager, TagType, Token, Tokenization } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { check, CheckFinding } from './model';
import type { IPlantonIamUserProvider } from './provider';
import { TemplateReader } from './template';

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
   * At most 20. What each one grants is judged by the function at deploy time; at
   * synth, the construct warns of the AWS managed policies the function refuses unless
   * its deployment trusts them (and of those a named policy of this app grants), and the
   * `PlantonIamUserChecks` nag pack reports them as errors, judging every policy this app
   * declares.
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
 *
 * When the app is synthesized, the rendered properties are checked by the function's
 * own model (compiled to WebAssembly and shipped with this package): synthesis fails
 * with the function's own `Property: rule` messages for whatever the function would
 * refuse under any settings, and warns (naming the setting) of what it refuses under
 * its default settings but a deployment can allow (a default-denied, untrusted or
 * privileged grant). The user carries the deployment's permissions boundary, which the
 * function fills in: no other can be named.
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
    // What is rendered is what was given now, even if the caller's lists change later
    // (documents are the exception: they are rendered at synth).
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
    this.serviceToken = serviceTokenOf(props, this.node.path);
    // The construct's own name for the grants: a document given under it would be
    // overwritten by (or overwrite) the grants.
    for (const [name] of this.inlinePolicies) {
      if (!Token.isUnresolved(name) && name.toLowerCase() === GRANTS_POLICY_NAME.toLowerCase()) {
        throw new Error(
          `PlantonIamUser InlinePolicies.${name}: the name ${GRANTS_POLICY_NAME} is reserved for the statements granted to the user (grantPrincipal, e.g. bucket.grantRead(user)): choose another name\n(in construct ${this.node.path})`,
        );
      }
    }

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
      }, this.node.path),
    });
    // A provider of this app (its function, role and permissions) is in place first.
    if (props.provider && Construct.isConstruct(props.provider)) {
      this.resource.node.addDependency(props.provider);
    }

    // Documents and tags can change until synthesis (statements, grants, the Tags
    // aspect): the properties are checked then, as the template will hold them.
    this.node.addValidation({ validate: () => this.check() });

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
    // A document without statements is rendered as one (CDK would drop it), so the
    // function's rule about it applies rather than the policy silently vanishing.
    return Object.fromEntries(list.map(([name, doc]) => [name, doc.toJSON() ?? { Version: '2012-10-17', Statement: [] }]));
  }

  /** The tags as rendered: the props' keys in their order, then the aspects' sorted. */
  private renderedTags(): Record<string, string> {
    const values = this.tags.tagValues();
    const out: Record<string, string> = {};
    for (const k of this.tagOrder) if (k in values) out[k] = values[k];
    for (const k of Object.keys(values).sort()) if (!(k in out)) out[k] = values[k];
    return out;
  }

  /**
   * What the function would refuse in the properties as the template holds them, in
   * its words (CDK prefixes each message with the construct path): every stage, so that
   * a refusal no deployment lifts is not hidden behind one that a setting lifts. A
   * refusal that a deployment setting lifts (a denied, trusted or privileged grant) is a
   * warning instead, naming the setting, with the id `PlantonIamUser:<property>:<setting>`
   * (`Annotations.of(user).acknowledgeWarning(id)`): only the deployment knows its
   * settings.
   */
  private check(): string[] {
    const node = this.resource.node.defaultChild as CfnResource;
    const request = new TemplateReader(Stack.of(this)).checkRequest(node);
    const answer = check({ ...request, EveryStage: true });
    if (answer.error !== undefined) {
      // A value JSON cannot carry (a lone surrogate): the function could not read it either.
      return [`PlantonIamUser: these properties cannot be sent to the function as JSON (${answer.error})`];
    }
    const errors: string[] = [];
    for (const f of answer.ok) {
      const message = `PlantonIamUser ${f.property}: ${f.rule}`;
      if (f.lifted_by === null) {
        errors.push(message);
      } else {
        const id = `PlantonIamUser:${itemOf(f, request.Properties)}:${f.lifted_by}`;
        Annotations.of(this).addWarningV2(id, `${message} ${liftedBy(f.lifted_by)}`);
      }
    }
    return errors;
  }
}

/** What a deployment sets to lift a refusal, as its template parameter and provider prop name it. */
const LIFTED_BY: Record<string, string> = {
  PLANTON_DENIED_POLICY_ARNS: "whose DeniedPolicyArns (the provider's deniedPolicyArns) leaves the policy out",
  PLANTON_ALLOW_PRIVILEGED_INLINE: "with AllowPrivilegedInline true (the provider's allowPrivilegedInline)",
  PLANTON_TRUSTED_POLICY_ARNS: "whose TrustedPolicyArns (the provider's trustedPolicyArns) lists the policy",
};

/** The end of a warning: the setting that lifts the refusal. */
function liftedBy(setting: string): string {
  return `(lifted by ${setting}: refused under the function's default settings; a deployment ${LIFTED_BY[setting] ?? 'that sets it'} lifts it)`;
}

/**
 * The property a finding is about, down to the list item: the guardrail names a denied
 * policy as `ManagedPolicyArns` with the ARN first in its rule.
 */
function itemOf(f: CheckFinding, props: unknown): string {
  const list = (props as Record<string, unknown> | undefined)?.[f.property];
  const i = Array.isArray(list) ? list.findIndex((x) => typeof x === 'string' && f.rule.startsWith(`${x} `)) : -1;
  return i >= 0 ? `${f.property}[${i}]` : f.property;
}

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

/**
 * `RotationDays` from `rotationInterval`: its number of days, a fraction included (the
 * function says what it accepts), or the token of a deploy-time number of days.
 */
function rotationDays(interval: Duration, path: string): number {
  try {
    return interval.toDays({ integral: false });
  } catch {
    // Only a deploy-time amount in another unit cannot be converted.
    throw new Error(
      `PlantonIamUser ${path}: accessKey.rotationInterval is a deploy-time value in ${interval.unitLabel()}, which cannot be rendered as RotationDays (days): give it as Duration.days(...)`,
    );
  }
}

/** Renders the function's properties; everything the user did not give is omitted. */
function renderProperties(
  props: PlantonIamUserProps,
  late: { inlinePolicies: () => unknown; tags: () => unknown },
  path: string,
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
  p.Tags = Lazy.any({ produce: late.tags });
  const key = props.accessKey ?? {};
  if (key.enabled === false) p.DisableAccessKeys = 'true';
  if (key.serial !== undefined) p.KeySerial = renderNumber(key.serial);
  if (key.status !== undefined) p.KeyStatus = key.status;
  if (key.rotationInterval !== undefined) {
    p.RotationDays = renderNumber(rotationDays(key.rotationInterval, path));
  }
  // Rendered even when keys are disabled: the function needs it to find the secret to remove.
  if (props.secret?.name !== undefined) p.SecretName = props.secret.name;
  if (props.secret?.encryptionKey) p.SecretKmsKeyId = props.secret.encryptionKey.keyArn;
  // Rendered as given (empty lists too, which the function refuses): it normalises.
  if (props.allowedSourceIps !== undefined) p.AllowedSourceIps = props.allowedSourceIps;
  if (props.allowedVpcEndpoints !== undefined) {
    const list = props.allowedVpcEndpoints;
    p.AllowedVpcEndpoints = Token.isUnresolved(list) ? list : list.map(vpcEndpointId);
  }
  return p;
}

/**
 * A number as the string CloudFormation delivers: a whole number in all its digits
 * (`String(2 ** 60)` would round them), a token as its reference.
 */
function renderNumber(n: number): string {
  if (Token.isUnresolved(n)) return Tokenization.stringifyNumber(n);
  return Number.isInteger(n) ? BigInt(n).toString() : String(n);
}

/** A snapshot of a list prop; a list token (one encoded element) is kept as it is. */
function copyList<T>(list: T[] | undefined): T[] | undefined {
  if (list === undefined || Token.isUnresolved(list) || !Array.isArray(list)) return list;
  return [...list];
}

/** A string, or the id of an `ec2.IVpcEndpoint`-like object. */
function vpcEndpointId(e: string | ec2.IVpcEndpoint): unknown {
  if (e !== null && typeof e === 'object' && 'vpcEndpointId' in e) return e.vpcEndpointId;
  return e;
}
