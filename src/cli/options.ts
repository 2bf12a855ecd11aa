/** Parsing and validating CLI option values, with messages naming the flag. */
import { UsageError } from './errors.js';

export function parseInteger(value: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be an integer${max < Number.MAX_SAFE_INTEGER ? ` in [${min}, ${max}]` : ` ≥ ${min}`}, got "${value}"`);
  }
  return n;
}

export function parseNumber(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag} must be a number, got "${value}"`);
  return n;
}

export function parseArch(value: string | undefined): 'mlp' | 'glu' | undefined {
  if (value === undefined) return undefined;
  const v = value.toLowerCase();
  if (v !== 'mlp' && v !== 'glu') throw new UsageError(`--arch must be mlp or glu, got "${value}"`);
  return v;
}

export function parseGammaForm(value: string): 'dense' | 'factored' | 'auto' {
  if (value !== 'dense' && value !== 'factored' && value !== 'auto') {
    throw new UsageError(`--gamma must be dense, factored or auto, got "${value}"`);
  }
  return value;
}

export function parseChoice<T extends string>(value: string, flag: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`${flag} must be one of ${choices.join(', ')}, got "${value}"`);
  return value as T;
}
