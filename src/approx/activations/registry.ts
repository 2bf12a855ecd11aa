/**
 * Activation lookup by spec string, e.g. `'relu'`, `'leaky_relu(0.2)'`, `'leaky_relu:0.2'`,
 * `'jumprelu(0.5)'`, `'GELU'`. Names are case-insensitive; parameters are finite numbers separated by
 * commas. The built-in names and aliases:
 *
 * | name | aliases | parameters |
 * |---|---|---|
 * | identity | linear | |
 * | relu | | |
 * | leaky_relu | leakyrelu | slope (default 0.01) |
 * | jumprelu | jump_relu | threshold θ (default 1) |
 * | gelu | gelu_erf | |
 * | gelu_tanh | gelu_new, gelu_pytorch_tanh | |
 * | sigmoid | | |
 * | silu | swish | |
 * | tanh | | |
 * | softplus | | |
 */
import { InvalidArgumentError } from '../../errors.js';
import { GeluActivation, GeluTanhActivation } from './gelu.js';
import { IdentityActivation } from './identity.js';
import { SigmoidActivation, SiluActivation, SoftplusActivation } from './logistic.js';
import { JumpReluActivation, LeakyReluActivation, ReluActivation } from './relu.js';
import { TanhActivation } from './tanh.js';
import type { Activation } from './types.js';

/**
 * Creates an activation from the numeric parameters of its spec (none for `'relu'`, `[0.2]` for
 * `'leaky_relu(0.2)'`). It should throw InvalidArgumentError for a wrong number or value of parameters.
 */
export type ActivationFactory = (...parameters: number[]) => Activation;

/** Options of {@link registerActivation}. */
export interface RegisterActivationOptions {
  /** Other names that resolve to this activation. */
  readonly aliases?: readonly string[];
  /** Replace an existing registration of the same name or alias instead of throwing. */
  readonly replace?: boolean;
}

interface Entry {
  readonly name: string;
  readonly factory: ActivationFactory;
}

const NAME_PATTERN = /^[a-z][a-z0-9_]*$/;

const entries = new Map<string, Entry>();
const aliases = new Map<string, string>();

function withoutParameters(name: string, create: () => Activation): ActivationFactory {
  return (...parameters: number[]) => {
    if (parameters.length !== 0) {
      throw new InvalidArgumentError(`activation '${name}' takes no parameters, got ${parameters.length}`);
    }
    return create();
  };
}

function withOptionalParameter(name: string, create: (p?: number) => Activation): ActivationFactory {
  return (...parameters: number[]) => {
    if (parameters.length > 1) {
      throw new InvalidArgumentError(`activation '${name}' takes at most one parameter, got ${parameters.length}`);
    }
    return create(parameters[0]);
  };
}

function normalizeName(name: string, what: string): string {
  const key = name.trim().toLowerCase();
  if (!NAME_PATTERN.test(key)) {
    throw new InvalidArgumentError(`${what}: '${name}' is not a valid activation name (letters, digits, '_')`);
  }
  return key;
}

/**
 * Registers an activation under `name` (case-insensitive), so that `getActivation(name)` and
 * `getActivation('name(p1, p2)')` call `factory()` resp. `factory(p1, p2)`.
 * @throws InvalidArgumentError for an invalid name, or a name/alias already taken unless `replace` is set.
 */
export function registerActivation(
  name: string,
  factory: ActivationFactory,
  options: RegisterActivationOptions = {},
): void {
  if (typeof factory !== 'function') {
    throw new InvalidArgumentError(`registerActivation: factory for '${name}' must be a function`);
  }
  const key = normalizeName(name, 'registerActivation');
  const aliasKeys = (options.aliases ?? []).map((a) => normalizeName(a, 'registerActivation'));
  if (!options.replace) {
    for (const k of [key, ...aliasKeys]) {
      if (entries.has(k) || aliases.has(k)) {
        throw new InvalidArgumentError(`registerActivation: the name '${k}' is already registered`);
      }
    }
  }
  aliases.delete(key);
  entries.set(key, { name: key, factory });
  for (const a of aliasKeys) {
    entries.delete(a);
    aliases.set(a, key);
  }
}

