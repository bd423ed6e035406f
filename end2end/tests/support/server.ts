// Starts, stops and restarts the real livedash binary on a free loopback
// port. The binary ($LIVEDASH_BIN, or the release build in ../target) is
// copied alone into an empty directory and started there: the single
// binary must carry everything it serves.
import { spawn, ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const binary = process.env.LIVEDASH_BIN ?? resolve(__dirname, '../../../target/release/livedash');

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => ok(port));
    });
  });
}

export class Livedash {
  private child?: ChildProcess;
  readonly home = mkdtempSync(join(tmpdir(), 'livedash-e2e-'));
  readonly executable = join(this.home, 'livedash');
  log = '';

  constructor(readonly port: number, readonly extraArgs: string[] = []) {
    copyFileSync(binary, this.executable);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(extraArgs: string[] = []): Promise<Livedash> {
    const server = new Livedash(await freePort(), extraArgs);
    await server.restart();
    return server;
  }

  /** Starts the binary (again, on the same port) and waits until it answers. */
  async restart(): Promise<void> {
    const child = spawn(this.executable, ['--listen', `127.0.0.1:${this.port}`, ...this.extraArgs], {
      cwd: this.home,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk) => (this.log += chunk));
    child.stderr?.on('data', (chunk) => (this.log += chunk));
    this.child = child;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`livedash exited early:\n${this.log}`);
      try {
        const response = await fetch(`${this.url}/healthz`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`livedash did not answer within 15 s:\n${this.log}`);
  }

  /** Publishes events to the dashboard channel (or `channel`); returns their ids. */
  async publish(events: unknown[], channel = 'dashboard:main'): Promise<string[]> {
    const body = events.map((event) =>
      typeof event === 'object' && event !== null && 'event' in event
        ? { channel, ...(event as object) }
        : { channel, data: event },
    );
    const response = await fetch(`${this.url}/api/realtime/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`publish failed: ${response.status} ${await response.text()}`);
    return (await response.json()).ids;
  }

  /** Kills the binary at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
    child.kill('SIGKILL');
    await exited;
  }

  /** Stops the binary with SIGTERM and waits for it to exit; returns how long that took. */
  async stop(): Promise<number> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return 0;
    const started = Date.now();
    const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    return Date.now() - started;
  }
}
