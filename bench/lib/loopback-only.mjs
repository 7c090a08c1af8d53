/**
 * Preloaded (`node --import`) into a peer gateway the benchmark starts, whose
 * server binds every interface and has no option to choose: any TCP listen
 * without an explicit host, or on a wildcard host, is bound to 127.0.0.1, so
 * the benchmark never opens a port beyond loopback.
 */
import net from 'node:net';

const WILDCARD = new Set([undefined, null, '', '0.0.0.0', '::']);
const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function loopbackListen(...args) {
  const [first] = args;
  if (typeof first === 'object' && first !== null && !Array.isArray(first)) {
    if (first.path === undefined && WILDCARD.has(first.host))
      args[0] = { ...first, host: '127.0.0.1' };
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, cb])
    if (typeof args[1] !== 'string' || WILDCARD.has(args[1])) {
      const rest = typeof args[1] === 'string' ? args.slice(2) : args.slice(1);
      args = [Number(first), '127.0.0.1', ...rest];
    }
  }
  return listen.apply(this, args);
};
