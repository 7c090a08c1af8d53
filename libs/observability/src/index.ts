export * from './metrics.service';
export * from './emf-publisher';
export {
  ChatTraces,
  TRACE_EXPORTER,
  type ChatTracesOptions,
  type TracedChatRun,
  type TracedModelCall,
} from './chat-traces';
