/**
 * The connection engine lives in `connection/` (see `connection/connection.ts` for the layout);
 * this module keeps the old import path working.
 */
export {
  TcpConnection,
  type AcceptOptions,
  type ConnectOptions,
  type CookieAgreedOptions,
  type CookieOptions,
  type StateChangeHook,
  type TcpStats,
} from './connection/connection.js';
export { TcpCounters } from './connection/counters.js';
