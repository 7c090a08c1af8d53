import type { PipelineEvent } from '@switchboard/chat';
import type { WireEncoder } from '../streaming/wire-encoder';

/** The `/chat` frames of the wire contract (README, "`POST /chat` (Switchboard frames)"). */
export class SwitchboardFramesEncoder implements WireEncoder {
  readonly trailer: string[] = [];

  encode(ev: PipelineEvent): string[] {
    switch (ev.type) {
      case 'text':
        return [JSON.stringify({ s: 'answer', d: ev.text })];
      case 'status': {
        const { type: _t, ...st } = ev;
        return [JSON.stringify({ s: 'meta', st })];
      }
      case 'state':
        return [JSON.stringify({ s: 'meta', state: ev.state })];
      case 'tool_call':
        return [
          JSON.stringify({
            s: 'tool_call',
            d: { index: ev.index, id: ev.id, name: ev.name, arguments: ev.argumentsDelta ?? '' },
          }),
        ];
      case 'error':
        return [
          JSON.stringify({ s: 'error', error: { code: ev.error.code, message: ev.error.message } }),
        ];
      case 'end': {
        const s = ev.summary;
        return [
          JSON.stringify({
            s: 'result',
            type: 'end',
            usage: { ...s.usage, costMicros: s.costMicros, estimated: !s.usageReported },
            model: s.model,
            provider: s.provider,
            attempt: s.attempt,
            status: s.status,
          }),
        ];
      }
      case 'usage':
      case 'finish':
      case 'upstream_first_token':
      case 'artifact': // stored by the assistant that asked for it, never sent raw
      case 'admitted':
        return [];
    }
  }
}
