/**
 * Dropping root after the TUN device is open (`--user`, `--group`), the way daemons that need
 * a privileged resource only at start-up do it (tcpdump -Z, OpenVPN's user/group): supplementary
 * groups first, then the group, then the user. The order matters: once the uid is not 0 the
 * process may no longer change its groups, so a group set after it would fail, and groups left
 * in place would keep root's access. setuid() from root changes the real, effective and saved
 * uid and clears the capability sets (capabilities(7)), so nothing is left to regain root with;
 * glibc applies it to every thread of the process.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** An error of the privilege drop; the process must not go on when it is thrown. */
export class PrivilegeError extends Error {
  /** Permanent code: `ERR_PRIVILEGE_DROP` (the drop failed) or `ERR_UNKNOWN_USER`. */
  readonly code: 'ERR_PRIVILEGE_DROP' | 'ERR_UNKNOWN_USER';

  constructor(code: PrivilegeError['code'], message: string) {
    super(message);
    this.name = 'PrivilegeError';
    this.code = code;
  }
}

/** An account as `getent passwd` (or /etc/passwd) describes it. */
export interface Account {
  /** Login name (the passwd entry's first field). */
  readonly name: string;
  /** User id. */
  readonly uid: number;
  /** Primary group id. */
  readonly gid: number;
}

/** The identity the process has after {@link dropPrivileges}. */
export interface Identity {
  /** User id (real, effective and saved alike). */
  readonly uid: number;
  /** Group id (real, effective and saved alike). */
  readonly gid: number;
  /** Supplementary group ids. */
  readonly groups: readonly number[];
}

/** The calls {@link dropPrivileges} makes: `process` itself, or a fake in tests. */
export interface ProcessIdentity {
  /** Real user id, as `process.getuid()`. */
  getuid(): number;
  /** Effective user id, as `process.geteuid()`. */
  geteuid(): number;
  /** Real group id, as `process.getgid()`. */
  getgid(): number;
  /** Effective group id, as `process.getegid()`. */
  getegid(): number;
  /** Supplementary group ids, as `process.getgroups()`. */
  getgroups(): number[];
  /** Replaces the supplementary groups (root only), as `process.setgroups()`. */
  setgroups(groups: number[]): void;
  /** Sets the supplementary groups from the group database for `user`, plus `extraGroup`, as `process.initgroups()`. */
  initgroups(user: string, extraGroup: number): void;
  /** Sets the real, effective and saved group id (from root), as `process.setgid()`. */
  setgid(id: number): void;
  /** Sets the real, effective and saved user id (from root), as `process.setuid()`. */
  setuid(id: number): void;
}

/** Parses one line of passwd(5) (`name:x:uid:gid:gecos:home:shell`) or one of group(5). */
function entry(line: string | undefined): { name: string; id: number; gid: number } | undefined {
  if (line === undefined) return undefined;
  const f = line.trim().split(':');
  if (f.length < 3 || f[0] === '' || !/^\d+$/.test(f[2] ?? '')) return undefined;
  return { name: f[0]!, id: Number(f[2]), gid: /^\d+$/.test(f[3] ?? '') ? Number(f[3]) : Number(f[2]) };
}

/** Looks `key` (a name or a number) up in the `database` (passwd or group) through NSS. */
function lookup(database: 'passwd' | 'group', key: string): { name: string; id: number; gid: number } | undefined {
  // getent asks NSS (files, LDAP, systemd's DynamicUser...), as getpwnam() would; Node has no
  // binding for it. /etc is the fallback on a system without getent.
  const r = spawnSync('getent', [database, key], { encoding: 'utf8', timeout: 5000 });
  if (r.status === 0) return entry(r.stdout.split('\n')[0]);
  if (r.error === undefined) return undefined;
  try {
    const lines = readFileSync(`/etc/${database}`, 'utf8').split('\n');
    return lines.map(entry).find((e) => e !== undefined && (e.name === key || String(e.id) === key));
  } catch {
    return undefined;
  }
}

/** Resolves a user name or uid to its account; throws `ERR_UNKNOWN_USER`. */
export function resolveUser(user: string): Account {
  const e = lookup('passwd', user);
  if (e === undefined) throw new PrivilegeError('ERR_UNKNOWN_USER', `no such user: '${user}'`);
  return { name: e.name, uid: e.id, gid: e.gid };
}

/** Resolves a group name or gid; throws `ERR_UNKNOWN_USER`. */
export function resolveGroup(group: string): number {
  const e = lookup('group', group);
  if (e === undefined) throw new PrivilegeError('ERR_UNKNOWN_USER', `no such group: '${group}'`);
  return e.id;
}

/**
 * Becomes `account` (with group `gid`, default its primary group): supplementary groups, then
 * the group, then the user, then checks that the real and effective ids are the new ones and
 * that root cannot be regained. Throws `ERR_PRIVILEGE_DROP` when any step fails: the caller
 * must then exit rather than run on as root.
 */
export function dropPrivileges(account: Account, gid: number = account.gid, proc: ProcessIdentity = process as unknown as ProcessIdentity): Identity {
  const fail = (step: string, cause: unknown): never => {
    const why = (cause as { code?: string; message?: string }).code ?? (cause as Error).message ?? String(cause);
    throw new PrivilegeError('ERR_PRIVILEGE_DROP', `cannot drop privileges to ${account.name} (uid ${account.uid}, gid ${gid}): ${step} failed (${why}); not running on as uid ${proc.geteuid()}`);
  };
  try {
    // The user's own supplementary groups (as login would give them), plus `gid`.
    proc.initgroups(account.name, gid);
  } catch (cause) {
    // initgroups needs the user in NSS by name; clearing to the one group is just as safe.
    try {
      proc.setgroups([gid]);
    } catch (cause2) {
      fail('setgroups', cause2 ?? cause);
    }
  }
  try {
    proc.setgid(gid);
  } catch (cause) {
    fail('setgid', cause);
  }
  try {
    proc.setuid(account.uid);
  } catch (cause) {
    fail('setuid', cause);
  }
  const ids = { uid: proc.getuid(), euid: proc.geteuid(), gid: proc.getgid(), egid: proc.getegid() };
  if (ids.uid !== account.uid || ids.euid !== account.uid || ids.gid !== gid || ids.egid !== gid) {
    fail('the check', new Error(`ids are now ${JSON.stringify(ids)}`));
  }
  if (account.uid !== 0) {
    let regained = false;
    try {
      proc.setuid(0);
      regained = true;
    } catch {
      // Expected: EPERM.
    }
    if (regained) fail('the check', new Error('setuid(0) succeeded afterwards'));
  }
  return { uid: ids.uid, gid: ids.gid, groups: proc.getgroups() };
}
