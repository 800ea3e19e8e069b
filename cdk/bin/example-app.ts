#!/usr/bin/env node
// An example app: two service-account users, their credentials read by an ECS task role.
// Synthesizes offline: `npm run synth` writes cdk.out/.
import * as path from 'node:path';
import { App, CfnOutput, Duration, Fn, Stack, StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { PlantonIamUser } from '../lib';

export class ExampleStack extends Stack {
  public readonly deployer: PlantonIamUser;
  public readonly appUser: PlantonIamUser;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    // Exported by the function's own stack (template.yaml), deployed once per account.
    const serviceToken = Fn.importValue('planton-iam-user-ServiceToken');

    // CI/CD deployer: pushes images and deploys ECS services.
    this.deployer = new PlantonIamUser(this, 'Deployer', {
      serviceToken,
      serviceTimeout: Duration.minutes(5),
      userName: 'ci-deployer',
      path: '/service-accounts/ci/',
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonEC2ContainerRegistryPowerUser'),
        iam.ManagedPolicy.fromAwsManagedPolicyName('AWSCloudFormationReadOnlyAccess'),
      ],
      tags: { team: 'payments' },
      // Secrets Manager rotates the key every 90 days; raising serial rotates it now.
      accessKey: { serial: 1, rotationDays: 90 },
    });

    // Least-privilege application account: one table, its secret under a customer key.
    const table = new dynamodb.Table(this, 'OrdersTable', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    });
    const secretKey = new kms.Key(this, 'CredentialsKey', {
      description: 'Encrypts the orders-legacy-app access key secret',
      enableKeyRotation: true,
    });
    this.appUser = new PlantonIamUser(this, 'AppUser', {
      serviceToken,
      serviceTimeout: Duration.minutes(5),
      userName: 'orders-legacy-app',
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

/** `outdir` defaults to `$CDK_OUTDIR` (set by the cdk CLI) or `cdk/cdk.out`. */
export function buildExampleApp(outdir?: string): App {
  const app = new App({
    outdir: outdir ?? process.env.CDK_OUTDIR ?? path.resolve(__dirname, '..', '..', 'cdk.out'),
  });
  new ExampleStack(app, 'PlantonIamUserExample');
  return app;
}

if (require.main === module) {
  const assembly = buildExampleApp().synth();
  for (const stack of assembly.stacks) {
    console.log(`synthesized ${stack.stackName} -> ${assembly.directory}/${stack.templateFile}`);
  }
}
