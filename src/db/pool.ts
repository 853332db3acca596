// The application's PostgreSQL pool. A failed connection is reported, never fatal: idle or checked out.
import pg from "pg";

// int8 (bigint) values that we read are sequence numbers and ids well below 2^53.
pg.types.setTypeParser(20, (value) => Number(value));

export function createPool(databaseUrl: string, options: { max?: number; onError?: (error: Error) => void } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    connectionTimeoutMillis: 5_000,
    // TCP keepalive: a session lock's connection sits idle for a whole job; NATs and load balancers drop idle flows.
    keepAlive: true,
  });
  // pg-pool listens for errors only while a client is idle (and re-emits them here). A checked-out client whose
  // server connection dies between two queries (server restart, database dropped, pg_terminate_backend) emits
  // 'error' with no listener, which would be an uncaught exception. Every client therefore gets a listener for
  // its whole life; the code holding it sees the failure as its next query's rejection. Idle-client errors
  // reach this listener too, so the pool's own 'error' event only needs to exist. A connection that dies emits
  // twice (the server's message, then the closed socket): it is reported once.
  pool.on("connect", (client) => {
    let reported = false;
    client.on("error", (error) => {
      if (reported) return;
      reported = true;
      options.onError?.(error);
    });
  });
  pool.on("error", () => undefined);
  return pool;
}

/**
 * One connection for a short piece of work (migrations, role and retention setup). Should the server end it
 * during a query, that query rejects with the server's reason; between two queries, the next one rejects as
 * "not queryable". Nothing is thrown from the socket either way.
 */
export async function openClient(config: string | pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(typeof config === "string" ? { connectionString: config } : config);
  client.on("error", () => undefined);
  await client.connect();
  return client;
}
