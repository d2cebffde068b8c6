/**
 * `npm run bench [-- flags]`: the project's workloads on the peers' shapes, on the wasm backend
 * (and the reference backend where a step is cheap enough), with the installed peers run in the
 * same invocation and the ratios printed side by side.
 *
 *   --json           one JSON object per line, peers' format: {workload, peer, value, unit, ...shape}
 *   --quick          the quick subset, 3 repetitions (peers get --quick too)
 *   --only REGEX     workloads whose name matches
 *   --variants       also wasm on 1 thread and wasm without fused multiply-add
 *   --no-peers       skip PyTorch / TensorFlow.js
 *   --peer-device D  the PyTorch peer's device: cpu (default) or cuda (the GPU check, gpu/)
 * The peers run only the selected workloads (PyTorch through peer_torch_select.py); the SAE steps
 * are compared with both PyTorch peers, torch-cpu (dense autograd) and torch-sparse (sparsify's
 * algorithm), and summarised against the issue's target (≥ 1.5× the best peer).
 *   --reference-max-gflop G   run the reference backend only where a step is ≤ G GFLOP (default 0.05:
 *                    its naive loops run at ~0.05–1 GFLOP/s)
 *   --rounds R       R rounds of (ours, then the peers), interleaved so that both sides see the same
 *                    drift of a shared machine: the table shows each figure's median over the rounds,
 *                    and the SAE summary each round's ratio (median, and the range over rounds)
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as E from '../../engine/index.js';
import { registerBackend } from '../../engine/engine.js';
import { WasmBackend, wasmOptionsFromEnv } from '../../engine/backends/wasm/index.js';
import { allWorkloads, measure, type Measurement } from './registry.js';
import { runPeers, type PeerLine, type PeerRun } from './peers.js';
import './matmul.js';
import './gpt2_step.js';
import './sae_step.js';
import './features.js';

interface Args {
  json: boolean;
  quick: boolean;
  only: RegExp | null;
  variants: boolean;
  peers: boolean;
  peerDevice: 'cpu' | 'cuda';
  refMaxGflop: number;
  rounds: number;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { json: false, quick: false, only: null, variants: false, peers: true, peerDevice: 'cpu', refMaxGflop: 0.05, rounds: 1 };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench: ${f} needs a value`);
      return v;
    };
    if (f === '--json') a.json = true;
    else if (f === '--quick') a.quick = true;
    else if (f === '--variants') a.variants = true;
    else if (f === '--no-peers') a.peers = false;
    else if (f === '--only') a.only = new RegExp(value());
    else if (f === '--peer-device') {
      const v = value();
      if (v !== 'cpu' && v !== 'cuda') throw new Error(`bench: --peer-device must be cpu or cuda, got ${v}`);
      a.peerDevice = v;
    }
    else if (f === '--rounds') {
      a.rounds = Number(value());
      if (!Number.isInteger(a.rounds) || a.rounds < 1) throw new Error(`bench: --rounds must be a positive integer`);
    } else if (f === '--reference-max-gflop') {
      a.refMaxGflop = Number(value());
      if (!Number.isFinite(a.refMaxGflop) || a.refMaxGflop < 0) throw new Error(`bench: --reference-max-gflop must be a non-negative number`);
    } else throw new Error(`bench: unknown flag ${f} (known: --json --quick --only REGEX --variants --no-peers --peer-device cpu|cuda --rounds R --reference-max-gflop G)`);
  }
  return a;
}

/** The repository root (holds package.json named gsae), from src or dist. */
function repoRoot(): string {
  let d = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = path.join(d, 'package.json');
    if (existsSync(p) && (JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'gsae') return d;
    const up = path.dirname(d);
    if (up === d) throw new Error('bench: cannot find the gsae repository root');
    d = up;
  }
}

const fmt = (v: number | undefined, digits = 1): string => (v === undefined ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(digits));

