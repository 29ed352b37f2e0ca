import fc from 'fast-check';
import { gatewayResponses } from '../../lambdas/contract/gateway-responses';
import { queueRequest, queueResponses, selectQueueResponse } from '../../lambdas/contract/queue-integration';
import { renderTemplate, templateUtil, templateVariables } from '../../local/mapping-templates';

const sendMessageOf = (body: string) => new URLSearchParams(renderTemplate(queueRequest.template, { body, requestId: 'r-1' }));

describe('the request template, rendered as API Gateway renders it', () => {
  it.each([
    ['&, = and + that would split or change a form value', '{"description":"a&b=c+d"}'],
    ['% and percent-escapes that must not be decoded twice', '{"description":"100% off, %2B stays %2B"}'],
    ['quotes and backslashes', '{"description":"she said \\"hi\\" and \'bye\' \\\\"}'],
    ['newlines, tabs and the JSON of a pretty-printing client', '{\n\t"description": "line 1\\nline 2"\r\n}'],
    ['non-ASCII text, astral characters and escapes', '{"description":"Grüße, 東京, 💳, \\u00e9"}'],
  ])('carries %s into MessageBody byte for byte', (_, body) => {
    const form = sendMessageOf(body);
    expect(form.get('Action')).toBe('SendMessage');
    expect(Buffer.from(form.get('MessageBody') as string)).toEqual(Buffer.from(body));
    expect([...form.keys()]).toEqual(['Action', 'MessageBody']);
  });

  it('carries any text into MessageBody unchanged, as the only other form field', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (body) => {
        const form = sendMessageOf(body);
        return form.get('MessageBody') === body && [...form.keys()].join() === 'Action,MessageBody';
      }),
      { numRuns: 500 },
    );
  });

  it("encodes as Java's URLEncoder does (what $util.urlEncode is documented to be)", () => {
    expect(templateUtil.urlEncode('a b&c=d+e%f')).toBe('a+b%26c%3Dd%2Be%25f');
    expect(templateUtil.urlEncode("*-._~!'()")).toBe('*-._%7E%21%27%28%29');
    expect(templateUtil.urlEncode('é💳')).toBe('%C3%A9%F0%9F%92%B3');
  });
});

describe('the response templates', () => {
  const sqsAnswer = JSON.stringify({
    SendMessageResponse: {
      SendMessageResult: { MessageId: 'c0ffee00-0000-4000-8000-000000000001', MD5OfMessageBody: 'x' },
      ResponseMetadata: { RequestId: 'sqs-1' },
    },
  });

  it("answer 202 with SQS's MessageId and API Gateway's request id", () => {
    const accepted = selectQueueResponse(200);
    expect(accepted.statusCode).toBe(202);
    expect(JSON.parse(renderTemplate(accepted.template, { body: sqsAnswer, requestId: 'api-request-1' }))).toEqual({
      messageId: 'c0ffee00-0000-4000-8000-000000000001',
      requestId: 'api-request-1',
      status: 'queued',
    });
  });

  it('refuse with 400 what SQS refused, and answer 503 to what is worth retrying', () => {
    const answered = (status: number) => selectQueueResponse(status).statusCode;
    expect([400, 404, 413, 430, 499].map(answered)).toEqual([400, 400, 400, 400, 400]);
    expect([403, 429, 500, 503].map(answered)).toEqual([503, 503, 503, 503]); // 403: IAM may still be propagating; retrying is right
    expect([200, 201].map(answered)).toEqual([202, 202]);
    for (const { statusCode, template } of queueResponses.filter((response) => response.statusCode !== 202)) {
      const rendered = JSON.parse(renderTemplate(template, { body: '{"Error":{"Code":"X"}}', requestId: 'r' }));
      expect(rendered.error.code).toBe(statusCode === 400 ? 'invalid_request' : 'queue_unavailable');
    }
  });
});

it('provides every $input, $context and $util member the deployed templates use', () => {
  const variables: Record<string, Record<string, unknown>> = templateVariables({ body: '{}', requestId: 'r' });
  const templates = [queueRequest.template, ...[...queueResponses, ...gatewayResponses].map(({ template }) => template)];
  const used = templates.flatMap((template) => [...template.matchAll(/\$!?\{?(\w+)\.(\w+)/g)].map(([, root, member]) => `${root}.${member}`));
  expect(used.length).toBeGreaterThan(0);
  expect(used.filter((reference) => !(reference.split('.')[1] in (variables[reference.split('.')[0]] ?? {})))).toEqual([]);
});
