import { Tracer } from '@aws-lambda-powertools/tracer';
import { SERVICE_NAME } from '../contract/environment';

/**
 * X-Ray through Powertools Tracer: off outside Lambda (locally, in tests) by itself. Responses and
 * errors are never recorded (POWERTOOLS_TRACER_CAPTURE_RESPONSE / _ERROR are false in the stack):
 * they carry client secrets and Stripe's error objects. A failed subsegment is flagged, nothing more.
 */
export const tracer = new Tracer({ serviceName: SERVICE_NAME });

/** An AWS SDK client whose calls appear in the trace. */
export function traced<T>(client: T): T {
  return tracer.captureAWSv3Client(client);
}

/** Runs `work` in a subsegment of its own, annotated with how it ended; without tracing, just runs it. */
export async function inSubsegment<T>(name: string, work: () => Promise<T>): Promise<T> {
  const parent = tracer.isTracingEnabled() ? tracer.getSegment() : undefined;
  if (parent === undefined) return work();
  const subsegment = parent.addNewSubsegment(name);
  tracer.setSegment(subsegment);
  try {
    return await work();
  } catch (error) {
    subsegment.addErrorFlag(); // the fact, not the error: it may carry payment data
    throw error;
  } finally {
    subsegment.close();
    tracer.setSegment(parent);
  }
}

/** A Lambda handler in a `## handler` subsegment, annotated with cold start and service, as Powertools' own wrappers do. */
export function withTracing<E, R, C>(handler: (event: E, context: C) => Promise<R>): (event: E, context: C) => Promise<R> {
  return (event, context) =>
    inSubsegment('## handler', async () => {
      tracer.annotateColdStart();
      tracer.addServiceNameAnnotation();
      return handler(event, context);
    });
}
