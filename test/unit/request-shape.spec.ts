import { describe, expect, it } from '@jest/globals';
import { AppError } from '../../src/errors/app-error.js';
import { checkJsonShape, MAX_JSON_DEPTH } from '../../src/errors/json-shape.js';
import { toProblem } from '../../src/errors/problem.js';
import { versionFrom } from '../../src/sessions/version-precondition.js';

const nested = (depth: number): unknown => (depth === 1 ? {} : { a: nested(depth - 1) });

describe('JSON shape limits', () => {
  it(`accepts ${MAX_JSON_DEPTH} levels and refuses one more`, () => {
    expect(checkJsonShape(nested(MAX_JSON_DEPTH))).toBeNull();
    expect(checkJsonShape(nested(MAX_JSON_DEPTH + 1))?.message).toMatch(/deeper than 32/);
  });

  it('refuses NUL in values and keys, wherever they are', () => {
    expect(checkJsonShape({ a: [{ b: 'x\u0000y' }] })).toEqual({ field: 'a.0.b', message: expect.stringMatching(/NUL/) });
    expect(checkJsonShape({ ['k\u0000']: 1 })?.message).toMatch(/NUL/);
    expect(checkJsonShape({ a: 'fine', n: 1, b: [true, null] })).toBeNull();
  });

  it('refuses binary data (a socket attachment), wherever it is, without walking its bytes', () => {
    expect(checkJsonShape({ a: [{ b: Buffer.alloc(4) }] })).toEqual({ field: 'a.0.b', message: expect.stringMatching(/binary/) });
    expect(checkJsonShape(Buffer.alloc(1024 * 1024))).toEqual({ field: '(body)', message: expect.stringMatching(/binary/) });
    expect(checkJsonShape({ a: new Uint8Array(2).buffer })?.message).toMatch(/binary/);
    expect(checkJsonShape(Object.assign(Object.create(null) as object, { a: 1 }))).toBeNull();
  });
});

describe('base version of a write', () => {
  it('comes from the body or If-Match, and is required', () => {
    expect(versionFrom(3, undefined)).toBe(3);
    expect(versionFrom(undefined, '"4"')).toBe(4);
    expect(versionFrom(undefined, 'W/"5"')).toBe(5);
    expect(versionFrom(6, '"6"')).toBe(6);
    expect(() => versionFrom(undefined, undefined)).toThrow(expect.objectContaining({ code: 'PRECONDITION_REQUIRED' }));
    expect(() => versionFrom(2, '"3"')).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    expect(() => versionFrom(undefined, '"abc"')).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });
});

describe('problem mapping', () => {
  it('keeps catalog errors and hides everything else', () => {
    const conflict = toProblem(new AppError('VERSION_CONFLICT', 'stale', { current: { version: 2 } }));
    expect(conflict.problem).toEqual({
      type: 'about:blank',
      title: 'Conflict',
      status: 409,
      detail: 'stale',
      code: 'VERSION_CONFLICT',
      current: { version: 2 },
    });
    const hidden = toProblem(new TypeError('secret internals at /srv/app.js:12'));
    expect(hidden.internal).toBe(true);
    expect(JSON.stringify(hidden.problem)).not.toContain('secret');
    expect(hidden.problem).toMatchObject({ status: 500, code: 'INTERNAL_ERROR' });
  });

  it('reports a database or Redis outage as 503', () => {
    expect(toProblem(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })).problem.status).toBe(503);
    expect(toProblem(new Error('Connection is closed.')).problem.code).toBe('SERVICE_UNAVAILABLE');
  });
});
