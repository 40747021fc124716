import type { Socket } from 'node:net';
import pg from 'pg';
import { DATABASE_URL, fmt } from './support.js';

const WARM = 200;
const N = 2000;

type Writes = Pick<Socket, '_write' | '_writev'>;

/**
 * How long one `SELECT $1` round trip takes on a fresh connection, and how long of it the event
 * loop spends inside the socket write (the `write`/`writev` system call: on a virtual machine it
 * also pays for waking PostgreSQL's backend on another CPU). Every statement and queue command
 * pays that write, so it bounds what one process can issue per second: it is the machine's, not
 * the engine's, and differs between machines of one kind (see RESULTS.md, fifth round).
 */
export async function writeProbe(): Promise<string> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    const stream = (client as unknown as { connection: { stream: Socket } }).connection.stream;
    const socket = stream as unknown as Writes;
    let inWrite = 0n;
    let writes = 0;
    const timed = <A extends unknown[]>(write: (...args: A) => void) =>
      ((...args: A) => {
        const t0 = process.hrtime.bigint();
        write.apply(stream, args);
        inWrite += process.hrtime.bigint() - t0;
        writes++;
      }) as never;
    socket._write = timed(socket._write);
    if (socket._writev) socket._writev = timed(socket._writev);
    for (let i = 0; i < WARM; i++) await client.query('SELECT $1::int', [i]);
    inWrite = 0n;
    writes = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) await client.query('SELECT $1::int', [i]);
    const roundTrip = Number(process.hrtime.bigint() - t0) / N / 1000;
    const write = Number(inWrite) / Math.max(1, writes) / 1000;
    return (
      `a \`SELECT $1\` round trip to PostgreSQL ${fmt(roundTrip, 1)} µs, of which ` +
      `${fmt(write, 1)} µs inside the socket write (mean of ${N})`
    );
  } finally {
    await client.end();
  }
}
