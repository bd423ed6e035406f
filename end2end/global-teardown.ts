// Removes the run's temp directory (see playwright.config.ts): the data
// directories of every server the tests started and Chromium's profiles.
import { rmSync } from 'node:fs';

export default function globalTeardown() {
  const run = process.env.LIVEDASH_E2E_TMP;
  if (run && run.includes('livedash-e2e-run-')) rmSync(run, { recursive: true, force: true });
}
