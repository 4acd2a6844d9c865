import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface ProviderCall {
  path: string;
  body: any;
  at: number;
}

/**
 * A real HTTP server speaking the OpenAI-compatible API, scripted per test: `respond`
 * decides each answer (status, JSON body, delay) from the call number.
 */
export async function startFakeProvider(
  respond: (call: ProviderCall, index: number) => { status?: number; body: unknown; delayMs?: number },
): Promise<{ url: string; calls: ProviderCall[]; close(): Promise<void> }> {
  const calls: ProviderCall[] = [];
  const pending = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const call = { path: req.url ?? '', body: raw ? JSON.parse(raw) : undefined, at: Date.now() };
      calls.push(call);
      const answer = respond(call, calls.length - 1);
      const timer = setTimeout(() => {
        pending.delete(timer);
        res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body));
      }, answer.delayMs ?? 0);
      pending.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    calls,
    close: () =>
      new Promise((resolve) => {
        for (const timer of pending) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A chat-completions answer whose message is `content` as JSON. */
export const chatAnswer = (content: unknown) => ({ choices: [{ message: { role: 'assistant', content: JSON.stringify(content) } }] });
