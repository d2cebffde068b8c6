/**
 * Training-step timing for every variant (not a test: vitest only runs *.test.ts).
 *   npx tsc -p tsconfig.json --outDir /tmp/gb; cp package.json /tmp/gb/; ln -sfn $PWD/node_modules /tmp/gb/node_modules
 *   node /tmp/gb/test/sae/bench_step.js [reference|wasm] [d,m,B,k]
 */
import * as E from '../../engine/index.js';
import { makeSynthetic, syntheticSource } from './synthetic.js';
import { SaeTrainer } from '../../sae/trainer.js';
const backend = process.argv[2] ?? 'reference';
if (backend !== 'reference') { await import('../../engine/backends/wasm/index.js'); }
E.setBackend(backend);
const [d, m, B, k] = (process.argv[3] ?? '64,512,256,16').split(',').map(Number) as [number, number, number, number];
const s = makeSynthetic({ n: 4096, d, mTrue: 2 * d, kTrue: 4, seed: 1 });
for (const variant of ['topk', 'gsae', 'batchtopk', 'relu_l1', 'gated', 'jumprelu'] as const) {
  const tr = SaeTrainer.create({ variant, dIn: d, dSae: m, k, batchSize: B, totalSteps: 12, logEvery: 100, initSamples: 1024, l1Coefficient: 1 }, syntheticSource(s, variant === 'gsae'));
  tr.trainStep(); tr.trainStep();
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) tr.trainStep();
  const ms = (performance.now() - t0) / 10;
  console.log(`${backend} ${variant.padEnd(9)} d=${d} m=${m} B=${B}: ${ms.toFixed(1)} ms/step, ${(B / ms * 1000).toFixed(0)} tok/s`);
  tr.dispose();
}
