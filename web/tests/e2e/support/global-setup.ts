// Starts what the stories run against and tells them where it is (environment variables reach
// the test workers). Returns the teardown: stop everything, drop the databases and Redis keys.
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startSmtpSink } from './smtp-sink';
import {
  deleteRedisKeys,
  dropDatabases,
  freePort,
  startOidcProvider,
  startServer,
  stop,
  type OidcProvider,
  type RunningServer,
} from './processes';

export const OIDC_EMAIL = 'oidc.buyer@e2e.test';

export default async function globalSetup(): Promise<() => Promise<void>> {
  const webDir = resolve(import.meta.dirname, '../../..');
  const staticDir = resolve(webDir, process.env.E2E_STATIC_DIR ?? '../static');
  if (!existsSync(join(staticDir, 'index.html'))) {
    throw new Error(`${staticDir}/index.html is missing: run \`npm run build\` first`);
  }
  const source = process.env.TICKETING_BIN ?? '/tmp/web-helper/bin/ticketing';
  if (!existsSync(source)) throw new Error(`no server binary at ${source} (set TICKETING_BIN)`);

  const dir = mkdtempSync(join(tmpdir(), 'ticketing-e2e-'));
  const mailDir = join(dir, 'mail');
  mkdirSync(mailDir);
  // A private copy: the original may be replaced by a newer build while the suite runs.
  const bin = join(dir, 'ticketing');
  copyFileSync(source, bin);
  chmodSync(bin, 0o755);

  const sink = await startSmtpSink(mailDir);
  const servers: RunningServer[] = [];
  let oidc: OidcProvider | undefined;

  const teardown = async () => {
    await Promise.all(servers.map((s) => stop(s.process)));
    await stop(oidc?.process);
    await sink.stop();
    for (const server of servers) {
      dropDatabases(server);
      deleteRedisKeys(server.redisPrefix);
    }
    if (!process.env.E2E_KEEP) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const mainPort = await freePort();
    oidc = await startOidcProvider(`http://localhost:${mainPort}/api/auth/oauth/test/callback`, OIDC_EMAIL);
    const common = { bin, dir, staticDir, smtpUrl: sink.url };
    servers.push(await startServer({ ...common, name: 'main', port: mainPort, ttlSeconds: 300, oidc }));
    servers.push(await startServer({ ...common, name: 'short', ttlSeconds: 5 }));
  } catch (error) {
    await teardown();
    throw error;
  }

  process.env.E2E_MAIN_URL = servers[0]?.url;
  process.env.E2E_SHORT_URL = servers[1]?.url;
  process.env.E2E_MAIL_DIR = mailDir;
  process.env.E2E_OIDC_EMAIL = OIDC_EMAIL;
  process.env.E2E_LOG_DIR = dir;
  return teardown;
}
