import { DEFAULT_USER_FILE_LIMITS, UserFileStore } from './user-file.store';
import { BadRequest } from './wire.util';

const bytes = (n: number): Buffer => Buffer.alloc(n, 0x61);

describe('UserFileStore', () => {
  it('keeps the bytes, with distinct ids, until deleted', () => {
    const store = new UserFileStore(() => 1_700_000_000_000);
    const a = store.add('a.csv', 'user_data', Buffer.from('x,y\n'));
    const b = store.add('b.bin', 'assistants', bytes(3));
    expect(a).toEqual({
      id: expect.stringMatching(/^file-sim[0-9a-z]+$/),
      filename: 'a.csv',
      purpose: 'user_data',
      createdAt: 1_700_000_000,
      content: Buffer.from('x,y\n'),
    });
    expect(b.id).not.toBe(a.id);
    expect(store.totalBytes).toBe(7);
    expect(store.delete(a.id)).toBe(true);
    expect(store.delete(a.id)).toBe(false);
    expect(store.get(a.id)).toBeUndefined();
    expect(store.list()).toEqual([b]);
    expect(store.totalBytes).toBe(3);
  });

  it('forgets the oldest uploads beyond the file count', () => {
    const store = new UserFileStore(Date.now, { maxFiles: 2, maxTotalBytes: 100 });
    const [a, b, c] = ['a', 'b', 'c'].map((n) => store.add(n, 'user_data', bytes(1)));
    expect(store.list()).toEqual([b, c]);
    expect(store.get(a.id)).toBeUndefined();
    expect(store.totalBytes).toBe(2);
  });

  it('forgets the oldest uploads beyond the total size, as many as needed', () => {
    const store = new UserFileStore(Date.now, { maxFiles: 10, maxTotalBytes: 10 });
    const a = store.add('a', 'user_data', bytes(4));
    const b = store.add('b', 'user_data', bytes(4));
    const c = store.add('c', 'user_data', bytes(2));
    expect(store.totalBytes).toBe(10);
    const d = store.add('d', 'user_data', bytes(9));
    expect(store.list()).toEqual([d]);
    expect([a, b, c].some((f) => store.get(f.id) !== undefined)).toBe(false);
    expect(store.totalBytes).toBe(9);
  });

  it('refuses a single file larger than the whole storage, keeping the others', () => {
    const store = new UserFileStore(Date.now, { maxFiles: 10, maxTotalBytes: 10 });
    const a = store.add('a', 'user_data', bytes(5));
    expect(() => store.add('big', 'user_data', bytes(11))).toThrow(BadRequest);
    expect(store.list()).toEqual([a]);
  });

  it('holds at most 1000 files and 256 MiB by default; clear() drops everything', () => {
    expect(DEFAULT_USER_FILE_LIMITS).toEqual({ maxFiles: 1000, maxTotalBytes: 256 * 1024 * 1024 });
    const store = new UserFileStore();
    for (let i = 0; i < 1003; i++) store.add(`${i}.txt`, 'user_data', bytes(1));
    expect(store.size).toBe(1000);
    expect(store.list()[0].filename).toBe('3.txt');
    store.clear();
    expect(store.size).toBe(0);
    expect(store.totalBytes).toBe(0);
  });
});
