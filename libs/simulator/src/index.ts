export {
  startSimulator,
  type RunningSimulator,
  type SimulatorOptions,
  type SimUploadedFile,
} from './simulator.server';
export type { SimStats, RecordedRequest, SimProtocol } from './sim-stats';
export {
  parseDirective,
  defaultDirective,
  DEFAULT_TOKENS,
  MAX_SIM_FILES,
  MAX_SIM_FILE_BYTES,
  type SimDirective,
  type SimFailure,
} from './directive.parser';
export { promptTokens, WORDS, type SimMessage } from './reply.planner';
export { embedText } from './embedding';
export {
  containerFileChunks,
  containerFileContent,
  defaultFileSize,
} from './container-file.content';
export { pythonProgram, MOUNT_DIR } from './code-interpreter.run';
export { exposeHostUndiciDispatcher } from './undici-dispatcher';
