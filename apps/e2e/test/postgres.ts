import pg from 'pg';

/** The PostgreSQL this machine runs for tests (trust auth, database `test`). */
export const PG_URL = process.env['CRANK_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A schema name no other test run uses, so that runs never collide. */
export function uniqueSchema(purpose: string): string {
  return `crank_e2e_${purpose}_${process.pid}_${Date.now().toString(36)}`;
}

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await client.end();
  }
}
