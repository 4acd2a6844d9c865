import { request, type IncomingMessage } from 'node:http';

/** One server-sent event as a reader sees it. */
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** An open change feed: its status and headers, then what arrives, parsed as EventSource does. */
export interface SseReader {
  status: number;
  headers: Headers;
  /** The problem+json of a refused feed. */
  problem?: any;
  events: SseEvent[];
  /** Comment lines (`: ...`), e.g. heartbeats. */
  comments: string[];
  /** The `data` of every `change` event, parsed. */
  changes(): any[];
  /** Resolves when the server ends the stream (or the reader closes it). */
  ended: Promise<void>;
  close(): void;
}

/**
 * Opens `GET path` as an event stream, as an EventSource would, with an optional
 * `Last-Event-ID`. Over node:http on a connection of its own (no pool), which closing
 * the reader destroys.
 */
export async function openFeed(
  base: string,
  path: string,
  options: { token?: string; lastEventId?: string; headers?: Record<string, string> } = {},
): Promise<SseReader> {
  const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId;
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(`${base}${path}`, { headers, agent: false }, resolve);
    req.on('error', reject);
    req.end();
  });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const responseHeaders = new Headers();
  for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') responseHeaders.set(name, value);
  const ended = new Promise<void>((resolve) => response.socket.once('close', () => resolve()));
  const reader: SseReader = {
    status: response.statusCode ?? 0,
    headers: responseHeaders,
    events,
    comments,
    changes: () => events.filter((e) => e.event === 'change').map((e) => JSON.parse(e.data)),
    ended,
    close: () => response.destroy(),
  };
  if (reader.status !== 200) {
    let text = '';
    for await (const chunk of response) text += String(chunk);
    reader.problem = text ? JSON.parse(text) : undefined;
    return reader;
  }
  let buffer = '';
  response.setEncoding('utf8');
  response.on('error', () => undefined);
  response.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event: SseEvent = { event: 'message', data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) comments.push(line.slice(1).trim());
        else if (line.startsWith('id: ')) event.id = line.slice(4);
        else if (line.startsWith('event: ')) event.event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) events.push({ ...event, data: data.join('\n') });
    }
  });
  return reader;
}
