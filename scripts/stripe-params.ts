/**
 * Writes local/stripe-emulator/stripe-params.json, the parameters the Stripe emulator accepts, from
 * the type definitions of the pinned `stripe` package (what the SDK may send to each endpoint):
 *   node --import tsx scripts/stripe-params.ts
 * Run it after upgrading `stripe`; test/integration/stripe-emulator-params.test.ts fails until it is run.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import type { AcceptedParams, Fields, ParamType } from '../local/stripe-emulator/accepted-params';

/** Every Stripe endpoint the emulator serves; the SDK method that calls each one says what it may send. */
const SERVED_ENDPOINTS = [
  'GET /v1/charges/:id',
  'GET /v1/disputes',
  'GET /v1/disputes/:id',
  'GET /v1/events',
  'GET /v1/events/:id',
  'GET /v1/payment_intents',
  'POST /v1/payment_intents',
  'GET /v1/payment_intents/search',
  'GET /v1/payment_intents/:id',
  'POST /v1/payment_intents/:id/cancel',
  'POST /v1/payment_intents/:id/confirm',
  'GET /v1/refunds',
  'POST /v1/refunds',
  'GET /v1/refunds/:id',
] as const;

export const STRIPE_PARAMS_FILE = join(__dirname, '..', 'local', 'stripe-emulator', 'stripe-params.json');

const stripeDirectory = join(__dirname, '..', 'node_modules', 'stripe');
const resourcesDirectory = join(stripeDirectory, 'cjs', 'resources');

/** The file's contents, as the generator writes them. */
export function stripeParamsJson(): string {
  const calls = sdkMethodsCalling(SERVED_ENDPOINTS);
  const served = SERVED_ENDPOINTS.map((endpoint) => ({ endpoint, method: sdkMethodOf(calls, endpoint) }));
  const program = ts.createProgram([...new Set(served.map(({ method }) => method.declarationFile))], { strict: true, noEmit: true });
  const checker = program.getTypeChecker();
  const endpoints = Object.fromEntries(served.map(({ endpoint, method }) => [endpoint, fieldsOf(checker, paramsTypeOf(program, checker, method))]));
  const { version } = JSON.parse(readFileSync(join(stripeDirectory, 'package.json'), 'utf8')) as { version: string };
  const accepted: AcceptedParams = { source: `stripe ${version} type definitions, by scripts/stripe-params.ts`, endpoints };
  return `${JSON.stringify(accepted, null, 2)}\n`;
}

interface SdkMethod {
  className: string;
  methodName: string;
  declarationFile: string;
}

/** The resource method that calls each of the endpoints (`GET /v1/refunds/:id`), found in the SDK's code. */
function sdkMethodsCalling(endpoints: readonly string[]): Map<string, SdkMethod> {
  const methods = new Map<string, SdkMethod>();
  for (const file of readdirSync(resourcesDirectory).filter((name) => name.endsWith('.js'))) {
    const source = ts.createSourceFile(file, readFileSync(join(resourcesDirectory, file), 'utf8'), ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);
    for (const resource of source.statements.filter(ts.isClassDeclaration)) {
      for (const method of resource.members.filter(ts.isMethodDeclaration)) {
        const endpoint = endpointCalledBy(method);
        if (endpoint === undefined || !endpoints.includes(endpoint) || resource.name === undefined) continue;
        if (methods.has(endpoint)) throw new Error(`two stripe SDK methods call ${endpoint}`);
        methods.set(endpoint, {
          className: resource.name.text,
          methodName: method.name.getText(source),
          declarationFile: join(resourcesDirectory, file.replace(/\.js$/, '.d.ts')),
        });
      }
    }
  }
  return methods;
}

/** `this._makeRequest('GET', `/v1/refunds/${encodeURIComponent(id)}`, …)` as `GET /v1/refunds/:id`. */
function endpointCalledBy(method: ts.MethodDeclaration): string | undefined {
  let endpoint: string | undefined;
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === '_makeRequest') {
      const [verb, path] = node.arguments;
      if (ts.isStringLiteral(verb)) endpoint = `${verb.text} ${pathPattern(path)}`;
    }
    ts.forEachChild(node, visit);
  };
  visit(method);
  return endpoint;
}

function pathPattern(path: ts.Expression): string {
  if (ts.isStringLiteral(path) || ts.isNoSubstitutionTemplateLiteral(path)) return path.text;
  if (!ts.isTemplateExpression(path)) throw new Error(`an SDK request path that is neither text nor a template: ${path.getText()}`);
  return path.head.text + path.templateSpans.map((span) => `:id${span.literal.text}`).join('');
}

