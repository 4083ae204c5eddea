#!/usr/bin/env node
// Thin shim: run the CLI, exit with its code. In a checkout (src/ present) it runs the
// TypeScript sources through tsx, a development dependency; the installed package has only
// the compiled dist/ and needs no loader.
import { existsSync } from 'node:fs';

const fromSources = existsSync(new URL('../src/cli/main.ts', import.meta.url));
if (fromSources) (await import('tsx/esm/api')).register();
const { main } = await import(fromSources ? '../src/cli/main.ts' : '../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
