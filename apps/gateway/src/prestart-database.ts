// Imported second by main.ts, before the gateway's modules: loading them takes
// about a second, and so does opening the embedded database, so the database's
// process starts now and both happen at once.
import { loadConfig } from '@switchboard/config';
import { prestartDatabase } from '@switchboard/storage';

try {
  const config = loadConfig();
  prestartDatabase({ url: config.storage.databaseUrl?.reveal(), dataDir: config.dataDir });
} catch {
  // a bad configuration is reported by main, with every variable named
}
