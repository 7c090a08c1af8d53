export { MetricsService } from './metrics.service';
export { EmfAccumulator, emfLine } from './emf-publisher';
export {
  ChatTraces,
  TRACE_EXPORTER,
  type ChatTracesOptions,
  type TracedChatRun,
  type TracedModelCall,
} from './chat-traces';
