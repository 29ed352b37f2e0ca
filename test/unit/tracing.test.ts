import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Segment } from 'aws-xray-sdk-core';
import { inSubsegment, traced, tracer } from '../../lambdas/adapters/tracing';

afterEach(() => jest.restoreAllMocks());
const middleware = (client: DynamoDBClient) => client.middlewareStack.identify().join(' ');

describe('tracing', () => {
  it('is off outside Lambda: clients are left as they are and work runs as is', async () => {
    expect(tracer.isTracingEnabled()).toBe(false);
    expect(middleware(traced(new DynamoDBClient({ region: 'us-east-1' })))).not.toContain('XRay');
    await expect(inSubsegment('Stripe: create PaymentIntent', async () => 42)).resolves.toBe(42);
  });

  it("in Lambda, captures each AWS client's calls", () => {
    jest.spyOn(tracer, 'isTracingEnabled').mockReturnValue(true);
    expect(middleware(traced(new DynamoDBClient({ region: 'us-east-1' })))).toContain('XRaySDKInstrumentation');
  });

  it('in Lambda, records the Stripe call as a subsegment, and a failure as a flag only: never the error, which may carry payment data', async () => {
    jest.spyOn(tracer, 'isTracingEnabled').mockReturnValue(true);
    const root = new Segment('charge');
    jest.spyOn(tracer, 'getSegment').mockReturnValue(root);
    jest.spyOn(tracer, 'setSegment').mockImplementation(() => undefined);
    await expect(
      inSubsegment('Stripe: create PaymentIntent', async () => Promise.reject(new Error('pi_3Abc_secret_xyz for jane@example.com'))),
    ).rejects.toThrow();
    const [subsegment] = root.subsegments ?? [];
    const recorded = JSON.stringify(subsegment);
    expect(subsegment).toMatchObject({ name: 'Stripe: create PaymentIntent', error: true });
    expect(recorded).not.toContain('secret');
    expect(recorded).not.toContain('jane@example.com');
    expect(JSON.parse(recorded)).toHaveProperty('end_time'); // closed
  });
});
