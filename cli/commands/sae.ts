/**
 * `gsae sae train`: train any SAE variant on activations (and gradients, for the g-SAE) from a
 * `.safetensors` file. Every field of the training config (sae/config.ts) is a kebab-case flag
 * (`dSae` → `--d-sae`); `--config file.json` supplies them as a JSON object, flags override it.
 * `--resume` continues the run in `--out` from its checkpoint, bit for bit.
 */
import { saeEvalCommand } from './sae_eval.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { BASE_DEFAULTS, ConfigError, VARIANTS, hookLayerOf, type SaeTrainConfig } from '../../sae/config.js';
import { openSafetensorsSource, type BatchSource } from '../../sae/data.js';
import { StoreSource } from '../../sae/store/source.js';
import { CHECKPOINT_FILE, SAE_DIR, SaeTrainer, type RunResult } from '../../sae/trainer.js';
import { LOG_FILE } from '../../sae/train_log.js';
import { InterruptedError, watchInterrupt } from '../interrupt.js';

const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Config field → flag, for every field a user may set. */
export const CONFIG_FLAGS: Record<string, string> = Object.fromEntries(
  ['variant', 'dIn', 'dSae', ...Object.keys(BASE_DEFAULTS)].map((k) => [k, k === 'totalSteps' ? 'steps' : kebab(k)]),
);

const DESCRIBE: Partial<Record<keyof SaeTrainConfig, string>> = {
  variant: `SAE variant: ${VARIANTS.join(', ')}`,
  dIn: 'input width (default: from the data)',
  dSae: 'number of latents m',
  k: 'latents kept per token (topk, gsae; batchtopk: average)',
  beta: 'g-SAE: weight of the gradient term in s = z(1 + β|a|)',
  valueSource: "g-SAE: kept values from 'z' or 's'",
  gradNorm: "g-SAE: 'none' or 'rms' (divide a = W_decᵀg by its RMS over the batch)",
  l1Coefficient: 'λ of the L1 (relu_l1, gated) or L0 (jumprelu) penalty',
  april: "Anthropic's April update (relu_l1; gated: decoder-norm-weighted penalty)",
  resampleSteps: 'relu_l1: steps at which dead latents are resampled',
  deadTokens: 'a latent is dead after this many tokens without firing (default: min(10M, run tokens / 10))',
  normalizeActivations: "'expected_average_only_in' (scale to E||x||² = d, folded into saved weights) or 'none'",
  lr: 'learning rate (default 2e-4 / sqrt(m / 2^14))',
  totalSteps: 'training steps',
  checkpointEvery: 'write a checkpoint (and the SAELens export) every N steps (0: at the end only)',
  lambdaWarmupSteps: 'λ rises linearly from 0 over this many steps (April default: 5% of steps)',
  aprilDecoderInitNorm: 'April update: initial decoder row norm',
  resampleSamples: 'relu_l1 resampling: rows to draw candidate inputs from',
  resampleWarmupSteps: 'relu_l1 resampling: LR warm-up steps after each resampling',
  bandwidth: 'jumprelu: STE rectangle-kernel bandwidth ε',
  initThreshold: 'jumprelu: initial threshold θ',
  thresholdLr: 'batchtopk: EMA rate of the inference threshold (0: auto, max(0.01, 20 / steps))',
  kAux: 'AuxK: dead latents per token (0: d/2)',
  auxkCoefficient: 'AuxK: weight α (0 disables AuxK)',
  bDecInit: "b_dec init: 'geometric_median', 'mean' or 'zeros'",
  initSamples: 'rows used for the b_dec init and the normalisation factor',
  lrWarmupSteps: 'linear LR warm-up steps',
  lrDecay: "LR decay over the last steps: 'none', 'cosine' or 'linear'",
  lrDecaySteps: 'steps of LR decay at the end (0: the last 20%)',
  minLrFactor: 'the decayed LR ends at lr × this',
  adamBeta1: 'Adam β1',
  adamBeta2: 'Adam β2',
  adamEps: 'Adam ε',
  weightDecay: 'decoupled weight decay (AdamW); 0 = Adam',
  batchSize: 'tokens per step',
  seed: 'seed of every random choice (init, data order, resampling)',
  logEvery: 'write a train_log.jsonl line every N steps',
  modelName: 'cfg.json model_name',
  hookName: 'cfg.json hook_name (hook_layer follows from it)',
  hookLayer: 'cfg.json hook_layer',
  contextSize: 'cfg.json context_size',
  datasetPath: 'cfg.json dataset_path (default: --data)',
};

function typeOf(v: unknown): 'number' | 'boolean' | 'string' | 'array' {
  if (Array.isArray(v)) return 'array';
  return typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : 'string';
}

