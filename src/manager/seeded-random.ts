// Deterministic randomness for routing: a seed from the routing inputs, a small fast PRNG (sfc32) from the seed's
// digest, and Beta sampling through Gamma (Marsaglia–Tsang). The same seed always gives the same draws, on any
// machine, so every routing decision can be replayed and audited.
import { createHash } from "node:crypto";

export type SeedParts = {
  installationId: number;
  repo: string;
  issueNumber: number;
  taskId: string;
  attempt: number;
  policyRevision: string;
};

/** The text that is hashed; stored with the decision so anyone can recompute the seed. */
export function seedMaterial(parts: SeedParts): string {
  return `${parts.installationId}:${parts.repo}:${parts.issueNumber}:${parts.taskId}:${parts.attempt}:${parts.policyRevision}`;
}

/** sha256 hex of `installation:repo:issue:task:attempt:policyRevision`. */
export function routingSeed(parts: SeedParts): string {
  return createHash("sha256").update(seedMaterial(parts)).digest("hex");
}

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator) seeded with 128 bits. */
export function sfc32(a: number, b: number, c: number, d: number): () => number {
  let s0 = a >>> 0;
  let s1 = b >>> 0;
  let s2 = c >>> 0;
  let counter = d >>> 0;
  return () => {
    const t = (((s0 + s1) >>> 0) + counter) >>> 0;
    counter = (counter + 1) >>> 0;
    s0 = s1 ^ (s1 >>> 9);
    s1 = (s2 + (s2 << 3)) >>> 0;
    s2 = ((s2 << 21) | (s2 >>> 11)) >>> 0;
    s2 = (s2 + t) >>> 0;
    return t;
  };
}

/**
 * A uniform PRNG for a named stream of a seed: the stream label keeps, for example, each employee's draw
 * independent of which other employees happen to be candidates.
 */
export function seededRandom(seed: string, stream = ""): Random {
  const digest = createHash("sha256").update(`${seed}|${stream}`).digest();
  const next = sfc32(digest.readUInt32BE(0), digest.readUInt32BE(4), digest.readUInt32BE(8), digest.readUInt32BE(12));
  // The usual warm-up: the first outputs of sfc32 still resemble the seed words.
  for (let i = 0; i < 15; i++) next();
  return () => {
    // 53 random bits: 27 from one output and 26 from the next, as a double in [0, 1).
    const high = next() >>> 5;
    const low = next() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  };
}

/** A uniform number in (0, 1): never exactly 0, so logarithms stay finite. */
function openUnit(random: Random): number {
  let u = random();
  while (u === 0) u = random();
  return u;
}

/** Standard normal by Box–Muller. */
export function sampleNormal(random: Random): number {
  const u = openUnit(random);
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Gamma(shape, 1) by Marsaglia and Tsang (2000); shapes below 1 use the boost Gamma(k+1)·U^(1/k). */
export function sampleGamma(shape: number, random: Random): number {
  if (!(shape > 0) || !Number.isFinite(shape)) throw new RangeError(`Gamma shape must be a positive finite number, got ${shape}`);
  if (shape < 1) return sampleGamma(shape + 1, random) * Math.pow(openUnit(random), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = sampleNormal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = openUnit(random);
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Beta(alpha, beta) as X / (X + Y) with X ~ Gamma(alpha), Y ~ Gamma(beta). */
export function sampleBeta(alpha: number, beta: number, random: Random): number {
  const x = sampleGamma(alpha, random);
  const y = sampleGamma(beta, random);
  return x + y === 0 ? 0.5 : x / (x + y);
}
