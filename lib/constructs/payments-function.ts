import { type Duration, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV, SERVICE_NAME } from '../../lambdas/contract/environment';
import { FUNCTION_BUNDLING } from './bundling';

/** A table the function may use, and exactly the item actions it needs on it. */
export interface TableAccess {
  table: ITable;
  environmentVariable: string;
  actions: string[];
  /** Actions on some of the table's indexes (e.g. Query), if any. */
  indexes?: Array<{ indexName: string; actions: string[] }>;
  /** Items whose partition key starts with one of these are denied, whatever `actions` allow. */
  deniedKeyPrefixes?: string[];
}

export interface PaymentsFunctionProps {
  /** Path of the handler module under lambdas/handlers. */
  entry: string;
  description: string;
  timeout: Duration;
  tables: TableAccess[];
  /** The Stripe key's secret, for functions that call Stripe. */
  stripeSecret?: ISecret;
  /** The customer-managed KMS key existing secrets are encrypted with, if any: the function may decrypt with it, through Secrets Manager only. */
  secretsKeyArn?: string;
  /** Further variables, named in lambdas/contract/environment.ts. */
  environment?: Record<string, string>;
  logLevel: string;
  removalPolicy: RemovalPolicy;
}

/**
 * A payments Lambda with everything it is bound to in one call: its own role (only the listed
 * table actions, the one secret, its own log group), its environment, tracing and bundling.
 */
export class PaymentsFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: PaymentsFunctionProps) {
    super(scope, id);
    const logGroup = new LogGroup(this, 'Logs', { retention: RetentionDays.ONE_MONTH, removalPolicy: props.removalPolicy });
    // An own role instead of AWSLambdaBasicExecutionRole, whose log permissions cover every log group.
    this.role = new Role(this, 'Role', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: props.timeout,
      role: this.role,
      logGroup,
      tracing: Tracing.ACTIVE,
      environment: {
        [ENV.serviceName]: SERVICE_NAME,
        [ENV.tracerCaptureResponse]: 'false',
        [ENV.tracerCaptureError]: 'false',
        [ENV.logLevel]: props.logLevel,
        ...(props.stripeSecret && { [ENV.stripeSecretId]: props.stripeSecret.secretName }),
        ...Object.fromEntries(props.tables.map(({ table, environmentVariable }) => [environmentVariable, table.tableName])),
        ...props.environment,
      },
      bundling: {
        ...FUNCTION_BUNDLING,
        mainFields: [...FUNCTION_BUNDLING.mainFields],
        externalModules: [...FUNCTION_BUNDLING.externalModules],
        format: OutputFormat.CJS, // loads fastest on Node 22 (measured: ESM with the SDK bundled needs a createRequire banner)
      },
    });

    for (const { table, actions, indexes = [], deniedKeyPrefixes = [] } of props.tables) {
      this.role.addToPrincipalPolicy(new PolicyStatement({ actions: actions.map((a) => `dynamodb:${a}`), resources: [table.tableArn] }));
      if (deniedKeyPrefixes.length > 0) {
        this.role.addToPrincipalPolicy(
          new PolicyStatement({
            effect: Effect.DENY,
            actions: actions.map((a) => `dynamodb:${a}`),
            resources: [table.tableArn],
            conditions: { 'ForAnyValue:StringLike': { 'dynamodb:LeadingKeys': deniedKeyPrefixes.map((prefix) => `${prefix}*`) } },
          }),
        );
      }
      for (const index of indexes) {
        const resources = [`${table.tableArn}/index/${index.indexName}`];
        this.role.addToPrincipalPolicy(new PolicyStatement({ actions: index.actions.map((a) => `dynamodb:${a}`), resources }));
      }
    }
    props.stripeSecret?.grantRead(this.role);
    if (props.secretsKeyArn !== undefined) {
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [props.secretsKeyArn],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
        }),
      );
    }

    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions; this is the statement CDK adds for active tracing.',
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the runtime this template targets and bundles for (esbuild target node22); moving to a newer runtime is a deliberate upgrade, not a drift.',
    });
  }
}
