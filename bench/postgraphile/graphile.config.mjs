// PostGraphile 5 on the bench database, the comparison column of
// bench/load.rs: the Amber preset over schema `public`, as a team would run
// it in production (no GraphiQL, no watch mode, no explain, no query log).
//
//   PG_URL       connection string (required), e.g. postgres://postgres@127.0.0.1:5432/clientele_bench
//   PG_PORT      port to listen on (required); PG_HOST the address (127.0.0.1)
//   PG_POOL_MAX  its pool size (default 8: the service's default on 2 cores)
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (see bench/postgraphile/graphile.config.mjs)`);
  return v;
};

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: need("PG_URL"),
      schemas: ["public"],
      // Idle connections are kept, as the service's pool keeps them: the
      // bench leaves it idle while our server and pgbench run.
      poolConfig: { max: Number(process.env.PG_POOL_MAX ?? 8), idleTimeoutMillis: 0 },
    }),
  ],
  grafserv: {
    host: process.env.PG_HOST ?? "127.0.0.1",
    port: Number(need("PG_PORT")),
    graphqlPath: "/graphql",
    graphiql: false,
    watch: false,
    websockets: false,
  },
  grafast: { explain: false },
};

export default preset;
