/**
 * Operator commands for the charge dead-letter queue.
 *   npm run dlq:inspect [-- --local]   count and show dead-lettered messages, with why they failed
 *   npm run dlq:redrive [-- --local]   move them back to the charge queue
 * Without --local they act on the deployed stack (STACK_NAME, see scripts/stack-outputs.ts), found
 * through its outputs with your AWS credentials; redrive then uses SQS StartMessageMoveTask.
 * With --local they act on the queues of a running `npm start`, moving messages by receive,
 * send, delete because the emulator has no StartMessageMoveTask.
 * In AWS the operator needs cloudformation:DescribeStacks on the stack; on the dead-letter queue
 * sqs:GetQueueAttributes, ReceiveMessage, ChangeMessageVisibility (inspect) and
 * sqs:StartMessageMoveTask, ListMessageMoveTasks, DeleteMessage (redrive); sqs:SendMessage on the charge queue.
 */
import { ListMessageMoveTasksCommand, SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { localSqsClient } from '../local/queues';
import { readRuntimeFile } from '../local/runtime-file';
import { countDeadLetters, inspectDeadLetters, redriveByCopy } from './dead-letter-operations';
import { stackOutputs } from './stack-outputs';

interface Target {
  sqs: SQSClient;
  queueUrl: string;
  deadLetterQueueUrl: string;
  /** Only in AWS: the ARNs StartMessageMoveTask takes. */
  arns?: { queue: string; deadLetterQueue: string };
}

async function resolveTarget(local: boolean): Promise<Target> {
  if (local) {
    const runtime = readRuntimeFile();
    return { sqs: localSqsClient(runtime.sqsEndpoint), ...runtime.queues };
  }
  const output = await stackOutputs({ hasLocalMode: true });
  return {
    sqs: new SQSClient({}),
    queueUrl: output('ChargeQueueUrl'),
    deadLetterQueueUrl: output('DeadLetterQueueUrl'),
    arns: { queue: output('ChargeQueueArn'), deadLetterQueue: output('DeadLetterQueueArn') },
  };
}

async function inspect(target: Target): Promise<void> {
  const count = await countDeadLetters(target.sqs, target.deadLetterQueueUrl);
  console.log(`${count} message(s) in the dead-letter queue`);
  if (count === 0) return;
  console.table(await inspectDeadLetters(target.sqs, target.deadLetterQueueUrl));
}

async function redrive(target: Target): Promise<void> {
  if (target.arns !== undefined) {
    const { TaskHandle } = await target.sqs.send(
      new StartMessageMoveTaskCommand({ SourceArn: target.arns.deadLetterQueue, DestinationArn: target.arns.queue }),
    );
    console.log(`Moving dead-lettered messages back to the charge queue (task ${TaskHandle}).`);
    // One move task runs per queue at a time; follow it so a failure does not go unnoticed.
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const { Results = [] } = await target.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: target.arns.deadLetterQueue, MaxResults: 1 }));
      const task = Results[0];
      if (task?.Status === 'RUNNING') continue;
      console.log(
        `${task?.Status ?? 'UNKNOWN'}: moved ${task?.ApproximateNumberOfMessagesMoved ?? 0} message(s)${task?.FailureReason ? `; ${task.FailureReason}` : ''}`,
      );
      if (task?.Status !== 'COMPLETED') process.exitCode = 1;
      return;
    }
  }
  const moved = await redriveByCopy(target.sqs, target.deadLetterQueueUrl, target.queueUrl);
  console.log(`Moved ${moved} message(s) back to the charge queue.`);
}

async function main(): Promise<void> {
  const [command, ...flags] = process.argv.slice(2);
  const target = await resolveTarget(flags.includes('--local'));
  if (command === 'inspect') return inspect(target);
  if (command === 'redrive') return redrive(target);
  throw new Error('usage: dlq.ts inspect|redrive [--local]');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
