/**
 * Files the apps write on the user's behalf (`--pcap`, and any later `--trace`) are opened so
 * that no one else can read them and no one can redirect them: mode 0600, never through a
 * symbolic link, never a file with other names (hard links), never a file someone else owns.
 * A process that starts as root and writes into a shared directory (/tmp) would otherwise
 * truncate whatever a planted link points at (CWE-59).
 */
import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, openSync } from 'node:fs';

/** Refusal to open an output file; `code` is `ERR_UNSAFE_OUTPUT_FILE`, or the errno name. */
export class OutputFileError extends Error {
  /** The errno name of the failed open (`EACCES`, `ENOENT`, ...), or `ERR_UNSAFE_OUTPUT_FILE` for a refused file. */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'OutputFileError';
    this.code = code;
  }
}

function errnoOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'EIO';
}

/**
 * Opens `path` for writing as a new, empty file of mode 0600 and returns the fd. A new file is
 * created with O_CREAT|O_EXCL|O_NOFOLLOW (atomic: a link planted between check and use cannot
 * be followed). An existing one is reused only if it is a regular file with one link that this
 * user owns, opened with O_NOFOLLOW, then emptied and set to 0600; anything else (a symbolic
 * link, a FIFO, a device, a hard link, another user's file) is refused with
 * `ERR_UNSAFE_OUTPUT_FILE`.
 */
export function openPrivateFile(path: string): number {
  return createPrivateFile(path).fd;
}

/** {@link openPrivateFile}, also saying whether the file is new (a caller that fails may remove it). */
export function createPrivateFile(path: string): {
  /** The open file descriptor, write-only, file truncated and mode 0600. */
  fd: number;
  /** True when this call created the file, false when an existing one was reused. */
  created: boolean;
} {
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;
  let fd: number;
  let created = true;
  try {
    fd = openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  } catch (error) {
    created = false;
    const errno = errnoOf(error);
    if (errno !== 'EEXIST') throw new OutputFileError(errno, `cannot create ${path}: ${errno}`);
    try {
      // O_NONBLOCK: a FIFO planted at the path must not block the open (it is refused below).
      fd = openSync(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK);
    } catch (error2) {
      const errno2 = errnoOf(error2);
      if (errno2 === 'ELOOP') throw new OutputFileError('ERR_UNSAFE_OUTPUT_FILE', `refusing to write ${path}: it is a symbolic link`);
      throw new OutputFileError(errno2, `cannot open ${path}: ${errno2}`);
    }
    const st = fstatSync(fd);
    const euid = process.geteuid?.() ?? st.uid;
    const problem = !st.isFile() ? 'it is not a regular file' : st.nlink !== 1 ? `it has ${st.nlink} links` : st.uid !== euid ? `it belongs to uid ${st.uid}` : undefined;
    if (problem !== undefined) {
      closeSync(fd);
      throw new OutputFileError('ERR_UNSAFE_OUTPUT_FILE', `refusing to write ${path}: ${problem}`);
    }
    ftruncateSync(fd, 0);
  }
  // The umask can only have narrowed the mode; an existing file may have had a wider one.
  fchmodSync(fd, 0o600);
  return { fd, created };
}

/**
 * A path that reopens the already open `fd` (Linux's /proc/self/fd magic link names the open
 * file itself, not a path that could be swapped), for APIs that take a path.
 */
export function pathOfFd(fd: number): string {
  return `/proc/self/fd/${fd}`;
}