export async function main(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const env = wasmOptionsFromEnv();
  const main = E.getBackend('wasm') as WasmBackend;
  const variants: { name: string; peer: string; be: WasmBackend }[] = [{ name: 'wasm', peer: 'gsae-wasm', be: main }];
  if (args.variants) {
    for (const [name, opts] of [
      ['wasm-1t', { ...env, threads: 1 }],
      ['wasm-nofma', { ...env, relaxed: false }],
    ] as const) {
      const be = new WasmBackend(opts);
      registerBackend({ name, priority: -1, create: () => be });
      variants.push({ name, peer: `gsae-${name}`, be });
    }
  }
  const threads = main.threads;
  log(`machine: ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
  log(`gsae-wasm: ${threads} thread(s), relaxed-SIMD FMA ${main.relaxed ? 'on' : 'off'}${main.threadsDisabledReason ? ` (threads off: ${main.threadsDisabledReason})` : ''}`);

  const reps = args.quick ? 3 : 10;
  const selected = allWorkloads().filter((w) => (!args.quick || w.quick) && (!args.only || args.only.test(w.name)));
  const root = repoRoot();
  const rounds: { ours: Measurement[]; peers: PeerLine[] }[] = [];
  const failures: string[] = [];
  for (let round = 0; round < args.rounds; round++) {
    if (args.rounds > 1) log(`round ${round + 1} of ${args.rounds}`);
    const ours: Measurement[] = [];
    for (const w of selected) {
      for (const v of variants) {
        log(`${w.name} on ${v.peer} ...`);
        try {
          ours.push(measure(w, v.name, v.peer, reps, 2, { threads: v.be.threads, relaxed: v.be.relaxed }, args.quick ? 0.5 : 2));
        } catch (e) {
          // a workload that cannot run here (e.g. beyond the 4 GiB wasm32 heap) is reported, not fatal
          log(`${w.name} ${JSON.stringify(w.shape)} on ${v.peer} FAILED: ${(e as Error).message}`);
          if (round === 0) failures.push(`${w.name} ${JSON.stringify(w.shape)} on ${v.peer}: ${(e as Error).message}`);
        }
      }
      if (round === 0 && w.flopPerStep <= args.refMaxGflop * 1e9) {
        log(`${w.name} on gsae-reference (1 step) ...`);
        ours.push(measure(w, 'reference', 'gsae-reference', 1, 0));
      }
    }
    const peerRuns: PeerRun[] = args.peers
      ? runPeers(path.join(root, '..', 'shared', 'bench'), {
        quick: args.quick, threads: os.cpus().length, log, device: args.peerDevice,
        selectScript: path.join(root, 'experiments', 'bench', 'peer_torch_select.py'),
        select: selected.map((w) => ({ workload: w.name, ...w.shape })),
      })
      : [];
    if (round === 0) for (const r of peerRuns) if (!r.available) log(`peer ${r.peer} not run: ${r.reason}`);
    rounds.push({ ours, peers: peerRuns.flatMap((r) => r.lines) });
  }
  for (const v of variants) v.be.shutdown();

  if (args.json) {
    rounds.forEach(({ ours, peers }, round) => {
      const r = args.rounds > 1 ? { round } : {};
      for (const m of ours) {
        console.log(JSON.stringify({
          workload: m.workload, peer: m.peer, value: Math.round(m.value * 1000) / 1000, unit: m.unit, ...m.shape,
          ...m.extra, seconds: m.seconds, reps: m.reps, ...r,
          ...(m.peak_bytes !== undefined ? { peak_bytes: m.peak_bytes, heap_bytes: m.heap_bytes } : {}),
        }));
      }
      for (const l of peers) console.log(JSON.stringify({ ...l, ...r }));
    });
    return;
  }
  const ours = medianOurs(rounds.map((x) => x.ours));
  const peerLines = medianPeers(rounds.map((x) => x.peers), ours);
  if (args.rounds > 1) console.log(`medians over ${args.rounds} interleaved rounds (each: ours, then the peers)`);
  printTable(ours, peerLines, variants.map((v) => v.peer));
  printSaeSummary(rounds);
  for (const f of failures) console.log(`not measured: ${f}`);
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};
const keyOf = (m: { workload: string; peer: string; shape: Record<string, number> }): string => `${m.peer} ${m.workload} ${JSON.stringify(m.shape)}`;

/** Our measurements with each value the median over rounds (first round's record otherwise, peak memory the largest). */
function medianOurs(rounds: readonly (readonly Measurement[])[]): Measurement[] {
  return rounds[0]!.map((m) => {
    const same = rounds.map((r) => r.find((x) => keyOf(x) === keyOf(m))).filter((x): x is Measurement => x !== undefined);
    const peaks = same.map((x) => x.peak_bytes).filter((x): x is number => x !== undefined);
    return { ...m, value: median(same.map((x) => x.value)), ...(peaks.length ? { peak_bytes: Math.max(...peaks) } : {}) };
  });
}

/**
 * For each of our measurements and each peer, that peer's line with the median of its values over
 * the rounds where it has one (looked up as the table looks them up: `peerValue`).
 */
function medianPeers(rounds: readonly (readonly PeerLine[])[], ours: readonly Measurement[]): PeerLine[] {
  const peers = [...new Set(rounds.flatMap((r) => r.map((l) => l.peer)))];
  const workloads = [...new Map(ours.map((m) => [`${m.workload} ${JSON.stringify(m.shape)}`, m])).values()];
  return peers.flatMap((peer) => workloads.flatMap((m) => {
    const vs = rounds.map((r) => peerValue(r, peer, m)).filter((v): v is number => v !== undefined);
    return vs.length ? [{ workload: m.workload, peer, unit: m.unit, ...m.shape, value: median(vs) }] : [];
  }));
}

/** The issue's SAE target: our step ≥ 1.5× the best PyTorch peer (torch-sparse, sparsify's algorithm). */
const SAE_TARGET = 1.5;

/**
 * One line per SAE step: its ratio against every PyTorch peer, and the target against the best
 * one. With several rounds, each round's ratio is ours / that round's best peer; the line gives
 * their median (the verdict) and range.
 */
function printSaeSummary(rounds: readonly { ours: readonly Measurement[]; peers: readonly PeerLine[] }[]): void {
  const sae = rounds[0]!.ours.filter((m) => m.peer === 'gsae-wasm' && m.workload.startsWith('sae.'));
  const torchPeers = [...new Set(rounds.flatMap((r) => r.peers.map((l) => l.peer)))].filter((p) => p.startsWith('torch'));
  if (sae.length === 0) return;
  console.log('');
  console.log(`SAE steps against the PyTorch peers (target ≥ ${SAE_TARGET}× the best of them${rounds.length > 1 ? `; per-round ratios, median [min, max] over ${rounds.length} rounds` : ''}):`);
  for (const m0 of sae) {
    const shape = Object.entries(m0.shape).map(([a, b]) => `${a}${b}`).join(' ');
    const per = rounds.map((r) => {
      const m = r.ours.find((x) => keyOf(x) === keyOf(m0));
      const vs = torchPeers.map((p) => [p, peerValue(r.peers, p, m0)] as const).filter((x): x is readonly [string, number] => x[1] !== undefined);
      return m && vs.length ? { m, vs, best: vs.reduce((a, b) => (b[1] > a[1] ? b : a)) } : null;
    }).filter((x) => x !== null);
    const peaks = rounds.map((r) => r.ours.find((x) => keyOf(x) === keyOf(m0))?.peak_bytes).filter((x): x is number => x !== undefined);
    const mem = peaks.length ? `, peak ${(Math.max(...peaks) / 2 ** 20).toFixed(1)} MiB` : '';
    if (per.length === 0) {
      console.log(`  ${m0.workload} ${shape}: ${fmt(m0.value)} tokens/s${mem}; no PyTorch peer line`);
      continue;
    }
    const ratios = per.map((x) => x.m.value / x.best[1]);
    const r = median(ratios);
    const range = ratios.length > 1 ? ` [${Math.min(...ratios).toFixed(2)}, ${Math.max(...ratios).toFixed(2)}]` : '';
    const each = torchPeers.map((p) => {
      const rs = per.map((x) => x.vs.find((v) => v[0] === p)).map((v, i) => (v ? per[i]!.m.value / v[1] : NaN)).filter((v) => !Number.isNaN(v));
      return rs.length ? `${median(rs).toFixed(2)}× ${p}` : null;
    }).filter((x) => x !== null);
    const bestName = per[0]!.best[0];
    const verdict = r >= SAE_TARGET ? 'met' : `missed: ${r.toFixed(2)}× of ${SAE_TARGET}× (needs ${(SAE_TARGET / r).toFixed(2)}× faster)`;
    console.log(`  ${m0.workload} ${shape}: ${each.join(', ')}${mem} — vs the best peer (${bestName}${per.length > 1 ? ' in round 1' : ''}): ${r.toFixed(2)}×${range}, ${verdict}`);
  }
}

/** A peer's line for the same workload and shape fields. */
function peerValue(lines: readonly PeerLine[], peer: string, m: Measurement): number | undefined {
  return lines.find((l) => l.peer === peer && l.workload === m.workload && Object.entries(m.shape).every(([k, v]) => l[k] === v))?.value;
}

function printTable(ours: readonly Measurement[], peers: readonly PeerLine[], ourPeers: readonly string[]): void {
  const peerNames = [...new Set(peers.map((l) => l.peer))];
  const keys = [...new Map(ours.map((m) => [`${m.workload} ${JSON.stringify(m.shape)}`, m])).values()];
  const cols = [...ourPeers, 'gsae-reference', ...peerNames];
  const header = ['workload', 'unit', ...cols, ...peerNames.map((p) => `wasm/${p}`), 'peak MiB'];
  const rows: string[][] = [];
  for (const k of keys) {
    const ourOf = (peer: string) => ours.find((m) => m.peer === peer && m.workload === k.workload && JSON.stringify(m.shape) === JSON.stringify(k.shape));
    const wasm = ourOf('gsae-wasm');
    const shape = Object.entries(k.shape).map(([a, b]) => `${a}${b}`).join(' ');
    rows.push([
      `${k.workload}${shape ? ` ${shape}` : ''}`,
      k.unit,
      ...ourPeers.map((p) => fmt(ourOf(p)?.value)),
      fmt(ourOf('gsae-reference')?.value, 2),
      ...peerNames.map((p) => fmt(peerValue(peers, p, k))),
      ...peerNames.map((p) => {
        const pv = peerValue(peers, p, k);
        return wasm && pv ? `${(wasm.value / pv).toFixed(2)}×` : '—';
      }),
      wasm?.peak_bytes !== undefined ? (wasm.peak_bytes / 2 ** 20).toFixed(1) : '—',
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
