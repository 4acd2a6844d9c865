import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { ForbiddenWebhookTarget, guardedLookup, parseWebhookUrl, resolveWebhookHost } from './webhook-address.guard.js';
import type { WebhookSignatureHeaders } from './webhook-signature.js';

/** Bytes of a receiver's answer kept for the delivery log; the rest is read and dropped. */
export const RESPONSE_EXCERPT_BYTES = 1024;

export interface WebhookPost {
  url: string;
  body: string;
  headers: WebhookSignatureHeaders;
}

/** One attempt: the receiver's status (null when none came: refused, timed out, cut), how long it took, what it said (an excerpt). */
export interface WebhookAttempt {
  delivered: boolean;
  status: number | null;
  durationMs: number;
  excerpt: string;
  /** Why no answer came or why the target was refused; for the log, never a stack trace. */
  error?: string;
}

/**
 * Posts signed webhook bodies: http(s) only, each connection to an address checked at the
 * moment it is made (loopback, private, link-local, metadata and multicast refused unless
 * `allowPrivate`), redirects not followed (a 3xx is a failed attempt), an answer within
 * `timeoutMs` or none, and at most RESPONSE_EXCERPT_BYTES of the answer kept.
 */
export class WebhookTransport {
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;

  constructor(private readonly options: { allowPrivate: boolean; timeoutMs: number; userAgent: string }) {
    const lookup = guardedLookup(options.allowPrivate) as never;
    this.http = new HttpAgent({ keepAlive: true, maxSockets: 64, lookup });
    this.https = new HttpsAgent({ keepAlive: true, maxSockets: 64, lookup });
  }

  async post({ url: text, body, headers }: WebhookPost): Promise<WebhookAttempt> {
    const started = performance.now();
    const took = () => Math.round(performance.now() - started);
    let url: URL;
    try {
      url = parseWebhookUrl(text);
      // A host written as an IP is connected to without a lookup: checked here instead.
      if (url.hostname.startsWith('[') || /^[\d.]+$/.test(url.hostname)) await resolveWebhookHost(url.hostname, this.options.allowPrivate);
    } catch (error) {
      return { delivered: false, status: null, durationMs: took(), excerpt: '', error: reasonOf(error) };
    }
    const secure = url.protocol === 'https:';
    return new Promise<WebhookAttempt>((resolve) => {
      const request = (secure ? httpsRequest : httpRequest)(url, {
        method: 'POST',
        agent: secure ? this.https : this.http,
        headers: { 'content-type': 'application/json', 'user-agent': this.options.userAgent, ...headers },
        timeout: this.options.timeoutMs,
      });
      const timer = setTimeout(() => request.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
      request.once('response', (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        response.on('data', (chunk: Buffer) => {
          if (kept >= RESPONSE_EXCERPT_BYTES) return;
          chunks.push(chunk.subarray(0, RESPONSE_EXCERPT_BYTES - kept));
          kept += Math.min(chunk.length, RESPONSE_EXCERPT_BYTES - kept);
        });
        response.once('end', () => {
          clearTimeout(timer);
          const status = response.statusCode ?? 0;
          resolve({
            delivered: status >= 200 && status < 300,
            status,
            durationMs: took(),
            excerpt: excerptOf(Buffer.concat(chunks)),
          });
        });
        response.once('error', (error) => {
          clearTimeout(timer);
          resolve({ delivered: false, status: response.statusCode ?? null, durationMs: took(), excerpt: '', error: reasonOf(error) });
        });
      });
      request.once('timeout', () => request.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`)));
      request.once('error', (error) => {
        clearTimeout(timer);
        resolve({ delivered: false, status: null, durationMs: took(), excerpt: '', error: reasonOf(error) });
      });
      request.end(body);
    });
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

/**
 * The answer's first bytes as text PostgreSQL will store: invalid UTF-8 becomes U+FFFD, a
 * character cut at the end is dropped (the decoder waits for bytes that never come) and NUL,
 * which a TEXT column refuses, is taken out.
 */
export function excerptOf(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(bytes, { stream: true }).replaceAll('\u0000', '');
}

function reasonOf(error: unknown): string {
  if (error instanceof ForbiddenWebhookTarget) return `the URL ${error.reason}`;
  const code = (error as NodeJS.ErrnoException).code;
  return code && code !== 'EWEBHOOKFORBIDDEN' ? `${code}: ${(error as Error).message}` : (error as Error).message;
}
