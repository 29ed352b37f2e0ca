import { createServer, type Socket } from 'node:net';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { awsClientSettings } from '../../lambdas/adapters/environment';
import { AWS_MAX_ATTEMPTS, AWS_REQUEST_TIMEOUT_MS, AWS_RETRY_DELAY_MS } from '../../lambdas/contract/settings';

/** The function timeout adds up every AWS call at its worst; that worst case must really be the bound. */
describe('the AWS clients of the functions', () => {
  const retryPauses = (AWS_MAX_ATTEMPTS - 1) * AWS_RETRY_DELAY_MS;
  // Each attempt may use its whole timeout when DynamoDB hangs; a throttled one answers at once, and only the pauses count.
  it.each<[string, number, (socket: Socket) => void]>([
    ['accepts the connection and never answers', AWS_MAX_ATTEMPTS * AWS_REQUEST_TIMEOUT_MS + retryPauses, () => undefined],
    [
      'answers throttling, twice',
      retryPauses,
      (socket) =>
        socket.once('data', () => {
          const body = JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException', message: 'Rate exceeded' });
          socket.write(
            `HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
          );
          socket.end();
        }),
    ],
  ])('give up within the budget when DynamoDB %s', async (_case, budgetMs, behave) => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      behave(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const client = new DynamoDBClient({
      ...awsClientSettings(),
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    const started = Date.now();
    try {
      await expect(client.send(new GetItemCommand({ TableName: 't', Key: { orderId: { S: 'o' } } }))).rejects.toBeInstanceOf(Error);
    } finally {
      client.destroy();
      for (const socket of sockets) socket.destroy();
      server.close();
    }
    // The budget and some slack for a busy machine: the SDK's defaults miss it by far more (no timeout at all; 1 s pauses).
    expect(Date.now() - started).toBeLessThanOrEqual(budgetMs + 400);
    expect(sockets).toHaveLength(AWS_MAX_ATTEMPTS);
  });
});
