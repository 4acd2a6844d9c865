import { writeFileSync } from 'node:fs';
import { offlineOpenApiDocument } from './openapi.document.js';

/** `node dist/openapi.cli.js [file]`: prints (or writes) the OpenAPI document; `npm run openapi:lint` lints it. */
async function main(): Promise<void> {
  const text = `${JSON.stringify(await offlineOpenApiDocument(), null, 2)}\n`;
  const file = process.argv[2];
  if (file) writeFileSync(file, text);
  else process.stdout.write(text);
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
