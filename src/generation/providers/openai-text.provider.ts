import { z } from 'zod';
import { postJson, type OpenAiEndpoint } from './openai-compatible.js';
import { ProviderUnavailable, type GeneratedBlock, type GenerationRequest, type TextProvider } from './text-provider.js';

const BLOCK_TYPES = ['heading', 'text', 'list-item', 'checklist-item', 'quote', 'code'] as const;

const ChatAnswer = z.object({ choices: z.array(z.object({ message: z.object({ content: z.string() }) })).min(1) });
const BlocksAnswer = z.object({
  blocks: z
    .array(
      z.object({
        type: z.enum(BLOCK_TYPES),
        text: z.string().min(1).max(4000),
        level: z.number().int().min(1).max(6).optional(),
        checked: z.boolean().optional(),
      }),
    )
    .min(1)
    .max(200),
});
const PlanAnswer = z.object({ sections: z.array(z.string().min(1).max(200)).min(1).max(6) });

const BLOCKS_INSTRUCTIONS = `You write documents for a collaborative block editor. Answer with JSON only:
{"blocks": [{"type": one of ${BLOCK_TYPES.join(', ')}, "text": string, "level"?: 1-6 (headings), "checked"?: boolean (checklist items)}]}.`;
const PLAN_INSTRUCTIONS = `You plan documents. Answer with JSON only: {"sections": [3 to 6 short section headings]}.`;

/** Chat completions of an OpenAI-compatible API (AI_PROVIDER_URL, AI_API_KEY, AI_MODEL), in JSON mode. */
export class OpenAiTextProvider implements TextProvider {
  readonly name = 'openai-compatible';

  constructor(
    private readonly endpoint: OpenAiEndpoint,
    private readonly model: string,
  ) {}

  async generate(request: GenerationRequest, signal: AbortSignal): Promise<GeneratedBlock[]> {
    const task =
      request.mode === 'outline'
        ? 'Write an outline: headings with list items under each.'
        : 'Write the document as blocks: a heading, paragraphs, and checklist items where they help.';
    const context = request.section ? ` This is the section "${request.section}" of a larger document; do not repeat its heading.` : '';
    const answer = BlocksAnswer.parse(await this.chat(BLOCKS_INSTRUCTIONS, `${task}${context}\n\n${request.prompt}`, signal));
    return answer.blocks.map(({ type, text, level, checked }) => ({
      type,
      content: { text, ...(type === 'heading' && { level: level ?? 2 }), ...(type === 'checklist-item' && { checked: checked ?? false }) },
    }));
  }

  async plan(goal: string, signal: AbortSignal): Promise<string[]> {
    return PlanAnswer.parse(await this.chat(PLAN_INSTRUCTIONS, goal, signal)).sections;
  }

  private async chat(system: string, user: string, signal: AbortSignal): Promise<unknown> {
    const answer = ChatAnswer.parse(
      await postJson(
        this.endpoint,
        '/chat/completions',
        {
          model: this.model,
          response_format: { type: 'json_object' },
          messages: [
            { role: 'system', content: system },
            { role: 'user', content: user },
          ],
        },
        signal,
      ),
    );
    try {
      return JSON.parse(answer.choices[0].message.content) as unknown;
    } catch {
      throw new ProviderUnavailable('the model did not answer with JSON');
    }
  }
}
