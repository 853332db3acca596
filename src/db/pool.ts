// The application's PostgreSQL pool. Connection errors on idle clients are logged, never fatal.
import pg from "pg";

// int8 (bigint) values that we read are sequence numbers and ids well below 2^53.
pg.types.setTypeParser(20, (value) => Number(value));

export function createPool(databaseUrl: string, options: { max?: number; onError?: (error: Error) => void } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    connectionTimeoutMillis: 5_000,
  });
  pool.on("error", (error) => options.onError?.(error));
  return pool;
}
