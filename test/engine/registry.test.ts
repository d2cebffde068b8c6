/**
 * The op registry is complete and every op is tested: a new op without a VJP rule (or a reason it
 * has none), a kernel on the reference backend, a gradient or constant property, and a forward
 * check fails here, so it cannot reach CI untested.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.js';
import { registerOp } from '../../engine/ops/registry.js';
import { FORWARD_CASES } from './forward_cases.js';
import { GRAD_CASES } from './grad_cases.js';
import { f64, useReference } from './gradcheck.js';
import { CONST_CASES } from './nondiff_cases.js';
import { someSampleLaunches } from './probe.js';

beforeAll(useReference);

const ops = E.allOps();
const differentiable = ops.filter((o) => o.vjp).map((o) => o.name);
const constant = ops.filter((o) => !o.vjp).map((o) => o.name);

describe('op registry', () => {
  it('refuses an op with neither a VJP rule nor a notDifferentiable reason, and duplicates', () => {
    expect(() => registerOp({ name: 'registryTestNoRule', infer: () => [] })).toThrow(/registryTestNoRule.*needs a vjp rule or an explicit notDifferentiable reason/);
    expect(E.allOps().some((o) => o.name === 'registryTestNoRule')).toBe(false);
    expect(() => registerOp({ name: 'add', infer: () => [], notDifferentiable: 'x' })).toThrow(/'add' is registered twice/);
    expect(() => E.getOp('noSuchOp')).toThrow(/unknown op 'noSuchOp'/);
  });

  it('every registered op has a VJP rule or a non-empty notDifferentiable reason', () => {
    const bad = ops.filter((o) => !o.vjp && !(typeof o.notDifferentiable === 'string' && o.notDifferentiable.trim().length > 0)).map((o) => o.name);
    expect(bad).toEqual([]);
    expect(ops.length).toBeGreaterThan(40);
  });

  it('every op has a kernel on the reference backend (the oracle)', () => {
    const b = E.getBackend('reference');
    expect(ops.filter((o) => !b.has(o.name)).map((o) => o.name)).toEqual([]);
  });

  it('every differentiable op has a gradient property (grad_cases.ts)', () => {
    const covered = new Set(GRAD_CASES.map((c) => c.op));
    expect(differentiable.filter((n) => !covered.has(n))).toEqual([]);
  });

  it('every notDifferentiable op has a zero-gradient property (nondiff_cases.ts)', () => {
    const covered = new Set(CONST_CASES.map((c) => c.op));
    expect(constant.filter((n) => !covered.has(n))).toEqual([]);
  });

  it('every op has a forward check against an independent formula (forward_cases.ts)', () => {
    const covered = new Set(FORWARD_CASES.map((c) => c.op));
    expect(ops.map((o) => o.name).filter((n) => !covered.has(n))).toEqual([]);
  });

  it('no table entry names an op that is not registered, or sits in the wrong table', () => {
    const names = new Set(ops.map((o) => o.name));
    const stale = [...GRAD_CASES, ...CONST_CASES, ...FORWARD_CASES].map((c) => c.op).filter((n) => !names.has(n));
    expect(stale).toEqual([]);
    expect(GRAD_CASES.filter((c) => !differentiable.includes(c.op)).map((c) => c.op)).toEqual([]);
    expect(CONST_CASES.filter((c) => !constant.includes(c.op)).map((c) => c.op)).toEqual([]);
  });

  it('every gradient entry really launches the op it claims to cover', () => {
    const liars = GRAD_CASES.filter((c) => !someSampleLaunches(c.arb, c.op, (p) => void p.f(...p.inputs.map(f64)))).map((c) => c.name);
    expect(liars).toEqual([]);
  });

  it('every constant and forward entry really launches its op', () => {
    const constLiars = CONST_CASES.filter((c) => !someSampleLaunches(c.arb, c.op, (p) => void p.f(...p.inputs.map(f64)))).map((c) => c.op);
    const fwdLiars = FORWARD_CASES.filter((c) => !someSampleLaunches(c.arb, c.op, (ch) => ch.run())).map((c) => c.name);
    expect([...constLiars, ...fwdLiars]).toEqual([]);
  });
});
