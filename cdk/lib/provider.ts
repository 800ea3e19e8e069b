import * as fs from 'node:fs';
import * as path from 'node:path';
import { Aws, CfnOutput, Duration, Fn, Lazy, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct, IConstruct } from 'constructs';

/** Where `Custom::PlantonIamUser` resources send their requests: the function's ARN. */
export interface IPlantonIamUserProvider extends IConstruct {
  /** The function's ARN, for `ServiceToken`. */
  readonly serviceToken: string;
}

/**
 * Properties of a `PlantonIamUserProvider`. Each mirrors the parameter of template.yaml
 * named in its description; the defaults are the template's.
 */
export interface PlantonIamUserProviderProps {
  /**
   * The function's code. Tests and special builds pass their own; otherwise the zip at
   * `codePath` is used.
   * @default lambda.Code.fromAsset(codePath)
   */
  readonly code?: lambda.Code;
  /**
   * The deployment zip (`bootstrap.zip` holding the `bootstrap` binary), built by
   * `scripts/package --arm64` (or `cargo lambda build --release --arm64 --output-format zip`).
   * @default target/lambda/planton-iam-user/bootstrap.zip of the repository this package is in
   */
  readonly codePath?: string;
  /**
   * The instruction set the zip was built for. `scripts/package` without `--arm64`
   * builds x86_64: then say `lambda.Architecture.X86_64`.
   * @default lambda.Architecture.ARM_64 (as template.yaml)
   */
  readonly architecture?: lambda.Architecture;
  /**
   * The name the function's ARN is exported as (for `PlantonIamUserProvider.fromExportName`
   * in other stacks). A stack that only uses the provider itself may keep the default.
   * @default `<stack name>-ServiceToken`, as template.yaml
   */
  readonly exportName?: string;
  /**
   * Users must live under this IAM path (UserPathPrefix; PLANTON_ALLOWED_PATH_PREFIX).
   * @default '/service-accounts/'
   */
  readonly userPathPrefix?: string;
  /**
   * The permissions boundary every user carries (PermissionsBoundaryArn;
   * PLANTON_PERMISSIONS_BOUNDARY). The function refuses a user naming another one.
   * @default a boundary made by this construct, as template.yaml's DefaultPermissionsBoundary
   */
  readonly permissionsBoundary?: iam.IManagedPolicy;
  /**
   * The deployment gives users no boundary (PermissionsBoundaryArn `none`); not
   * recommended. Users then carry no boundary (a `PlantonIamUser` cannot name one).
   * @default false
   */
  readonly withoutPermissionsBoundary?: boolean;
  /**
   * The services (IAM service prefixes such as `s3`) the default boundary lets users use
   * at all: `<prefix>:*` for each and nothing else (AllowedServices). Its explicit denies
   * hold whatever is added; docs/operations.md says what each addition costs. Only with
   * the default boundary.
   * @default template.yaml's AllowedServices: s3, dynamodb, sqs, sns, kinesis, firehose,
   * logs, cloudwatch, xray, ecr, kms, secretsmanager, ses, execute-api
   */
  readonly allowedServices?: string[];
  /**
   * IAM paths (such as `/ecs-task-roles/`) of the roles users may pass (`iam:PassRole`);
   * never `/planton-iam-user/` (PassableRolePaths; PLANTON_PASSABLE_ROLE_PATHS). The
   * default boundary lets users pass only roles under them; whatever the boundary, the
   * function's judgement accepts a `iam:PassRole` on a wildcard, limited by
   * `iam:PassedToService`, only within them.
   * @default none: no user may pass any role but one its policy names
   */
  readonly passableRolePaths?: string[];
  /**
   * Reserved concurrency of the custom-resource and rotation function, so that whoever
   * may invoke it cannot use up the account's Lambda concurrency (ReservedConcurrency).
   * 0: none.
   * @default none
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Managed policies that may never be attached (DeniedPolicyArns; PLANTON_DENIED_POLICY_ARNS).
   * @default AdministratorAccess, IAMFullAccess and PowerUserAccess of every partition
   */
  readonly deniedPolicyArns?: string[];
  /**
   * Group names users may join (AllowedGroupNames; PLANTON_ALLOWED_GROUPS).
   * @default no group, unless groupPathPrefix is given
   */
  readonly allowedGroupNames?: string[];
  /**
   * The IAM path of the groups users may join (GroupPathPrefix).
   * @default no path rule
   */
  readonly groupPathPrefix?: string;
  /**
   * Let inline policies grant what lets a user raise its own privilege
   * (AllowPrivilegedInline; PLANTON_ALLOW_PRIVILEGED_INLINE).
   * @default false
   */
  readonly allowPrivilegedInline?: boolean;
  /**
   * Managed policy ARNs (wildcards `*` and `?`) whose content was vetted and is not
   * judged (TrustedPolicyArns; PLANTON_TRUSTED_POLICY_ARNS).
   * @default none: every policy a user would hold is judged
   */
  readonly trustedPolicyArns?: string[];
  /**
   * Check every request against CloudFormation before any write (VerifyRequests;
   * PLANTON_VERIFY_REQUESTS).
   * @default true
   */
  readonly verifyRequests?: boolean;
  /**
   * Secrets must be named under this prefix, ending in `/` (SecretNamePrefix;
   * PLANTON_SECRET_NAME_PREFIX).
   * @default 'planton/'
   */
  readonly secretNamePrefix?: string;
  /**
   * The one customer managed KMS key users may name in `SecretKmsKeyId`
   * (SecretKmsKeyArn; PLANTON_SECRET_KMS_KEY_ARN).
   * @default none: secrets use aws/secretsmanager and the role gets no KMS access
   */
  readonly secretEncryptionKey?: kms.IKey;
  /**
   * How long the function's log is kept (LogRetentionDays).
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * How long the previous key keeps working after a rotation, in whole hours 0-8760
   * (RotationGraceHours; PLANTON_ROTATION_GRACE_HOURS). Zero: no grace, and no hourly rule.
   * @default Duration.hours(24)
   */
  readonly rotationGracePeriod?: Duration;
  /**
   * When the key and drift audit runs (AuditSchedule), e.g.
   * `events.Schedule.rate(Duration.days(1))`.
   * @default no scheduled audit
   */
  readonly auditSchedule?: events.Schedule;
  /**
   * The audit reports a key older than this as stale, whole days (KeyMaxAgeDays).
   * @default Duration.days(90)
   */
  readonly keyMaxAge?: Duration;
  /**
   * The audit reports a key unused for longer than this as idle, whole days (KeyMaxIdleDays).
   * @default Duration.days(90)
   */
  readonly keyMaxIdle?: Duration;
  /**
   * The audit makes idle keys Inactive instead of only reporting them
   * (AuditDeactivateIdleKeys; PLANTON_AUDIT_DEACTIVATE).
   * @default false
   */
  readonly auditDeactivatesIdleKeys?: boolean;
  /**
   * Templates may adopt an existing user nobody owns (AdoptExistingUser;
   * AllowAdoption, PLANTON_ALLOW_ADOPTION).
   * @default false
   */
  readonly allowAdoption?: boolean;
  /**
   * The EventBridge bus (name, this account and region) that gets one event per change
   * a key's owners care about; `none` for no events (EventBusName; PLANTON_EVENT_BUS).
   * @default 'default'
   */
  readonly eventBusName?: string;
  /**
   * The user tag whose value every event carries as `detail.owner` (OwnerTagKey;
   * PLANTON_OWNER_TAG_KEY).
   * @default 'owner'
   */
  readonly ownerTagKey?: string;
}

