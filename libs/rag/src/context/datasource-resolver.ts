import type { Principal } from '@switchboard/auth';
import { isAppError } from '@switchboard/common';
import {
  ExternalFetchError,
  type ExternalDocument,
  type ExternalSourceService,
  type FileRecord,
  type FilesService,
} from '@switchboard/datasources';

export interface DataSourceWarning {
  ref: string;
  /** client-safe: never says whether an inaccessible file exists */
  message: string;
}

export interface ResolvedDataSources {
  /** visible files, each once, in the order first referenced */
  files: FileRecord[];
  /** documents fetched for this turn from `source://<name>` references */
  external: ExternalDocument[];
  warnings: DataSourceWarning[];
}

export interface ResolveOptions {
  /** what external sources are asked (the user's question) */
  query?: string;
  signal?: AbortSignal;
}

export const TAG_REF_PREFIX = 'tag://';
export const SOURCE_REF_PREFIX = 'source://';
const MAX_REFS = 100;
/** external sources fetched per request at most (each fetch may take the guard's timeout) */
export const MAX_SOURCE_REFS = 5;

/**
 * Resolves chat `dataSources` (file ids, `tag://<name>` and `source://<name>`)
 * to the files the caller may read and the documents of the admin-registered
 * external sources, fetched for the question through the SSRF guard. Missing
 * and forbidden references produce the same warning; visible files that are
 * not ingested yet (or failed) are dropped with a warning that says so, since
 * the caller can see them anyway; a source that cannot be fetched is a warning
 * naming only the kind of failure.
 */
export class DataSourceResolver {
  constructor(
    private readonly files: FilesService,
    private readonly sources?: ExternalSourceService,
  ) {}

  async resolve(
    principal: Principal,
    allRefs: string[],
    opts: ResolveOptions = {},
  ): Promise<ResolvedDataSources> {
    const sourceRefs = [
      ...new Set(
        allRefs
          .map((r) => (typeof r === 'string' ? r.trim() : ''))
          .filter((r) => r.startsWith(SOURCE_REF_PREFIX)),
      ),
    ];
    const refs = allRefs.filter(
      (r) => typeof r !== 'string' || !r.trim().startsWith(SOURCE_REF_PREFIX),
    );
    const [local, fetched] = await Promise.all([
      this.resolveFiles(principal, refs),
      this.fetchSources(sourceRefs, opts),
    ]);
    return {
      files: local.files,
      external: fetched.external,
      warnings: [...local.warnings, ...fetched.warnings],
    };
  }

  private async fetchSources(
    refs: string[],
    opts: ResolveOptions,
  ): Promise<{ external: ExternalDocument[]; warnings: DataSourceWarning[] }> {
    const warnings: DataSourceWarning[] = [];
    if (refs.length === 0) return { external: [], warnings };
    const sources = this.sources;
    if (!sources) {
      for (const ref of refs)
        warnings.push({ ref, message: 'External sources are not available on this server.' });
      return { external: [], warnings };
    }
    for (const ref of refs.slice(MAX_SOURCE_REFS))
      warnings.push({
        ref,
        message: `Only ${MAX_SOURCE_REFS} external sources are used per request.`,
      });
    const results = await Promise.all(
      refs.slice(0, MAX_SOURCE_REFS).map(async (ref) => {
        const name = ref.slice(SOURCE_REF_PREFIX.length);
        try {
          return await sources.fetch(name, opts.query ?? '', opts.signal);
        } catch (err) {
          if (isAppError(err) && err.code === 'not_found')
            warnings.push({ ref, message: 'The data source was not found.' });
          else if (err instanceof ExternalFetchError)
            warnings.push({ ref, message: `The source could not be fetched (${err.reason}).` });
          else throw err;
          return undefined;
        }
      }),
    );
    const external = results.filter((d): d is ExternalDocument => d !== undefined);
    for (const d of external)
      if (d.segments.length === 0)
        warnings.push({
          ref: `${SOURCE_REF_PREFIX}${d.sourceName}`,
          message: 'The source returned no text.',
        });
    return { external: external.filter((d) => d.segments.length > 0), warnings };
  }

  private async resolveFiles(
    principal: Principal,
    refs: string[],
  ): Promise<{ files: FileRecord[]; warnings: DataSourceWarning[] }> {
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
