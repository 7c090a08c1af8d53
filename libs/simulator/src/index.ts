export { startSimulator, type RunningSimulator, type SimulatorOptions } from './simulator.server';
export type { SimStats, RecordedRequest, SimProtocol } from './sim-stats';
export {
  parseDirective,
  defaultDirective,
  DEFAULT_TOKENS,
  type SimDirective,
  type SimFailure,
} from './directive.parser';
export { promptTokens, WORDS, type SimMessage } from './reply.planner';
export { embedText } from './embedding';
export { exposeHostUndiciDispatcher } from './undici-dispatcher';
