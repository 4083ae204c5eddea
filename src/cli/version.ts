// Kept in step with package.json by a test (no JSON import: the CLI starts fast).
export const VERSION = '0.1.0';
