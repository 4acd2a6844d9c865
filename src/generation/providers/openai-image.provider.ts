import { z } from 'zod';
import { postJson, type OpenAiEndpoint } from './openai-compatible.js';
import { ProviderUnavailable, type GeneratedImage, type ImageProvider } from './text-provider.js';

const ImagesAnswer = z.object({ data: z.array(z.object({ b64_json: z.string().min(1) })).min(1) });
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** An OpenAI-compatible images API (IMAGE_PROVIDER_URL, IMAGE_API_KEY, IMAGE_MODEL): one 1024×1024 PNG per prompt. */
export class OpenAiImageProvider implements ImageProvider {
  readonly name = 'openai-compatible';

  constructor(
    private readonly endpoint: OpenAiEndpoint,
    private readonly model: string,
  ) {}

  async render(prompt: string, signal: AbortSignal): Promise<GeneratedImage> {
    const answer = ImagesAnswer.parse(
      await postJson(
        this.endpoint,
        '/images/generations',
        { model: this.model, prompt, n: 1, size: '1024x1024', response_format: 'b64_json' },
        signal,
      ),
    );
    const body = Buffer.from(answer.data[0].b64_json, 'base64');
    if (!body.subarray(0, 8).equals(PNG_SIGNATURE)) throw new ProviderUnavailable('the images API did not answer with a PNG');
    return { body, contentType: 'image/png', extension: 'png', width: 1024, height: 1024 };
  }
}
