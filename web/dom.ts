/** The few DOM helpers the editor page's modules share. */

export const element = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

export function create<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, unknown> = {}): HTMLElementTagNameMap[K] {
  const made: HTMLElementTagNameMap[K] = document.createElement(tag);
  Object.assign(made, props);
  return made;
}
