// Picks rollback targets from `pulumi stack history --json`.

export const IMAGE_TAG_KEY = 'switchboard:imageTag';

/** The image tag an update ran with; history prints config values as { value, secret }. */
export function imageTagOf(update, key = IMAGE_TAG_KEY) {
  const entry = update?.config?.[key];
  if (typeof entry === 'string') return entry;
  return typeof entry?.value === 'string' ? entry.value : undefined;
}

/**
 * The most recent successfully deployed tag that differs from `current`. Failed updates are
 * skipped: their tag is exactly what a rollback moves away from.
 */
export function previousImageTag(history, current) {
  const succeeded = history
    .filter((u) => u.kind === 'update' && u.result === 'succeeded')
    .sort((a, b) => (b.version ?? 0) - (a.version ?? 0));
  for (const update of succeeded) {
    const tag = imageTagOf(update);
    if (tag && tag !== current) return tag;
  }
  return undefined;
}
