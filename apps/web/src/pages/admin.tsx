import { useCallback, useEffect, useState } from 'preact/hooks';
import { Dialog } from '../components/dialog';
import { errorText } from '../components/errors';
import { client, formatUsd } from '../session';

interface KeyRow {
  id: string;
  prefix: string;
  name: string;
  ownerUserId: string;
  accountId: string | null;
  scopes: string[];
  status: string;
  limits: Record<string, number> | null;
}
interface AccountRow {
  id: string;
  name: string;
}
interface BudgetRow {
  scopeType: string;
  scopeId: string;
  period: string;
  limitMicros: number;
  spentMicros?: number;
  heldMicros?: number;
}
interface JobRow {
  id: string;
  kind: string;
  attempts: number;
  lastError: string | null;
  deadAt: string | null;
}
interface SourceRow {
  name: string;
  urlTemplate: string;
  method: string;
  enabled: boolean;
}

const SCOPES = ['chat', 'files', 'embeddings', 'admin'];
const PERIODS = ['hour', 'day', 'month', 'total'];

const num = (s: string) => (s.trim() === '' ? undefined : Number(s));

/** runs an admin call, reporting failures in the section's alert */
function useAction(setError: (e: string | null) => void) {
  return async (f: () => Promise<unknown>) => {
    setError(null);
    try {
      await f();
      return true;
    } catch (e) {
      setError(errorText(e));
      return false;
    }
  };
}

