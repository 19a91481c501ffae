/** Deliveries of one interaction before it is given up ("retries_exhausted"). */
export const MAX_ATTEMPTS = 8

const BASE_MS = 1000
const CAP_MS = 60_000

/**
 * Wait before retry number `attempt`: exponential, capped, with "equal jitter"
 * (half fixed, half random) so many pages failing together do not retry together.
 * @param {number} attempt 1 for the first retry
 * @param {() => number} [random] in [0, 1)
 * @returns {number} milliseconds
 * @example backoffDelay(1) // 500..1000; backoffDelay(3) // 2000..4000
 */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(CAP_MS, BASE_MS * 2 ** (attempt - 1))
  return Math.round(ceiling / 2 + (random() * ceiling) / 2)
}
