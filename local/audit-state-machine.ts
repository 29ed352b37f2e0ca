import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type Stripe from 'stripe';
import { createLedgerReader, createLedgerWindowReader } from '../lambdas/adapters/dynamodb-ledger';
import { createStripeAuditSource } from '../lambdas/adapters/stripe-payments';
import { AUDIT_TASKS, type AuditTask, auditPagesPerSecondPerSlice, auditSliceSeconds, auditWorkflowDefinition } from '../lambdas/contract/audit-workflow';
import type { StripeBudget } from '../lambdas/contract/stripe-budget';
import { type AuditVerdict, createAudit, type SliceReport } from '../lambdas/core/audit';
import { createAuditSliceHandler, type SliceRequest } from '../lambdas/handlers/audit-ledger';
import { type AuditPlan, type AuditRequest, createAuditPlanHandler } from '../lambdas/handlers/audit-plan';
import { createAuditVerdictHandler, type VerdictRequest } from '../lambdas/handlers/audit-verdict';
import { serviceMetrics } from '../lambdas/handlers/outcome-metrics';

// The package ships ESM types but a CommonJS build; this repository is CommonJS, so it is required, typed as its import.
type LocalStepFunctions = typeof import('aws-local-stepfunctions', { with: { 'resolution-mode': 'import' }});

// aws-local-stepfunctions 3 calls Promise.withResolvers (Node 22); the template supports Node 20, which lacks it.
(Promise as { withResolvers?: unknown }).withResolvers ??= () => {
  const resolvers: Record<string, unknown> = {};
  resolvers.promise = new Promise((resolve, reject) => Object.assign(resolvers, { resolve, reject }));
  return resolvers;
};
const { StateMachine } = require('aws-local-stepfunctions') as LocalStepFunctions;

/** Each Task of the workflow, bound to the handler its Lambda function runs in AWS. */
export interface AuditTaskHandlers {
  plan(input: AuditRequest): Promise<AuditPlan>;
  compare(input: SliceRequest): Promise<SliceReport>;
  verdict(input: VerdictRequest): Promise<AuditVerdict>;
}
type LocalHandlers = NonNullable<NonNullable<Parameters<InstanceType<LocalStepFunctions['StateMachine']>['run']>[1]>['overrides']>['taskResourceLocalHandlers'];

/** Any well-formed ARN will do: every Task runs its local handler instead. */
const LOCAL_RESOURCES = Object.fromEntries(
  Object.entries(AUDIT_TASKS).map(([task, state]) => [task, `arn:aws:lambda:us-east-1:000000000000:function:local-audit-${state}`]),
) as Record<AuditTask, string>;

/** Runs the audit's state machine, the very definition the stack deploys, with its Tasks bound to the local handlers. */
export async function runAuditWorkflow(handlers: AuditTaskHandlers, maxConcurrency: number, request: AuditRequest = {}): Promise<AuditVerdict> {
  // Plain JSON as the stack deploys it; the package validates it against the States Language here.
  const definition = auditWorkflowDefinition(LOCAL_RESOURCES, maxConcurrency) as unknown as ConstructorParameters<typeof StateMachine>[0];
  const machine = new StateMachine(definition);
  // Each handler takes and answers the JSON its step passes on, as the Lambda function does.
  const taskResourceLocalHandlers = Object.fromEntries(
    Object.entries(AUDIT_TASKS).map(([task, state]) => [state, handlers[task as AuditTask].bind(handlers)]),
  ) as unknown as LocalHandlers;
  const execution = machine.run({ ...request }, { overrides: { taskResourceLocalHandlers } });
  return (await execution.result) as unknown as AuditVerdict;
}

/** What the local audit reads and how it is sized: the parts `npm start` (or a test, or the bench) runs. */
export interface LocalAuditParts {
  dynamoDb: DynamoDBClient;
  ledgerTableName: string;
  stripe: () => Promise<Stripe>;
  namespace: string;
  budget: StripeBudget;
  inFlightSeconds: number;
  /** Default: auditSliceSeconds(budget), as in AWS. */
  sliceSeconds?: number;
  /** Default: the service's metrics of this namespace. */
  metrics?: Metrics;
  logger?: Logger;
}

/** The handlers the three functions run in AWS, wired to the local parts. */
export function localAuditTaskHandlers(parts: LocalAuditParts): AuditTaskHandlers {
  const readRecord = createLedgerReader(parts.dynamoDb, parts.ledgerTableName);
  const recordsCreatedBetween = createLedgerWindowReader(parts.dynamoDb, parts.ledgerTableName);
  return {
    plan: createAuditPlanHandler(parts.sliceSeconds ?? auditSliceSeconds(parts.budget)),
    // A source per slice, as each Lambda invocation has its own: each paces itself at its share, as in AWS.
    compare: (slice) =>
      createAuditSliceHandler(
        createAudit({
          ...createStripeAuditSource(parts.stripe, parts.namespace, auditPagesPerSecondPerSlice(parts.budget)),
          recordsCreatedBetween,
          readRecord,
          inFlightSeconds: parts.inFlightSeconds,
        }),
        parts.logger,
      )(slice),
    verdict: createAuditVerdictHandler(parts.metrics ?? serviceMetrics(parts.namespace), parts.logger),
  };
}

/** One audit run over the local parts, through the state machine, as the daily schedule runs it in AWS. */
export function runLocalAudit(parts: LocalAuditParts, request: AuditRequest = {}): Promise<AuditVerdict> {
  return runAuditWorkflow(localAuditTaskHandlers(parts), parts.budget.audit.maxConcurrency, request);
}
