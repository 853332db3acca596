// What a data module's function runs its statements on: the pool (a statement of its own) or a client the
// caller checked out (its transaction, its session locks). The function cannot tell which, and need not.
import type pg from "pg";

export type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;
