import { AppError } from '../lib/errors.js';

/**
 * Rejects with `STORE_UNAVAILABLE` (a `503` on every route) when `work` has not settled within
 * `ms`, and turns its own failure into the same: a queue or store that fails or stops
 * answering never hangs a request, nor answers `500`.
 */
export function storeCall<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new AppError('STORE_UNAVAILABLE', `no answer from the queue or store in ${ms} ms`)),
      ms,
    );
  });
  const failed = (error: unknown): never => {
    if (error instanceof AppError) throw error;
    throw new AppError('STORE_UNAVAILABLE', undefined, { cause: error });
  };
  return Promise.race([work.catch(failed), timeout]).finally(() => clearTimeout(timer));
}
