/**
 * `/metrics` of the http service: the stack's counters, the TUN device's counters and the
 * connections by state, in the Prometheus text exposition format (version 0.0.4): for each
 * metric a `# HELP` and a `# TYPE` line, then `name{label="value"} number` samples; label
 * values escape backslash, double quote and newline.
 */
import type { Stack, StackStats } from '@tcp-tun/net';

/** Counters of a device, by name (the TUN device's `stats`); every finite number is exported. */
export type DeviceCounters = Readonly<Record<string, number>>;

/** The content type Prometheus asks for and expects back. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Every state a connection can be in (RFC 9293 §3.3.2), so a state with no connection reads 0. */
const TCP_STATES = ['SYN-SENT', 'SYN-RECEIVED', 'ESTABLISHED', 'FIN-WAIT-1', 'FIN-WAIT-2', 'CLOSE-WAIT', 'CLOSING', 'LAST-ACK', 'TIME-WAIT'] as const;

type Kind = 'counter' | 'gauge';

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** camelCase → snake_case, for metric names. */
function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^a-zA-Z0-9_]/g, '_').toLowerCase();
}

class Exposition {
  private readonly lines: string[] = [];

  metric(name: string, kind: Kind, help: string, samples: readonly (readonly [Readonly<Record<string, string>>, number])[]): void {
    // A counter's samples are named ..._total (the OpenMetrics convention Prometheus follows).
    const full = kind === 'counter' && !name.endsWith('_total') ? `${name}_total` : name;
    this.lines.push(`# HELP ${full} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${full} ${kind}`);
    for (const [labels, value] of samples) {
      const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
      this.lines.push(`${full}${l === '' ? '' : `{${l}}`} ${Number.isFinite(value) ? value : 'NaN'}`);
    }
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

const STACK_COUNTERS: readonly (readonly [keyof StackStats, string])[] = [
  ['packetsIn', 'IPv4 packets received from the link'],
  ['bytesIn', 'octets received from the link'],
  ['packetsOut', 'IPv4 packets handed to the link (a GSO super-packet counts once)'],
  ['bytesOut', 'octets handed to the link'],
  ['superPacketsOut', 'TCP super-packets handed to the link (GSO send)'],
  ['superPacketSegmentsOut', 'segments carried by GSO super-packets'],
  ['checksumFailures', 'received IPv4 headers, TCP segments and ICMP messages with a bad checksum'],
  ['checksumsTrusted', 'received TCP segments whose checksum the link vouched for (not summed again; present once there is one)'],
  ['resetsSent', 'RSTs sent for segments that matched no connection or listener'],
  ['icmpEchoReplies', 'ICMP echo replies sent'],
  ['icmpErrors', 'ICMP errors accepted by a connection'],
  ['synCookiesSent', 'SYN cookies sent by full listeners'],
  ['synCookiesAccepted', 'SYN cookie ACKs accepted'],
  ['synCookiesRejected', 'SYN cookie ACKs rejected'],
  ['strayAcks', 'bare ACKs for a listening port that no cookie explains'],
  ['connectionsOpened', 'connections opened actively'],
  ['connectionsAccepted', 'connections accepted from listeners'],
];

/**
 * The exposition text for `stack` (and `device`, when given): `tcptun_*` counters of the stack,
 * `tcptun_drops_total{reason}`, `tcptun_connections{state}` (every state, zeros included),
 * listeners, the connection cap, reassembly figures, and `tcptun_device_*` per device counter.
 */
export function renderMetrics(stack: Stack, device?: DeviceCounters): string {
  const s = stack.stats();
  const out = new Exposition();
  for (const [key, help] of STACK_COUNTERS) {
    const v = s[key];
    if (typeof v === 'number') out.metric(`tcptun_${snake(key)}`, 'counter', help, [[{}, v]]);
  }
  out.metric('tcptun_drops', 'counter', 'received packets dropped, by reason', Object.entries(s.drops).sort().map(([reason, v]) => [{ reason }, v]));
  const byState = s.connections as Readonly<Record<string, number | undefined>>;
  const states = [...new Set<string>([...TCP_STATES, ...Object.keys(byState)])];
  out.metric('tcptun_connections', 'gauge', 'connections in the table now, by RFC 9293 state', states.map((state) => [{ state }, byState[state] ?? 0]));
  out.metric('tcptun_listeners', 'gauge', 'listening ports now', [[{}, s.listeners]]);
  out.metric('tcptun_max_connections', 'gauge', 'most connections the table holds', [[{}, s.maxConnections]]);
  for (const [key, v] of Object.entries(s.reassembly as unknown as Record<string, unknown>)) {
    if (typeof v === 'number') out.metric(`tcptun_reassembly_${snake(key)}`, 'gauge', `IPv4 fragment reassembly: ${key}`, [[{}, v]]);
  }
  if (device !== undefined) {
    for (const [key, v] of Object.entries(device)) {
      if (typeof v === 'number' && Number.isFinite(v)) out.metric(`tcptun_device_${snake(key)}`, 'counter', `TUN device: ${key}`, [[{}, v]]);
    }
  }
  return out.text();
}
