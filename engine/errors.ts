/** Errors raised by the engine. Messages name the op and the offending shapes/axes/dtypes. */
export class GsaeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
/** A shape, axis or broadcasting mistake in a call to an op. */
export class ShapeError extends GsaeError {}
/** Wrong element type for an op. */
export class DTypeError extends GsaeError {}
/** Misuse of the autodiff transforms (non-scalar loss, higher-order gradient, disposed tensor...). */
export class AutodiffError extends GsaeError {}
/** A step function that cannot be compiled into a replayable plan. */
export class JitError extends GsaeError {}
/** A backend that cannot run what it was asked to. */
export class BackendError extends GsaeError {}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
