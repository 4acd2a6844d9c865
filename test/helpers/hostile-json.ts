import fc from 'fast-check';
import { Decoder, Encoder, PacketType, type Packet } from 'socket.io-parser';
import { MAX_JSON_DEPTH } from '../../src/errors/json-shape.js';

/**
 * Generated input for the hostile-input suite, the same for HTTP bodies and socket payloads:
 * any JSON, and the values Tessera must refuse rather than store (NUL, lone surrogates,
 * prototype keys, nesting past MAX_JSON_DEPTH, binary data) next to ordinary ones. Sizes are
 * bounded so that a generated body stays under the default BODY_LIMIT: a socket message past
 * it is not answered, Socket.IO closes the connection, which these properties do not test.
 */

/** Any JSON a client could send, including the awkward corners (unicode, big numbers, deep nesting). */
export const anyJson = fc.jsonValue({ maxDepth: 6, stringUnit: 'binary' });

/** The field names of Tessera's bodies and socket payloads, so that generated objects hit real fields. */
export const FIELD_NAMES = [
  'typeSlug',
  'title',
  'state',
  'metadata',
  'visibility',
  'themeId',
  'version',
  'email',
  'password',
  'displayName',
  'plan',
  'name',
  'tokens',
  'type',
  'content',
  'afterId',
  'beforeId',
  'ops',
  'label',
  'userId',
  'ip',
  'key',
  'id',
  'since',
  'merge',
  'cursor',
  'blockId',
  'offset',
  'selection',
  'status',
  'x',
] as const;

/** Keys that must never be stored as such: prototype keys, NUL, lone surrogates, and names Object.prototype holds. */
export const hostileKey = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'nul\u0000',
  '\u0000',
  '\ud800',
  'a\udfffb',
  '',
);

/** Strings of any code units, and the ones storage refuses or that break naive code. */
export const hostileText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 120 }),
  fc.constantFrom(
    '\ud800',
    'a\udfffb',
    'nul\u0000',
    '\u0000',
    '😀'.repeat(60),
    "'; DROP TABLE sessions; --",
    '\u202e',
    'x'.repeat(250),
    '__proto__',
    '../../etc/passwd',
  ),
);

/** One string of up to 128 KiB of UTF-8 (past BLOCK_MAX_BYTES), sometimes ending in NUL. */
export const hugeText = fc
  .tuple(fc.constantFrom('x', 'ж', '😀'), fc.integer({ min: 1024, max: 32 * 1024 }), fc.boolean())
  .map(([unit, count, nul]) => unit.repeat(unit === 'x' ? count * 4 : unit === 'ж' ? count * 2 : count) + (nul ? '\u0000' : ''));

/** Binary data: a socket payload may carry it (a Socket.IO attachment); JSON has no such value. */
export const binary = fc.uint8Array({ maxLength: 32 }).map((bytes) => Buffer.from(bytes));

const leaf = fc.oneof(
  { weight: 4, arbitrary: fc.oneof(fc.boolean(), fc.constant(null), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })) },
  { weight: 4, arbitrary: hostileText },
  { weight: 1, arbitrary: binary },
);
const anyKeyName = fc.oneof(fc.constantFrom(...FIELD_NAMES), hostileKey, fc.string({ unit: 'binary', maxLength: 10 }));

/** An object from entries, so that a `__proto__` key is an own property, as JSON.parse makes it. */
const objectOf = (entries: [string, unknown][]) => Object.fromEntries(entries) as Record<string, unknown>;

/** Trees of hostile keys and leaves, a few levels deep. */
const { tree } = fc.letrec<{ tree: unknown; array: unknown[]; object: Record<string, unknown> }>((tie) => ({
  tree: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('tree'), { maxLength: 4 }),
  object: fc.array(fc.tuple(anyKeyName, tie('tree')), { maxLength: 4 }).map(objectOf),
}));

/** A value nested `depth` levels deep (objects or arrays), around MAX_JSON_DEPTH and well past it. */
export const deepJson = fc
  .tuple(fc.integer({ min: MAX_JSON_DEPTH - 3, max: MAX_JSON_DEPTH * 3 }), fc.boolean(), leaf)
  .map(([depth, arrays, inner]) => {
    let value: unknown = inner;
    for (let i = 1; i < depth; i++) value = arrays && i % 2 ? [value] : { d: value };
    return value;
  });

