/**
 * The reply to a segment that reaches no connection (RFC 9293 §3.10.7.1, "If the state is
 * CLOSED"): used by the stack for closed ports and unknown 4-tuples, and by the listener for
 * stray ACKs.
 */
import { seqAdd } from './seq.js';
import type { TcpRepr } from './types.js';

/**
 * The RST answering `repr` (which carried `payloadLength` octets), or undefined when `repr` is
 * itself a RST (a RST is never answered). Ports are swapped.
 * - With ACK: `<SEQ=SEG.ACK><CTL=RST>`.
 * - Without ACK: `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`, SYN and FIN counting one each.
 */
export function resetFor(repr: TcpRepr, payloadLength: number): TcpRepr | undefined {
  if (repr.control === 'rst') return undefined;
  if (repr.ack !== undefined) {
    return { srcPort: repr.dstPort, dstPort: repr.srcPort, control: 'rst', seq: repr.ack >>> 0, ack: undefined, window: 0 };
  }
  const segLen = payloadLength + (repr.control === 'syn' || repr.control === 'fin' ? 1 : 0);
  return { srcPort: repr.dstPort, dstPort: repr.srcPort, control: 'rst', seq: 0, ack: seqAdd(repr.seq, segLen), window: 0 };
}
