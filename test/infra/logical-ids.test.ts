import { synthesize } from '../support/synth';

/**
 * The logical IDs of everything that holds state or that clients hold on to. CloudFormation knows a
 * resource only by its logical ID: a moved one is deleted (or, retained, orphaned) and created anew.
 * A new, empty ledger forgets every order it charged, so an old order could be charged again.
 */
const PINNED = {
  'AWS::DynamoDB::Table': ['TablesIdempotencyKeys202702E1', 'TablesPaymentsLedgerA1471D41'],
  'AWS::SQS::Queue': ['ChargeQueue4B21D99A', 'ChargeQueueDeadLetterQueueE3001B38'],
  'AWS::SecretsManager::Secret': ['StripeSecret57D1B7F6', 'StripeWebhookSecretFE73B1CF'],
  'AWS::SNS::Topic': ['ChargeQueueAlarmTopic61C55E56'],
  'AWS::ApiGateway::ApiKey': ['ApiApiKey88125E37'],
  'AWS::ApiGateway::RestApi': ['ApiCD79AAA0'],
};

const WHY =
  'moved: a deploy would replace it (a new, empty table or queue, a new secret, API key or URL) and orphan the retained one. ' +
  'Keep the construct path: PaymentsStack creates the service as `new PaymentsService(this, IN_PLACE_OF_STACK)`, with IN_PLACE_OF_STACK = "Default" (lib/payments-service.ts), and construct ids under it do not change. ' +
  'If you must move it, pin the old ID with overrideLogicalId (docs/customizing.md, "Rename a stack or a construct").';

describe.each([
  ['ExactlyOncePayments (retained)', {}],
  ['ExactlyOncePaymentsSandbox', { sandbox: 'true' }],
])('the logical IDs of %s', (_kind, context) => {
  const resources = synthesize(context).template.toJSON().Resources as Record<string, { Type: string }>;

  it.each(Object.entries(PINNED))('of every %s never move', (type, pinned) => {
    const actual = Object.keys(resources).filter((id) => resources[id].Type === type);
    const moved = pinned.filter((id) => !actual.includes(id)).map((id) => `${type} ${id} ${WHY}`);
    // A new ID beside a moved one of the same type is a rename, not a new resource: pinning it would orphan the old one.
    const added = actual
      .filter((id) => !pinned.includes(id))
      .map((id) =>
        moved.length > 0
          ? `${type} ${id} looks like the new ID of a moved one: do not pin it; undo the rename.`
          : `${type} ${id} is new: pin it here once it is deployed.`,
      );
    expect([...moved, ...added]).toEqual([]);
  });
});
