/**
 * gsae SAEs: variants, trainer, SAELens format, inference.
 *
 *   import { SaeTrainer, ArraySource, loadSae, encodeSae } from './sae/index.js';
 *   const t = SaeTrainer.create({ variant: 'gsae', dIn: 768, dSae: 24576, k: 32, beta: 1 }, source, { outDir });
 *   t.run();                                  // outDir/sae is a SAELens folder
 *   const sae = loadSae(`${outDir}/sae`);     // f = encodeSae(sae, x, g)
 */
export * from './config.js';
export * from './common.js';
export type * from './variant.js';
export { getVariant } from './variants.js';
export { topkEncode } from './topk.js';
export { gsaeEncode, gsaeScore, gradProjection } from './gsae.js';
export { gatedEncode, gatedToJumpRelu } from './gated.js';
export { reluEncode, resampleDead } from './relu_l1.js';
export { batchTopkEncode } from './batch_topk.js';
export { jumpReluEncode, jumpReluFns } from './jumprelu.js';
export * from './adam.js';
export * from './schedule.js';
export * from './data.js';
export * from './checkpoint.js';
export * from './saelens.js';
export * from './model.js';
export * from './trainer.js';
export { LOG_FILE, type LogRecord } from './train_log.js';