const DEFAULT_ZIP = path.join('target', 'lambda', 'planton-iam-user', 'bootstrap.zip');
const DEFAULT_DENIED = ['aws', 'aws-cn', 'aws-us-gov'].flatMap((p) =>
  ['AdministratorAccess', 'IAMFullAccess', 'PowerUserAccess'].map((n) => `arn:${p}:iam::aws:policy/${n}`),
);
// The names template.yaml gives the function and what belongs to it; the role and the
// default boundary name them by the same strings (a reference would be circular).
const FUNCTION_NAME = '${AWS::StackName}-planton-iam-user';
const SCHEDULED_FUNCTION_NAME = '${AWS::StackName}-planton-audit';
const functionArn = (name: string) => `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:${name}`;
const FUNCTION_ARN = functionArn(FUNCTION_NAME);
const SCHEDULED_FUNCTION_ARN = functionArn(SCHEDULED_FUNCTION_NAME);
const PATH_PATTERN = /^\/([\x21-\x7e]*\/)?$/;
const SECRET_PREFIX_PATTERN = /^[A-Za-z0-9/_+=.@-]*[A-Za-z0-9_+=.@-][A-Za-z0-9/_+=.@-]*\/$/;
const GROUP_NAME_PATTERN = /^[A-Za-z0-9+=,.@_-]+$/;
const SERVICE_PREFIX_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const ROLE_PATH_PATTERN = /^\/([A-Za-z0-9_+=.@-]+\/)*$/;
/** template.yaml's AllowedServices default. */
const DEFAULT_ALLOWED_SERVICES: readonly string[] = [
  's3', 'dynamodb', 'sqs', 'sns', 'kinesis', 'firehose', 'logs', 'cloudwatch', 'xray', 'ecr', 'kms',
  'secretsmanager', 'ses', 'execute-api',
];
const PROVIDER_MARK = Symbol.for('planton-iam-user-cdk.PlantonIamUserProvider');

/**
 * The planton-iam-user function itself, deployed by CDK from its zip: what template.yaml
 * deploys with SAM (the custom-resource function and the scheduled function, their
 * roles with the same statements, the log group, the default permissions boundary, the
 * rotation permission, the grace-period rule, the optional audit rule, the ServiceToken
 * export), so a CDK-only app needs no SAM step. One per stack (its names derive from the
 * stack name); other stacks import it by export name. template.yaml's CloudWatch alarms
 * are not made here.
 */
export class PlantonIamUserProvider extends Construct implements IPlantonIamUserProvider {
  /** template.yaml's export when its stack is named `planton-iam-user`. */
  public static readonly DEFAULT_EXPORT_NAME = 'planton-iam-user-ServiceToken';

  /**
   * A provider deployed elsewhere, by the name its ServiceToken is exported as: the SAM
   * stack's `<stack name>-ServiceToken` (`planton-iam-user-ServiceToken`, or
   * `serverlessrepo-planton-iam-user-ServiceToken` when installed from the Serverless
   * Application Repository), or a `PlantonIamUserProvider`'s `exportName`.
   * @param exportName default `PlantonIamUserProvider.DEFAULT_EXPORT_NAME`
   */
  public static fromExportName(scope: Construct, id: string, exportName?: string): IPlantonIamUserProvider {
    return new ImportedProvider(scope, id, Fn.importValue(exportName ?? PlantonIamUserProvider.DEFAULT_EXPORT_NAME));
  }

  /** A provider deployed elsewhere, by the function's ARN. */
  public static fromServiceToken(scope: Construct, id: string, serviceToken: string): IPlantonIamUserProvider {
    return new ImportedProvider(scope, id, serviceToken);
  }

