/**
 * What each elementwise op computes, as gpu.js statement lists over named operands: the unary and
 * binary bodies every per-op kernel uses (kernels.ts), and `inlineOp`, which splices the same
 * bodies into a fused program, so fused and unfused kernels compute each op by one definition.
 * Values follow the reference backend's definitions op by op; where GLSL's built-ins differ from
 * JavaScript's (tanh overflowing to NaN, pow of a negative base), GL modes get a guarded form.
 */

/** GL modes need guarded math (see the file comment). */
export interface CodegenOptions {
  gl: boolean;
}

const GELU_C = Math.sqrt(2 / Math.PI);

/** Statements that leave tanh(u) in `name`, NaN-propagating and saturating on GL. */
function tanhInto(name: string, u: string, o: CodegenOptions): string {
  if (!o.gl) return `const ${name} = Math.tanh(${u});`;
  // GLSL-translated tanh overflows to NaN for |u| > ~44; float32 tanh is ±1 beyond |u| = 10.
  return `let ${name} = 0; if (${u} > 10) { ${name} = 1; } else { if (${u} < -10) { ${name} = -1; } else { ${name} = Math.tanh(${u}); } }`;
}

/** Unary ops: statements over `v` ending in a return. */
export function unaryBody(op: string, o: CodegenOptions): string[] | null {
  switch (op) {
    case 'neg': return ['return -v;'];
    case 'exp': return ['return Math.exp(v);'];
    case 'log': return ['return Math.log(v);'];
    case 'tanh': return [tanhInto('t', 'v', o), 'return t;'];
    case 'sqrt': return ['return Math.sqrt(v);'];
    case 'rsqrt': return ['return 1 / Math.sqrt(v);'];
    case 'abs': return ['return Math.abs(v);'];
    // sign(±0) = ±0 and sign(NaN) = NaN, as in the reference
    case 'sign': return ['if (v > 0) { return 1; }', 'if (v < 0) { return -1; }', 'return v;'];
    // NaN propagates, as in the reference
    case 'relu': return ['if (v > 0 || v !== v) { return v; }', 'return 0;'];
    case 'heaviside': return ['if (v > 0) { return 1; }', 'return 0;'];
    // The reference's 0.5·x·(1 + tanh u) cancels catastrophically in float32 for negative x
    // (1 + tanh u → 0); the same function as x·s with s = (1 + tanh u)/2 = 1/(1 + e^(-2u)) does not.
    // Likewise 1 - tanh² u = 4·s·(1 - s), with 1 - s = 1/(1 + e^(2u)). Overflowing exponentials give
    // s = 0 or 1 exactly, as tanh saturates.
    case 'gelu':
      return [`const u = ${GELU_C} * (v + 0.044715 * v * v * v);`, 'return v / (1 + Math.exp(-2 * u));'];
    case 'geluGrad':
      return [
        `const u = ${GELU_C} * (v + 0.044715 * v * v * v);`,
        'const s = 1 / (1 + Math.exp(-2 * u));',
        'const sm = 1 / (1 + Math.exp(2 * u));',
        `return s + 2 * v * s * sm * ${GELU_C} * (1 + ${3 * 0.044715} * v * v);`,
      ];
    default: return null;
  }
}

/** Binary ops over `a`, `b`. */
export function binaryBody(op: string, o: CodegenOptions): string[] | null {
  const cmp = (c: string) => [`if (${c}) { return 1; }`, 'return 0;'];
  switch (op) {
    case 'add': return ['return a + b;'];
    case 'sub': return ['return a - b;'];
    case 'mul': return ['return a * b;'];
    case 'div': return ['return a / b;'];
    case 'pow':
      if (!o.gl) return ['return Math.pow(a, b);'];
      // GLSL pow is undefined for a < 0; JavaScript's is defined for integer exponents.
      return [
        'if (b === 0) { return 1; }',
        'if (a < 0) { if (Math.floor(b) === b) { const p = Math.pow(-a, b); if (Math.floor(b * 0.5) * 2 === b) { return p; } return -p; } }',
        'return Math.pow(a, b);',
      ];
    // NaN in either operand gives NaN (a + b carries it), as in the reference
    case 'maximum': return ['if (a !== a || b !== b) { return a + b; }', 'if (a > b) { return a; }', 'return b;'];
    case 'minimum': return ['if (a !== a || b !== b) { return a + b; }', 'if (a < b) { return a; }', 'return b;'];
    case 'equal': return cmp('a === b');
    case 'notEqual': return cmp('a !== b');
    case 'greater': return cmp('a > b');
    case 'greaterEqual': return cmp('a >= b');
    case 'less': return cmp('a < b');
    case 'lessEqual': return cmp('a <= b');
    default: return null;
  }
}

/**
 * Statements computing one op into `out` from operand variables, built from the same bodies as
 * the op's own kernel: the body's locals get a per-node suffix, and its `return`s become
 * assignments (guarded by a flag where the body returns early).
 */
export function inlineOp(op: string, args: readonly string[], out: string, suffix: string, o: CodegenOptions): string[] | null {
  let body: string[] | null;
  let params: string[];
  if (op === 'where') {
    body = ['if (c !== 0) { return a; }', 'return b;'];
    params = ['c', 'a', 'b'];
  } else if (op === 'cast') {
    // to float32 (the only fused cast): int32 values are already stored as floats
    body = ['return v;'];
    params = ['v'];
  } else if ((body = unaryBody(op, o))) params = ['v'];
  else if ((body = binaryBody(op, o))) params = ['a', 'b'];
  else return null;
  if (args.length !== params.length) return null;
  const locals = new Set(params);
  for (const l of body) for (const m of l.matchAll(/\b(?:const|let)\s+([A-Za-z_]\w*)/g)) locals.add(m[1]!);
  const rename = (l: string) => l.replace(/(?<![\w.])([A-Za-z_]\w*)(?!\w)/g, (w) => (locals.has(w) ? `${w}_${suffix}` : w));
  const lines = params.map((p, i) => `const ${p}_${suffix} = ${args[i]};`);
  const renamed = body.map(rename);
  const returns = renamed.reduce((n, l) => n + (l.match(/\breturn\b/g)?.length ?? 0), 0);
  const last = renamed[renamed.length - 1]!;
  const tail = /^return (.*);$/.exec(last);
  if (returns === 1 && tail) {
    lines.push(...renamed.slice(0, -1), `const ${out} = ${tail[1]};`);
    return lines;
  }
  const done = `d_${suffix}`;
  lines.push(`let ${out} = 0;`, `let ${done} = 0;`);
  for (const l of renamed) lines.push(l.replace(/\breturn ([^;]*);/g, (_, e: string) => `if (${done} === 0) { ${out} = ${e}; ${done} = 1; }`));
  return lines;
}