/** Prototype-poisoning shapes, as a client would write them in JSON. */
export const poisoned = fc.constantFrom<Record<string, unknown>>(
  JSON.parse('{"__proto__": {"polluted": true}}'),
  JSON.parse('{"a": {"__proto__": {"isAdmin": true}}}'),
  { constructor: { prototype: { polluted: true } } },
  { constructor: 'x', prototype: 1 },
  JSON.parse('[{"__proto__": null}]'),
);

/** Any value a hostile client sends. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: tree },
  { weight: 3, arbitrary: anyJson },
  { weight: 2, arbitrary: hostileText },
  { weight: 1, arbitrary: deepJson },
  { weight: 1, arbitrary: poisoned },
  { weight: 1, arbitrary: hugeText },
);

/** An object of hostile keys and values (a block's content, a session's state). */
export const hostileObject = fc.array(fc.tuple(anyKeyName, hostileValue), { maxLength: 5 }).map(objectOf);

/** A whole body or payload: any value, or an object of the real field names holding any values. */
export const hostileBody: fc.Arbitrary<unknown> = fc.oneof(
  hostileValue,
  fc
    .array(fc.tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...FIELD_NAMES) }, hostileKey), hostileValue), { maxLength: 6 })
    .map(objectOf),
);

const isContainer = (value: unknown): value is object => value !== null && typeof value === 'object';
const isPlain = (value: object) => Array.isArray(value) || [Object.prototype, null].includes(Object.getPrototypeOf(value));

/**
 * Why the server must refuse this value as it arrives (after JSON for HTTP, as decoded for a
 * socket), or null: NUL or lone surrogates in a string or key, binary data, nesting deeper
 * than MAX_JSON_DEPTH, a `__proto__` key or a `constructor` object with a `prototype`.
 */
export function refusedShape(value: unknown, depth = 1): string | null {
  if (typeof value === 'string') return value.includes('\u0000') || !value.isWellFormed() ? `string ${JSON.stringify(value)}` : null;
  if (!isContainer(value)) return null;
  if (!isPlain(value)) return 'binary data';
  if (depth > MAX_JSON_DEPTH) return `nested deeper than ${MAX_JSON_DEPTH}`;
  for (const [key, child] of Object.entries(value)) {
    if (key.includes('\u0000') || !key.isWellFormed()) return `key ${JSON.stringify(key)}`;
    if (key === '__proto__') return 'a __proto__ key';
    if (key === 'constructor' && isContainer(child) && Object.hasOwn(child, 'prototype')) return 'a constructor.prototype key';
    const inner = refusedShape(child, depth + 1);
    if (inner) return inner;
  }
  return null;
}

/** What an HTTP body is once the server has parsed it: its JSON. */
export const asJson = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/**
 * What a socket event's arguments are once the server has decoded them, through the codec
 * client and server share. A payload with binary data is sent as a binary packet, whose
 * encoder rebuilds objects by assignment: a `__proto__` key there never leaves the client.
 */
export function asDecoded(args: unknown[]): unknown[] {
  const decoder = new Decoder();
  let data: unknown[] = [];
  decoder.on('decoded', (packet: Packet) => {
    data = packet.data as unknown[];
  });
  for (const chunk of new Encoder().encode({ type: PacketType.EVENT, nsp: '/collab', id: 1, data: ['event', ...args] })) {
    decoder.add(chunk);
  }
  decoder.destroy();
  return data.slice(1);
}

/**
 * What must never be found in data read back from Tessera, or null: NUL or lone surrogates,
 * a `__proto__` key, the `constructor` and `prototype` keys the validation pipe strips from
 * every input, or nesting deeper than `maxDepth`.
 */
export function storedProblem(value: unknown, maxDepth = Infinity): string | null {
  const stack: { node: unknown; depth: number }[] = [{ node: value, depth: 1 }];
  while (stack.length) {
    const { node, depth } = stack.pop()!;
    if (typeof node === 'string' && (node.includes('\u0000') || !node.isWellFormed())) return `string ${JSON.stringify(node)}`;
    if (!isContainer(node)) continue;
    if (depth > maxDepth) return `nested deeper than ${maxDepth}`;
    for (const [key, child] of Object.entries(node)) {
      if (key.includes('\u0000') || !key.isWellFormed()) return `key ${JSON.stringify(key)}`;
      if (['__proto__', 'constructor', 'prototype'].includes(key)) return `a ${key} key`;
      stack.push({ node: child, depth: depth + 1 });
    }
  }
  return null;
}