/** The canonical names of all registered activations, sorted (aliases not included). */
export function activationNames(): string[] {
  return [...entries.keys()].sort();
}

/** All registered aliases and the canonical name each resolves to. */
export function activationAliases(): Record<string, string> {
  return Object.fromEntries([...aliases.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
}

const SPEC_PATTERN = /^\s*([A-Za-z][A-Za-z0-9_]*)\s*(?:\(([^()]*)\)|:([^():]*))?\s*$/;

function parseParameter(text: string, spec: string): number {
  const trimmed = text.trim();
  const value = trimmed === '' ? NaN : Number(trimmed);
  if (!Number.isFinite(value)) {
    throw new InvalidArgumentError(`getActivation: parameter '${trimmed}' of '${spec}' is not a finite number`);
  }
  return value;
}

function knownNamesText(): string {
  const aliasText = Object.entries(activationAliases()).map(([a, n]) => `${a} → ${n}`);
  return `known activations: ${activationNames().join(', ')}; aliases: ${aliasText.join(', ')}`;
}

/**
 * Parses an activation spec and returns the activation.
 * @param spec `'name'`, `'name(p1, p2, …)'` or `'name:p1,p2'`; the name is case-insensitive.
 * @throws InvalidArgumentError for a malformed spec, an unknown name (the message lists the known ones) or
 *   parameters the activation does not accept.
 */
export function getActivation(spec: string): Activation {
  if (typeof spec !== 'string') throw new InvalidArgumentError(`getActivation: spec must be a string, got ${typeof spec}`);
  const match = SPEC_PATTERN.exec(spec);
  if (match === null) {
    throw new InvalidArgumentError(
      `getActivation: cannot parse activation spec '${spec}' (expected 'name', 'name(p, …)' or 'name:p'); ${knownNamesText()}`,
    );
  }
  const key = match[1]!.toLowerCase();
  const entry = entries.get(aliases.get(key) ?? key);
  if (entry === undefined) {
    throw new InvalidArgumentError(`getActivation: unknown activation '${match[1]}'; ${knownNamesText()}`);
  }
  const parameterText = match[2] ?? match[3];
  const parameters =
    parameterText === undefined || (match[2] !== undefined && parameterText.trim() === '')
      ? []
      : parameterText.split(',').map((p) => parseParameter(p, spec));
  return entry.factory(...parameters);
}

function registerBuiltins(): void {
  registerActivation('identity', withoutParameters('identity', () => new IdentityActivation()), { aliases: ['linear'] });
  registerActivation('relu', withoutParameters('relu', () => new ReluActivation()));
  registerActivation('leaky_relu', withOptionalParameter('leaky_relu', (p) => new LeakyReluActivation(p)), {
    aliases: ['leakyrelu'],
  });
  registerActivation('jumprelu', withOptionalParameter('jumprelu', (p) => new JumpReluActivation(p)), {
    aliases: ['jump_relu'],
  });
  registerActivation('gelu', withoutParameters('gelu', () => new GeluActivation()), { aliases: ['gelu_erf'] });
  registerActivation('gelu_tanh', withoutParameters('gelu_tanh', () => new GeluTanhActivation()), {
    aliases: ['gelu_new', 'gelu_pytorch_tanh'],
  });
  registerActivation('sigmoid', withoutParameters('sigmoid', () => new SigmoidActivation()));
  registerActivation('silu', withoutParameters('silu', () => new SiluActivation()), { aliases: ['swish'] });
  registerActivation('tanh', withoutParameters('tanh', () => new TanhActivation()));
  registerActivation('softplus', withoutParameters('softplus', () => new SoftplusActivation()));
}

registerBuiltins();
