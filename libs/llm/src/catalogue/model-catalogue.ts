import { readFileSync } from 'node:fs';
import type { CatalogueModel } from '../catalogue.types';
import { catalogueFileSchema } from './catalogue.schema';
import defaults from './models.default.json';

/** Reads and validates a catalogue; throws naming the file and the bad entries. */
export function parseCatalogue(raw: unknown, source: string): CatalogueModel[] {
  const parsed = catalogueFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`${source}: invalid model catalogue: ${problems}`);
  }
  const ids = new Set<string>();
  for (const m of parsed.data.models) {
    if (ids.has(m.id)) throw new Error(`${source}: duplicate model id "${m.id}"`);
    ids.add(m.id);
  }
  for (const m of parsed.data.models)
    for (const f of m.fallbacks ?? [])
      if (!ids.has(f))
        throw new Error(`${source}: model "${m.id}" falls back to unknown model "${f}"`);
  return parsed.data.models;
}

/** The shipped default, or MODELS_FILE when set (it replaces the default). */
export function loadCatalogue(modelsFile?: string): CatalogueModel[] {
  if (!modelsFile) return parseCatalogue(defaults, 'default catalogue');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(modelsFile, 'utf8'));
  } catch (e) {
    throw new Error(`MODELS_FILE: cannot read ${modelsFile}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return parseCatalogue(raw, `MODELS_FILE ${modelsFile}`);
}
