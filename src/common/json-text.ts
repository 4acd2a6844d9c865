import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyReply } from 'fastify';

/** A body longer than this goes out in slices of it, each on a turn of the event loop of its own. */
const SLICE_CHARS = 64 * 1024;

/** What a route answers with JSON text: the text itself, or its slices as they are sent. */
export type JsonText = string | AsyncGenerator<Buffer>;

/**
 * Sends JSON text that is already written (by PostgreSQL, kept as text by the cache) as the
 * reply's body, `parts` one after the other: never parsed or serialized here. A short body
 * goes as one string. A long one goes as a stream of slices, each turned into bytes on its
 * own turn of the event loop, so sending megabytes never holds it in one go.
 */
export function jsonText(reply: FastifyReply, parts: readonly string[]): JsonText {
  void reply.type('application/json');
  let chars = 0;
  for (const part of parts) chars += part.length;
  return chars <= SLICE_CHARS ? parts.join('') : inSlices(parts);
}

/**
 * `parts` one after the other as UTF-8, gathered and cut into slices of about 64 Ki
 * characters (never between the two halves of a surrogate pair), a turn of the event loop
 * between slices.
 */
export async function* inSlices(parts: readonly string[]): AsyncGenerator<Buffer> {
  let batch: string[] = [];
  let chars = 0;
  const take = () => {
    const slice = Buffer.from(batch.join(''));
    batch = [];
    chars = 0;
    return slice;
  };
  for (const part of parts) {
    let start = 0;
    while (part.length - start > SLICE_CHARS - chars) {
      let end = start + SLICE_CHARS - chars;
      if (isHighSurrogate(part.charCodeAt(end - 1))) end--;
      batch.push(part.slice(start, end));
      start = end;
      yield take();
      await nextTurn();
    }
    if (start < part.length) {
      batch.push(start === 0 ? part : part.slice(start));
      chars += part.length - start;
    }
  }
  if (chars > 0) yield take();
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
