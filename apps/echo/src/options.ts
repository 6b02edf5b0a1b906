/**
 * Command-line options of tcp-tun-echo, parsed with commander so that `--help`, defaults
 * and validation messages read like every other CLI.
 */
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_PORTS, SERVICE_NAMES, type ServiceName } from './services.js';

/** What the echo app was asked to do. */
export interface EchoOptions {
  readonly dev: string;
  readonly addr: string;
  readonly peer: string;
  readonly mtu: number;
  /** Port of the echo service. */
  readonly port: number;
  readonly httpPort: number;
  /** Services to run, each at most once, in the order given. */
  readonly services: readonly ServiceName[];
  /** Write every packet to this pcap file (LINKTYPE_RAW). */
  readonly pcap?: string | undefined;
  /** Print statistics and connections as JSON when exiting. */
  readonly stats: boolean;
}

function serviceList(value: string): ServiceName[] {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = names.filter((n) => !(SERVICE_NAMES as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new InvalidArgumentError(`expected a comma-separated list of ${SERVICE_NAMES.join(', ')}.`);
  }
  return [...new Set(names as ServiceName[])];
}

const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function intIn(min: number, max: number, what: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(`${what} must be an integer from ${min} to ${max}.`);
    }
    return n;
  };
}

function ipv4(value: string): string {
  if (!DOTTED_QUAD.test(value)) throw new InvalidArgumentError('expected an IPv4 address such as 10.0.0.2.');
  return value;
}

/** The port each requested service listens on. */
export function servicePorts(options: EchoOptions): Map<ServiceName, number> {
  const ports = new Map<ServiceName, number>();
  for (const name of options.services) {
    ports.set(name, name === 'echo' ? options.port : name === 'http' ? options.httpPort : DEFAULT_PORTS[name]);
  }
  return ports;
}

/** Parses `argv` (the whole process.argv); exits with a usage message on bad input or --help. */
export function parseEchoOptions(argv: readonly string[]): EchoOptions {
  const program = new Command()
    .name('tcp-tun-echo')
    .description(
      'Serve echo, discard, source and http from the tcp-tun user-space stack over a TUN device.\n' +
        'The device is created and configured if it does not exist: the kernel side gets --peer,\n' +
        'the stack answers for --addr. Needs CAP_NET_ADMIN; run it inside a network namespace.',
    )
    .option('--dev <name>', 'TUN device name', 'tun0')
    .option('--addr <ipv4>', "the stack's own IPv4 address", ipv4, '10.0.0.2')
    .option('--peer <ipv4>', "the kernel's address on the TUN (point-to-point peer)", ipv4, '10.0.0.1')
    .option('--mtu <n>', 'link MTU in octets', intIn(576, 65535, '--mtu'), 1500)
    .option('--services <list>', `services to run: ${SERVICE_NAMES.map((n) => `${n} (port ${DEFAULT_PORTS[n]})`).join(', ')}`, serviceList, ['echo'] as ServiceName[])
    .option('--port <n>', 'TCP port of the echo service', intIn(1, 65535, '--port'), DEFAULT_PORTS.echo)
    .option('--http-port <n>', 'TCP port of the http service', intIn(1, 65535, '--http-port'), DEFAULT_PORTS.http)
    .option('--pcap <file>', 'capture every packet to <file> (pcap, LINKTYPE_RAW; flushed on exit)')
    .option('--stats', 'print the stack statistics and connection list as JSON on exit (also on SIGUSR1)')
    .showHelpAfterError()
    .allowExcessArguments(false);
  program.parse(argv as string[]);
  const o = program.opts<{ dev: string; addr: string; peer: string; mtu: number; port: number; httpPort: number; services: ServiceName[]; pcap?: string; stats?: boolean }>();
  if (o.dev.length === 0 || o.dev.length > 15) program.error('error: --dev must be 1 to 15 characters');
  if (o.addr === o.peer) program.error('error: --addr and --peer must differ');
  return { dev: o.dev, addr: o.addr, peer: o.peer, mtu: o.mtu, port: o.port, httpPort: o.httpPort, services: o.services, pcap: o.pcap, stats: o.stats === true };
}
