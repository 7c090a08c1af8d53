import { ContainerStore, DEFAULT_CONTAINER_LIMITS } from './container.store';

const MINUTE = 60_000;

describe('ContainerStore', () => {
  let now: number;
  const clock = (): number => now;

  beforeEach(() => {
    now = 1_700_000_000_000;
  });

  it('creates containers with distinct ids and adds files to them', () => {
    const store = new ContainerStore(clock);
    const a = store.create();
    const b = store.create();
    expect(a.id).toMatch(/^cntr_sim[0-9a-z]+$/);
    expect(b.id).not.toBe(a.id);
    const file = store.addFile(a, 'chart.png', 123);
    expect(file).toMatchObject({ containerId: a.id, name: 'chart.png', bytes: 123 });
    expect(file.id).toMatch(/^cfile_sim[0-9a-z]+$/);
    expect(store.get(a.id)?.files).toEqual([file]);
    expect(store.get(b.id)?.files).toEqual([]);
  });

  it('expires a container after 20 minutes without use; any use restarts the clock', () => {
    const store = new ContainerStore(clock);
    const used = store.create();
    const idle = store.create();
    now += 19 * MINUTE;
    expect(store.get(used.id)).toBeDefined();
    now += 2 * MINUTE;
    expect(store.get(idle.id)).toBeUndefined();
    expect(store.get(used.id)).toBeDefined();
    now += 20 * MINUTE;
    expect(store.get(used.id)).toBeUndefined();
    expect(store.size).toBe(0);
    expect(store.expiryMinutes).toBe(20);
  });

  it('evicts the least recently used container beyond the cap', () => {
    const store = new ContainerStore(clock, { ...DEFAULT_CONTAINER_LIMITS, maxContainers: 3 });
    const [a, b, c] = [store.create(), store.create(), store.create()];
    store.get(a.id);
    const d = store.create();
    expect(store.size).toBe(3);
    expect(store.get(b.id)).toBeUndefined();
    expect([a, c, d].every((x) => store.get(x.id) !== undefined)).toBe(true);
  });

  it('holds at most 1000 containers by default', () => {
    const store = new ContainerStore(clock);
    for (let i = 0; i < 1005; i++) store.create();
    expect(store.size).toBe(1000);
  });

  it('forgets the oldest files of a container beyond its file cap', () => {
    const store = new ContainerStore(clock, {
      ...DEFAULT_CONTAINER_LIMITS,
      maxFilesPerContainer: 2,
    });
    const c = store.create();
    store.addFile(c, 'a.txt', 1);
    store.addFile(c, 'b.txt', 1);
    store.addFile(c, 'c.txt', 1);
    expect(store.get(c.id)?.files.map((f) => f.name)).toEqual(['b.txt', 'c.txt']);
  });

  it('brings back a container that expired while a run was writing to it', () => {
    const store = new ContainerStore(clock);
    const c = store.create();
    now += 30 * MINUTE;
    expect(store.size).toBe(0);
    store.addFile(c, 'late.csv', 10);
    expect(store.get(c.id)?.files.map((f) => f.name)).toEqual(['late.csv']);
  });

  it('keeps an uploaded file as a user file with its bytes, beside produced ones', () => {
    const store = new ContainerStore(clock);
    const c = store.create();
    const user = store.addUserFile(c, 'sales.csv', Buffer.from('a,b\n'));
    const made = store.addFile(c, 'chart.png', 10);
    expect(user).toMatchObject({ source: 'user', bytes: 4, content: Buffer.from('a,b\n') });
    expect(made.source).toBe('assistant');
    expect(made.content).toBeUndefined();
    expect(store.userBytes).toBe(4);
  });

  it('evicts least recently used containers beyond the user-byte cap, never the one written', () => {
    const store = new ContainerStore(clock, { ...DEFAULT_CONTAINER_LIMITS, maxUserBytes: 10 });
    const [a, b, c] = [store.create(), store.create(), store.create()];
    store.addUserFile(a, 'a', Buffer.alloc(4));
    store.addUserFile(b, 'b', Buffer.alloc(4));
    store.get(a.id);
    store.addUserFile(c, 'c', Buffer.alloc(4));
    expect(store.get(b.id)).toBeUndefined();
    expect(store.get(a.id)).toBeDefined();
    expect(store.userBytes).toBe(8);
    store.addUserFile(c, 'big', Buffer.alloc(9));
    expect(store.get(a.id)).toBeUndefined();
    expect(store.get(c.id)?.files.map((f) => f.name)).toEqual(['c', 'big']);
    expect(store.userBytes).toBe(13);
  });

  it('releases user bytes when containers expire, files roll off, or on clear()', () => {
    const store = new ContainerStore(clock, {
      ...DEFAULT_CONTAINER_LIMITS,
      maxFilesPerContainer: 1,
    });
    const c = store.create();
    store.addUserFile(c, 'a', Buffer.alloc(5));
    store.addFile(c, 'b.csv', 100);
    expect(store.userBytes).toBe(0);
    store.addUserFile(c, 'c', Buffer.alloc(3));
    expect(store.userBytes).toBe(3);
    now += 21 * MINUTE;
    expect(store.userBytes).toBe(0);
    const d = store.create();
    store.addUserFile(d, 'd', Buffer.alloc(2));
    store.clear();
    expect(store.userBytes).toBe(0);
  });

  it('clear() drops everything', () => {
    const store = new ContainerStore(clock);
    const c = store.create();
    store.clear();
    expect(store.get(c.id)).toBeUndefined();
  });
});