function addConfigFlags<T>(y: Argv<T>): Argv<T> {
  let out = y;
  const defaults: Record<string, unknown> = { variant: 'topk', dIn: 0, dSae: 0, ...BASE_DEFAULTS };
  for (const [field, flag] of Object.entries(CONFIG_FLAGS)) {
    const t = typeOf(defaults[field]);
    const def = field in BASE_DEFAULTS ? ` [default ${JSON.stringify((BASE_DEFAULTS as Record<string, unknown>)[field])}]` : '';
    out = out.option(flag, {
      type: t,
      describe: `${DESCRIBE[field as keyof SaeTrainConfig] ?? `config field '${field}'`}${def}`,
      group: 'Training config (flags override --config):',
      ...(field === 'variant' ? { choices: VARIANTS as unknown as string[] } : {}),
      ...(t === 'array' ? { number: true } : {}),
    }) as unknown as Argv<T>;
  }
  return out;
}

export interface SaeTrainArgs {
  data: string;
  out: string;
  config?: string;
  resume?: boolean;
  progress?: boolean;
  'x-key'?: string;
  'g-key'?: string;
  [flag: string]: unknown;
}

/** The config object from --config and the flags (flags win); errors name the flag or file. */
export function configFromArgs(args: SaeTrainArgs): Partial<SaeTrainConfig> & Record<string, unknown> {
  let fileCfg: Record<string, unknown> = {};
  if (args.config) {
    if (!existsSync(args.config)) throw new ConfigError(`--config: file '${args.config}' does not exist`);
    try {
      fileCfg = JSON.parse(readFileSync(args.config, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`--config ${args.config}: not valid JSON (${(e as Error).message})`);
    }
    if (!fileCfg || typeof fileCfg !== 'object' || Array.isArray(fileCfg)) throw new ConfigError(`--config ${args.config}: must hold a JSON object of config fields`);
    const unknown = Object.keys(fileCfg).filter((k) => !(k in CONFIG_FLAGS));
    if (unknown.length) throw new ConfigError(`--config ${args.config}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${Object.keys(CONFIG_FLAGS).join(', ')})`);
  }
  const flagCfg: Record<string, unknown> = {};
  for (const [field, flag] of Object.entries(CONFIG_FLAGS)) {
    const v = args[flag];
    if (v === undefined) continue;
    if (typeof v === 'number' && Number.isNaN(v)) throw new ConfigError(`--${flag}: expected a number`);
    if (Array.isArray(v) && v.some((e) => typeof e !== 'number' || Number.isNaN(e))) throw new ConfigError(`--${flag}: expected numbers, got ${JSON.stringify(v)}`);
    flagCfg[field] = v;
  }
  const cfg = { ...fileCfg, ...flagCfg };
  if (typeof cfg.hookName === 'string' && cfg.hookLayer === undefined) cfg.hookLayer = hookLayerOf(cfg.hookName);
  return cfg;
}

/** Says which flag a ConfigError's field is: config 'dSae' → --d-sae. */
function withFlag(e: unknown): unknown {
  if (!(e instanceof ConfigError)) return e;
  const m = /config '(\w+)'/.exec(e.message);
  const flag = m ? CONFIG_FLAGS[m[1]!] : undefined;
  return flag ? new ConfigError(`${e.message} (flag --${flag})`) : e;
}

/**
 * --data: an activation store folder (`gsae cache`), served in batches of the run's batch size,
 * or a `.safetensors` file of activations (and gradients).
 */
function openData(args: SaeTrainArgs, seed: number, batchSize: number): BatchSource {
  if (existsSync(args.data) && statSync(args.data).isDirectory()) {
    if (args['x-key'] !== undefined || args['g-key'] !== undefined) throw new ConfigError('--x-key/--g-key apply to a .safetensors file, not to a store folder');
    return new StoreSource(args.data, batchSize, seed);
  }
  return openSafetensorsSource(args.data, { xKey: args['x-key'], gKey: args['g-key'], seed });
}

export function runSaeTrain(args: SaeTrainArgs, log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)): SaeTrainer {
  const trainer = openSaeTrain(args, log);
  reportSaeTrain(trainer, trainer.run(), args, log);
  return trainer;
}

