// Issue 17, items 1–8: hostile inputs and batches. Each case (scripts/hostile/input-cases.ts)
// makes its files, runs the CLI, and checks exit codes, the one-line reason, no stack trace,
// peak memory under 1.5 GiB and what the run left behind.
import { INPUT_CASES } from '../../scripts/hostile/input-cases.ts';
import { testHostileCases } from '../helpers/hostile.ts';

testHostileCases(INPUT_CASES);
