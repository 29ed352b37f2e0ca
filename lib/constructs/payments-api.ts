import { Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AwsIntegration,
  EndpointType,
  type JsonSchema,
  JsonSchemaVersion,
  LambdaIntegration,
  LogGroupLogDestination,
  type Method,
  MethodLoggingLevel,
  PassthroughBehavior,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { CfnSamplingRule } from 'aws-cdk-lib/aws-xray';
import { Construct } from 'constructs';
import { type AdmissionSettings, stageMethodThrottles, usagePlanMethodThrottles, WAF_WINDOW_SECONDS } from '../../lambdas/contract/admission';
import { gatewayResponses } from '../../lambdas/contract/gateway-responses';
import { HTTP_HEADERS } from '../../lambdas/contract/http-headers';
import { queueRequest, queueResponses } from '../../lambdas/contract/queue-integration';
import { API_STAGE_NAME, type FunctionName, type RequestModelName, requestModels, routes } from '../../lambdas/contract/routes';
import { API_INTEGRATION_TIMEOUT_SECONDS } from '../../lambdas/contract/settings';
import type { StripeBudget } from '../../lambdas/contract/stripe-budget';
import { stackOutput } from './stack-output';

export interface PaymentsApiProps {
  /** The REST API's name in the console: the stack's (or the service's), not one `Api` per stack. */
  name: string;
  functions: Record<FunctionName, IFunction>;
  /** Where POST /payments/async sends the validated body. */
  chargeQueue: IQueue;
  removalPolicy: RemovalPolicy;
  /** The Stripe budget the sync routes' stage throttles come from. */
  budget: StripeBudget;
  /** The usage plan's and the webhook's limits, the WAF rule's and the X-Ray sampling rate. */
  admission: AdmissionSettings;
  /** Put an AWS WAF web ACL with a per-IP rate-based rule in front of the stage. */
  waf: boolean;
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
 * API-key access through a throttled usage plan, stage throttles on the routes that call Stripe and
 * on the webhook, access and execution logs, X-Ray tracing; optionally a WAF web ACL.
 */
export class PaymentsApi extends Construct {
  readonly api: RestApi;

  constructor(scope: Construct, id: string, props: PaymentsApiProps) {
    super(scope, id);
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.THREE_MONTHS, removalPolicy: props.removalPolicy });
    const stageSettings = {
      // Without the account's role, a stage with execution logging fails to deploy.
      loggingLevel: props.executionLogs === 'off' ? MethodLoggingLevel.OFF : MethodLoggingLevel.ERROR,
      dataTraceEnabled: false, // request bodies would put payment details into the logs
      metricsEnabled: true,
    };
    const stageThrottles = stageMethodThrottles(props.budget, props.admission);
    // Keyed `<resource path>/<method>`, the shared routes' own, as CDK's methodOptions expects. A
    // method's own settings take API Gateway's defaults for what they leave out, so the stage's are repeated.
    const methodOptions = Object.fromEntries(
      routes.flatMap((route) => {
        const throttle = route.kind === 'lambda' ? stageThrottles[route.function] : undefined;
        return throttle === undefined
          ? []
          : [[`${route.path}/${route.method}`, { ...stageSettings, throttlingRateLimit: throttle.rateLimit, throttlingBurstLimit: throttle.burstLimit }]];
      }),
    );
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
        ...stageSettings,
        tracingEnabled: true,
        methodOptions,
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
    const methods: Partial<Record<FunctionName, Method>> = {};
    for (const route of routes) {
      const integration =
        route.kind === 'queue'
          ? queueIntegration
          : new LambdaIntegration(props.functions[route.function], { timeout: Duration.seconds(API_INTEGRATION_TIMEOUT_SECONDS) });
      const method = this.api.root.resourceForPath(route.path).addMethod(route.method, integration, {
        apiKeyRequired: route.apiKeyRequired,
        ...(route.requestModel !== undefined && {
          requestValidator: validator,
          requestModels: { 'application/json': models[route.requestModel] },
        }),
        ...(route.kind === 'queue' && { methodResponses: queueResponses.map(({ statusCode }) => ({ statusCode: String(statusCode) })) }),
      });
      if (route.kind === 'lambda') methods[route.function] = method;
    }

    for (const { id, type, statusCode, headers, template } of gatewayResponses) {
      this.api.addGatewayResponse(id, {
        type: ResponseType.of(type),
        statusCode: statusCode === undefined ? undefined : String(statusCode),
        // Literal values are quoted: unquoted, API Gateway reads them as a parameter to map.
        responseHeaders: headers && Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, `'${value}'`])),
        templates: { 'application/json': template },
      });
    }

    // Per API key: the plan's rate and burst over all routes, and a lower one on some routes within it.
    const apiKey = this.api.addApiKey('ApiKey', { description: 'Key for calling the payments API' });
    const usagePlan = this.api.addUsagePlan('UsagePlan', {
      throttle: props.admission.api,
      apiStages: [
        {
          api: this.api,
          stage: this.api.deploymentStage,
          throttle: Object.entries(usagePlanMethodThrottles(props.admission)).map(([name, throttle]) => ({
            method: methods[name as FunctionName] as Method,
            throttle,
          })),
        },
      ],
    });
    usagePlan.addApiKey(apiKey);
    if (props.waf) this.webAcl(props.admission.wafRequestsPerIpPerMinute);
    if (props.admission.xraySamplingRate !== undefined) this.samplingRule(props.name, props.admission.xraySamplingRate);

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
    if (!props.waf) {
      Validations.of(this.api).acknowledge({
        id: 'AwsSolutions-APIG3',
        reason:
          "A sandbox template: a WAF web ACL costs money per month; -c waf=true adds one with a per-IP rate-based rule, or associate your organisation's web ACL with the stage.",
      });
    }
  }

  /**
   * AWS WAF in front of the stage: one IP sending more than `requestsPerIpPerMinute` is blocked with
   * a 429 in the contract's shape before API Gateway (or a Lambda) is paid for; WAF's answer takes
   * the place of the gateway responses.
   */
  private webAcl(requestsPerIpPerMinute: number): void {
    const visibility = (metricName: string) => ({ metricName, cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true });
    const tooManyRequests = 'TooManyRequests';
    const acl = new CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(Names.uniqueResourceName(this, { maxLength: 128 })),
      customResponseBodies: {
        [tooManyRequests]: { contentType: 'APPLICATION_JSON', content: '{"error":{"code":"too_many_requests","message":"Too Many Requests"}}' },
      },
      rules: [
        {
          name: 'RequestsPerIp',
          priority: 0,
          statement: { rateBasedStatement: { aggregateKeyType: 'IP', limit: requestsPerIpPerMinute, evaluationWindowSec: WAF_WINDOW_SECONDS } },
          action: {
            block: {
              customResponse: {
                responseCode: 429,
                customResponseBodyKey: tooManyRequests,
                responseHeaders: [{ name: HTTP_HEADERS.retryAfter, value: String(WAF_WINDOW_SECONDS) }],
              },
            },
          },
          visibilityConfig: visibility('RequestsPerIp'),
        },
      ],
    });
    new CfnWebACLAssociation(this, 'WebAclAssociation', { resourceArn: this.api.deploymentStage.stageArn, webAclArn: acl.attrArn });
  }

  /**
   * The share of requests X-Ray traces, for this API's stage only. API Gateway decides at the front
   * door and the Lambdas it invokes follow its decision (active tracing honours the upstream header);
   * the queue worker and the scheduled functions, with no upstream, keep Lambda's fixed 1/s + 5 %.
   */
  private samplingRule(apiName: string, fixedRate: number): void {
    const stage = this.api.deploymentStage;
    new CfnSamplingRule(this, 'SamplingRule', {
      samplingRule: {
        ruleName: Names.uniqueResourceName(this, { maxLength: 32 }),
        priority: 1000, // before X-Ray's default rule (10000)
        reservoirSize: 1, // still one trace a second, as the default rule keeps
        fixedRate,
        serviceName: `${apiName}/${stage.stageName}`,
        serviceType: 'AWS::ApiGateway::Stage',
        resourceArn: stage.stageArn,
        host: '*',
        httpMethod: '*',
        urlPath: '*',
        version: 1,
      },
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
