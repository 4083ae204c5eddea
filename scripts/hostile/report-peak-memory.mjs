// Preloaded into a CLI run by runCli (node --import): at exit, write the process's peak resident
// memory (bytes; worker threads included, they share the process) to $FACEGAR_PEAK_MEMORY_FILE.
import { writeFileSync } from 'node:fs';

const target = process.env.FACEGAR_PEAK_MEMORY_FILE;
if (target) process.on('exit', () => writeFileSync(target, String(process.resourceUsage().maxRSS * 1024)));
