#!/usr/bin/env node
// Entry point of the `gsae` CLI. Relaxed SIMD (fused multiply-add in WebAssembly) is behind a flag
// on Node 20; enabling it here, before any module compiles WebAssembly, lets the wasm backend use it.
import v8 from 'node:v8';
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const { main } = await import('../dist/cli/main.js');
await main(process.argv.slice(2));
