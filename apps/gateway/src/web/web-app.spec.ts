import { ConfigError, loadConfig } from '@switchboard/config';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contentSecurityPolicy, webAppDir } from './web-app';

describe('web app serving', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-webdir-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('refuses to boot with a WEB_DIR that holds no built app, naming the variable', async () => {
    const config = loadConfig({ WEB_DIR: dir });
    expect(() => webAppDir(config)).toThrow(ConfigError);
    expect(() => webAppDir(config)).toThrow(/WEB_DIR/);
    await writeFile(join(dir, 'index.html'), '<!doctype html>');
    expect(webAppDir(config)).toBe(dir);
  });

  it('allows scripts, styles and API calls from this origin only, plus the given issuer origins', () => {
    const csp = contentSecurityPolicy([]);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("connect-src 'self';");
    expect(csp).not.toMatch(/unsafe-|\*/);
    expect(contentSecurityPolicy(['https://id.example.com'])).toContain(
      "connect-src 'self' https://id.example.com;",
    );
  });
});
