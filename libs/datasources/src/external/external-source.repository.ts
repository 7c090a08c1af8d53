import { parseJson, type Database } from '@switchboard/storage';
import type { ExternalSource } from './external-source.service';

interface SourceRow {
  id: string;
  name: string;
  url_template: string;
  method: 'GET' | 'POST';
  headers: Record<string, string> | string;
  body_template: string | null;
  enabled: boolean;
  created_by: string;
  created_at: Date | string;
}

function toSource(r: SourceRow): ExternalSource {
  return {
    id: r.id,
    name: r.name,
    urlTemplate: r.url_template,
    method: r.method,
    headers: parseJson(r.headers) ?? {},
    bodyTemplate: r.body_template,
    enabled: r.enabled,
    createdBy: r.created_by,
    createdAt: new Date(r.created_at),
  };
}

export interface NewExternalSource {
  id: string;
  name: string;
  urlTemplate: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  bodyTemplate: string | null;
  createdBy: string;
}

/** The `external_sources` table (datasources migrations); `ExternalSourceService` holds the rules. */
export class ExternalSourceRepository {
  constructor(private readonly db: Database) {}

  /** null when a source of that name exists */
  async insert(src: NewExternalSource): Promise<ExternalSource | null> {
    try {
      const r = await this.db.query<SourceRow>(
        `INSERT INTO external_sources (id, name, url_template, method, headers, body_template, created_by)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) RETURNING *`,
        [
          src.id,
          src.name,
          src.urlTemplate,
          src.method,
          JSON.stringify(src.headers),
          src.bodyTemplate,
          src.createdBy,
        ],
      );
      return toSource(r.rows[0]);
    } catch (err) {
      if ((err as { code?: string }).code === '23505') return null;
      throw err;
    }
  }

  async list(): Promise<ExternalSource[]> {
    const r = await this.db.query<SourceRow>('SELECT * FROM external_sources ORDER BY name');
    return r.rows.map(toSource);
  }

  /** false when there was no such source */
  async deleteByName(name: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM external_sources WHERE name = $1', [name]);
    return r.rowCount > 0;
  }

  async findEnabled(name: string): Promise<ExternalSource | null> {
    const r = await this.db.query<SourceRow>(
      'SELECT * FROM external_sources WHERE name = $1 AND enabled',
      [name],
    );
    return r.rows[0] ? toSource(r.rows[0]) : null;
  }
}
