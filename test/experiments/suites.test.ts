/** Suite definitions: every preset has the seeds a paired interval needs, and the default hook is mid-model. */
import { describe, expect, it } from 'vitest';
import { MIDDLE_HOOK, resolveHook, SUITES, suitePreset } from '../../experiments/suites.js';

describe('suites', () => {
  it('every preset of every suite trains each configuration on at least three seeds', () => {
    for (const s of Object.values(SUITES)) {
      for (const [name, p] of Object.entries(s.presets)) {
        expect(p.seeds.length, `${s.name} ${name}`).toBeGreaterThanOrEqual(3);
        expect(new Set(p.seeds).size, `${s.name} ${name}: distinct seeds`).toBe(p.seeds.length);
      }
    }
  });

  it('the main job pairs every g-SAE with a TopK run at the same k', () => {
    const runs = suitePreset(SUITES['gsae-vs-topk']!, 'quick').runs;
    for (const r of runs.filter((x) => x.variant === 'gsae')) expect(runs.some((t) => t.variant === 'topk' && t.k === r.k), r.id).toBe(true);
  });

  it("the default hook is the residual stream into the middle block of the model that runs", () => {
    expect(suitePreset(SUITES['gsae-vs-topk']!, 'quick').hook).toBe(MIDDLE_HOOK);
    expect(resolveHook(MIDDLE_HOOK, 4)).toBe('blocks.2.hook_resid_pre'); // the shipped tiny model (as before)
    expect(resolveHook(MIDDLE_HOOK, 6)).toBe('blocks.3.hook_resid_pre');
    expect(resolveHook(MIDDLE_HOOK, 1)).toBe('blocks.0.hook_resid_pre');
    expect(resolveHook('blocks.0.hook_mlp_out', 6)).toBe('blocks.0.hook_mlp_out');
    expect(() => resolveHook(MIDDLE_HOOK, 0)).toThrow(/at least one layer/);
  });
});
