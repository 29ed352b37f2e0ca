import { Logger } from '@aws-lambda-powertools/logger';
import type { LedgerReader } from '../adapters/dynamodb-ledger';
import { SERVICE_NAME } from '../contract/environment';
import { ORDER_ID_PATTERN } from '../contract/payment-request';
import { refundsOf } from '../core/refund-order';
import { errorSummary } from './error-summary';
import { type ApiHandler, errorResponse, failureResponse } from './http-responses';

const orderIdPattern = new RegExp(ORDER_ID_PATTERN);

/** GET /payments/{orderId}: the order's ledger record, or 404 while no charge has started. */
export function createGetPaymentHandler(readLedger: LedgerReader, logger = new Logger({ serviceName: SERVICE_NAME })): ApiHandler {
  return async (event, context) => {
    logger.addContext(context);
    const orderId = event.pathParameters?.orderId ?? '';
    if (!orderIdPattern.test(orderId)) {
      return errorResponse(400, 'invalid_request', `orderId must match ${ORDER_ID_PATTERN}`, [{ field: 'orderId', message: `must match ${ORDER_ID_PATTERN}` }]);
    }
    try {
      const record = await readLedger(orderId);
      if (record === undefined) return errorResponse(404, 'not_found', `no payment for order ${orderId}`);
      const { orderId: id, status, paymentId, amount, currency, paymentStatus, declineCode, amountRefunded, createdAt, updatedAt } = record;
      // The refunds in the order they were requested, each with what a client needs of it.
      const refunds = Object.entries(refundsOf(record))
        .sort(([, a], [, b]) => a.createdAt.localeCompare(b.createdAt))
        .map(([refundId, refund]) => ({ refundId, amount: refund.amount, status: refund.status, stripeRefundId: refund.stripeRefundId }));
      const dispute = record.dispute && { status: record.dispute.status, amount: record.dispute.amount, reason: record.dispute.reason };
      const payment = { orderId: id, status, paymentId, amount, currency, paymentStatus, declineCode, amountRefunded, refunds, dispute, createdAt, updatedAt };
      return { statusCode: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(payment) };
    } catch (error) {
      logger.error('reading the ledger failed', { orderId, error: errorSummary(error) });
      return failureResponse(error);
    }
  };
}
