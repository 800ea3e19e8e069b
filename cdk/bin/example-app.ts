#!/usr/bin/env node
// An example app: two service-account users, their credentials read by an ECS task role.
// Synthesizes offline: `npm run synth` writes cdk.out/.
//
// Context (cdk.json or -c / environment-free defaults):
//   planton:serviceTokenExport  the export the users import the function's ARN from
//                               (default planton-iam-user-ServiceToken, template.yaml's
//                               export for a stack named planton-iam-user; a Serverless
//                               Application Repository install exports
//                               serverlessrepo-planton-iam-user-ServiceToken)
//   planton:zip                 a built bootstrap.zip: also synthesize the stack
//                               PlantonIamUserProvider, which deploys the function itself
//                               and exports its ARN under that name (no SAM step)
import * as path from 'node:path';
import { App, CfnOutput, Duration, Stack, StackProps, Tags } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PlantonIamUser, PlantonIamUserProvider } from '../lib';

export interface ExampleStackProps extends StackProps {
  /** The name the function's ARN is exported as. */
  readonly serviceTokenExport: string;
}

export class ExampleStack extends Stack {
  public readonly deployer: PlantonIamUser;
  public readonly appUser: PlantonIamUser;

  constructor(scope: Construct, id: string, props: ExampleStackProps) {
    super(scope, id, props);

    // The function, deployed once per account (template.yaml, or PlantonIamUserProvider).
    const provider = PlantonIamUserProvider.fromExportName(this, 'Provider', props.serviceTokenExport);

    // CI/CD deployer: pushes images and deploys ECS services.
    this.deployer = new PlantonIamUser(this, 'Deployer', {
      provider,
      serviceTimeout: Duration.minutes(5),
      userName: 'ci-deployer',
      path: '/service-accounts/ci/',
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonEC2ContainerRegistryPowerUser'),
        iam.ManagedPolicy.fromAwsManagedPolicyName('AWSCloudFormationReadOnlyAccess'),
      ],
      tags: { team: 'payments' },
      // Secrets Manager rotates the key every 90 days; raising serial rotates it now.
      accessKey: { serial: 1, status: iam.AccessKeyStatus.ACTIVE, rotationInterval: Duration.days(90) },
    });

    // Least-privilege application account: one table, one bucket, its secret under a
    // customer key.
    const table = new dynamodb.Table(this, 'OrdersTable', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    });
    const secretKey = new kms.Key(this, 'CredentialsKey', {
      description: 'Encrypts the orders-legacy-app access key secret',
      enableKeyRotation: true,
    });
    this.appUser = new PlantonIamUser(this, 'AppUser', {
      provider,
      serviceTimeout: Duration.minutes(5),
      userName: 'orders-legacy-app',
      path: '/service-accounts/',
      inlinePolicies: {
        'orders-table': new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'],
              resources: [table.tableArn],
            }),
          ],
        }),
      },
      secret: { encryptionKey: secretKey },
    });
    // A grant lands in the user's own CdkGrants inline policy, which the function keeps.
    const reports = new s3.Bucket(this, 'Reports', { enforceSSL: true });
    reports.grantRead(this.appUser);

    // The consumer: an ECS task role that reads the app user's credentials at run time.
    const taskRole = new iam.Role(this, 'LegacyAppTaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
    });
    this.appUser.grantReadCredentials(taskRole);

    // ARNs only: the key itself never leaves Secrets Manager.
    new CfnOutput(this, 'DeployerUserArn', { value: this.deployer.userArn });
    new CfnOutput(this, 'DeployerCredentialsSecretArn', { value: this.deployer.secret.secretArn });
    new CfnOutput(this, 'AppUserArn', { value: this.appUser.userArn });
    new CfnOutput(this, 'AppUserCredentialsSecretArn', { value: this.appUser.secret.secretArn });
  }
}

export interface ExampleAppOptions {
  /** `outdir` defaults to `$CDK_OUTDIR` (set by the cdk CLI) or `cdk/cdk.out`. */
  readonly outdir?: string;
  /** Context values, as `cdk -c key=value` would set them. */
  readonly context?: Record<string, string>;
}

export function buildExampleApp(options: ExampleAppOptions = {}): App {
  const app = new App({
    outdir: options.outdir ?? process.env.CDK_OUTDIR ?? path.resolve(__dirname, '..', '..', 'cdk.out'),
    context: options.context,
  });
  const zip: string | undefined = app.node.tryGetContext('planton:zip');
  let serviceTokenExport: string =
    app.node.tryGetContext('planton:serviceTokenExport') ?? PlantonIamUserProvider.DEFAULT_EXPORT_NAME;
  if (zip !== undefined) {
    // CDK only: the function's own stack, exporting its ARN for the stack below.
    const providerStack = new Stack(app, 'PlantonIamUserProvider');
    const provider = new PlantonIamUserProvider(providerStack, 'Provider', {
      codePath: zip,
      exportName: serviceTokenExport,
    });
    serviceTokenExport = provider.exportName;
  }
  const example = new ExampleStack(app, 'PlantonIamUserExample', { serviceTokenExport });
  // Reaches the users' Tags (and every other taggable resource of the stack).
  Tags.of(example).add('cost-center', 'payments-1234');
  return app;
}

if (require.main === module) {
  const assembly = buildExampleApp().synth();
  for (const stack of assembly.stacks) {
    console.log(`synthesized ${stack.stackName} -> ${assembly.directory}/${stack.templateFile}`);
  }
}
