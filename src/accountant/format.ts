// How the Accountant writes numbers for people: money as $1.23, rates as 62 % [48–75 %], durations in the
// largest unit that reads naturally, and "n/a" wherever a number is undefined.
import type { CredibleInterval } from "./posterior.js";

export const NOT_AVAILABLE = "n/a";

export function formatUsd(amount: number | null): string {
  if (amount === null || !Number.isFinite(amount)) return NOT_AVAILABLE;
  if (amount < 0) return `−${formatUsd(-amount)}`;
  // A fraction of a cent is real spend; "$0.00" would claim the task was free.
  if (amount > 0 && amount < 0.005) return "<$0.01";
  const [whole = "0", cents = "00"] = amount.toFixed(2).split(".");
  return `$${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${cents}`;
}

export function formatPercent(rate: number | null): string {
  if (rate === null || !Number.isFinite(rate)) return NOT_AVAILABLE;
  return `${Math.round(rate * 100)} %`;
}

/** `62 % [48–75 %]`. */
export function formatRate(rate: number | null, interval: CredibleInterval | null): string {
  if (rate === null) return NOT_AVAILABLE;
  if (interval === null) return formatPercent(rate);
  return `${formatPercent(rate)} [${Math.round(interval.lower * 100)}–${formatPercent(interval.upper)}]`;
}

/** `0.74 [0.62–0.84]`: quality scores are shown as decimals so they are not mistaken for merge rates. */
export function formatScore(score: { mean: number } & CredibleInterval, options: { boldLower?: boolean } = {}): string {
  const lower = options.boldLower === true ? `**${score.lower.toFixed(2)}**` : score.lower.toFixed(2);
  return `${score.mean.toFixed(2)} [${lower}–${score.upper.toFixed(2)}]`;
}

/** `1 task`, `2 tasks`, `0 tasks`: a count with its noun in the right number. */
export function formatCount(count: number, singular: string, plural = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : plural}`;
}

export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return NOT_AVAILABLE;
  const seconds = ms / 1000;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = seconds / 60;
  if (minutes < 60) return `${Math.round(minutes)} min`;
  const hours = minutes / 60;
  if (hours < 48) return `${trimZero(hours.toFixed(1))} h`;
  return `${trimZero((hours / 24).toFixed(1))} d`;
}

export function formatNumber(value: number | null, digits = 1): string {
  if (value === null || !Number.isFinite(value)) return NOT_AVAILABLE;
  return trimZero(value.toFixed(digits));
}

function trimZero(text: string): string {
  return text.endsWith(".0") ? text.slice(0, -2) : text;
}
