// Preloaded with `node --import` into a process under test: appends the URL of every module
// it imports (ES imports and import(), not require()) to the file TESSERA_MODULE_LOG names.
import { register } from 'node:module';

register('./module-log.hooks.mjs', import.meta.url, { data: { file: process.env.TESSERA_MODULE_LOG } });
