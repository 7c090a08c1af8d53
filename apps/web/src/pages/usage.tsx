import type { Me } from '@switchboard/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import { BarChart } from '../components/bar-chart';
import { errorText } from '../components/errors';
import { client, formatUsd, isAdmin } from '../session';

interface ReportRow {
  userId?: string;
  accountId?: string | null;
  keyId?: string | null;
  model?: string;
  day?: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  reasoningTokens: number;
  costMicros: number;
}

type Group = 'day' | 'model' | 'user' | 'account';
const GROUPS: Group[] = ['day', 'model', 'user', 'account'];

const isoDay = (d: Date) => d.toISOString().slice(0, 10);

function labelOf(r: ReportRow, g: Group): string {
  switch (g) {
    case 'day':
      return r.day ?? '';
    case 'model':
      return r.model ?? '';
    case 'user':
      return r.userId ?? '';
    case 'account':
      return r.accountId ?? '(none)';
  }
}

export function UsagePage({ me }: { me: Me }) {
  const today = new Date();
  const [from, setFrom] = useState(isoDay(new Date(today.getTime() - 29 * 86_400_000)));
  const [to, setTo] = useState(isoDay(today));
  const [group, setGroup] = useState<Group>('day');
  // the rows shown and the grouping they were loaded with: the select may already say another
  const [shown, setShown] = useState<{ group: Group; rows: ReportRow[] } | null>(null);
  const [error, setError] = useState<string | null>(null);

  const loads = useRef(0);

  const query = () => ({ from, to, groupBy: group });

  const load = async () => {
    setError(null);
    const g = group;
    const seq = ++loads.current;
    try {
      const r = await client.request<{ data: ReportRow[] }>('GET', '/usage/report', {
        query: query(),
      });
      // an answer to an older Show that arrives late must not replace a newer one
      if (seq !== loads.current) return;
      setShown({
        group: g,
        rows: [...r.data].sort((a, b) => labelOf(a, g).localeCompare(labelOf(b, g))),
      });
    } catch (e) {
      if (seq === loads.current) setError(errorText(e));
    }
  };

  useEffect(() => void load(), []);

  const downloadCsv = async () => {
    try {
      const csv = await client.usageCsv(query());
      const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `usage-${from}-${to}.csv`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setError(errorText(e));
    }
  };

  const chartRows = (s: { group: Group; rows: ReportRow[] }, f: (r: ReportRow) => number) =>
    s.rows.map((r) => ({ label: labelOf(r, s.group), value: f(r) }));
  const fmtTokens = (v: number) => v.toLocaleString('en-US');
  return (
    <div class="usage-page">
      <h1>Usage</h1>
      <p class="muted">{isAdmin(me) ? 'Usage of every user.' : 'Your own usage.'}</p>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          void load();
        }}
      >
        <label for="u-from">From</label>
        <input
          id="u-from"
          type="date"
          required
          value={from}
          onInput={(e) => setFrom(e.currentTarget.value)}
        />
        <label for="u-to">To</label>
        <input
          id="u-to"
          type="date"
          required
          value={to}
          onInput={(e) => setTo(e.currentTarget.value)}
        />
        <label for="u-group">Group by</label>
        <select
          id="u-group"
          value={group}
          onChange={(e) => setGroup(e.currentTarget.value as Group)}
        >
          {GROUPS.map((g) => (
            <option key={g} value={g}>
              {g}
            </option>
          ))}
        </select>
        <button type="submit">Show</button>
        <button type="button" onClick={() => void downloadCsv()}>
          Download CSV
        </button>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {shown && (
        <>
          <BarChart
            title={`Cost by ${shown.group}`}
            rows={chartRows(shown, (r) => r.costMicros)}
            format={formatUsd}
          />
          <BarChart
            title={`Tokens by ${shown.group}`}
            rows={chartRows(shown, (r) => r.inputTokens + r.outputTokens)}
            format={fmtTokens}
          />
          <table>
            <caption class="sr-only">Usage by {shown.group}</caption>
            <thead>
              <tr>
                <th scope="col">{shown.group}</th>
                <th scope="col">Requests</th>
                <th scope="col">Input tokens</th>
                <th scope="col">Output tokens</th>
                <th scope="col">Cost</th>
              </tr>
            </thead>
            <tbody>
              {shown.rows.map((r) => (
                <tr key={labelOf(r, shown.group)}>
                  <td>{labelOf(r, shown.group)}</td>
                  <td>{r.requests}</td>
                  <td>{fmtTokens(r.inputTokens)}</td>
                  <td>{fmtTokens(r.outputTokens)}</td>
                  <td>{formatUsd(r.costMicros)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}
