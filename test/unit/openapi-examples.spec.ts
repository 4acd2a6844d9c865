import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { OpenAPIBackend } from 'openapi-backend';
import { withFormats } from '../helpers/contract-check.mjs';
import { ERROR_CATALOG, type ErrorCode } from '../../src/errors/error-catalog.js';
import { offlineOpenApiDocument } from '../../src/openapi.document.js';

/** One curl of the README, as the server would see it. */
interface CurlRequest {
  command: string;
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body?: unknown;
}

/** What the README's shell variables stand for: values of the shapes the server gives them. */
const VARIABLES: Record<string, string> = {
  BASE: 'http://localhost:3001',
  TOKEN: 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln',
  KEY: 'K7Q',
  BLOCK: '0b8f2c1e-4d3a-4e5f-8a6b-7c8d9e0f1a2b',
  JOB: '3d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70',
  ARTIFACT: '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d',
};

/** Shell words of one command, from `curl` to the end of the command (`|`, `)` or `;` outside quotes). */
function curlWords(text: string, start: number): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let i = start;
  const expand = (name: string) => {
    if (!(name in VARIABLES)) throw new Error(`The README uses $${name}, unknown to this test`);
    word = (word ?? '') + VARIABLES[name];
  };
  while (i < text.length) {
    const c = text[i];
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      word = (word ?? '') + text.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      word ??= '';
      while (text[i] !== '"') {
        if (text[i] === '$') {
          const name = /^\$\{?(\w+)\}?/.exec(text.slice(i))!;
          expand(name[1]);
          i += name[0].length;
        } else word += text[i++];
      }
      i++;
    } else if (c === '$') {
      const name = /^\$\{?(\w+)\}?/.exec(text.slice(i))!;
      expand(name[1]);
      i += name[0].length;
    } else if (/\s/.test(c) || c === '|' || c === ')' || c === ';') {
      if (word !== undefined) words.push(word);
      word = undefined;
      if (c !== ' ' && c !== '\t') break;
      i++;
    } else {
      word = (word ?? '') + c;
      i++;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

function parseCurl(words: string[], command: string): CurlRequest {
  let method: string | undefined;
  let url: string | undefined;
  let data: string | undefined;
  const headers: Record<string, string> = {};
  for (let i = 1; i < words.length; i++) {
    const w = words[i];
    if (w === '-X') method = words[++i];
    else if (w === '-H') {
      const [name, ...value] = words[++i].split(':');
      headers[name.trim().toLowerCase()] = value.join(':').trim();
    } else if (w === '-d' || w === '--data') data = words[++i];
    else if (w.startsWith('-')) continue;
    else url = w;
  }
  if (!url) throw new Error(`No URL in: ${command}`);
  const parsed = new URL(url);
  return {
    command,
    method: method ?? (data === undefined ? 'GET' : 'POST'),
    path: parsed.pathname,
    query: Object.fromEntries(parsed.searchParams),
    headers,
    ...(data !== undefined && { body: JSON.parse(data) as unknown }),
  };
}

/** Every curl in the README's "The API from a shell" section, continuation lines joined. */
function readmeCurls(): CurlRequest[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## The API from a shell'), readme.indexOf('## Commands'));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1].replace(/\\\n\s*/g, ''));
  return blocks.flatMap((block) =>
    block.split('\n').flatMap((line) => [...line.matchAll(/\bcurl\s/g)].map((m) => parseCurl(curlWords(line, m.index), line.trim()))),
  );
}

describe('the OpenAPI document, the README and the examples', () => {
  let document: any;
  let api: OpenAPIBackend;
  beforeAll(async () => {
    // Built as the server builds what it serves at /api/docs/openapi.json, without a database or Redis.
    document = JSON.parse(JSON.stringify(await offlineOpenApiDocument()));
    api = new OpenAPIBackend({ definition: document, strict: true, customizeAjv: withFormats });
    await api.init();
  });

  it('describes every operation completely: id, summary, security, answers and problem codes from the catalog', () => {
    expect(document.servers).toEqual([expect.objectContaining({ url: '/' })]);
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual(['adminToken', 'bearer', 'metricsToken']);
    const ids = new Set<string>();
    for (const operation of api.getOperations()) {
      const name = `${operation.method.toUpperCase()} ${operation.path}`;
      expect([name, operation.operationId]).toEqual([name, expect.stringMatching(/^[a-z][A-Za-z]+$/)]);
      expect(ids.has(operation.operationId!)).toBe(false);
      ids.add(operation.operationId!);
      expect([name, operation.summary?.length, operation.description?.length]).toEqual([name, expect.any(Number), expect.any(Number)]);
      expect([name, operation.security]).toEqual([name, expect.any(Array)]);
      if (operation.path.startsWith('/api/admin/')) expect([name, operation.security]).toEqual([name, [{ adminToken: [] }]]);
      const responses = Object.entries<any>(operation.responses ?? {});
      expect([name, responses.some(([status]) => /^2/.test(status))]).toEqual([name, true]);
      for (const [status, response] of responses.filter(([s]) => Number(s) >= 400)) {
        const codes: string[] = response.content['application/problem+json'].schema.properties.code.enum;
        expect([name, status, codes.filter((code) => ERROR_CATALOG[code as ErrorCode]?.status !== Number(status))]).toEqual([
          name,
          status,
          [],
        ]);
      }
      for (const parameter of (operation.parameters ?? []) as any[]) {
        if (parameter.name === 'key') expect(parameter.schema.pattern).toBe('^[A-Z0-9]{3,12}$');
        if (parameter.name === 'If-Match') expect(new RegExp(parameter.schema.pattern).test('"3"')).toBe(true);
        if (parameter.name === 'Idempotency-Key')
          expect(parameter.schema).toEqual(expect.objectContaining({ minLength: 1, maxLength: 255 }));
      }
    }
    const bySecurity = (id: string) => api.getOperation(id)?.security;
    expect([bySecurity('getSession'), bySecurity('getMe'), bySecurity('getHealth')]).toEqual([[{}, { bearer: [] }], [{ bearer: [] }], []]);
    const update = api.getOperation('updateBlock')!.responses as any;
    expect(update['409'].content['application/problem+json'].schema.properties.code.enum).toEqual([
      'IDEMPOTENCY_KEY_IN_USE',
      'VERSION_CONFLICT',
    ]);
    expect(Object.keys(update['429'].headers)).toEqual(['Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset']);
  });

  it('every curl names a documented operation and sends what its parameters and request schema accept', () => {
    const curls = readmeCurls();
    const operations = curls.map((curl) => {
      const operation = api.matchOperation({ method: curl.method, path: curl.path, headers: curl.headers });
      expect([curl.command, operation?.operationId]).toEqual([curl.command, expect.any(String)]);
      const result = api.validateRequest(
        { method: curl.method, path: curl.path, query: curl.query, headers: curl.headers, body: curl.body },
        operation,
      );
      expect([curl.command, result.errors ?? []]).toEqual([curl.command, []]);
      return operation!.operationId;
    });
    // The flows the section promises.
    for (const id of ['register', 'createSession', 'getSession', 'createBlock', 'updateBlock', 'batchBlocks', 'exportSession', 'getJob']) {
      expect(operations).toContain(id);
    }
    expect(operations.filter((id) => id === 'updateBlock')).toHaveLength(2);
  });

  it('a curl the document does not accept is caught', () => {
    const wrong = parseCurl(
      curlWords(`curl -X PATCH $BASE/api/sessions/$KEY/blocks/$BLOCK -H 'if-match: v1' -d '{"title":"x"}'`, 0),
      'wrong',
    );
    const operation = api.matchOperation({ method: wrong.method, path: wrong.path, headers: wrong.headers })!;
    const result = api.validateRequest({ ...wrong }, operation);
    expect((result.errors ?? []).map((e) => e.instancePath || e.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/if-match/i)]),
    );
  });

  it('every request and response example conforms to its schema', () => {
    let checked = 0;
    for (const operation of api.getOperations()) {
      const request = (operation.requestBody as any)?.content?.['application/json'];
      if (request?.example !== undefined) {
        const path = operation.path.replace('{key}', VARIABLES.KEY).replace(/\{\w+\}/g, VARIABLES.BLOCK);
        const result = api.validateRequest(
          { method: operation.method, path, headers: { 'content-type': 'application/json' }, body: request.example },
          operation,
        );
        expect([operation.operationId, result.errors ?? []]).toEqual([operation.operationId, []]);
        checked++;
      }
      for (const [status, response] of Object.entries<any>(operation.responses ?? {})) {
        const example: unknown = response.content?.['application/json']?.example;
        if (example === undefined) continue;
        const result = api.validateResponse(example, operation, Number(status));
        expect([operation.operationId, status, result.errors ?? []]).toEqual([operation.operationId, status, []]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10);
  });
});