  /** The function's ARN. */
  public readonly serviceToken: string;
  /** The function that answers custom-resource requests and rotates keys. */
  public readonly function: lambda.Function;
  /** Its role. */
  public readonly role: iam.Role;
  /** The function that runs the scheduled audit and the rotation-grace sweep. */
  public readonly scheduledFunction: lambda.Function;
  /** Its role: reads users, keys and secret descriptions; deactivates keys. */
  public readonly scheduledRole: iam.Role;
  /** The boundary every user gets; undefined with `withoutPermissionsBoundary`. */
  public readonly permissionsBoundary?: iam.IManagedPolicy;
  /** The name the service token is exported as. */
  public readonly exportName: string;

  constructor(scope: Construct, id: string, props: PlantonIamUserProviderProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    const others = stack.node.findAll().filter((c) => c !== this && (c as unknown as Record<symbol, unknown>)[PROVIDER_MARK]);
    if (others.length > 0) {
      throw new Error(
        `PlantonIamUserProvider ${this.node.path}: ${others[0].node.path} is this stack's provider already; there can be one per stack (its function and rules are named after the stack): share it, or import it with PlantonIamUserProvider.fromExportName`,
      );
    }
    Object.defineProperty(this, PROVIDER_MARK, { value: true });
    const problems = checkProps(props, stack);
    if (problems.length > 0) {
      throw new Error(problems.map((p) => `PlantonIamUserProvider ${p}`).join('\n') + `\n(in construct ${this.node.path})`);
    }

    const userPathPrefix = props.userPathPrefix ?? '/service-accounts/';
    const secretNamePrefix = props.secretNamePrefix ?? 'planton/';
    const deniedPolicyArns = props.deniedPolicyArns ?? DEFAULT_DENIED;
    const allowedGroups = props.allowedGroupNames ?? [];
    const graceHours = (props.rotationGracePeriod ?? Duration.hours(24)).toHours();
    const sub = (s: string) => Fn.sub(s);
    const userArns = (prefix: string) => `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:user${prefix}*`;
    const secretArns = `arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${secretNamePrefix}*`;
    const functionArns = [sub(FUNCTION_ARN), sub(`${FUNCTION_ARN}:*`)];

    if (!props.withoutPermissionsBoundary) {
      this.permissionsBoundary =
        props.permissionsBoundary ??
        defaultBoundary(this, {
          secretNamePrefix,
          allowedServices: props.allowedServices ?? [...DEFAULT_ALLOWED_SERVICES],
          passableRolePaths: props.passableRolePaths ?? [],
          secretKeyArn: props.secretEncryptionKey?.keyArn,
        });
    }
    const boundaryArn = this.permissionsBoundary?.managedPolicyArn;

    const statements: iam.PolicyStatement[] = [
      new iam.PolicyStatement({
        sid: 'ManageServiceAccountUsers',
        actions: [
          'iam:GetUser',
          'iam:DeleteUser',
          'iam:UpdateUser',
          'iam:TagUser',
          'iam:UntagUser',
          'iam:ListAttachedUserPolicies',
          'iam:GetUserPolicy',
          'iam:ListUserPolicies',
          'iam:ListGroupsForUser',
          'iam:CreateAccessKey',
          'iam:DeleteAccessKey',
          'iam:UpdateAccessKey',
          'iam:ListAccessKeys',
          'iam:GetAccessKeyLastUsed',
          'iam:GetLoginProfile',
          'iam:DeleteLoginProfile',
          'iam:ListMFADevices',
          'iam:DeactivateMFADevice',
          'iam:ListSigningCertificates',
          'iam:DeleteSigningCertificate',
          'iam:ListSSHPublicKeys',
          'iam:DeleteSSHPublicKey',
          'iam:ListServiceSpecificCredentials',
          'iam:DeleteServiceSpecificCredential',
        ],
        resources: [userArns(userPathPrefix)],
      }),
      // A Delete (and an Update converging drift) removes every membership its user has,
      // a hand-added one outside the allowed groups included: DeleteUser fails while any
      // remains. IAM authorizes RemoveUserFromGroup on the group alone (template.yaml).
      new iam.PolicyStatement({
        sid: 'RemoveMembershipsOfManagedUsers',
        actions: ['iam:RemoveUserFromGroup'],
        resources: [`arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:group/*`],
      }),
      new iam.PolicyStatement({
        sid: 'BoundedUserWrites',
        actions: USER_WRITES,
        resources: [userArns(userPathPrefix)],
        conditions: boundaryArn ? { StringEquals: { 'iam:PermissionsBoundary': boundaryArn } } : undefined,
      }),
    ];
    if (deniedPolicyArns.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'DenyAttachingDeniedPolicies',
          effect: iam.Effect.DENY,
          actions: ['iam:AttachUserPolicy'],
          resources: [userArns('/')],
          conditions: { ArnEquals: { 'iam:PolicyARN': deniedPolicyArns } },
        }),
      );
    }
    statements.push(
      new iam.PolicyStatement({
        sid: 'UserSecrets',
        actions: [
          'secretsmanager:CreateSecret',
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecret',
          'secretsmanager:DeleteSecret',
          'secretsmanager:RestoreSecret',
          'secretsmanager:TagResource',
          'secretsmanager:UntagResource',
        ],
        resources: [secretArns],
      }),
      new iam.PolicyStatement({
        sid: 'RotationSteps',
        actions: ['secretsmanager:UpdateSecretVersionStage', 'secretsmanager:CancelRotateSecret'],
        resources: [secretArns],
      }),
      new iam.PolicyStatement({
        sid: 'ScheduleRotationWithThisFunctionOnly',
        actions: ['secretsmanager:RotateSecret'],
        resources: [secretArns],
        conditions: { ArnLike: { 'secretsmanager:RotationLambdaARN': functionArns } },
      }),
      new iam.PolicyStatement({
        sid: 'InvokeThisFunctionForRotation',
        actions: ['lambda:InvokeFunction'],
        resources: functionArns,
      }),
      new iam.PolicyStatement({
        sid: 'JudgeManagedPolicies',
        actions: ['iam:GetPolicy', 'iam:GetPolicyVersion'],
        resources: [
          `arn:${Aws.PARTITION}:iam::aws:policy/*`,
          `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:policy/*`,
        ],
      }),
    );
    const eventBus = props.eventBusName ?? 'default';
    const publishEvents = () =>
      new iam.PolicyStatement({
        sid: 'PublishEventsForKeyOwners',
        actions: ['events:PutEvents'],
        resources: [`arn:${Aws.PARTITION}:events:${Aws.REGION}:${Aws.ACCOUNT_ID}:event-bus/${eventBus}`],
      });
    if (eventBus !== 'none') {
      statements.push(publishEvents());
    }
    if (props.verifyRequests !== false) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'VerifyRequestsWithCloudFormation',
          actions: ['cloudformation:DescribeStacks', 'cloudformation:DescribeStackResource'],
          resources: [`arn:${Aws.PARTITION}:cloudformation:${Aws.REGION}:${Aws.ACCOUNT_ID}:stack/*`],
        }),
      );
    }
    if (boundaryArn) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'NeverRemoveTheBoundary',
          effect: iam.Effect.DENY,
          actions: ['iam:DeleteUserPermissionsBoundary'],
          resources: [userArns('/')],
        }),
        new iam.PolicyStatement({
          sid: 'DenyUnboundedUserWrites',
          effect: iam.Effect.DENY,
          actions: USER_WRITES,
          resources: [userArns('/')],
          conditions: { StringNotEquals: { 'iam:PermissionsBoundary': boundaryArn } },
        }),
      );
    } else {
      statements.push(
        new iam.PolicyStatement({
          sid: 'RemoveBoundaries',
          actions: ['iam:DeleteUserPermissionsBoundary'],
          resources: [userArns(userPathPrefix)],
        }),
      );
    }
    const groupActions = [
      'iam:AddUserToGroup',
      'iam:RemoveUserFromGroup',
      'iam:ListAttachedGroupPolicies',
      'iam:ListGroupPolicies',
      'iam:GetGroupPolicy',
    ];
    if (allowedGroups.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'AllowedGroupMembership',
          actions: groupActions,
          resources: [
            ...allowedGroups.map((g) => `arn:*:iam::*:group/${g}`),
            ...allowedGroups.map((g) => `arn:*:iam::*:group/*/${g}`),
          ],
        }),
      );
    }
    if (props.groupPathPrefix !== undefined) {
      const groupArns = `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:group${props.groupPathPrefix}*`;
      statements.push(
        allowedGroups.length > 0
          ? new iam.PolicyStatement({
              // Not RemoveUserFromGroup: RemoveMembershipsOfManagedUsers allows it anywhere.
              sid: 'GroupsOnlyUnderGroupPathPrefix',
              effect: iam.Effect.DENY,
              actions: groupActions.filter((a) => a !== 'iam:RemoveUserFromGroup'),
              notResources: [groupArns],
            })
          : new iam.PolicyStatement({ sid: 'GroupMembershipUnderGroupPathPrefix', actions: groupActions, resources: [groupArns] }),
      );
    }
    if (props.secretEncryptionKey) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'EncryptSecretsWithTheConfiguredKey',
          actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [props.secretEncryptionKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Aws.REGION}.amazonaws.com` } },
        }),
      );
    }

    // The ARN is arn:...:role/planton-iam-user/<generated name>: the default boundary
    // denies passing or assuming any role under this path.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      path: '/planton-iam-user/',
      // What SAM gives every function role: writing its own log.
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole')],
      inlinePolicies: { PlantonIamUser: new iam.PolicyDocument({ statements }) },
    });

    const logGroup = new logs.LogGroup(this, 'LogGroup', {
      logGroupName: sub(`/aws/lambda/${FUNCTION_NAME}`),
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const allowedGroupsEnv = allowedGroups.length > 0 ? allowedGroups.join(',') : props.groupPathPrefix !== undefined ? '' : 'none';
    const code = props.code ?? defaultCode(props.codePath);
    const common = {
      code,
      handler: 'bootstrap',
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: props.architecture ?? lambda.Architecture.ARM_64,
      // Peak RSS measured under 32 MB (docs/benchmarks.md); 128 MB leaves room.
      memorySize: 128,
      // No AWS call starts after 290 s (PLANTON_DEADLINE_MARGIN_MS): a stack never waits.
      timeout: Duration.seconds(300),
      loggingFormat: lambda.LoggingFormat.JSON,
      // One log for the deployment: both functions write to it.
      logGroup,
    };
    // The deployment's own roles, whose IAM calls the watch does not answer.
    const ownRoleArns = Lazy.string({
      produce: () => [this.role.roleArn, this.scheduledRole.roleArn].join(','),
    });
    this.function = new lambda.Function(this, 'Function', {
      ...common,
      // Whoever may invoke the function can occupy at most this many of the account's
      // concurrent executions (template.yaml's ReservedConcurrency).
      reservedConcurrentExecutions: props.reservedConcurrentExecutions ? props.reservedConcurrentExecutions : undefined,
      functionName: sub(FUNCTION_NAME),
      description: 'Custom::PlantonIamUser provider',
      role: this.role,
      environment: {
        PLANTON_SERVES: 'custom-resource,rotation',
        // The watch of hand-made changes (template.yaml's WatchRule) is not deployed by
        // this provider; its settings are mirrored so both deployments read the same.
        PLANTON_CHANGE_RESPONSE: 'quarantine',
        PLANTON_OWN_ROLE_ARNS: ownRoleArns,
        PLANTON_DEADLINE_MARGIN_MS: '10000',
        PLANTON_ALLOWED_PATH_PREFIX: userPathPrefix,
        PLANTON_PERMISSIONS_BOUNDARY: boundaryArn ?? '',
        PLANTON_DENIED_POLICY_ARNS: deniedPolicyArns.join(','),
        PLANTON_ALLOWED_GROUPS: allowedGroupsEnv,
        PLANTON_ALLOW_PRIVILEGED_INLINE: String(props.allowPrivilegedInline ?? false),
        PLANTON_TRUSTED_POLICY_ARNS: (props.trustedPolicyArns ?? []).join(','),
        // Whatever the boundary: the judgement accepts a PassRole on a wildcard, limited by
        // iam:PassedToService, only within these paths.
        PLANTON_PASSABLE_ROLE_PATHS: (props.passableRolePaths ?? []).join(','),
        PLANTON_VERIFY_REQUESTS: String(props.verifyRequests ?? true),
        PLANTON_ALLOW_ADOPTION: String(props.allowAdoption ?? false),
        PLANTON_EVENT_BUS: eventBus,
        PLANTON_OWNER_TAG_KEY: props.ownerTagKey ?? 'owner',
        PLANTON_SECRET_NAME_PREFIX: secretNamePrefix,
        PLANTON_SECRET_KMS_KEY_ARN: props.secretEncryptionKey?.keyArn ?? 'none',
        PLANTON_ROTATION_GRACE_HOURS: String(graceHours),
      },
    });

    // Scheduled work (the audit and the grace sweep) runs in a second function of the
    // same code, under a role that can read users, keys and the secrets' descriptions
    // and deactivate keys, and nothing else (template.yaml's ScheduledFunction).
    this.scheduledRole = new iam.Role(this, 'ScheduledRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      path: '/planton-iam-user/',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole')],
      inlinePolicies: {
        PlantonIamUserSchedule: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({ sid: 'ListUsers', actions: ['iam:ListUsers'], resources: ['*'] }),
            new iam.PolicyStatement({
              sid: 'ReadManagedUsers',
              actions: [
                'iam:GetUser',
                'iam:ListUserTags',
                'iam:ListAccessKeys',
                'iam:GetAccessKeyLastUsed',
                'iam:ListAttachedUserPolicies',
                'iam:ListUserPolicies',
                'iam:GetUserPolicy',
                'iam:ListGroupsForUser',
              ],
              resources: [userArns(userPathPrefix)],
            }),
            new iam.PolicyStatement({ sid: 'DeactivateKeys', actions: ['iam:UpdateAccessKey'], resources: [userArns(userPathPrefix)] }),
            new iam.PolicyStatement({ sid: 'DescribeManagedSecrets', actions: ['secretsmanager:DescribeSecret'], resources: [secretArns] }),
            // The audit reads the account in pages (template.yaml's ReadTheAccountInPages
            // and ListSecretsInPages): these actions have no resource type.
            new iam.PolicyStatement({
              sid: 'ReadTheAccountInPages',
              actions: ['iam:GetAccountAuthorizationDetails', 'iam:GenerateCredentialReport', 'iam:GetCredentialReport'],
              resources: ['*'],
            }),
            new iam.PolicyStatement({ sid: 'ListSecretsInPages', actions: ['secretsmanager:ListSecrets'], resources: ['*'] }),
            new iam.PolicyStatement({
              sid: 'SendResultsToTheDefaultBus',
              actions: ['events:PutEvents'],
              resources: [`arn:${Aws.PARTITION}:events:${Aws.REGION}:${Aws.ACCOUNT_ID}:event-bus/default`],
            }),
            ...(eventBus !== 'none' ? [publishEvents()] : []),
          ],
        }),
      },
    });
    this.scheduledFunction = new lambda.Function(this, 'ScheduledFunction', {
      ...common,
      functionName: sub(SCHEDULED_FUNCTION_NAME),
      description: 'Custom::PlantonIamUser audit and rotation-grace sweep',
      role: this.scheduledRole,
      environment: {
        PLANTON_SERVES: 'schedule',
        PLANTON_CHANGE_RESPONSE: 'quarantine',
        PLANTON_OWN_ROLE_ARNS: ownRoleArns,
        // The watch judges a user's grants as the custom-resource function does.
        PLANTON_PERMISSIONS_BOUNDARY: boundaryArn ?? '',
        PLANTON_DENIED_POLICY_ARNS: deniedPolicyArns.join(','),
        PLANTON_ALLOW_PRIVILEGED_INLINE: String(props.allowPrivilegedInline ?? false),
        PLANTON_TRUSTED_POLICY_ARNS: (props.trustedPolicyArns ?? []).join(','),
        PLANTON_PASSABLE_ROLE_PATHS: (props.passableRolePaths ?? []).join(','),
        PLANTON_EVENT_BUS: eventBus,
        PLANTON_OWNER_TAG_KEY: props.ownerTagKey ?? 'owner',
        PLANTON_DEADLINE_MARGIN_MS: '10000',
        PLANTON_ALLOWED_PATH_PREFIX: userPathPrefix,
        PLANTON_KEY_MAX_AGE_DAYS: String((props.keyMaxAge ?? Duration.days(90)).toDays()),
        PLANTON_KEY_MAX_IDLE_DAYS: String((props.keyMaxIdle ?? Duration.days(90)).toDays()),
        PLANTON_AUDIT_DEACTIVATE: String(props.auditDeactivatesIdleKeys ?? false),
        PLANTON_ROTATION_GRACE_HOURS: String(graceHours),
        // The audit lists the managed secrets with this name prefix as a filter.
        PLANTON_SECRET_NAME_PREFIX: secretNamePrefix,
      },
    });
    this.serviceToken = this.function.functionArn;

    // Secrets Manager invokes the function to rotate the secrets under the prefix.
    this.function.addPermission('RotationInvokePermission', {
      principal: new iam.ServicePrincipal('secretsmanager.amazonaws.com'),
      action: 'lambda:InvokeFunction',
      sourceAccount: Aws.ACCOUNT_ID,
      sourceArn: secretArns,
    });

    if (props.auditSchedule) {
      new events.Rule(this, 'AuditRule', {
        ruleName: sub('${AWS::StackName}-planton-audit'),
        description: sub('Key age, key use and drift audit of ${AWS::StackName}-planton-iam-user'),
        schedule: props.auditSchedule,
        targets: [new targets.LambdaFunction(this.scheduledFunction)],
      });
    }
    if (graceHours > 0) {
      new events.Rule(this, 'GraceRule', {
        ruleName: sub('${AWS::StackName}-planton-grace'),
        description: sub('Ends expired key-rotation grace periods of ${AWS::StackName}-planton-iam-user'),
        schedule: events.Schedule.rate(Duration.hours(1)),
        targets: [
          new targets.LambdaFunction(this.scheduledFunction, {
            event: events.RuleTargetInput.fromObject({
              'version': '0',
              'detail-type': 'Scheduled Event',
              'source': 'aws.events',
              'detail': { 'planton-task': 'end-rotation-grace' },
            }),
          }),
        ],
      });
    }

    // A long audit continues in the next invocation: the function's result goes to the
    // default bus, and this rule starts the next run where it says (template.yaml's
    // AuditResults and AuditContinueRule).
    new lambda.CfnEventInvokeConfig(this, 'AuditResults', {
      functionName: this.scheduledFunction.functionName,
      qualifier: '$LATEST',
      maximumRetryAttempts: 0,
      destinationConfig: {
        onSuccess: { destination: `arn:${Aws.PARTITION}:events:${Aws.REGION}:${Aws.ACCOUNT_ID}:event-bus/default` },
      },
    });
    new events.Rule(this, 'AuditContinueRule', {
      ruleName: sub('${AWS::StackName}-planton-audit-continue'),
      eventPattern: {
        source: ['lambda'],
        detailType: ['Lambda Function Invocation Result - Success'],
        resources: events.Match.prefix(this.scheduledFunction.functionArn),
        detail: { responsePayload: { continuation: { 'resume-from': events.Match.exists() } } },
      },
      targets: [
        new targets.LambdaFunction(this.scheduledFunction, {
          event: events.RuleTargetInput.fromObject({
            'version': '0',
            'detail-type': 'Scheduled Event',
            'source': 'aws.events',
            'detail': { 'resume-from': events.EventField.fromPath('$.detail.responsePayload.continuation.resume-from') },
          }),
        }),
      ],
    });

    this.exportName = props.exportName ?? `${stack.stackName}-ServiceToken`;
    new CfnOutput(this, 'ServiceToken', {
      description: 'The ServiceToken for Custom::PlantonIamUser resources.',
      value: this.serviceToken,
      exportName: this.exportName,
    });
    new CfnOutput(this, 'PermissionsBoundaryArn', {
      description: 'The permissions boundary every user gets (PLANTON_PERMISSIONS_BOUNDARY), or none.',
      value: boundaryArn ?? 'none',
    });
  }
}

/** The six user writes IAM can condition on the user's permissions boundary. */
const USER_WRITES = [
  'iam:CreateUser',
  'iam:PutUserPermissionsBoundary',
  'iam:AttachUserPolicy',
  'iam:DetachUserPolicy',
  'iam:PutUserPolicy',
  'iam:DeleteUserPolicy',
];

class ImportedProvider extends Construct implements IPlantonIamUserProvider {
  constructor(
    scope: Construct,
    id: string,
    public readonly serviceToken: string,
  ) {
    super(scope, id);
  }
}

function checkProps(props: PlantonIamUserProviderProps, stack: Stack): string[] {
  const out: string[] = [];
  const known = (v: unknown) => v !== undefined && !Token.isUnresolved(v);
  if (props.code && props.codePath !== undefined) out.push('code and codePath: give one of the two');
  if (props.permissionsBoundary && props.withoutPermissionsBoundary) {
    out.push('permissionsBoundary and withoutPermissionsBoundary: give one of the two');
  }
  if (known(props.userPathPrefix) && !PATH_PATTERN.test(props.userPathPrefix!)) {
    out.push(`userPathPrefix: must be an IAM path such as /service-accounts/ (starts and ends with /), got ${JSON.stringify(props.userPathPrefix)}`);
  }
  if (known(props.groupPathPrefix) && !PATH_PATTERN.test(props.groupPathPrefix!)) {
    out.push(`groupPathPrefix: must be an IAM path such as /service-account-groups/, got ${JSON.stringify(props.groupPathPrefix)}`);
  }
  if (known(props.secretNamePrefix) && !SECRET_PREFIX_PATTERN.test(props.secretNamePrefix!)) {
    out.push(`secretNamePrefix: must be a secret name prefix ending in /, such as planton/, got ${JSON.stringify(props.secretNamePrefix)}`);
  }
  if (props.allowedServices !== undefined && (props.permissionsBoundary || props.withoutPermissionsBoundary)) {
    out.push('allowedServices shapes the default boundary only: not with permissionsBoundary or withoutPermissionsBoundary');
  }
  if (props.allowedServices !== undefined && props.allowedServices.length === 0) {
    out.push('allowedServices: name at least one service prefix, such as s3');
  }
  for (const s of props.allowedServices ?? []) {
    if (known(s) && !SERVICE_PREFIX_PATTERN.test(s)) {
      out.push(`allowedServices: ${JSON.stringify(s)} is not an IAM service prefix such as s3 (lower-case letters, digits and hyphens; no wildcards)`);
    }
  }
  for (const p of props.passableRolePaths ?? []) {
    if (known(p) && !ROLE_PATH_PATTERN.test(p)) {
      out.push(`passableRolePaths: ${JSON.stringify(p)} is not an IAM path such as /app-roles/ (starts and ends with /; no wildcards)`);
    } else if (p === '/planton-iam-user/') {
      out.push('passableRolePaths: /planton-iam-user/ holds this deployment\'s roles, which no user may pass');
    }
  }
  const rc = props.reservedConcurrentExecutions;
  if (known(rc) && (!Number.isInteger(rc) || rc! < 0 || rc! > 9999)) {
    out.push(`reservedConcurrentExecutions: must be a whole number from 0 to 9999, got ${rc}`);
  }
  for (const g of props.allowedGroupNames ?? []) {
    if (known(g) && !GROUP_NAME_PATTERN.test(g)) out.push(`allowedGroupNames: ${JSON.stringify(g)} is not a group name`);
  }
  const whole = (d: Duration | undefined, unit: 'hours' | 'days', name: string, min: number, max: number) => {
    if (d === undefined) return;
    let n: number;
    try {
      n = unit === 'hours' ? d.toHours() : d.toDays();
    } catch {
      out.push(`${name}: must be a whole number of ${unit}, got ${d.toHumanString()}`);
      return;
    }
    if (!Token.isUnresolved(n) && (n < min || n > max)) out.push(`${name}: must be ${min}-${max} ${unit}, got ${n}`);
  };
  whole(props.rotationGracePeriod, 'hours', 'rotationGracePeriod', 0, 8760);
  whole(props.keyMaxAge, 'days', 'keyMaxAge', 1, 36500);
  whole(props.keyMaxIdle, 'days', 'keyMaxIdle', 1, 36500);
  // The function is named <stack name>-planton-iam-user: at most 64 characters.
  if (!Token.isUnresolved(stack.stackName) && stack.stackName.length > 47) {
    out.push(`the stack name ${stack.stackName} is longer than 47 characters: the function is named <stack name>-planton-iam-user (at most 64)`);
  }
  return out;
}

/** The zip at `codePath`, or the repository's default build output. */
function defaultCode(codePath: string | undefined): lambda.Code {
  const zip = codePath ?? defaultZip();
  if (zip === undefined || !fs.existsSync(zip)) {
    throw new Error(
      `PlantonIamUserProvider: no function code: ${zip ?? DEFAULT_ZIP} does not exist. Build it with scripts/package --arm64, or pass codePath or code`,
    );
  }
  return lambda.Code.fromAsset(zip);
}

/** target/lambda/planton-iam-user/bootstrap.zip of the repository around this package. */
function defaultZip(): string | undefined {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'Cargo.toml')) && fs.existsSync(path.join(dir, 'template.yaml'))) {
      return path.join(dir, DEFAULT_ZIP);
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

interface BoundarySettings {
  readonly secretNamePrefix: string;
  readonly allowedServices: string[];
  readonly passableRolePaths: string[];
  readonly secretKeyArn?: string;
}

/** template.yaml's DefaultPermissionsBoundary. */
function defaultBoundary(scope: Construct, settings: BoundarySettings): iam.IManagedPolicy {
  const { secretNamePrefix, allowedServices, passableRolePaths, secretKeyArn } = settings;
  const s = (x: string) => Fn.sub(x);
  // As template.yaml: wildcards for partition and account (a role is passed in its own account).
  const passableRoles = passableRolePaths.map((p) => `arn:*:iam::*:role${p}*`);
  const identityCenterWrites = [
    ...['Add', 'Associate', 'Attach', 'Create', 'Delete', 'Detach', 'Disassociate', 'Import', 'Provision', 'Put', 'Remove',
      'Start', 'Tag', 'Untag', 'Update'].map((v) => `sso:${v}*`),
    ...['Add', 'Complete', 'Create', 'Delete', 'Disable', 'Enable', 'Import', 'Remove', 'Start', 'Update', 'Verify'].map(
      (v) => `sso-directory:${v}*`,
    ),
    ...['Add', 'Create', 'Delete', 'Remove', 'Reserve', 'Update'].map((v) => `identitystore:${v}*`),
    'identitystore-auth:BatchDelete*',
    'sso-oauth:*',
  ];
  const iamWrites = [
    'Accept', 'Add', 'Associate', 'Attach', 'Change', 'Create', 'Deactivate', 'Delete', 'Detach', 'Disable',
    'Enable', 'Put', 'Reject', 'Remove', 'Reset', 'Resync', 'Send', 'Set', 'Tag', 'Untag', 'Update', 'Upload',
  ].map((v) => `iam:${v}*`);
  const orgWrites = [
    'Accept', 'Attach', 'Cancel', 'Close', 'Create', 'Decline', 'Delete', 'Deregister', 'Detach', 'Disable',
    'Enable', 'Invite', 'Leave', 'Move', 'Put', 'Register', 'Remove', 'Tag', 'Terminate', 'Untag', 'Update',
  ].map((v) => `organizations:${v}*`);
  const policy = new iam.ManagedPolicy(scope, 'DefaultPermissionsBoundary', {
    path: '/planton-iam-user/',
    description: Fn.sub(
      'Permissions boundary of the IAM users made by ${AWS::StackName}-planton-iam-user (Custom::PlantonIamUser): only the services of its AllowedServices parameter; no IAM, Organizations or Identity Center writes, no boundary changes, no key policy or grant writes, no role passed outside PassableRolePaths, no root sessions, nothing on that deployment or on secrets under ${Prefix}.',
      { Prefix: secretNamePrefix },
    ),
    statements: [
      // Deny by default: the allowed services and nothing else.
      new iam.PolicyStatement({ sid: 'AllowOnlyTheAllowedServices', actions: allowedServices.map((x) => `${x}:*`), resources: ['*'] }),
      ...(passableRoles.length > 0
        ? [new iam.PolicyStatement({ sid: 'AllowPassingRolesUnderPassableRolePaths', actions: ['iam:PassRole'], resources: passableRoles })]
        : []),
      new iam.PolicyStatement({
        sid: 'DenyIamAndOrganizationsWrites',
        effect: iam.Effect.DENY,
        actions: [...iamWrites, ...orgWrites],
        resources: ['*'],
      }),
      new iam.PolicyStatement({ sid: 'DenyIdentityCenterWrites', effect: iam.Effect.DENY, actions: identityCenterWrites, resources: ['*'] }),
      new iam.PolicyStatement({
        sid: 'DenyPermissionsBoundaryChanges',
        effect: iam.Effect.DENY,
        actions: ['iam:Put*PermissionsBoundary', 'iam:Delete*PermissionsBoundary'],
        resources: ['*'],
      }),
      new iam.PolicyStatement({ sid: 'DenyRootSessions', effect: iam.Effect.DENY, actions: ['sts:AssumeRoot'], resources: ['*'] }),
      new iam.PolicyStatement({
        sid: 'DenyPassingRolesOutsidePassableRolePaths',
        effect: iam.Effect.DENY,
        actions: ['iam:PassRole'],
        ...(passableRoles.length > 0 ? { notResources: passableRoles } : { resources: ['*'] }),
      }),
      // A key policy or a grant hands the key's use to any principal, the user included.
      new iam.PolicyStatement({
        sid: 'DenyKeyPolicyAndGrantWrites',
        effect: iam.Effect.DENY,
        actions: ['kms:PutKeyPolicy', 'kms:CreateGrant', 'kms:RetireGrant', 'kms:RevokeGrant', 'kms:ReplicateKey'],
        resources: ['*'],
      }),
      ...(secretKeyArn
        ? [new iam.PolicyStatement({ sid: 'DenyTheSecretsKey', effect: iam.Effect.DENY, actions: ['kms:*'], resources: [secretKeyArn] })]
        : []),
      // The CDK bootstrap's CloudFormation execution role deploys what these hold.
      new iam.PolicyStatement({
        sid: 'DenyTheCdkBootstrapAssets',
        effect: iam.Effect.DENY,
        actions: ['s3:*', 'ecr:*'],
        resources: [
          s('arn:${AWS::Partition}:s3:::cdk-*-assets-${AWS::AccountId}-*'),
          s('arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/cdk-*-container-assets-${AWS::AccountId}-*'),
        ],
      }),
      new iam.PolicyStatement({
        sid: 'DenyChangingTheFunction',
        effect: iam.Effect.DENY,
        notActions: ['lambda:InvokeFunction'],
        resources: [s(FUNCTION_ARN), s(`${FUNCTION_ARN}:*`)],
      }),
      new iam.PolicyStatement({
        sid: 'DenyTheScheduledFunction',
        effect: iam.Effect.DENY,
        actions: ['lambda:*'],
        resources: [s(SCHEDULED_FUNCTION_ARN), s(`${SCHEDULED_FUNCTION_ARN}:*`)],
      }),
      new iam.PolicyStatement({
        sid: 'DenyUsingTheFunctionRole',
        effect: iam.Effect.DENY,
        actions: ['iam:PassRole', 'sts:AssumeRole', 'sts:TagSession'],
        resources: [s('arn:${AWS::Partition}:iam::*:role/planton-iam-user/*')],
      }),
      new iam.PolicyStatement({
        sid: 'DenyTheFunctionLogs',
        effect: iam.Effect.DENY,
        actions: ['logs:*'],
        resources: [
          s(`arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${FUNCTION_NAME}`),
          s(`arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${FUNCTION_NAME}:*`),
        ],
      }),
      new iam.PolicyStatement({
        sid: 'DenyTheFunctionSchedules',
        effect: iam.Effect.DENY,
        actions: ['events:*'],
        // Every rule of the deployment, by the name prefix they share (as template.yaml).
        resources: [s('arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${AWS::StackName}-planton-*')],
      }),
      // EventBridge does not authenticate an event's source: no user may forge the
      // events that tell a key's owners what happened.
      new iam.PolicyStatement({
        sid: 'DenyForgingKeyEvents',
        effect: iam.Effect.DENY,
        actions: ['events:PutEvents'],
        resources: ['*'],
        conditions: { 'ForAnyValue:StringEquals': { 'events:source': ['planton.iam-user', 'lambda'] } },
      }),
      new iam.PolicyStatement({
        sid: 'DenyTheFunctionAlarms',
        effect: iam.Effect.DENY,
        actions: ['cloudwatch:*'],
        resources: [s('arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${AWS::StackName}-planton-iam-user-*')],
      }),
      new iam.PolicyStatement({
        sid: 'DenyTheFunctionStack',
        effect: iam.Effect.DENY,
        actions: ['cloudformation:*'],
        resources: [s('arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${AWS::StackName}/*')],
      }),
      new iam.PolicyStatement({
        sid: 'DenyTheManagedSecrets',
        effect: iam.Effect.DENY,
        actions: ['secretsmanager:*'],
        resources: [`arn:${Aws.PARTITION}:secretsmanager:*:*:secret:${secretNamePrefix}*`],
      }),
    ],
  });
  // Users made with it keep it, and IAM refuses to delete a policy still in use.
  policy.applyRemovalPolicy(RemovalPolicy.RETAIN);
  return policy;
}
