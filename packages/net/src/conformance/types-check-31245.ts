
import * as net from 'node:net';
import type { Stack } from '../index.js';

export function classes(stack: Stack): unknown[] {
  const socketClass: typeof net.Socket = net.Socket;
  const serverClass: typeof net.Server = net.Server;
  return [stack, socketClass, serverClass];
}
