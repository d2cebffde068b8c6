import { describe, it, expect } from 'vitest';
import * as E from '../engine/index.js';

describe('smoke', () => {
  it('grad of a small MLP-ish function and jit replay', () => {
    const x = E.tensor([[1, 2, 3], [4, 5, 6]]);
    const w = E.tensor([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]]);
    const f = (p: { w: E.Tensor }, x: E.Tensor) => E.mean(E.gelu(E.matmul(x, p.w)));
    const [v, g] = E.valueAndGrad(f)({ w }, x);
    console.log(v.item(), g.w.tolist());
    const logits = E.tensor([[1, 2, 3, 4], [0, 0, 0, 1]]);
    const t = E.tensor([3, 1], [2], 'int32');
    const ce = E.crossEntropy(logits, t);
    console.log('ce', ce.item());
    const m = E.memory();
    const step = E.jit((p: { w: E.Tensor }, x: E.Tensor) => {
      const [l, gr] = E.valueAndGrad(f)(p, x);
      return { l, w: E.sub(p.w, E.mul(gr.w, 0.1)) };
    });
    const a = step({ w }, x);
    const b = step({ w }, x);
    expect(step.cacheSize()).toBe(1);
    expect(Array.from(b.w.toArray())).toEqual(Array.from(a.w.toArray()));
    console.log(E.memory(), m);
    const tk = E.topk(E.tensor([[3, 1, 3, 2]]), 2);
    console.log(tk.values.tolist(), tk.indices.tolist());
    const sm = E.softmax(E.causalMask(E.tensor([[1,2],[3,4]])));
    console.log(sm.tolist());
  });
});