function sdkMethodOf(methods: Map<string, SdkMethod>, endpoint: string): SdkMethod {
  const method = methods.get(endpoint);
  if (method === undefined) throw new Error(`the stripe SDK has no method for ${endpoint}`);
  return method;
}

/** The type of the method's `params` argument, as its declaration in the SDK's types says. */
function paramsTypeOf(program: ts.Program, checker: ts.TypeChecker, { className, methodName, declarationFile }: SdkMethod): ts.Type {
  const source = program.getSourceFile(declarationFile);
  const resource = source?.statements.filter(ts.isClassDeclaration).find((statement) => statement.name?.text === className);
  const method = resource?.members.filter(ts.isMethodDeclaration).find((member) => member.name.getText(source) === methodName);
  const params = method?.parameters.find((parameter) => parameter.name.getText(source) === 'params');
  if (params?.type === undefined) throw new Error(`no params type for ${className}.${methodName} in ${declarationFile}`);
  return checker.getTypeFromTypeNode(params.type);
}

function fieldsOf(checker: ts.TypeChecker, type: ts.Type): Fields {
  const fields: Record<string, ParamType> = {};
  const required: string[] = [];
  for (const property of checker.getPropertiesOfType(type)) {
    fields[property.name] = paramTypeOf(checker, checker.getTypeOfSymbol(property));
    if (!(property.flags & ts.SymbolFlags.Optional)) required.push(property.name);
  }
  return required.length === 0 ? { fields } : { fields, required };
}

/**
 * A TypeScript parameter type as what the form encoding carries: `number` is an integer (the SDK
 * types decimals as strings), `null` and `''` (Emptyable) are the empty string, and an open enum's
 * `OtherString` adds nothing, so the values the SDK lists are the ones accepted.
 */
function paramTypeOf(checker: ts.TypeChecker, type: ts.Type): ParamType {
  const members = type.isUnion() ? type.types : [type];
  const literals = members.filter((member) => member.isStringLiteral()).map((member) => (member as ts.StringLiteralType).value);
  const values = literals.filter((value) => value !== '');
  const kinds: ParamType[] = [];
  if (values.length > 0) kinds.push({ enum: values });
  if (members.some((member) => member.flags & ts.TypeFlags.BooleanLiteral)) kinds.push('boolean');
  if (literals.includes('') || members.some((member) => member.flags & ts.TypeFlags.Null)) kinds.push('empty');
  const skipped = ts.TypeFlags.Undefined | ts.TypeFlags.Null | ts.TypeFlags.StringLiteral | ts.TypeFlags.BooleanLiteral;
  for (const member of members.filter((each) => !(each.flags & skipped) && !isOtherString(each))) {
    if (member.flags & ts.TypeFlags.String) kinds.push('string');
    else if (member.flags & ts.TypeFlags.Number) kinds.push('integer');
    else if (member.flags & ts.TypeFlags.Object) kinds.push(objectParamTypeOf(checker, member));
    else throw new Error(`a parameter type the emulator does not know: ${checker.typeToString(member)}`);
  }
  return kinds.length === 1 ? kinds[0] : { oneOf: kinds };
}

/** A list, a hash of any keys (metadata), or a hash of known fields. */
function objectParamTypeOf(checker: ts.TypeChecker, type: ts.Type): ParamType {
  if (checker.isArrayType(type)) return { array: paramTypeOf(checker, checker.getTypeArguments(type as ts.TypeReference)[0]) };
  const anyKey = checker.getIndexInfoOfType(type, ts.IndexKind.String);
  return anyKey === undefined ? fieldsOf(checker, type) : { hash: paramTypeOf(checker, anyKey.type) };
}

/** `string & Record<never, never>`, which the SDK joins to an open enum's values. */
function isOtherString(type: ts.Type): boolean {
  return type.isIntersection() && type.types.some((part) => part.flags & ts.TypeFlags.String);
}

if (require.main === module) {
  writeFileSync(STRIPE_PARAMS_FILE, stripeParamsJson());
  // In the layout `npx biome ci` checks; the test compares the parsed contents, so the layout is free.
  execFileSync(join(__dirname, '..', 'node_modules', '.bin', 'biome'), ['format', '--write', STRIPE_PARAMS_FILE], { stdio: 'inherit' });
  console.log(`wrote ${STRIPE_PARAMS_FILE}`);
}
