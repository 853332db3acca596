// The rule that agents only ever write their own branches: every ref the app pushes must be a well-formed
// branch under refs/heads/aura/. Kept in one small module so the rule is easy to audit.
import { RefNotAllowedError } from "./errors.js";

const AURA_REF = /^refs\/heads\/aura\/[A-Za-z0-9._\-/]+$/;

/** Throws RefNotAllowedError unless `ref` is a valid `refs/heads/aura/*` branch name. */
export function assertAuraRef(ref: string): void {
  const ok =
    AURA_REF.test(ref) &&
    !ref.includes("..") &&
    !ref.includes("//") &&
    !ref.includes("/.") &&
    !ref.endsWith("/") &&
    !ref.endsWith(".") &&
    !ref.endsWith(".lock") &&
    !ref.includes("@{");
  if (!ok) throw new RefNotAllowedError(ref);
}

export function isAuraRef(ref: string): boolean {
  try {
    assertAuraRef(ref);
    return true;
  } catch {
    return false;
  }
}
