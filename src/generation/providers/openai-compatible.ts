import { ProviderRefusal, ProviderUnavailable } from './text-provider.js';

export interface OpenAiEndpoint {
  baseUrl: string;
  apiKey?: string;
  timeoutMs: number;
}

/**
 * One JSON POST to an OpenAI-compatible API. 408, 429 and 5xx (and network errors) are
 * ProviderUnavailable, so the job is retried with backoff; other 4xx are refusals a retry cannot
 * fix. Either way the provider's answer is for the log, never for the job's caller.
 */
export async function postJson(endpoint: OpenAiEndpoint, path: string, body: unknown, signal: AbortSignal): Promise<unknown> {
  const url = `${endpoint.baseUrl.replace(/\/+$/, '')}${path}`;
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(endpoint.apiKey && { authorization: `Bearer ${endpoint.apiKey}` }) },
    body: JSON.stringify(body),
    signal: AbortSignal.any([signal, AbortSignal.timeout(endpoint.timeoutMs)]),
  });
  const text = await response.text();
  if (!response.ok) {
    const message = `provider answered ${response.status}: ${text.slice(0, 200)}`;
    if (response.status === 408 || response.status === 429 || response.status >= 500) throw new ProviderUnavailable(message);
    throw new ProviderRefusal(message);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ProviderUnavailable('provider answered with something that is not JSON');
  }
}
