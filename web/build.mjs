/**
 * Builds the editor page into dist/public after `nest build`: the page's TypeScript is
 * transpiled (types are checked by `npm run check`), the client package is the one
 * `tsc -p tsconfig.client.json` emitted (all but its Node.js file store), and
 * socket.io-client's browser module comes from its package.
 */
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformFile } from '@swc/core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'public');
const assets = join(out, 'assets');
mkdirSync(assets, { recursive: true });

for (const page of ['editor', 'share', 'dom']) {
  const { code } = await transformFile(join(root, 'web', `${page}.ts`), {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'es6' },
    sourceMaps: false,
  });
  writeFileSync(join(assets, `${page}.js`), code);
}
copyFileSync(join(root, 'web', 'index.html'), join(out, 'index.html'));
copyFileSync(join(root, 'web', 'editor.css'), join(assets, 'editor.css'));
const client = join(root, 'src', 'client', 'dist');
mkdirSync(join(assets, 'client'), { recursive: true });
for (const file of readdirSync(client).filter((name) => name.endsWith('.js') && name !== 'file-store.js')) {
  copyFileSync(join(client, file), join(assets, 'client', file));
}
const socketIoClient = dirname(createRequire(import.meta.url).resolve('socket.io-client/package.json'));
copyFileSync(join(socketIoClient, 'dist', 'socket.io.esm.min.js'), join(assets, 'socket.io.esm.min.js'));
