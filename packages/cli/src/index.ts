/**
 * @tcp-tun/cli: what tcp-tun's command-line programs (apps/echo, apps/curl-lite) share, so that
 * neither depends on the other.
 *
 * What this package guarantees:
 * - One set of device, privilege, capture and fault flags (`addLinkOptions`), validated once
 *   (`readLinkOptions`), with the same spelling and meaning in every program.
 * - `openLink()` opens the TUN device (configuring only what it is asked and allowed to), opens
 *   the capture file mode 0600 and never through a symbolic link, and with `--user` drops root
 *   before the caller can handle a packet; a failed drop is an error, never a silent root process.
 */
export {
  addLinkOptions, readLinkOptions, readLinkOptionsOrExit, openLink, ipv4, ipv6, intIn, stackAddresses, DEFAULT_ADDR, DEFAULT_PEER,
  type LinkOptions, type OpenedLink, type Notice, type StackAddresses,
} from './link-options.js';
export {
  dropPrivileges, resolveGroup, resolveUser, PrivilegeError,
  type Account, type Identity, type ProcessIdentity,
} from './privileges.js';
export { createPrivateFile, openPrivateFile, pathOfFd, OutputFileError } from './private-file.js';
export { flushOnExit, type Flushable } from './flush-on-exit.js';
