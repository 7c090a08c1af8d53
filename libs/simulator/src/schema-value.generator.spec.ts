import { Ajv2020 } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { generateFromSchema } from './schema-value.generator';

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

function expectValid(schema: object): unknown {
  const value = generateFromSchema(schema);
  const validate = ajv.compile(schema);
  if (!validate(value))
    throw new Error(
      `${JSON.stringify(value)} is not valid against ${JSON.stringify(schema)}: ${ajv.errorsText(validate.errors)}`,
    );
  return value;
}

const FORMATS = ['date-time', 'date', 'email', 'uri', 'uuid', 'ipv4', 'hostname'];

const stringSchema = fc
  .record(
    {
      minLength: fc.integer({ min: 0, max: 20 }),
      extra: fc.integer({ min: 0, max: 20 }),
      format: fc.constantFrom(undefined, ...FORMATS),
    },
    { requiredKeys: ['minLength', 'extra'] },
  )
  .map(({ minLength, extra, format }) =>
    format
      ? { type: 'string', format }
      : { type: 'string', minLength, maxLength: minLength + extra },
  );

const integerSchema = fc
  .record({
    lo: fc.integer({ min: -1000, max: 1000 }),
    width: fc.integer({ min: 0, max: 1000 }),
    step: fc.constantFrom(undefined, 1, 2, 3, 5, 7, 10),
    exclusive: fc.boolean(),
  })
  .map(({ lo, width, step, exclusive }) => {
    // wide enough for a multiple of the step strictly inside
    const hi = lo + width + 2 * (step ?? 1) + 2;
    return {
      type: 'integer',
      ...(exclusive
        ? { exclusiveMinimum: lo, exclusiveMaximum: hi }
        : { minimum: lo, maximum: hi }),
      ...(step ? { multipleOf: step } : {}),
    };
  });

const numberSchema = fc
  .record({
    lo: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    width: fc.double({ min: 0, max: 1e6, noNaN: true }),
  })
  .map(({ lo, width }) => ({ type: 'number', minimum: lo, maximum: lo + width }));

const scalar = fc.oneof(
  stringSchema,
  integerSchema,
  numberSchema,
  fc.constant({ type: 'boolean' }),
  fc.constant({ type: 'null' }),
  fc
    .array(fc.oneof(fc.string(), fc.integer()), { minLength: 1, maxLength: 5 })
    .map((e) => ({ enum: e })),
  fc.constant({ type: ['string', 'null'] }),
);

const { schema } = fc.letrec<{ schema: object }>((tie) => ({
  schema: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc
      .dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/), tie('schema'), { maxKeys: 5 })
      .chain((properties) =>
        fc
          .record({
            required: fc.subarray(Object.keys(properties)),
            closed: fc.boolean(),
          })
          .map(({ required, closed }) => ({
            type: 'object',
            properties,
            required,
            ...(closed ? { additionalProperties: false } : {}),
          })),
      ),
    fc
      .record({
        items: tie('schema'),
        minItems: fc.integer({ min: 0, max: 4 }),
        extra: fc.integer({ min: 0, max: 3 }),
      })
      .map(({ items, minItems, extra }) => ({
        type: 'array',
        items,
        minItems,
        maxItems: minItems + extra,
      })),
    fc.array(tie('schema'), { minLength: 1, maxLength: 3 }).map((anyOf) => ({ anyOf })),
  ),
}));

describe('generateFromSchema', () => {
  it('produces a value valid against any generated schema (ajv)', () => {
    fc.assert(
      fc.property(schema, (s) => void expectValid(s)),
      { numRuns: 500 },
    );
  });

  it('honours required, enums and nested arrays of a tool schema', () => {
    const v = expectValid({
      type: 'object',
      properties: {
        city: { type: 'string', minLength: 2 },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        days: { type: 'integer', minimum: 1, maximum: 14 },
        tags: { type: 'array', items: { type: 'string' }, minItems: 2, uniqueItems: true },
      },
      required: ['city', 'unit', 'days', 'tags'],
      additionalProperties: false,
    });
    expect(v).toMatchObject({ unit: 'celsius', days: 1 });
  });

  it('follows local $refs into $defs and definitions, and allOf', () => {
    expectValid({
      $defs: { point: { type: 'object', properties: { x: { type: 'number' } }, required: ['x'] } },
      type: 'object',
      properties: {
        a: { $ref: '#/$defs/point' },
        b: { type: 'array', items: { $ref: '#/$defs/point' }, minItems: 3 },
        c: { allOf: [{ properties: { p: { type: 'string' } } }, { required: ['p'] }] },
      },
      required: ['a', 'b', 'c'],
    });
    expectValid({
      definitions: { n: { type: 'integer', exclusiveMinimum: 10 } },
      $ref: '#/definitions/n',
    });
  });

  it('a recursive schema terminates', () => {
    const tree = {
      $defs: {
        node: {
          type: 'object',
          properties: { children: { type: 'array', items: { $ref: '#/$defs/node' } } },
          required: ['children'],
        },
      },
      $ref: '#/$defs/node',
    };
    expectValid(tree);
  });

  it('minProperties and required keys not in properties are filled', () => {
    expectValid({ type: 'object', minProperties: 3, required: ['z'] });
  });
});
