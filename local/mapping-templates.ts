import { Compile, parse } from 'velocityjs';

/** What a mapping template sees: `$input` over one body (the request's or the integration's answer) and `$context`. */
export interface TemplateScope {
  body: string;
  requestId: string;
  /** A gateway response's message (`$context.error.messageString`, which API Gateway hands over quoted). */
  errorMessage?: string;
}

/**
 * `$util` as API Gateway documents it, for the functions the deployed templates call (a test
 * checks that every `$util`, `$input` and `$context` member they use is here).
 */
export const templateUtil = {
  /**
   * "Converts a string into application/x-www-form-urlencoded format": what Java's URLEncoder
   * does over UTF-8 (space as `+`; only letters, digits and `*-._` kept), which `encodeURI`
   * (serverless-offline's choice) is not: it keeps `&`, `+` and `=`, which split or change a form value.
   */
  urlEncode: (text: string): string =>
    encodeURIComponent(text)
      .replace(/[!'()~]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`)
      .replace(/%20/g, '+'),
};

/**
 * Renders an API Gateway mapping template with velocityjs, as serverless-offline does: no HTML
 * escaping, and references that resolve to nothing render as nothing. `$input.path` reads
 * `$`-rooted dotted paths only, which is all the templates use; anything else throws rather than guess.
 */
export function renderTemplate(template: string, scope: TemplateScope): string {
  return new Compile(parse(template), { escape: false }).render(templateVariables(scope), undefined, true);
}

/** `$input`, `$context` and `$util`, as far as the templates use them. */
export function templateVariables({ body, requestId, errorMessage = '' }: TemplateScope) {
  return {
    input: {
      body,
      path: (path: string): unknown => jsonPath(body, path),
    },
    context: { requestId, error: { messageString: JSON.stringify(errorMessage) } },
    util: templateUtil,
  };
}

function jsonPath(body: string, path: string): unknown {
  if (!/^\$(\.\w+)*$/.test(path)) throw new Error(`the local template renderer reads dotted paths only, not ${path}`);
  return path
    .split('.')
    .slice(1)
    .reduce<unknown>((value, name) => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined), JSON.parse(body));
}
