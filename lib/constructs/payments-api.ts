import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AwsIntegration,
  EndpointType,
  type JsonSchema,
  JsonSchemaVersion,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  PassthroughBehavior,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { gatewayResponses } from '../../lambdas/contract/gateway-responses';
import { queueRequest, queueResponses } from '../../lambdas/contract/queue-integration';
import { API_STAGE_NAME, type FunctionName, type RequestModelName, requestModels, routes } from '../../lambdas/contract/routes';
import { API_INTEGRATION_TIMEOUT_SECONDS } from '../../lambdas/contract/settings';
import { stackOutput } from './stack-output';

export interface PaymentsApiProps {
  /** The REST API's name in the console: the stack's (or the service's), not one `Api` per stack. */
  name: string;
  functions: Record<FunctionName, IFunction>;
  /** Where POST /payments/async sends the validated body. */
  chargeQueue: IQueue;
  removalPolicy: RemovalPolicy;
  /** Steady-state requests per second per API key, and the burst above it. */
  throttle: { rateLimit: number; burstLimit: number };
  /**
   * Execution logs need the account's API Gateway CloudWatch role, one setting per account and
   * region: `create` makes it (and keeps it when the stack goes), `existing` uses the one the
   * account has, `off` writes access logs only.
   */
  executionLogs: 'create' | 'existing' | 'off';
}

/** A shared request schema in the form CDK's model expects: `$schema` becomes `schema`. */
export function toModelSchema({ $schema: _dialect, ...schema }: (typeof requestModels)[RequestModelName]): JsonSchema {
  return { ...(schema as unknown as JsonSchema), schema: JsonSchemaVersion.DRAFT4 };
}

/**
 * The REST API built from the shared routes: request bodies checked against the shared schema,
 * API-key access through a throttled usage plan, access and execution logs, X-Ray tracing.
 */
export class PaymentsApi extends Construct {
  readonly api: RestApi;

  constructor(scope: Construct, id: string, props: PaymentsApiProps) {
    super(scope, id);
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.THREE_MONTHS, removalPolicy: props.removalPolicy });
    this.api = new RestApi(this, 'Api', {
      restApiName: props.name,
      description: 'Exactly-once payments API',
      endpointTypes: [EndpointType.REGIONAL],
      // The account-wide role silently replaces one the account may have, and every REST API in
      // the region depends on it: made only when asked, and never deleted with the stack.
      cloudWatchRole: props.executionLogs === 'create',
      ...(props.executionLogs === 'create' && { cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN }),
      deployOptions: {
        stageName: API_STAGE_NAME,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
        // Without the account's role, a stage with execution logging fails to deploy.
        loggingLevel: props.executionLogs === 'off' ? MethodLoggingLevel.OFF : MethodLoggingLevel.ERROR,
        dataTraceEnabled: false, // request bodies would put payment details into the logs
        tracingEnabled: true,
        metricsEnabled: true,
      },
    });

    const models = Object.fromEntries(
      Object.entries(requestModels).map(([name, schema]) => [
        name,
        this.api.addModel(name, { contentType: 'application/json', modelName: name, schema: toModelSchema(schema) }),
      ]),
    );
    const validator = this.api.addRequestValidator('Validator', { validateRequestBody: true, validateRequestParameters: true });

    const queueIntegration = this.queueIntegration(props.chargeQueue);
    for (const route of routes) {
      const integration =
        route.kind === 'queue'
          ? queueIntegration
          : new LambdaIntegration(props.functions[route.function], { timeout: Duration.seconds(API_INTEGRATION_TIMEOUT_SECONDS) });
      this.api.root.resourceForPath(route.path).addMethod(route.method, integration, {
        apiKeyRequired: route.apiKeyRequired,
        ...(route.requestModel !== undefined && {
          requestValidator: validator,
          requestModels: { 'application/json': models[route.requestModel] },
        }),
        ...(route.kind === 'queue' && { methodResponses: queueResponses.map(({ statusCode }) => ({ statusCode: String(statusCode) })) }),
      });
    }

    for (const { id, type, statusCode, template } of gatewayResponses) {
      this.api.addGatewayResponse(id, {
        type: ResponseType.of(type),
        statusCode: statusCode === undefined ? undefined : String(statusCode),
        templates: { 'application/json': template },
      });
    }

    const apiKey = this.api.addApiKey('ApiKey', { description: 'Key for calling the payments API' });
    const usagePlan = this.api.addUsagePlan('UsagePlan', {
      throttle: props.throttle,
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
    });
    usagePlan.addApiKey(apiKey);

    // The same URL as ApiUrl under a generated name: one name for it is enough.
    this.api.node.tryRemoveChild('Endpoint');
    stackOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the payments API' });
    stackOutput(this, 'ApiKeyId', { value: apiKey.keyId, description: 'Id of the API key' });
    stackOutput(this, 'GetApiKeyCommand', {
      value: `aws apigateway get-api-key --api-key ${apiKey.keyId} --include-value --query value --output text --region ${Stack.of(this).region}`,
      description: 'Prints the API key value to send as the x-api-key header',
    });

    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole !== undefined) {
      Validations.of(cloudWatchRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: 'The account-level role API Gateway writes execution logs with; AWS documents this managed policy for it and it is scoped to API Gateway.',
      });
    }
    if (props.executionLogs === 'off') {
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions-APIG6',
        reason:
          'Execution logs need the account-wide API Gateway CloudWatch role, which this stack does not take over unless asked (-c apiGatewayCloudWatchRole=true, or -c apiGatewayExecutionLogs=true when the account has one); access logs are always written.',
      });
    }
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Callers are backend services authenticated by API key and a throttled usage plan; add an IAM or Cognito authorizer when end users call the API directly.',
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-COG4',
      reason: 'No Cognito user pool: callers are backend services with API keys (see AwsSolutions-APIG4).',
    });
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG3',
      reason: "A sandbox template: a WAF web ACL costs money per month; associate your organisation's web ACL with the stage in production.",
    });
  }

  /**
   * API Gateway → SQS without a Lambda, with the contract's mapping templates: the body (already
   * checked against the model) becomes the message. The role may send to this one queue and do nothing else.
   */
  private queueIntegration(queue: IQueue): AwsIntegration {
    const role = new Role(this, 'QueueIntegrationRole', { assumedBy: new ServicePrincipal('apigateway.amazonaws.com') });
    role.addToPrincipalPolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
    return new AwsIntegration({
      service: 'sqs',
      path: `${Stack.of(this).account}/${queue.queueName}`,
      integrationHttpMethod: 'POST',
      options: {
        credentialsRole: role,
        passthroughBehavior: PassthroughBehavior.NEVER,
        requestParameters: Object.fromEntries(
          Object.entries(queueRequest.headers).map(([name, value]) => [`integration.request.header.${name}`, `'${value}'`]),
        ),
        requestTemplates: { 'application/json': queueRequest.template },
        integrationResponses: queueResponses.map(({ statusCode, selectionPattern, template }) => ({
          statusCode: String(statusCode),
          selectionPattern,
          responseTemplates: { 'application/json': template },
        })),
      },
    });
  }
}
