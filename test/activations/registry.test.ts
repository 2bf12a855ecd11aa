/** getActivation spec parsing, aliases, parameters, errors, and registration of new activations. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../src/errors.js';
import {
  activationAliases,
  activationNames,
  getActivation,
  IdentityActivation,
  registerActivation,
  SiluActivation,
} from '../../src/approx/activations/index.js';

describe('getActivation', () => {
  test('canonical names round-trip through getActivation(activation.name)', () => {
    for (const spec of [
      'identity',
      'relu',
      'leaky_relu',
      'leaky_relu(0.2)',
      'jumprelu',
      'jumprelu(0.5)',
      'gelu',
      'gelu_tanh',
      'sigmoid',
      'silu',
      'tanh',
      'softplus',
    ]) {
      const act = getActivation(spec);
      assert.equal(getActivation(act.name).name, act.name, spec);
    }
  });

  test('default parameters and canonical names', () => {
    assert.equal(getActivation('leaky_relu').name, 'leaky_relu(0.01)');
    assert.equal(getActivation('leaky_relu()').name, 'leaky_relu(0.01)');
    assert.equal(getActivation('jumprelu').name, 'jumprelu(1)');
    assert.equal(getActivation('leaky_relu(0.2)').name, 'leaky_relu(0.2)');
    assert.equal(getActivation('jumprelu(0.5)').name, 'jumprelu(0.5)');
    assert.equal(getActivation('jumprelu(-2.5e-1)').name, 'jumprelu(-0.25)');
  });

  test('both parameter syntaxes, whitespace and case', () => {
    assert.equal(getActivation('leaky_relu:0.2').name, 'leaky_relu(0.2)');
    assert.equal(getActivation('  Leaky_ReLU ( 0.2 ) ').name, 'leaky_relu(0.2)');
    assert.equal(getActivation('LEAKY_RELU:0.3').name, 'leaky_relu(0.3)');
    assert.equal(getActivation('JumpReLU(2)').name, 'jumprelu(2)');
    assert.equal(getActivation('GELU').name, 'gelu');
    assert.equal(getActivation('ReLU').name, 'relu');
  });

  test('parameters reach the activation', () => {
    assert.equal(getActivation('leaky_relu(0.2)').value(-1), -0.2);
    assert.equal(getActivation('leaky_relu:0.3').derivative(-1), 0.3);
    assert.equal(getActivation('jumprelu(0.5)').value(0.4), 0);
    assert.equal(getActivation('jumprelu(0.5)').value(0.6), 0.6);
    assert.deepEqual(getActivation('jumprelu(0.5)').kinks, [0.5]);
  });

  test('aliases', () => {
    assert.equal(getActivation('swish').name, 'silu');
    assert.equal(getActivation('Swish').name, 'silu');
    assert.equal(getActivation('linear').name, 'identity');
    assert.equal(getActivation('gelu_new').name, 'gelu_tanh');
    assert.equal(getActivation('gelu_pytorch_tanh').name, 'gelu_tanh');
    assert.equal(getActivation('gelu_erf').name, 'gelu');
    assert.equal(getActivation('leakyrelu(0.1)').name, 'leaky_relu(0.1)');
    assert.equal(getActivation('jump_relu:3').name, 'jumprelu(3)');
    assert.ok(getActivation('swish') instanceof SiluActivation);
    assert.ok(getActivation('linear') instanceof IdentityActivation);
  });

  test('activationNames lists the built-ins (canonical, sorted)', () => {
    const names = activationNames();
    for (const n of ['gelu', 'gelu_tanh', 'identity', 'jumprelu', 'leaky_relu', 'relu', 'sigmoid', 'silu', 'softplus', 'tanh']) {
      assert.ok(names.includes(n), n);
    }
    assert.ok(!names.includes('swish'));
    assert.deepEqual(names, [...names].sort());
    assert.equal(activationAliases()['swish'], 'silu');
  });

  test('errors', () => {
    const bad: [string, RegExp][] = [
      ['mish', /unknown activation 'mish'.*known activations: .*relu.*aliases: .*swish → silu/],
      ['', /cannot parse/],
      ['relu(', /cannot parse/],
      ['relu)', /cannot parse/],
      ['relu((1))', /cannot parse/],
      ['leaky_relu(abc)', /parameter 'abc' of 'leaky_relu\(abc\)' is not a finite number/],
      ['leaky_relu(Infinity)', /not a finite number/],
      ['leaky_relu(NaN)', /not a finite number/],
      ['leaky_relu:', /not a finite number/],
      ['leaky_relu(0.1,)', /not a finite number/],
      ['leaky_relu(0.1, 0.2)', /at most one parameter/],
      ['relu(1)', /'relu' takes no parameters/],
      ['relu:1', /'relu' takes no parameters/],
      ['gelu(0)', /'gelu' takes no parameters/],
      ['2relu', /cannot parse/],
    ];
    for (const [spec, pattern] of bad) {
      assert.throws(
        () => getActivation(spec),
        (e: unknown) => e instanceof InvalidArgumentError && pattern.test(e.message),
        `spec '${spec}'`,
      );
    }
    assert.throws(() => getActivation(42 as unknown as string), InvalidArgumentError);
  });
});

describe('registerActivation', () => {
  test('a new activation with parameters and aliases', () => {
    registerActivation(
      'scaled_identity_test',
      (...p: number[]) => {
        if (p.length > 1) throw new InvalidArgumentError('scaled_identity_test takes at most one parameter');
        const a = p[0] ?? 2;
        const base = new IdentityActivation();
        return Object.assign(Object.create(base) as IdentityActivation, {
          name: `scaled_identity_test(${a})`,
          value: (u: number) => a * u,
        });
      },
      { aliases: ['sit_alias'] },
    );
    assert.equal(getActivation('Scaled_Identity_Test(3)').value(2), 6);
    assert.equal(getActivation('sit_alias').value(2), 4);
    assert.ok(activationNames().includes('scaled_identity_test'));
    assert.throws(() => getActivation('scaled_identity_test(1, 2)'), InvalidArgumentError);
  });

  test('taken names are refused unless replace is set', () => {
    assert.throws(() => registerActivation('relu', () => new IdentityActivation()), /already registered/);
    assert.throws(() => registerActivation('SWISH', () => new IdentityActivation()), /already registered/);
    assert.throws(() => registerActivation('x_test', () => new IdentityActivation(), { aliases: ['linear'] }), /already registered/);
    registerActivation('replace_me_test', () => new IdentityActivation());
    registerActivation('replace_me_test', () => new SiluActivation(), { replace: true });
    assert.ok(getActivation('replace_me_test') instanceof SiluActivation);
  });

  test('invalid names and factories', () => {
    assert.throws(() => registerActivation('bad name', () => new IdentityActivation()), InvalidArgumentError);
    assert.throws(() => registerActivation('1abc', () => new IdentityActivation()), InvalidArgumentError);
    assert.throws(() => registerActivation('ok_name_test', 3 as unknown as () => IdentityActivation), InvalidArgumentError);
  });
});
