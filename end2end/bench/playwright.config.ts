import base from '../playwright.config';
import { defineConfig } from '@playwright/test';

// The base config's teardown path is relative to its own directory.
export default defineConfig({ ...base, testDir: '.', timeout: 180_000, globalTeardown: '../global-teardown.ts' });
