import type { GeneratedBlock, GenerationRequest, TextProvider } from './text-provider.js';
import { capitalise, keywords, oneLine, phrase, promptBytes } from './prompt-words.js';

const OUTLINE_SECTIONS = [
  (topic: string) => `Why ${topic} matters`,
  (topic: string) => `What ${topic} involves`,
  (topic: string) => `How to approach ${topic}`,
  (topic: string) => `Risks and open questions about ${topic}`,
  (topic: string) => `Next steps for ${topic}`,
];

const PLAN_SECTIONS = ['Context', 'Goals', 'Approach', 'Risks', 'Next steps', 'Open questions'];

/**
 * The built-in provider: no network, no model, the same output for the same prompt. It
 * builds a structured document from the prompt's own words, so a session shows real,
 * relevant blocks offline and tests can assert exactly what was written.
 */
export class LocalTextProvider implements TextProvider {
  readonly name = 'local';

  generate(request: GenerationRequest): Promise<GeneratedBlock[]> {
    return Promise.resolve(request.mode === 'outline' ? this.outline(request) : this.blocks(request));
  }

  plan(goal: string): Promise<string[]> {
    const words = keywords(goal);
    const count = Math.min(PLAN_SECTIONS.length, Math.max(3, Math.ceil(words.length / 2) + 1));
    const topic = phrase(words, 3, 'the goal');
    return Promise.resolve(PLAN_SECTIONS.slice(0, count).map((section, i) => (i === 0 ? `${section}: ${topic}` : section)));
  }

  private outline({ prompt, section }: GenerationRequest): GeneratedBlock[] {
    const words = keywords(prompt);
    const topic = phrase(words, 3, 'the topic');
    const blocks: GeneratedBlock[] = section ? [] : [{ type: 'heading', content: { text: capitalise(oneLine(prompt, 80)), level: 1 } }];
    const offset = promptBytes(prompt)[0] % OUTLINE_SECTIONS.length;
    for (let i = 0; i < 4; i++) {
      const title = OUTLINE_SECTIONS[(offset + i) % OUTLINE_SECTIONS.length](topic);
      blocks.push({ type: 'heading', content: { text: capitalise(title), level: 2 } });
      const points = words.length
        ? words
            .slice(i % words.length)
            .concat(words.slice(0, i % words.length))
            .slice(0, 3)
        : ['scope', 'owners', 'timeline'];
      for (const point of points)
        blocks.push({ type: 'list-item', content: { text: `${capitalise(point)}: what we know, what we decide, who owns it` } });
    }
    return blocks;
  }

  private blocks({ prompt, section }: GenerationRequest): GeneratedBlock[] {
    const words = keywords(prompt);
    const topic = phrase(words, 3, 'this');
    const blocks: GeneratedBlock[] = section ? [] : [{ type: 'heading', content: { text: capitalise(oneLine(prompt, 80)), level: 1 } }];
    blocks.push({
      type: 'text',
      content: {
        text: section
          ? `${capitalise(section)} for ${topic}: the points below are a starting draft to edit together.`
          : `A first draft about ${topic}, generated from the prompt "${oneLine(prompt, 80)}". Edit it freely: every block is yours.`,
      },
    });
    const focus = words.length ? words.slice(0, 4) : ['scope', 'timeline', 'owners'];
    for (const word of focus) blocks.push({ type: 'checklist-item', content: { text: `Decide on ${word} for ${topic}`, checked: false } });
    blocks.push({ type: 'quote', content: { text: `Keep ${phrase(words, 2, 'it')} simple, visible and shared.` } });
    return blocks;
  }
}
