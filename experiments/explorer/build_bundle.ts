/** `npm run build` step: writes the explorer's page bundle beside the compiled bundle.ts. */
import { writeFileSync } from 'node:fs';
import { bundleExplorer, PREBUILT } from './bundle.js';

const code = await bundleExplorer({ minify: true });
writeFileSync(PREBUILT, code);
process.stdout.write(`explorer page bundle: ${PREBUILT} (${(code.length / 1e6).toFixed(2)} MB)\n`);
