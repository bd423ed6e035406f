import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Everything a run leaves in the temp dir (each server's data, Chromium's
// profiles) goes under one directory of its own, removed when the run
// ends (global-teardown.ts). The config is read by the runner and again
// by each worker; workers inherit the runner's environment, so only the
// runner makes the directory.
if (!process.env.LIVEDASH_E2E_TMP) {
  const run = mkdtempSync(join(tmpdir(), 'livedash-e2e-run-'));
  process.env.LIVEDASH_E2E_TMP = run;
  process.env.TMPDIR = run;
}

// Tests start the real `livedash` binary themselves (see tests/support/server.ts)
// so they can stop and restart it. The browser is Debian's Chromium: no
// browser is ever downloaded.
export default defineConfig({
  testDir: './tests',
  globalTeardown: './global-teardown.ts',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
