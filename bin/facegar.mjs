#!/usr/bin/env node
// Thin shim: load the TypeScript sources through tsx, run the CLI, exit with its code.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
