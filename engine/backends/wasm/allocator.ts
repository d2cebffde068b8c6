/**
 * The heap allocator for the shared wasm memory: hands out 16-byte aligned byte ranges.
 *
 * - Requests are rounded to size classes (16-byte steps up to 1 KiB, then 8 classes per power of
 *   two, so at most 12.5% is lost to rounding) and freed blocks go on an exact-class free list:
 *   the steady state of a training loop (the same shapes every step) reuses blocks at O(1).
 * - New blocks come from a bump pointer. Before the memory is grown, every free block is
 *   coalesced with its free neighbours into spans (free space at the top returns to the bump
 *   pointer) and the request is served best-fit from a span, so changing shapes (benchmarks,
 *   sweeps) do not grow the heap without bound.
 * - At the maximum size (4 GiB for wasm32), the owner may `compact()`: live blocks move down and
 *   the free space becomes one run (fragmentation otherwise strands hundreds of MiB there).
 * - Freeing is immediate and deterministic; `stats()` accounts live buffers and bytes.
 */
import { BackendError } from '../../errors.js';
import type { WasmMemory } from './wasm_api.js';

export const PAGE = 65536;
const ALIGN = 16;

export function sizeClass(bytes: number): number {
  const n = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  if (n <= 1024) return n;
  const step = 2 ** (Math.floor(Math.log2(n)) - 3);
  return Math.ceil(n / step) * step;
}

interface Span {
  offset: number;
  size: number;
}

export interface HeapStats {
  /** live blocks */
  buffers: number;
  /** bytes requested by live blocks */
  bytes: number;
  /** high-water mark of `bytes` */
  peakBytes: number;
  /** size of the wasm memory (what the process holds for the heap) */
  heapBytes: number;
  /** highest bump pointer reached (bytes of the heap ever handed out) */
  peakTop: number;
}

export class HeapAllocator {
  private readonly free = new Map<number, number[]>();
  private spans: Span[] = [];
  private top: number;
  private live = 0;
  private liveBytes = 0;
  private peakBytes = 0;
  private peakTop: number;

  /**
   * @param memory the shared memory; grown on demand up to its maximum
   * @param base first byte the allocator may use (below it: fixed regions)
   * @param maxPages the memory's maximum, in pages
   */
  private readonly base: number;

  constructor(
    private readonly memory: WasmMemory,
    base: number,
    private readonly maxPages: number,
  ) {
    this.base = Math.ceil(base / ALIGN) * ALIGN;
    this.top = this.base;
    this.peakTop = this.top;
  }

  /** Returns the offset of a block of at least `bytes` bytes (16-byte aligned). */
  alloc(bytes: number): number {
    if (!Number.isFinite(bytes) || bytes < 0) throw new BackendError(`wasm heap: invalid allocation of ${bytes} bytes`);
    const size = sizeClass(bytes);
    const off = this.take(size);
    this.live++;
    this.liveBytes += bytes;
    if (this.liveBytes > this.peakBytes) this.peakBytes = this.liveBytes;
    return off;
  }

  /** Returns a block to its class list. `bytes` must be what was passed to alloc. */
  release(offset: number, bytes: number): void {
    const size = sizeClass(bytes);
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(offset);
    this.live--;
    this.liveBytes -= bytes;
  }

  stats(): HeapStats {
    return { buffers: this.live, bytes: this.liveBytes, peakBytes: this.peakBytes, heapBytes: this.memory.buffer.byteLength, peakTop: this.peakTop };
  }

  /**
   * Compaction, the last resort when the heap cannot grow: every live block is moved down (in
   * address order, with `move(from, to, bytes)`, which must also update whoever holds the offset)
   * so that all free space becomes one run at the top. Only safe between kernels: no offset may be
   * held elsewhere while it runs.
   */
  compact(live: readonly { offset: number; bytes: number }[], move: (block: { offset: number; bytes: number }, to: number) => void): void {
    const sorted = [...live].sort((a, b) => a.offset - b.offset);
    let dst = this.base;
    for (const b of sorted) {
      if (b.offset !== dst) move(b, dst);
      dst += sizeClass(b.bytes);
    }
    this.free.clear();
    this.spans = [];
    this.top = dst;
  }

  /** Resets the high-water marks (benchmarks measure the peak of one workload). */
  resetPeak(): void {
    this.peakBytes = this.liveBytes;
    this.peakTop = this.top;
  }

  private take(size: number): number {
    const list = this.free.get(size);
    if (list && list.length > 0) return list.pop()!;
    const fromSpan = this.fromSpans(size);
    if (fromSpan >= 0) return fromSpan;
    if (this.top + size > this.memory.buffer.byteLength) {
      this.coalesce();
      const again = this.fromSpans(size);
      if (again >= 0) return again;
      this.ensure(this.top + size);
    }
    const off = this.top;
    this.top += size;
    if (this.top > this.peakTop) this.peakTop = this.top;
    return off;
  }

  /** Best fit among the coalesced spans, splitting off the rest. */
  private fromSpans(size: number): number {
    let best = -1;
    for (let i = 0; i < this.spans.length; i++) {
      const s = this.spans[i]!;
      if (s.size >= size && (best < 0 || s.size < this.spans[best]!.size)) best = i;
    }
    if (best < 0) return -1;
    const s = this.spans[best]!;
    const off = s.offset;
    s.offset += size;
    s.size -= size;
    if (s.size === 0) this.spans.splice(best, 1);
    return off;
  }

  /** Merges every free block and span with its free neighbours; free space at the top is returned. */
  private coalesce(): void {
    const blocks: Span[] = [...this.spans];
    for (const [size, list] of this.free) for (const offset of list) blocks.push({ offset, size });
    this.free.clear();
    blocks.sort((a, b) => a.offset - b.offset);
    const merged: Span[] = [];
    for (const b of blocks) {
      const last = merged[merged.length - 1];
      if (last && last.offset + last.size === b.offset) last.size += b.size;
      else merged.push({ ...b });
    }
    const last = merged[merged.length - 1];
    if (last && last.offset + last.size === this.top) {
      this.top = last.offset;
      merged.pop();
    }
    this.spans = merged;
  }

  private ensure(endByte: number): void {
    const have = this.memory.buffer.byteLength;
    if (endByte <= have) return;
    const needPages = Math.ceil((endByte - have) / PAGE);
    const havePages = have / PAGE;
    if (havePages + needPages > this.maxPages) {
      throw new BackendError(
        `wasm heap exhausted: ${endByte - this.top} more bytes needed, heap is ${(have / 2 ** 20).toFixed(0)} MiB of at most ` +
          `${((this.maxPages * PAGE) / 2 ** 20).toFixed(0)} MiB (live: ${this.live} buffers, ${(this.liveBytes / 2 ** 20).toFixed(1)} MiB)`,
      );
    }
    // grow with headroom (a quarter of the current size) so that a growing workload does not grow every step
    const headroom = Math.min(this.maxPages - havePages - needPages, Math.ceil(havePages / 4));
    this.memory.grow(needPages + headroom);
  }
}
