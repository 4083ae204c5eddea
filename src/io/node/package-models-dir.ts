import { fileURLToPath } from 'node:url';

/**
 * facegar's own `models/` folder (shipped networks and detector graphs). The path is the same
 * from the sources (src/io/node) and from the built package (dist/io/node): both sit three
 * levels below the package root, and package.json's `files` ships models/.
 */
export const PACKAGE_MODELS_DIR = fileURLToPath(new URL('../../../models/', import.meta.url));