function Keys({ accounts }: { accounts: AccountRow[] }) {
  const [keys, setKeys] = useState<KeyRow[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const [form, setForm] = useState({
    ownerUserId: '',
    accountId: '',
    name: '',
    scopes: new Set(['chat', 'files']),
    rpm: '',
    tpm: '',
    streams: '',
  });
  const act = useAction(setError);
  const load = useCallback(
    () =>
      act(async () =>
        setKeys((await client.request<{ data: KeyRow[] }>('GET', '/admin/keys')).data),
      ),
    [],
  );
  useEffect(() => void load(), [load]);

  const create = async (e: Event) => {
    e.preventDefault();
    const limits = {
      requestsPerMinute: num(form.rpm),
      tokensPerMinute: num(form.tpm),
      concurrentStreams: num(form.streams),
    };
    const hasLimits = Object.values(limits).some((v) => v !== undefined);
    await act(async () => {
      const r = await client.request<{ key: string }>('POST', '/admin/keys', {
        body: {
          ownerUserId: form.ownerUserId.trim(),
          accountId: form.accountId,
          scopes: [...form.scopes],
          ...(form.name.trim() ? { name: form.name.trim() } : {}),
          ...(hasLimits ? { limits } : {}),
        },
      });
      setSecret(r.key);
      await load();
    });
  };

  const rotate = (k: KeyRow) =>
    act(async () => {
      const r = await client.request<{ key: string }>('POST', `/admin/keys/${k.id}/rotate`, {
        body: { graceSeconds: 3600 },
      });
      setSecret(r.key);
      setOpen(true);
      await load();
    });

  const revoke = (k: KeyRow) =>
    confirm(`Revoke key ${k.prefix}? Requests with it fail at once.`) &&
    act(async () => {
      await client.request('DELETE', `/admin/keys/${k.id}`);
      await load();
    });

  const close = () => {
    setOpen(false);
    setSecret(null);
  };

  return (
    <section aria-labelledby="keys-h">
      <h2 id="keys-h">API keys</h2>
      <button type="button" onClick={() => setOpen(true)}>
        Create key
      </button>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <table>
        <caption class="sr-only">API keys</caption>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Name</th>
            <th scope="col">Owner</th>
            <th scope="col">Account</th>
            <th scope="col">Scopes</th>
            <th scope="col">Limits</th>
            <th scope="col">Status</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k.id}>
              <td>
                <code>{k.prefix}…</code>
              </td>
              <td>{k.name}</td>
              <td>{k.ownerUserId}</td>
              <td>{k.accountId}</td>
              <td>{k.scopes.join(', ')}</td>
              <td>
                {k.limits
                  ? Object.entries(k.limits)
                      .map(([n, v]) => `${n} ${v}`)
                      .join(', ')
                  : 'defaults'}
              </td>
              <td>{k.status}</td>
              <td>
                {k.status !== 'revoked' && (
                  <>
                    <button
                      type="button"
                      aria-label={`Rotate key ${k.prefix}`}
                      onClick={() => void rotate(k)}
                    >
                      Rotate
                    </button>{' '}
                    <button
                      type="button"
                      aria-label={`Revoke key ${k.prefix}`}
                      onClick={() => void revoke(k)}
                    >
                      Revoke
                    </button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Dialog title={secret ? 'New API key' : 'Create key'} open={open} onClose={close}>
        {secret ? (
          <div>
            <p>Copy the key now: it is shown only once.</p>
            <label for="new-secret">New API key</label>
            <input
              id="new-secret"
              readOnly
              value={secret}
              onFocus={(e) => e.currentTarget.select()}
            />
            <button type="button" onClick={close}>
              Done
            </button>
          </div>
        ) : (
          <form onSubmit={(e) => void create(e)}>
            <label for="k-owner">Owner user id</label>
            <input
              id="k-owner"
              required
              value={form.ownerUserId}
              onInput={(e) => setForm({ ...form, ownerUserId: e.currentTarget.value })}
            />
            <label for="k-account">Account</label>
            <select
              id="k-account"
              required
              value={form.accountId}
              onChange={(e) => setForm({ ...form, accountId: e.currentTarget.value })}
            >
              <option value="">Choose an account</option>
              {accounts.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name} ({a.id})
                </option>
              ))}
            </select>
            <label for="k-name">Key name</label>
            <input
              id="k-name"
              value={form.name}
              onInput={(e) => setForm({ ...form, name: e.currentTarget.value })}
            />
            <fieldset>
              <legend>Scopes</legend>
              {SCOPES.map((s) => (
                <label key={s}>
                  <input
                    type="checkbox"
                    checked={form.scopes.has(s)}
                    onChange={() => {
                      const n = new Set(form.scopes);
                      if (n.has(s)) n.delete(s);
                      else n.add(s);
                      setForm({ ...form, scopes: n });
                    }}
                  />
                  {s}
                </label>
              ))}
            </fieldset>
            <fieldset>
              <legend>Limits (empty = defaults)</legend>
              <label for="k-rpm">Requests per minute</label>
              <input
                id="k-rpm"
                type="number"
                min={1}
                value={form.rpm}
                onInput={(e) => setForm({ ...form, rpm: e.currentTarget.value })}
              />
              <label for="k-tpm">Tokens per minute</label>
              <input
                id="k-tpm"
                type="number"
                min={1}
                value={form.tpm}
                onInput={(e) => setForm({ ...form, tpm: e.currentTarget.value })}
              />
              <label for="k-streams">Concurrent streams</label>
              <input
                id="k-streams"
                type="number"
                min={1}
                value={form.streams}
                onInput={(e) => setForm({ ...form, streams: e.currentTarget.value })}
              />
            </fieldset>
            {error && (
              <p role="alert" class="error">
                {error}
              </p>
            )}
            <div class="actions">
              <button type="submit" disabled={form.scopes.size === 0}>
                Create
              </button>
              <button type="button" onClick={close}>
                Cancel
              </button>
            </div>
          </form>
        )}
      </Dialog>
    </section>
  );
}

