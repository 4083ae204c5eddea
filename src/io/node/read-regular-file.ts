/**
 * Reading a file a user (or a download) named, without trusting it: only regular files are
 * read, so a FIFO cannot block and /dev/zero cannot fill memory, and never more than
 * `maxBytes`, whatever the file's size says (files under /proc report 0 and still have data).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';

/** Why a path was not read: not a regular file, or larger than allowed. File-system errors (ENOENT, EACCES, …) pass through as they are. */
export class UnreadableFileError extends Error {
  constructor(
    readonly code: 'ENOTREG' | 'EISDIR' | 'EFBIG',
    message: string,
  ) {
    super(message);
    this.name = 'UnreadableFileError';
  }
}

/**
 * The bytes of the regular file at `path`, at most `maxBytes` of them. Throws
 * UnreadableFileError: 'EISDIR' for a folder, 'ENOTREG' for a FIFO, socket or device ("not a
 * regular file (a FIFO)"), 'EFBIG' past `maxBytes` ("larger than 64 MiB"); else the file
 * system's own error.
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<Buffer> {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new UnreadableFileError('EISDIR', 'is a directory');
    if (!info.isFile()) throw new UnreadableFileError('ENOTREG', `not a regular file (${fileKind(info)})`);
    if (info.size > maxBytes) throw tooLarge(maxBytes);
    return await readUpTo(handle, info.size, maxBytes);
  } finally {
    await handle.close();
  }
}

/** Read to the end, failing once more than `maxBytes` arrive (the size may be wrong, or grow). */
async function readUpTo(handle: FileHandle, expectedBytes: number, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.max(64 * 1024, Math.min(expectedBytes - total + 1, maxBytes - total + 1)));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
    if (bytesRead === 0) break;
    total += bytesRead;
    if (total > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk.subarray(0, bytesRead));
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}

function tooLarge(maxBytes: number): UnreadableFileError {
  return new UnreadableFileError('EFBIG', `larger than ${formatBytes(maxBytes)}`);
}

function fileKind(info: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (info.isFIFO()) return 'a FIFO';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  return 'a special file';
}

/** "64 MiB", "1.5 GiB", "900 KiB": for limits in messages. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB'];
  let value = bytes,
    unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}
