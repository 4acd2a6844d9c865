import { UnrecoverableError } from 'bullmq';
import type { GenerationMode } from '../../queues/queue.names.js';

export interface GeneratedBlock {
  type: string;
  content: Record<string, unknown>;
}

export interface GenerationRequest {
  prompt: string;
  mode: GenerationMode;
  /** Writing one section of a larger plan: no title block of its own. */
  section?: string;
}

/** Turns prompts into blocks. Local (built in, offline) or an OpenAI-compatible HTTP API. */
export interface TextProvider {
  readonly name: string;
  generate(request: GenerationRequest, signal: AbortSignal): Promise<GeneratedBlock[]>;
  /** The section headings a goal breaks into (3 to 6). */
  plan(goal: string, signal: AbortSignal): Promise<string[]>;
}

export const TEXT_PROVIDER = Symbol('TEXT_PROVIDER');

export interface GeneratedImage {
  body: Buffer;
  contentType: string;
  extension: string;
  width: number;
  height: number;
}

/** Turns a prompt into an image. Local (an SVG drawn from the prompt) or an OpenAI-compatible images API. */
export interface ImageProvider {
  readonly name: string;
  render(prompt: string, signal: AbortSignal): Promise<GeneratedImage>;
}

export const IMAGE_PROVIDER = Symbol('IMAGE_PROVIDER');

/** A provider refused the request in a way a retry cannot fix (bad credentials, a rejected prompt): the job fails at once. */
export class ProviderRefusal extends UnrecoverableError {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderRefusal';
  }
}

/** A provider that is down, overloaded or too slow (5xx, 408, 429, an unreadable answer): the job is retried with backoff. */
export class ProviderUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderUnavailable';
  }
}