function Accounts({
  accounts,
  reload,
}: {
  accounts: AccountRow[];
  reload: () => Promise<unknown>;
}) {
  const [error, setError] = useState<string | null>(null);
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [current, setCurrent] = useState('');
  const [members, setMembers] = useState<string[]>([]);
  const [member, setMember] = useState('');
  const act = useAction(setError);

  const loadMembers = (acc: string) =>
    act(async () => {
      setCurrent(acc);
      if (!acc) return setMembers([]);
      const r = await client.request<{ data: Array<{ userId: string }> }>(
        'GET',
        `/admin/accounts/${encodeURIComponent(acc)}/members`,
      );
      setMembers(r.data.map((m) => m.userId));
    });

  return (
    <section aria-labelledby="acc-h">
      <h2 id="acc-h">Accounts and members</h2>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          void act(async () => {
            await client.request('POST', '/admin/accounts', {
              body: { ...(id.trim() ? { id: id.trim() } : {}), name: name.trim() },
            });
            setId('');
            setName('');
            await reload();
          });
        }}
      >
        <label for="a-id">Account id</label>
        <input id="a-id" value={id} onInput={(e) => setId(e.currentTarget.value)} />
        <label for="a-name">Account name</label>
        <input id="a-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <button type="submit">Create account</button>
      </form>
      <ul>
        {accounts.map((a) => (
          <li key={a.id}>
            <button
              type="button"
              aria-pressed={current === a.id}
              onClick={() => void loadMembers(a.id)}
            >
              {a.name} ({a.id})
            </button>
          </li>
        ))}
      </ul>
      {current && (
        <div>
          <h3>Members of {current}</h3>
          <ul>
            {members.map((m) => (
              <li key={m}>
                {m}{' '}
                <button
                  type="button"
                  aria-label={`Remove ${m} from ${current}`}
                  onClick={() =>
                    void act(async () => {
                      await client.request(
                        'DELETE',
                        `/admin/accounts/${encodeURIComponent(current)}/members/${encodeURIComponent(m)}`,
                      );
                      await loadMembers(current);
                    })
                  }
                >
                  Remove
                </button>
              </li>
            ))}
          </ul>
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              void act(async () => {
                await client.request(
                  'PUT',
                  `/admin/accounts/${encodeURIComponent(current)}/members/${encodeURIComponent(member.trim())}`,
                );
                setMember('');
                await loadMembers(current);
              });
            }}
          >
            <label for="m-user">Member user id</label>
            <input
              id="m-user"
              required
              value={member}
              onInput={(e) => setMember(e.currentTarget.value)}
            />
            <button type="submit">Add member</button>
          </form>
        </div>
      )}
    </section>
  );
}

