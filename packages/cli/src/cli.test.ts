import { expect } from 'chai';
import { mkdirSync, mkdtempSync, linkSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync, closeSync, chmodSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { addLinkOptions, ipv6, readLinkOptions, stackAddresses } from './link-options.js';
import { dropPrivileges, PrivilegeError, resolveUser, type ProcessIdentity } from './privileges.js';
import { openPrivateFile, OutputFileError } from './private-file.js';

function parse(...args: string[]): ReturnType<typeof readLinkOptions> {
  // Usage errors are asserted through the thrown CommanderError; keep them off the test output.
  const program = addLinkOptions(new Command()).exitOverride().configureOutput({ writeErr: () => undefined });
  program.parse(['node', 'x', ...args]);
  return readLinkOptions(program.opts());
}

describe('@tcp-tun/cli', () => {
  describe('link flags', () => {
    it('configure by default; --no-configure, --user and --group read', () => {
      expect(parse()).to.include({ configure: true, user: undefined, group: undefined });
      expect(parse('--no-configure', '--user', 'nobody', '--group', 'nogroup')).to.include({ configure: false, user: 'nobody', group: 'nogroup' });
    });

    it("offload: 'auto' by default, --no-offload off, --offload required", () => {
      expect(parse().offload).to.equal('auto');
      expect(parse('--no-offload').offload).to.equal(false);
      expect(parse('--offload').offload).to.equal(true);
      // The last one given wins, as for every commander flag pair.
      expect(parse('--offload', '--no-offload').offload).to.equal(false);
    });

    it("--tun-writer: 'inline' by default, worker and auto read, anything else refused", () => {
      expect(parse().tunWriter).to.equal('inline');
      expect(parse('--tun-writer', 'worker').tunWriter).to.equal('worker');
      expect(parse('--tun-writer', 'auto').tunWriter).to.equal('auto');
      expect(() => parse('--tun-writer', 'threads')).to.throw('expected inline, worker or auto');
    });

    it('--group needs --user', () => {
      expect(() => parse('--group', 'nogroup')).to.throw('--group needs --user');
    });

    it('addresses: IPv4 with its defaults as always, IPv6 off, when no IPv6 flag is given', () => {
      expect(parse()).to.include({ addr: '10.0.0.2', peer: '10.0.0.1', addr6: undefined, peer6: undefined });
      expect(parse('--addr', '10.9.0.2')).to.include({ addr: '10.9.0.2', peer: '10.0.0.1' });
      expect(parse('--peer', '10.9.0.1')).to.include({ addr: '10.0.0.2', peer: '10.9.0.1' });
      expect(stackAddresses(parse())).to.deep.equal({ address: '10.0.0.2' });
      expect(() => parse('--addr', '10.0.0.1')).to.throw('--addr and --peer must differ');
    });

    it('the IPv6 pair alone is an IPv6-only stack; with an IPv4 flag both, missing IPv4 halves defaulted', () => {
      const v6 = parse('--addr6', 'FD00:0::2', '--peer6', 'fd00::1');
      expect(v6).to.include({ addr: undefined, peer: undefined, addr6: 'fd00::2', peer6: 'fd00::1' });
      expect(stackAddresses(v6)).to.deep.equal({ address6: 'fd00::2' });
      const both = parse('--addr6', 'fd00::2', '--peer6', 'fd00::1', '--addr', '10.0.0.5');
      expect(both).to.include({ addr: '10.0.0.5', peer: '10.0.0.1', addr6: 'fd00::2', peer6: 'fd00::1' });
      expect(stackAddresses(both)).to.deep.equal({ address: '10.0.0.5', address6: 'fd00::2' });
      expect(parse('--addr6', 'fd00::2', '--peer6', 'fd00::1', '--peer', '10.0.0.9')).to.include({ addr: '10.0.0.2', peer: '10.0.0.9' });
    });

    it('IPv6 usage errors: each half needs the other, they differ, an MTU of at least 1280', () => {
      expect(() => parse('--addr6', 'fd00::2')).to.throw('--addr6 needs --peer6');
      expect(() => parse('--peer6', 'fd00::1')).to.throw('--peer6 needs --addr6');
      expect(() => parse('--addr6', 'fd00::2', '--peer6', 'fd00:0:0::2')).to.throw('--addr6 and --peer6 must differ');
      expect(() => parse('--addr6', 'fd00::2', '--peer6', 'fd00::1', '--mtu', '1279')).to.throw('--mtu must be at least 1280 with --addr6');
      expect(parse('--addr6', 'fd00::2', '--peer6', 'fd00::1', '--mtu', '1280').mtu).to.equal(1280);
      expect(parse('--mtu', '576').mtu, 'IPv4 alone keeps its 576').to.equal(576);
    });

    it('refuses what is not an IPv6 address of an interface end, as commander usage errors', () => {
      for (const bad of ['10.0.0.2', 'fd00::1%tun0', '[fd00::1]', 'fd00::1/64', 'fd00:::1', 'x']) {
        expect(() => parse('--addr6', bad, '--peer6', 'fd00::1'), bad).to.throw(/expected an IPv6 address such as fd00::2/);
      }
      for (const bad of ['::', '::1', 'ff02::1', '::ffff:10.0.0.1']) {
        expect(() => parse('--addr6', 'fd00::2', '--peer6', bad), bad).to.throw(/for an interface end/);
      }
      expect(ipv6('2001:DB8:0:0:1:0:0:1')).to.equal('2001:db8::1:0:0:1');
    });
  });

  describe('dropPrivileges', () => {
    /** A fake process identity that records calls and behaves like Linux for root and others. */
    function fakeProcess(start = 0, refuse?: string): ProcessIdentity & { calls: string[] } {
      let uid = start;
      let gid = start;
      let groups = [start];
      const calls: string[] = [];
      const guard = (name: string): void => {
        calls.push(name);
        if (name === refuse) throw Object.assign(new Error('EPERM'), { code: 'EPERM' });
        if (uid !== 0) throw Object.assign(new Error('EPERM'), { code: 'EPERM' });
      };
      return {
        calls,
        getuid: () => uid, geteuid: () => uid, getgid: () => gid, getegid: () => gid, getgroups: () => groups,
        initgroups: (_user, extra) => { guard('initgroups'); groups = [extra]; },
        setgroups: (g) => { guard('setgroups'); groups = g; },
        setgid: (g) => { guard('setgid'); gid = g; },
        setuid: (u) => { guard('setuid'); uid = u; },
      };
    }

    it('sets groups, then the group, then the user, and checks root cannot be regained', () => {
      const proc = fakeProcess();
      const identity = dropPrivileges({ name: 'nobody', uid: 65534, gid: 65534 }, 65534, proc);
      expect(identity).to.deep.equal({ uid: 65534, gid: 65534, groups: [65534] });
      expect(proc.calls).to.deep.equal(['initgroups', 'setgid', 'setuid', 'setuid']);
    });

    it('throws ERR_PRIVILEGE_DROP when a step fails, naming it', () => {
      for (const step of ['setgid', 'setuid']) {
        const proc = fakeProcess(0, step);
        let error: unknown;
        try {
          dropPrivileges({ name: 'nobody', uid: 65534, gid: 65534 }, 65534, proc);
        } catch (e) {
          error = e;
        }
        expect(error).to.be.instanceOf(PrivilegeError);
        expect((error as PrivilegeError).code).to.equal('ERR_PRIVILEGE_DROP');
        expect((error as Error).message).to.contain(`${step} failed`).and.to.contain('not running on as uid 0');
      }
    });

    it('throws when not root and asked to become someone else', () => {
      expect(() => dropPrivileges({ name: 'nobody', uid: 65534, gid: 65534 }, 65534, fakeProcess(1000))).to.throw(PrivilegeError, /cannot drop privileges/);
    });

    it('resolves names through NSS and refuses unknown ones', () => {
      expect(resolveUser('nobody')).to.include({ name: 'nobody', uid: 65534 });
      expect(resolveUser('65534')).to.include({ name: 'nobody' });
      expect(() => resolveUser('no-such-user-tcptun')).to.throw(PrivilegeError, /no such user/);
    });
  });

  describe('openPrivateFile', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'tcptun-cli-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('creates a new file with mode 0600 whatever the umask', () => {
      const old = process.umask(0);
      try {
        const fd = openPrivateFile(join(dir, 'a.pcap'));
        writeSync(fd, 'x');
        closeSync(fd);
      } finally {
        process.umask(old);
      }
      expect(statSync(join(dir, 'a.pcap')).mode & 0o777).to.equal(0o600);
    });

    it('empties and narrows an existing regular file of ours', () => {
      const path = join(dir, 'b.pcap');
      writeFileSync(path, 'old contents');
      chmodSync(path, 0o644);
      closeSync(openPrivateFile(path));
      expect(readFileSync(path, 'utf8')).to.equal('');
      expect(statSync(path).mode & 0o777).to.equal(0o600);
    });

    it('never writes through a symbolic link, a hard link, a FIFO or a directory', () => {
      const target = join(dir, 'target');
      writeFileSync(target, 'precious');
      symlinkSync(target, join(dir, 'sym'));
      symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'));
      linkSync(target, join(dir, 'hard'));
      execFileSync('mkfifo', [join(dir, 'fifo')]);
      mkdirSync(join(dir, 'sub'));
      for (const name of ['sym', 'dangling', 'hard', 'fifo', 'sub']) {
        let error: unknown;
        try {
          closeSync(openPrivateFile(join(dir, name)));
        } catch (e) {
          error = e;
        }
        expect(error, name).to.be.instanceOf(OutputFileError);
        // A FIFO without a reader already fails the open (ENXIO), a directory too (EISDIR).
        if (name !== 'sub' && name !== 'fifo') expect((error as OutputFileError).code, name).to.equal('ERR_UNSAFE_OUTPUT_FILE');
      }
      expect(readFileSync(target, 'utf8')).to.equal('precious');
      expect(() => statSync(join(dir, 'nowhere')), 'the dangling link created nothing').to.throw();
    });
  });
});
