/** `npm run docs`: the op list (OPS.md) from the op tables. */
import { writeFileSync } from 'node:fs';
import { opsMarkdown } from '../src/test/ops-doc.js';

const path = new URL('../OPS.md', import.meta.url);
writeFileSync(path, opsMarkdown());
console.log(`wrote ${path.pathname}`);
