// Starting and stopping the real server and the test OpenID provider.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

export async function stop(child: ChildProcess | undefined, graceMs = 10_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function waitFor(url: string, child: ChildProcess, log: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}; see ${log}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s; see ${log}`);
}

export interface ServerOptions {
  name: string;
  bin: string;
  dir: string;
  staticDir: string;
  smtpUrl: string;
  ttlSeconds: number;
  oidc?: { issuer: string; clientId: string; clientSecret: string };
  port?: number;
}

export interface RunningServer {
  name: string;
  url: string;
  port: number;
  databases: string[];
  redisPrefix: string;
  log: string;
  process: ChildProcess;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const port = options.port ?? (await freePort());
  const metricsPort = await freePort();
  const suffix = `${options.name}_${randomBytes(4).toString('hex')}`;
  const databases = ['events', 'projections', 'analytics', 'auth'].map((d) => `ticketing_e2e_${suffix}_${d}`);
  const redisPrefix = `ticketing_e2e_${suffix}:`;
  const url = `http://localhost:${port}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HTTP_ADDR: `127.0.0.1:${port}`,
    PUBLIC_URL: url,
    WEBAUTHN_RP_ID: 'localhost',
    STATIC_DIR: options.staticDir,
    DATABASE_URL_EVENTS: `postgres://postgres@127.0.0.1:5432/${databases[0]}`,
    DATABASE_URL_PROJECTIONS: `postgres://postgres@127.0.0.1:5432/${databases[1]}`,
    DATABASE_URL_ANALYTICS: `postgres://postgres@127.0.0.1:5432/${databases[2]}`,
    DATABASE_URL_AUTH: `postgres://postgres@127.0.0.1:5432/${databases[3]}`,
    REDIS_URL: process.env.E2E_REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: redisPrefix,
    ADMIN_EMAILS: 'admin@e2e.test',
    STAFF_EMAILS: 'door@e2e.test',
    SMTP_URL: options.smtpUrl,
    MAIL_OUTBOX_DIR: join(options.dir, `outbox-${options.name}`),
    RESERVATION_TTL_SECONDS: String(options.ttlSeconds),
    // Every browser in the suite comes from 127.0.0.1: the per-IP auth limit would trip.
    AUTH_RATE_LIMIT: '100000',
    // Two servers run at once, each with four pools, on a PostgreSQL that allows 100 connections
    // (the default): 8 per pool leaves room for the other server and the test's own clients.
    DATABASE_MAX_CONNECTIONS: '8',
    METRICS_ADDR: `127.0.0.1:${metricsPort}`,
    RUST_LOG: process.env.E2E_RUST_LOG ?? 'warn',
    LOG_FORMAT: 'pretty',
  };
  if (options.oidc) {
    env.OIDC_TEST_ISSUER = options.oidc.issuer;
    env.OIDC_TEST_CLIENT_ID = options.oidc.clientId;
    env.OIDC_TEST_CLIENT_SECRET = options.oidc.clientSecret;
  }
  const log = join(options.dir, `server-${options.name}.log`);
  const out = createWriteStream(log);
  const child = spawn(options.bin, ['serve'], { env, cwd: options.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  await waitFor(`${url}/health`, child, log);
  return { name: options.name, url, port, databases, redisPrefix, log, process: child };
}

export function dropDatabases(server: RunningServer): void {
  for (const db of server.databases) {
    try {
      execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-qc', `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`], {
        stdio: 'ignore',
      });
    } catch {
      // best effort
    }
  }
}

export function deleteRedisKeys(prefix: string): void {
  try {
    const keys = execFileSync('redis-cli', ['-h', '127.0.0.1', '--scan', '--pattern', `${prefix}*`], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    for (let i = 0; i < keys.length; i += 500) {
      execFileSync('redis-cli', ['-h', '127.0.0.1', 'DEL', ...keys.slice(i, i + 500)], { stdio: 'ignore' });
    }
  } catch {
    // best effort
  }
}

export interface OidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  process: ChildProcess;
}

/** The test OpenID provider of the backend's tests (`tests/oidc/provider.mjs`). */
export async function startOidcProvider(redirectUri: string, email: string): Promise<OidcProvider> {
  const dir = resolve(process.env.E2E_OIDC_DIR ?? resolve(import.meta.dirname, '../../../../tests/oidc'));
  if (!existsSync(join(dir, 'node_modules'))) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--prefix', dir], { stdio: 'inherit' });
  }
  const clientId = 'ticketing-e2e';
  const clientSecret = randomBytes(16).toString('hex');
  const child = spawn(process.execPath, [join(dir, 'provider.mjs')], {
    env: { ...process.env, CLIENT_ID: clientId, CLIENT_SECRET: clientSecret, REDIRECT_URI: redirectUri, ACCOUNT_EMAIL: email },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const issuer = await new Promise<string>((done, fail) => {
    let buffer = '';
    const timer = setTimeout(() => fail(new Error('the OpenID provider did not start')), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split('\n').find((l) => l.includes('"issuer"'));
      if (line) {
        clearTimeout(timer);
        done((JSON.parse(line) as { issuer: string }).issuer);
      }
    });
    child.once('exit', (code) => fail(new Error(`the OpenID provider exited with ${code}`)));
  });
  return { issuer, clientId, clientSecret, process: child };
}