function Budgets() {
  const [rows, setRows] = useState<BudgetRow[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [form, setForm] = useState({ scopeType: 'user', scopeId: '', period: 'day', limit: '' });
  const act = useAction(setError);
  const load = () =>
    act(async () =>
      setRows((await client.request<{ data: BudgetRow[] }>('GET', '/admin/budgets')).data),
    );
  useEffect(() => void load(), []);
  const path = (b: { scopeType: string; scopeId: string; period: string }) =>
    `/admin/budgets/${b.scopeType}/${encodeURIComponent(b.scopeId)}/${b.period}`;
  return (
    <section aria-labelledby="budgets-h">
      <h2 id="budgets-h">Budgets</h2>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          void act(async () => {
            await client.request('PUT', path(form), { body: { limitUsd: Number(form.limit) } });
            await load();
          });
        }}
      >
        <label for="b-type">Scope type</label>
        <select
          id="b-type"
          value={form.scopeType}
          onChange={(e) => setForm({ ...form, scopeType: e.currentTarget.value })}
        >
          <option value="user">user</option>
          <option value="account">account</option>
          <option value="key">key</option>
        </select>
        <label for="b-id">Scope id</label>
        <input
          id="b-id"
          required
          value={form.scopeId}
          onInput={(e) => setForm({ ...form, scopeId: e.currentTarget.value })}
        />
        <label for="b-period">Period</label>
        <select
          id="b-period"
          value={form.period}
          onChange={(e) => setForm({ ...form, period: e.currentTarget.value })}
        >
          {PERIODS.map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
        <label for="b-limit">Limit (USD)</label>
        <input
          id="b-limit"
          type="number"
          min={0}
          step="any"
          required
          value={form.limit}
          onInput={(e) => setForm({ ...form, limit: e.currentTarget.value })}
        />
        <button type="submit">Set budget</button>
      </form>
      <table>
        <caption class="sr-only">Budgets</caption>
        <thead>
          <tr>
            <th scope="col">Scope</th>
            <th scope="col">Period</th>
            <th scope="col">Limit</th>
            <th scope="col">Spent</th>
            <th scope="col">Held</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((b) => (
            <tr key={path(b)}>
              <td>
                {b.scopeType} {b.scopeId}
              </td>
              <td>{b.period}</td>
              <td>{formatUsd(b.limitMicros)}</td>
              <td>{formatUsd(b.spentMicros ?? 0)}</td>
              <td>{formatUsd(b.heldMicros ?? 0)}</td>
              <td>
                <button
                  type="button"
                  aria-label={`Delete ${b.period} budget of ${b.scopeType} ${b.scopeId}`}
                  onClick={() =>
                    void act(async () => {
                      await client.request('DELETE', path(b));
                      await load();
                    })
                  }
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function DeadJobs() {
  const [jobs, setJobs] = useState<JobRow[]>([]);
  const [error, setError] = useState<string | null>(null);
  const act = useAction(setError);
  const load = () =>
    act(async () =>
      setJobs((await client.request<{ data: JobRow[] }>('GET', '/admin/jobs/dead')).data),
    );
  useEffect(() => void load(), []);
  return (
    <section aria-labelledby="jobs-h">
      <h2 id="jobs-h">Dead jobs</h2>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {jobs.length === 0 ? (
        <p class="muted">No dead jobs.</p>
      ) : (
        <ul>
          {jobs.map((j) => (
            <li key={j.id}>
              {j.kind} · {j.attempts} attempts · {j.lastError ?? 'no error recorded'}{' '}
              <button
                type="button"
                aria-label={`Retry job ${j.id}`}
                onClick={() =>
                  void act(async () => {
                    await client.request('POST', `/admin/jobs/${encodeURIComponent(j.id)}/retry`);
                    await load();
                  })
                }
              >
                Retry
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Sources() {
  const [rows, setRows] = useState<SourceRow[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const act = useAction(setError);
  const load = () =>
    act(async () =>
      setRows((await client.request<{ data: SourceRow[] }>('GET', '/admin/sources')).data),
    );
  useEffect(() => void load(), []);
  return (
    <section aria-labelledby="src-h">
      <h2 id="src-h">External sources</h2>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          void act(async () => {
            await client.request('POST', '/admin/sources', {
              body: { name: name.trim(), urlTemplate: url.trim() },
            });
            setName('');
            setUrl('');
            await load();
          });
        }}
      >
        <label for="s-name">Source name</label>
        <input id="s-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="s-url">URL template</label>
        <input
          id="s-url"
          required
          type="url"
          value={url}
          onInput={(e) => setUrl(e.currentTarget.value)}
        />
        <button type="submit">Add source</button>
      </form>
      <ul>
        {rows.map((s) => (
          <li key={s.name}>
            <strong>{s.name}</strong> {s.method} <code>{s.urlTemplate}</code>{' '}
            <button
              type="button"
              aria-label={`Delete source ${s.name}`}
              onClick={() =>
                void act(async () => {
                  await client.request('DELETE', `/admin/sources/${encodeURIComponent(s.name)}`);
                  await load();
                })
              }
            >
              Delete
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function AdminPage() {
  const [accounts, setAccounts] = useState<AccountRow[]>([]);
  const reload = useCallback(async () => {
    setAccounts((await client.request<{ data: AccountRow[] }>('GET', '/admin/accounts')).data);
  }, []);
  useEffect(() => void reload().catch(() => undefined), [reload]);
  return (
    <div class="admin">
      <h1>Admin</h1>
      <Keys accounts={accounts} />
      <Accounts accounts={accounts} reload={reload} />
      <Budgets />
      <DeadJobs />
      <Sources />
    </div>
  );
}
