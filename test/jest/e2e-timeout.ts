// e2e specs boot real gateways in their hooks and tests: a fresh embedded database (initdb
// and every migration) takes about 3 s on an idle machine and over 30 s on a loaded one.
// A bound for failures only; a passing spec never waits for it.
jest.setTimeout(90_000);
