import express, { type Request, type Response } from 'express';
import { request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SseResponse } from './sse-response';

/** What a stream's last turn sends: the socket writes it took and the body the client read. */
async function lastTurn(
  write: (sse: SseResponse) => void,
): Promise<{ writes: number; body: string; complete: boolean }> {
  let writes = 0;
  const app = express();
  app.get('/', (_req: Request, res: Response) => {
    const sse = new SseResponse(res, 15_000);
    sse.data('{"first":true}');
    // once the first frame (and the headers) left, count what the last turn writes
    setImmediate(() => {
      const socket = res.socket as Socket & {
        _write: (...a: unknown[]) => void;
        _writev: (...a: unknown[]) => void;
      };
      for (const name of ['_write', '_writev'] as const) {
        const original = socket[name].bind(socket);
        socket[name] = (...a: unknown[]) => {
          writes++;
          original(...a);
        };
      }
      write(sse);
    });
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  try {
    const { port } = server.address() as AddressInfo;
    const { body, complete } = await new Promise<{ body: string; complete: boolean }>(
      (resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/' }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ body: text, complete: res.complete }));
        })
          .on('error', reject)
          .end();
      },
    );
    return { writes, body, complete };
  } finally {
    await new Promise((r) => server.close(r));
  }
}

describe('SseResponse', () => {
  it('sends the frames queued in its last turn and the end of the body in one write', async () => {
    const got = await lastTurn((sse) => {
      sse.data('{"last":true}');
      sse.data('[DONE]');
      sse.end();
    });
    expect(got.body).toBe('data: {"first":true}\n\ndata: {"last":true}\n\ndata: [DONE]\n\n');
    expect(got.complete).toBe(true);
    expect(got.writes).toBe(1);
  });

  it('ends with nothing queued in one write too, and ignores frames after the end', async () => {
    const got = await lastTurn((sse) => {
      sse.end();
      sse.data('{"late":true}');
      sse.end();
    });
    expect(got.body).toBe('data: {"first":true}\n\n');
    expect(got.complete).toBe(true);
    expect(got.writes).toBe(1);
  });
});
