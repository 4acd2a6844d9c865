import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import addFormats from 'ajv-formats';
import { OpenAPIBackend } from 'openapi-backend';

/** Where the run's recorded answers and served document go (removed with the run's directory). */
export function contractDir(run) {
  return join(dirname(run.artifactsDir), 'contract');
}

/** The API's own routes; the document UI, the editor's static files and Socket.IO are not operations. */
const isApiRoute = (route) => (route.startsWith('/api/') && !route.startsWith('/api/docs')) || route === '/health' || route === '/metrics';

/** The value at a JSON pointer of the body (`/items/3/code`). */
function valueAt(body, pointer) {
  return pointer
    .split('/')
    .slice(1)
    .reduce((value, key) => (value === null || value === undefined ? undefined : value[key.replace(/~1/g, '/').replace(/~0/g, '~')]), body);
}

/** A short sight of the offending value: scalars only, so a failure names the code a route really gave. */
const shown = (value) =>
  value === null || ['string', 'number', 'boolean'].includes(typeof value) ? ` (got ${JSON.stringify(value).slice(0, 80)})` : '';

/** The string formats the document uses: ajv-formats' own, and zod's IPv6 CIDR. */
export function withFormats(ajv) {
  addFormats(ajv);
  ajv.addFormat('cidrv6', /^[0-9a-f:.]+\/\d{1,3}$/i);
  ajv.addFormat('binary', true);
  return ajv;
}

const mediaType = (contentType) => contentType.split(';')[0].trim().toLowerCase();

/**
 * Checks recorded answers against an OpenAPI document with openapi-backend (Ajv underneath): the
 * operation exists, the status is documented for it, the content type is the documented one and a
 * JSON body conforms to its schema. Returns one line per distinct problem, naming the operation.
 */
export async function checkResponses(document, records) {
  const operations = new Map();
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(item)) {
      if (operation && typeof operation === 'object' && operation.responses) operations.set(`${method.toUpperCase()} ${path}`, operation);
    }
  }
  // The validator reads application/json only: show it each problem+json body under that name too.
  const definition = JSON.parse(JSON.stringify(document));
  for (const operation of Object.values(definition.paths ?? {}).flatMap((item) => Object.values(item))) {
    for (const response of Object.values(operation?.responses ?? {})) {
      const problem = response.content?.['application/problem+json'];
      if (problem && !response.content['application/json']) response.content['application/json'] = problem;
    }
  }
  const api = new OpenAPIBackend({
    definition,
    quick: false,
    validate: true,
    strict: true,
    customizeAjv: withFormats,
  });
  await api.init();

  const failures = new Map();
  const fail = (key, line) => failures.set(key, line);
  for (const record of records) {
    if (!isApiRoute(record.route) || record.method === 'HEAD' || record.method === 'OPTIONS') continue;
    const path = record.route.replace(/:(\w+)/g, '{$1}');
    const name = `${record.method} ${path}`;
    const operation = operations.get(name);
    if (!operation) {
      fail(name, `${name}: the operation is not in the OpenAPI document (document it with @ApiOperationDoc)`);
      continue;
    }
    const id = operation.operationId;
    const response = operation.responses[String(record.status)];
    if (!response) {
      fail(`${name} ${record.status}`, `${name} (${id}) answered ${record.status}, which it does not document`);
      continue;
    }
    const type = mediaType(record.contentType);
    const documented = Object.keys(response.content ?? {});
    if (documented.length === 0) {
      if (record.body) fail(`${name} ${record.status} body`, `${name} (${id}) ${record.status} has a body, documented without one`);
      continue;
    }
    if (type && !documented.includes(type) && !documented.includes('*/*')) {
      fail(`${name} ${record.status} ${type}`, `${name} (${id}) ${record.status} answered ${type}, documented: ${documented.join(', ')}`);
      continue;
    }
    if (record.body === undefined || !/json/.test(type) || response.content[type]?.schema?.format === 'binary') continue;
    const body = JSON.parse(record.body);
    const result = api.validateResponse(body, id, record.status);
    if (result.errors?.length) {
      // One line per place and problem (array indexes folded), with the first offending value seen.
      const where = result.errors.map((e) => `${e.instancePath.replace(/\/\d+(?=\/|$)/g, '/*')} ${e.message}`).join('; ');
      const detail = result.errors
        .map((e) => `${e.instancePath || '(body)'} ${e.message}${shown(valueAt(body, e.instancePath))}`)
        .join('; ');
      if (!failures.has(`${name} ${record.status} ${where}`)) {
        fail(`${name} ${record.status} ${where}`, `${name} (${id}) ${record.status} body does not match its schema: ${detail}`);
      }
    }
  }
  return [...failures.values()].sort();
}

/** The whole run's check: every worker's recorded answers against the document the app served. Throws naming each problem. */
export async function checkRunContract(run) {
  const dir = contractDir(run);
  const documentFile = join(dir, 'openapi.json');
  if (!existsSync(documentFile)) return { checked: 0 };
  const records = readdirSync(dir)
    .filter((f) => f.startsWith('responses-'))
    .flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line)),
    );
  const failures = await checkResponses(JSON.parse(readFileSync(documentFile, 'utf8')), records);
  if (failures.length > 0) {
    throw new Error(`The API answered outside its OpenAPI document (${failures.length}):\n  ${failures.join('\n  ')}`);
  }
  return { checked: records.length };
}
