import type { GeneratedImage, ImageProvider } from './text-provider.js';
import { keywords, oneLine, promptBytes } from './prompt-words.js';

const WIDTH = 1200;
const HEIGHT = 675;

const escapeXml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);

const hsl = (hue: number, saturation: number, lightness: number) => `hsl(${hue % 360} ${saturation}% ${lightness}%)`;

/** Splits text into at most `lines` lines of about `width` characters. */
function wrap(text: string, width: number, lines: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > width) {
      out.push(line);
      line = '';
      if (out.length === lines) break;
    }
    line = line ? `${line} ${word}` : word;
  }
  if (line && out.length < lines) out.push(line);
  return out;
}

/**
 * The built-in image provider: an SVG drawn from the prompt. The prompt's hash picks the
 * palette and lays out the shapes, its words become the caption, so the same prompt always
 * gives the same picture and different prompts visibly differ. No scripts, no external
 * references: safe to open and to inline.
 */
export class LocalImageProvider implements ImageProvider {
  readonly name = 'local';

  render(prompt: string): Promise<GeneratedImage> {
    const bytes = promptBytes(prompt);
    const hue = Math.round((bytes[0] / 255) * 360);
    const shapes: string[] = [];
    for (let i = 0; i < 9; i++) {
      const b = bytes.subarray(1 + i * 3, 4 + i * 3);
      const x = Math.round((b[0] / 255) * WIDTH);
      const y = Math.round((b[1] / 255) * HEIGHT);
      const size = 40 + Math.round((b[2] / 255) * 220);
      const fill = hsl(hue + 40 * (i % 4) + b[2], 70, 45 + (i % 3) * 12);
      shapes.push(
        i % 3 === 0
          ? `<circle cx="${x}" cy="${y}" r="${size / 2}" fill="${fill}" fill-opacity="0.75"/>`
          : i % 3 === 1
            ? `<rect x="${x - size / 2}" y="${y - size / 2}" width="${size}" height="${size}" rx="${Math.round(size / 6)}" transform="rotate(${b[0] % 90} ${x} ${y})" fill="${fill}" fill-opacity="0.7"/>`
            : `<polygon points="${x},${y - size / 2} ${x + size / 2},${y + size / 2} ${x - size / 2},${y + size / 2}" fill="${fill}" fill-opacity="0.7"/>`,
      );
    }
    const caption = wrap(oneLine(prompt, 140), 48, 3);
    const tags = keywords(prompt, 5)
      .map((w) => `#${w}`)
      .join('  ');
    const text = caption
      .map((line, i) => `<text x="60" y="${HEIGHT - 70 - (caption.length - 1 - i) * 46}" class="caption">${escapeXml(line)}</text>`)
      .join('');
    const svg = `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeXml(oneLine(prompt, 200))}">
<title>${escapeXml(oneLine(prompt, 200))}</title>
<defs><linearGradient id="bg" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="${hsl(hue, 60, 18)}"/><stop offset="1" stop-color="${hsl(hue + 60, 55, 32)}"/></linearGradient></defs>
<style>.caption{font:600 38px system-ui,sans-serif;fill:#fff}.tags{font:400 22px system-ui,sans-serif;fill:#ffffffb3}</style>
<rect width="${WIDTH}" height="${HEIGHT}" fill="url(#bg)"/>
${shapes.join('\n')}
<rect x="0" y="${HEIGHT - 80 - caption.length * 46}" width="${WIDTH}" height="${80 + caption.length * 46}" fill="#000" fill-opacity="0.45"/>
${text}
<text x="60" y="${HEIGHT - 28}" class="tags">${escapeXml(tags)}</text>
</svg>
`;
    return Promise.resolve({ body: Buffer.from(svg), contentType: 'image/svg+xml', extension: 'svg', width: WIDTH, height: HEIGHT });
  }
}
