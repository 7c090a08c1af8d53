import { looksSecret } from './policy';
import { describePolicy } from './testing/policy-cases';

// Every invariant must reject its mutation of the dev stack (the lean layout).
describePolicy('dev');

describe('looksSecret', () => {
  it.each([
    ['OPENAI_API_KEY', 'x', true],
    ['LOG_LEVEL', 'info', false],
    ['REDIS_URL', 'rediss://cache:6379', false],
    ['REDIS_URL', 'rediss://default:s3cret@cache:6379', true],
    ['SOMETHING', 'AKIAABCDEFGHIJKLMNOP', true],
    ['CORS_ORIGINS', 'https://app.example.com', false],
  ])('looksSecret(%s=%s) is %s', (name, value, expected) => {
    expect(looksSecret(name, value)).toBe(expected);
  });
});
