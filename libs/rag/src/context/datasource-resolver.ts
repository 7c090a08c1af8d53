import type { Principal } from '@switchboard/auth';
import type { FileRecord, FilesService } from '@switchboard/datasources';

export interface DataSourceWarning {
  ref: string;
  /** client-safe: never says whether an inaccessible file exists */
  message: string;
}

export interface ResolvedDataSources {
  /** visible files, each once, in the order first referenced */
  files: FileRecord[];
  warnings: DataSourceWarning[];
}

export const TAG_REF_PREFIX = 'tag://';
const MAX_REFS = 100;

/**
 * Resolves chat `dataSources` (file ids and `tag://<name>`) to the files the
 * caller may read. Missing and forbidden references produce the same warning;
 * visible files that are not ingested yet (or failed) are dropped with a
 * warning that says so, since the caller can see them anyway.
 */
export class DataSourceResolver {
  constructor(private readonly files: FilesService) {}

  async resolve(principal: Principal, refs: string[]): Promise<ResolvedDataSources> {
    const warnings: DataSourceWarning[] = [];
    const unique = [
      ...new Set(refs.map((r) => (typeof r === 'string' ? r.trim() : '')).filter(Boolean)),
    ];
    if (unique.length > MAX_REFS) {
      for (const ref of unique.slice(MAX_REFS))
        warnings.push({ ref, message: `Only ${MAX_REFS} data sources are used per request.` });
      unique.length = MAX_REFS;
    }
    const ids = unique.filter((r) => !r.startsWith(TAG_REF_PREFIX));
    const tags = unique
      .filter((r) => r.startsWith(TAG_REF_PREFIX))
      .map((r) => r.slice(TAG_REF_PREFIX.length));

    const [byId, byTag] = await Promise.all([
      this.files.getMany(principal, ids),
      this.files.listByTags(principal, tags.filter(Boolean)),
    ]);
    const found = new Map(byId.map((f) => [f.id, f]));
    const out = new Map<string, FileRecord>();
    for (const ref of unique) {
      if (ref.startsWith(TAG_REF_PREFIX)) {
        const tag = ref.slice(TAG_REF_PREFIX.length);
        const tagged = byTag.filter((f) => f.tags.includes(tag));
        if (tagged.length === 0)
          warnings.push({ ref, message: 'No accessible files carry this tag.' });
        for (const f of tagged) this.accept(f, ref, out, warnings);
      } else {
        const f = found.get(ref);
        if (!f) warnings.push({ ref, message: 'The data source was not found.' });
        else this.accept(f, ref, out, warnings);
      }
    }
    return { files: [...out.values()], warnings };
  }

  private accept(
    f: FileRecord,
    ref: string,
    out: Map<string, FileRecord>,
    warnings: DataSourceWarning[],
  ): void {
    if (out.has(f.id)) return;
    if (f.status !== 'ready') {
      const why =
        f.status === 'failed'
          ? `could not be processed${f.error ? `: ${f.error}` : ''}`
          : f.status === 'stored'
            ? 'is not a text document (kept for download only)'
            : 'is still being processed';
      warnings.push({ ref, message: `"${f.name}" ${why}; it was not used.` });
      return;
    }
    out.set(f.id, f);
  }
}
