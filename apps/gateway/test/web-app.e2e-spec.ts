import { get } from 'node:http';
import { readFile, readdir, rm } from 'node:fs/promises';
import { brotliDecompressSync } from 'node:zlib';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ADMIN_KEY, auth, postJson, startHarness, waitFor, type Harness } from './gateway.harness';
import { SHOTS, buildWebApp, launchChromium } from './web.harness';

/**
 * The web app in real headless Chromium against a real gateway in simulated
 * mode: sign-in, streaming, Stop, documents with citations, a code-interpreter
 * chart, keys, budgets and usage. Screenshots land in test-results/web/.
 */
const USER = 'web-user';

describe('web app in Chromium', () => {
  let h: Harness;
  let webDir: string;
  let browser: Browser;
  let page: Page;
  let userKey: string;
  const consoleErrors: string[] = [];

  const shot = (name: string) =>
    page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  const signIn = async (key: string) => {
    await page.evaluate(() => sessionStorage.clear());
    await page.goto(h.url);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('textbox', { name: 'Message' }).waitFor();
  };

  const assistantText = () =>
    page.getByRole('log').getByRole('article', { name: 'Assistant' }).last();

  const send = async (text: string) => {
    await page.getByRole('textbox', { name: 'Message' }).fill(text);
    await page.getByRole('button', { name: 'Send' }).click();
  };

  beforeAll(async () => {
    webDir = await buildWebApp();
    h = await startHarness({ WEB_DIR: webDir });
    expect(
      (await postJson(`${h.url}/admin/accounts`, { id: 'web-team', name: 'Web team' })).status,
    ).toBe(201);
    const k = await postJson(`${h.url}/admin/keys`, {
      ownerUserId: USER,
      accountId: 'web-team',
      scopes: ['chat', 'files'],
      name: 'browser',
    });
    userKey = ((await k.json()) as { key: string }).key;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    // below Jest's timeout, so a missing element fails with the locator's own message
    page.setDefaultTimeout(10_000);
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    page.on('dialog', (d) => void d.accept());
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await h?.close();
    await rm(webDir, { recursive: true, force: true });
  });

  it('serves the app with a strict CSP, a revalidated index and immutable hashed assets', async () => {
    const res = await fetch(`${h.url}/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const html = await res.text();
    expect(html).not.toMatch(/<script>(?!<)/); // no inline script
    const [asset] = (await readdir(join(webDir, 'assets'))).filter((f) => f.endsWith('.js'));
    const a = await fetch(`${h.url}/assets/${asset}`);
    expect(a.status).toBe(200);
    expect(a.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await fetch(`${h.url}/assets/nope-123.js`)).status).toBe(404);
    // the build's brotli copy, served as JavaScript to a client that accepts br,
    // holding exactly the bytes of the plain file
    const br = await new Promise<{
      status?: number;
      headers: Record<string, unknown>;
      body: Buffer;
    }>((resolveRes, reject) =>
      get(`${h.url}/assets/${asset}`, { headers: { 'accept-encoding': 'br' } }, (r) => {
        const parts: Buffer[] = [];
        r.on('data', (c: Buffer) => parts.push(c));
        r.on('end', () =>
          resolveRes({ status: r.statusCode, headers: r.headers, body: Buffer.concat(parts) }),
        );
      }).on('error', reject),
    );
    expect(br.status).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['content-type']).toMatch(/^(text|application)\/javascript/);
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(
      brotliDecompressSync(br.body).equals(await readFile(join(webDir, 'assets', asset))),
    ).toBe(true);
    expect(await (await fetch(`${h.url}/web-config.json`)).json()).toEqual({ oidc: null });
    // the API is still behind authentication
    expect((await fetch(`${h.url}/me`)).status).toBe(401);
  });

  it('signs in with an API key using the keyboard only; a bad key is refused with a message', async () => {
    await page.goto(h.url);
    await page.getByLabel('API key').focus();
    await page.keyboard.type('sb_not-a-real-key-000000');
    await page.keyboard.press('Enter');
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(
      /Sign-in refused|invalid/i,
    );
    await shot('01-sign-in');
    await page.getByLabel('API key').fill(userKey);
    await page.keyboard.press('Enter');
    await page.getByRole('textbox', { name: 'Message' }).waitFor();
    expect(await page.getByRole('link', { name: 'Usage' }).isVisible()).toBe(true);
    // not an admin: no Admin link
    expect(await page.getByRole('link', { name: 'Admin' }).count()).toBe(0);
    // the token is in sessionStorage, never in a cookie
    expect(await page.context().cookies()).toEqual([]);
  });

  it('renders the answer incrementally while it streams, then its tokens and cost', async () => {
    await page
      .getByRole('textbox', { name: 'Message' })
      .fill('Tell me a story\n#sim tokens=80 tps=25');
    await page.keyboard.press('Enter');
    const answer = assistantText();
    const lengths: number[] = [];
    // sample the rendered text while the Stop button says the stream is still open
    await waitFor(
      async () => {
        const streaming = await page.getByRole('button', { name: 'Stop' }).isEnabled();
        const len = ((await answer.locator('.markdown').textContent()) ?? '').length;
        if (streaming && len > 0 && len !== lengths.at(-1)) lengths.push(len);
        return lengths.length >= 3;
      },
      10_000,
      50,
    );
    expect(lengths[0]).toBeLessThan(lengths[2]);
    await answer.getByText(/80 out tokens/).waitFor();
    expect(await answer.getByText(/\$0\.0000/).count()).toBe(1);
    await shot('02-chat-streamed');
    // the conversation was stored and listed under its first question
    await page
      .getByRole('navigation', { name: 'Conversations' })
      .getByRole('button', { name: 'Tell me a story', exact: true })
      .waitFor();
  });

  it('Stop ends the stream; the stored turn is cancelled with its partial text', async () => {
    await send('Write forever\n#sim tokens=3000 tps=30');
    const answer = assistantText();
    await waitFor(
      async () => ((await answer.locator('.markdown').textContent()) ?? '').length > 10,
      10_000,
      50,
    );
    await page.getByRole('button', { name: 'Stop' }).click();
    await answer.getByText('Stopped.').waitFor();
    expect(await page.getByRole('button', { name: 'Stop' }).isDisabled()).toBe(true);
    const shown = (await answer.locator('.markdown').textContent()) ?? '';
    const bearer = { authorization: `Bearer ${userKey}` };
    const list = (await (await fetch(`${h.url}/conversations`, { headers: bearer })).json()) as {
      data: Array<{ id: string }>;
    };
    let last: { status: string; content: string } | undefined;
    await waitFor(async () => {
      const msgs = (await (
        await fetch(`${h.url}/conversations/${list.data[0].id}/messages`, { headers: bearer })
      ).json()) as { data: Array<{ status: string; content: string }> };
      last = msgs.data.at(-1);
      return last?.status === 'cancelled';
    }, 5000);
    expect(last!.content.length).toBeGreaterThan(0);
    expect(shown.startsWith(last!.content.slice(0, 10))).toBe(true);
  });

  it('escapes raw HTML in an answer instead of running it', async () => {
    await send('html please\n#sim tokens=1 text=<img/src=x/onerror=window.__xss=1>');
    const answer = assistantText();
    await answer.getByText(/out tokens/).waitFor();
    expect(await answer.locator('.markdown img').count()).toBe(0);
    expect(await answer.locator('.markdown').textContent()).toContain('<img/src=x');
    expect(
      await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss),
    ).toBeUndefined();
  });

  it('uploads a CSV, shows its ingestion status, and answers over it with a citation', async () => {
    await page.getByRole('button', { name: 'New conversation' }).click();
    await page.getByLabel('Upload file').setInputFiles({
      name: 'cities.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('city,population\nLyon,522000\nNantes,320000\nLille,236000\n'),
    });
    await page
      .getByLabel('cities.csv status')
      .filter({ hasText: 'ready' })
      .waitFor({ timeout: 20_000 });
    expect(await page.getByRole('checkbox', { name: 'Use cities.csv' }).isChecked()).toBe(true);
    await send('Which city is largest?\n#sim tokens=2 text=[1]');
    const answer = assistantText();
    await answer.getByText(/out tokens/).waitFor();
    const sources = answer.getByRole('region', { name: 'Sources' });
    await sources.getByText('cities.csv').waitFor();
    const cite = answer.getByRole('link', { name: 'source 1' }).first();
    expect(await cite.getAttribute('href')).toMatch(/^#src-.+-1$/);
    await shot('03-chat-citation');
  });

  it('shows a chart made by the code interpreter inline', async () => {
    await page.getByRole('button', { name: 'New conversation' }).click();
    await page.getByLabel('Model').selectOption('sim-coder');
    await page.getByRole('combobox', { name: 'Assistant' }).selectOption('code-interpreter');
    await page.getByRole('checkbox', { name: 'Use cities.csv' }).uncheck();
    await send('Plot the populations\n#sim files=chart.png');
    const img = assistantText().getByRole('img', { name: 'Generated image chart.png' });
    await img.waitFor({ timeout: 20_000 });
    await waitFor(
      () =>
        img.evaluate((el) => {
          // the test's tsconfig has no DOM types: read the two image fields by shape
          const i = el as unknown as { complete: boolean; naturalWidth: number };
          return i.complete && i.naturalWidth > 0;
        }),
      5000,
    );
    await shot('04-chat-code-interpreter');
    await page.getByLabel('Model').selectOption('sim-gpt');
    await page.getByRole('combobox', { name: 'Assistant' }).selectOption('');
  });

  it('reopens a stored conversation, searches titles and regenerates the last answer', async () => {
    const list = page.getByRole('navigation', { name: 'Conversations' });
    await page.getByLabel('Search conversations').fill('city');
    await waitFor(
      async () => (await list.getByRole('button', { name: /^(Rename|Delete) / }).count()) === 2,
    );
    await list.getByRole('button', { name: 'Which city is largest?', exact: true }).click();
    // rendered from the server's copy: question, answer, its sources and usage
    const log = page.getByRole('log');
    await log.getByText('Which city is largest?').waitFor();
    await log.getByRole('region', { name: 'Sources' }).getByText('cities.csv').waitFor();
    await log.getByText(/2 out tokens/).waitFor();
    expect(await log.getByRole('article', { name: 'Assistant' }).count()).toBe(1);
    await page.getByLabel('Search conversations').fill('');

    const calls = h.sim.stats().completed;
    await page.getByRole('button', { name: 'Regenerate' }).click();
    // a new upstream call, then its answer rendered in place of the old one
    await waitFor(() => h.sim.stats().completed > calls, 10_000);
    await waitFor(
      async () =>
        (await log.getByText(/2 out tokens/).count()) === 1 &&
        (await page.getByRole('button', { name: 'Stop' }).isDisabled()),
      10_000,
      50,
    );
    // the question asked again, answered again; the old pair is replaced on screen
    expect(await log.getByRole('article', { name: 'Assistant' }).count()).toBe(1);
    expect(await log.getByRole('article', { name: 'You' }).count()).toBe(1);
  });

  it('admin: creates a key (secret shown once) and revokes it', async () => {
    await signIn(ADMIN_KEY);
    await page.getByRole('link', { name: 'Admin' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create key' });
    await dialog.waitFor();
    // Escape closes the dialog and it opens again
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Create key' }).click();
    await dialog.getByLabel('Owner user id').fill('temp-user');
    await dialog.getByLabel('Account').selectOption('web-team');
    await dialog.getByLabel('Key name').fill('from-the-console');
    await dialog.getByLabel('Requests per minute').fill('30');
    await dialog.getByRole('button', { name: 'Create' }).click();
    const secretBox = page.getByRole('dialog', { name: 'New API key' }).getByLabel('New API key');
    await secretBox.waitFor();
    const secret = await secretBox.inputValue();
    expect(secret).toMatch(/^sb_/);
    await shot('05-admin-key-created');
    await page.getByRole('button', { name: 'Done' }).click();
    const probe = () => fetch(`${h.url}/me`, { headers: { authorization: `Bearer ${secret}` } });
    expect((await probe()).status).toBe(200);

    const row = page.getByRole('row').filter({ hasText: 'from-the-console' });
    expect(await row.textContent()).toContain('requestsPerMinute 30');
    const revoke = row.getByRole('button', { name: /^Revoke key / });
    const shownPrefix = (await revoke.getAttribute('aria-label'))!.replace('Revoke key ', '');
    expect(secret).toContain(shownPrefix);
    await revoke.click();
    await row.getByText('revoked').waitFor();
    await waitFor(async () => (await probe()).status === 401, 5000);
  });

  it('admin: a zero budget turns the next chat into a 402 explained in the chat', async () => {
    const budgets = page.getByRole('region', { name: 'Budgets' });
    await budgets.getByLabel('Scope type').selectOption('user');
    await budgets.getByLabel('Scope id').fill(USER);
    await budgets.getByLabel('Period').selectOption('day');
    await budgets.getByLabel('Limit (USD)').fill('0');
    await budgets.getByRole('button', { name: 'Set budget' }).click();
    await budgets
      .getByRole('row')
      .filter({ hasText: `user ${USER}` })
      .waitFor();
    await shot('06-admin-budgets');

    // budget scopes are cached for a few seconds: wait until the gateway refuses
    await waitFor(
      async () =>
        (
          await postJson(
            `${h.url}/chat`,
            {
              messages: [{ role: 'user', content: 'probe\n#sim tokens=1' }],
              options: { model: { id: 'sim-gpt' } },
            },
            { authorization: `Bearer ${userKey}` },
          )
        ).status === 402,
      15_000,
      250,
    );
    await signIn(userKey);
    await send('Anything\n#sim tokens=5');
    const alert = page.locator('.banner[role=alert]');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/^Budget exhausted: .*Admin → Budgets/);
    await shot('07-chat-budget-402');
    // nothing reached the model
    const del = await fetch(`${h.url}/admin/budgets/user/${USER}/day`, {
      method: 'DELETE',
      headers: auth,
    });
    expect(del.status).toBe(204);
  });

  it('usage: draws cost and tokens by day and by model, and downloads the CSV', async () => {
    await page.getByRole('link', { name: 'Usage' }).click();
    const costChart = page.getByRole('img', { name: /^Cost by day\./ });
    await costChart.waitFor();
    expect(await costChart.locator('rect').count()).toBeGreaterThan(0);
    await page.getByLabel('Group by').selectOption('model');
    // the charts keep naming the grouping of the rows they show until the new rows arrive
    expect(await page.getByRole('img', { name: /^Tokens by day\./ }).count()).toBe(1);
    await page.getByRole('button', { name: 'Show' }).click();
    const byModel = page.getByRole('img', { name: /^Tokens by model\./ });
    await byModel.waitFor();
    const label = (await byModel.getAttribute('aria-label')) ?? '';
    expect(label).toContain('sim-gpt');
    // every bar is named by its model (rows of another grouping would have no model)
    expect(label).not.toMatch(/(\. |; ): /);
    await shot('08-usage');
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download CSV' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/^usage-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/);
  });

  it('raised no script errors and no CSP violations', () => {
    // 401/402 answers the app expects show up as failed resource loads; nothing else may
    expect(consoleErrors.filter((e) => !/status of 40[12]/.test(e))).toEqual([]);
  });
});
