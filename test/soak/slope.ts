// Slope: the least-squares line through samples of a resource over time, as growth
// per hour, for the soak's "does RSS / fd count stay flat" figures. Pure.

/** One sample: time (ms, any origin) and value. */
export interface Sample {
  at: number;
  value: number;
}

/** The least-squares slope of value against time, per hour; NaN with fewer than two distinct times. */
export function slopePerHour(samples: readonly Sample[]): number {
  const n = samples.length;
  if (n < 2) return NaN;
  const mt = samples.reduce((s, x) => s + x.at, 0) / n;
  const mv = samples.reduce((s, x) => s + x.value, 0) / n;
  let num = 0;
  let den = 0;
  for (const x of samples) {
    num += (x.at - mt) * (x.value - mv);
    den += (x.at - mt) ** 2;
  }
  return den === 0 ? NaN : (num / den) * 3_600_000;
}
