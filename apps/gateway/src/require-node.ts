// Imported first by main.ts, before any other module loads: on an older Node the gateway
// would otherwise fail later with an obscure syntax or API error.
const MIN_NODE_MAJOR = 22;

const major = Number(process.versions.node.split('.')[0]);
if (major < MIN_NODE_MAJOR) {
  process.stderr.write(
    `Switchboard needs Node.js ${MIN_NODE_MAJOR} or newer; this is Node.js ${process.version} ` +
      `(${process.execPath}). Install Node.js 24 LTS (see .nvmrc) and run it again.\n`,
  );
  process.exit(1);
}

export {};