/** The trainer a `sae train` invocation describes: a new run, or the checkpoint in --out resumed. */
export function openSaeTrain(args: SaeTrainArgs, log: (s: string) => void): SaeTrainer {
  if (existsSync(args.out) && !statSync(args.out).isDirectory()) throw new ConfigError(`--out ${args.out} is a file; give a folder (it receives sae/, train_log.jsonl, checkpoint.msgpack)`);
  const cfgIn = configFromArgs(args);
  const given = Object.keys(cfgIn).filter((k) => k !== 'hookLayer' || cfgIn.hookName === undefined);
  let trainer: SaeTrainer;
  const ck = join(args.out, CHECKPOINT_FILE);
  try {
    if (args.resume) {
      if (given.length > 0) throw new ConfigError(`--resume continues with the checkpoint's config; drop ${given.map((k) => `--${CONFIG_FLAGS[k] ?? k}`).join(', ')}${args.config ? ' and --config' : ''}`);
      if (!existsSync(ck)) throw new ConfigError(`--resume: no checkpoint at ${ck}`);
      // the data order depends on the run's seed: rebuild the source with the checkpoint's
      const prev = SaeTrainer.peekConfig(ck);
      const source = openData(args, prev.seed, prev.batchSize);
      trainer = SaeTrainer.resume(ck, source, { outDir: args.out, progress: args.progress });
      log(`resuming ${ck} at step ${trainer.step}/${trainer.cfg.totalSteps}`);
    } else {
      if (cfgIn.variant === undefined) throw new ConfigError(`--variant is required (one of ${VARIANTS.join(', ')}), on the command line or in --config`);
      if (cfgIn.dSae === undefined) throw new ConfigError('--d-sae is required (number of latents), on the command line or in --config');
      const source = openData(args, (cfgIn.seed as number | undefined) ?? BASE_DEFAULTS.seed, (cfgIn.batchSize as number | undefined) ?? BASE_DEFAULTS.batchSize);
      if (cfgIn.dIn !== undefined && cfgIn.dIn !== source.dIn) throw new ConfigError(`--d-in ${String(cfgIn.dIn)} does not match the data's width ${source.dIn} (${args.data})`);
      const cfg = { ...cfgIn, dIn: source.dIn, datasetPath: (cfgIn.datasetPath as string | undefined) ?? args.data };
      if (existsSync(ck)) log(`note: ${ck} exists and will be overwritten (use --resume to continue it)`);
      trainer = SaeTrainer.create(cfg, source, { outDir: args.out, progress: args.progress });
      log(`training ${trainer.cfg.variant} SAE d=${trainer.cfg.dIn} m=${trainer.cfg.dSae} on ${source.describe()} for ${trainer.cfg.totalSteps} steps → ${args.out}`);
    }
  } catch (e) {
    throw withFlag(e);
  }
  return trainer;
}

function reportSaeTrain(trainer: SaeTrainer, res: RunResult, args: SaeTrainArgs, log: (s: string) => void): void {
  const ck = join(args.out, CHECKPOINT_FILE);
  const l = res.lastLog;
  if (l) log(`step ${res.step}: mse ${l['losses/mse_loss']?.toPrecision(4)}  explained variance ${l['metrics/explained_variance']?.toPrecision(4)}  L0 ${l['metrics/l0']?.toPrecision(4)}  dead ${l['sparsity/dead_features']}`);
  log(`wrote ${join(args.out, SAE_DIR)} (SAELens format), ${join(args.out, LOG_FILE)}, ${ck}`);
}

const trainCommand: CommandModule<object, SaeTrainArgs> = {
  command: 'train',
  describe: 'Train an SAE (topk, gsae, gated, relu_l1, batchtopk, jumprelu) on stored activations',
  builder: (y) =>
    addConfigFlags(
      y
        .option('data', { type: 'string', demandOption: true, describe: "an activation store folder (gsae cache), or a .safetensors file with activations 'x' [N, d] (and gradients 'g' for the g-SAE)" })
        .option('x-key', { type: 'string', describe: 'name of the activations tensor in --data' })
        .option('g-key', { type: 'string', describe: 'name of the gradients tensor in --data' })
        .option('out', { type: 'string', demandOption: true, describe: 'output folder: sae/ (SAELens), train_log.jsonl, checkpoint.msgpack' })
        .option('config', { type: 'string', describe: 'JSON file of config fields (camelCase, as in sae/config.ts)' })
        .option('resume', { type: 'boolean', default: false, describe: 'continue the run in --out from its checkpoint' })
        .option('progress', { type: 'boolean', default: true, describe: 'show a progress bar on stderr' }),
    ) as unknown as Argv<SaeTrainArgs>,
  handler: async (args) => {
    const log = (s: string) => process.stderr.write(`${s}\n`);
    // installed first: a Ctrl-C during the (bounded) set-up stops the run after its first step
    const interrupt = watchInterrupt(log, 'stopping after this step and writing a checkpoint');
    let t: SaeTrainer;
    try {
      t = openSaeTrain(args, log);
    } catch (e) {
      interrupt.dispose();
      throw e;
    }
    try {
      const res = await t.runInterruptible(interrupt.requested);
      if (res.interrupted) {
        throw new InterruptedError(`interrupted at step ${res.step} of ${t.cfg.totalSteps}; checkpoint in ${join(args.out, CHECKPOINT_FILE)}: continue with 'gsae sae train --data ${args.data} --out ${args.out} --resume'`);
      }
      reportSaeTrain(t, res, args, log);
    } finally {
      interrupt.dispose();
      t.dispose();
    }
  },
};

export const saeCommand: CommandModule<object, object> = {
  command: 'sae <command>',
  describe: 'Sparse autoencoders (train)',
  builder: (y) => y.command(trainCommand).command(saeEvalCommand).demandCommand(1, 'Name an sae command: train, eval'),
  handler: () => {},
};
