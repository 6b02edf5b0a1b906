// tun-source: a minimal TCP "source" server over a TUN device with GSO trains, IPv4 or IPv6.
// A yardstick for the bench's fair workload (bench/PROFILE.md, "IPv6, round 5"): what the
// kernel's side of a TUN costs a sender that does almost nothing itself, per family. It answers
// SYNs on port 19 (MSS, window scale, timestamps), then streams a fixed pattern to every
// connection in GSO super-packets of TRAIN_SEGS segments within a fixed WINDOW, and prints its
// own CPU time per GB. No retransmission, no congestion control, no checks beyond what the
// measurement needs: for measurement only, in a throwaway namespace (run.sh), never as a server.
// Optional spins (SPIN_NS_PER_BYTE per octet sent, SPIN_NS_PER_READ per packet read) give it a
// user-space cost like tcp-tun's, so the kernel's share can be compared at the same rate.
// Over 65,535 octets a train takes Linux's BIG TCP shapes (IPv4 Total Length 0, IPv6 jumbogram).
//   usage: tun-source FAMILY(4|6) WINDOW TRAIN_SEGS SPIN_NS_PER_BYTE SPIN_NS_PER_READ
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <fcntl.h>
#include <unistd.h>
#include <poll.h>
#include <errno.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/resource.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>

static int fam, fd, trainSegs = 45, maxConn = 16; static double spin_ns_per_byte = 0, spin_ns_per_read = 0;
static void spin(double ns) { struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a); for (;;) { clock_gettime(CLOCK_MONOTONIC, &b); if ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec) >= ns) break; } }
static uint32_t window_cap = 262144;
static uint8_t our4[4] = {10, 9, 0, 2}, our6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 9, [15] = 2};
struct conn { int used, est; uint8_t peer[16]; uint16_t pport; uint32_t iss, nxt, una, rwnd, tsr; int wscale; };
static struct conn conns[16];
static uint8_t payload[65536 * 8];
static uint64_t sent_bytes, writes, reads;

static uint32_t sum16(const uint8_t *p, int n, uint32_t s) { for (int i = 0; i + 1 < n; i += 2) s += (p[i] << 8) | p[i + 1]; if (n & 1) s += p[n - 1] << 8; return s; }
static uint16_t fold(uint32_t s) { while (s >> 16) s = (s & 0xffff) + (s >> 16); return s; }
static uint32_t now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000 + t.tv_nsec / 1000000; }

// Writes IP + TCP header (with TS option) for c at h; returns header length. tcpLen = TCP header + payload.
static int headers(uint8_t *h, struct conn *c, uint32_t seq, uint8_t flags, int paylen, int syn) {
  int tcph = syn ? 40 : 32;
  int jumbo = fam == 6 && tcph + paylen > 65535;
  int iph = fam == 4 ? 20 : jumbo ? 48 : 40; // SYN-ACK: MSS(4) + SACKOK/NOP(4)... keep simple: MSS 4 + WS 4(nop+3) + TS 12(nop nop ts) = 20 -> 40
  int tcpLen = tcph + paylen;
  memset(h, 0, iph + tcph);
  if (fam == 4) {
    int tot = iph + tcpLen; if (tot > 65535) tot = 0;
    h[0] = 0x45; h[2] = tot >> 8; h[3] = tot; h[6] = 0x40; h[8] = 64; h[9] = 6;
    memcpy(h + 12, our4, 4); memcpy(h + 16, c->peer, 4);
    uint16_t s = ~fold(sum16(h, 20, 0)); h[10] = s >> 8; h[11] = s;
  } else {
    h[0] = 0x60; h[6] = jumbo ? 0 : 6; h[7] = 64;
    if (!jumbo) { h[4] = tcpLen >> 8; h[5] = tcpLen; }
    else { uint32_t jl = tcpLen + 8; h[40] = 6; h[41] = 0; h[42] = 0xC2; h[43] = 4; h[44] = jl >> 24; h[45] = jl >> 16; h[46] = jl >> 8; h[47] = jl; }
    memcpy(h + 8, our6, 16); memcpy(h + 24, c->peer, 16);
  }
  uint8_t *t = h + iph;
  t[0] = 19 >> 8; t[1] = 19; t[2] = c->pport >> 8; t[3] = c->pport;
  t[4] = seq >> 24; t[5] = seq >> 16; t[6] = seq >> 8; t[7] = seq;
  t[12] = (tcph / 4) << 4; t[13] = flags; t[14] = 0xff; t[15] = 0xff; // window 65535 (<< 0 before WS known)
  uint8_t *o = t + 20;
  if (syn) { o[0] = 2; o[1] = 4; int mss = fam == 4 ? 1460 : 1440; o[2] = mss >> 8; o[3] = mss; o[4] = 1; o[5] = 3; o[6] = 3; o[7] = 7; o += 8; }
  o[0] = 1; o[1] = 1; o[2] = 8; o[3] = 10; uint32_t tv = now_ms(); o[4] = tv >> 24; o[5] = tv >> 16; o[6] = tv >> 8; o[7] = tv; o[8] = c->tsr >> 24; o[9] = c->tsr >> 16; o[10] = c->tsr >> 8; o[11] = c->tsr;

  // partial checksum: pseudo-header
  uint32_t s = fam == 4 ? sum16(h + 12, 8, 0) : sum16(h + 8, 32, 0);
  s += 6; s += tcpLen >> 16; s += tcpLen & 0xffff;
  uint16_t ps = fold(s); t[16] = ps >> 8; t[17] = ps;
  return iph + tcph;
}
static uint32_t ackno[16];
static void send_packet(struct conn *c, uint32_t seq, uint8_t flags, const uint8_t *data, int paylen, int syn) {
  static uint8_t hdr[128];
  int hl = headers(hdr, c, seq, flags, paylen, syn);
  uint8_t *t = hdr + hl - (syn ? 40 : 32);
  uint32_t a = ackno[c - conns]; t[8] = a >> 24; t[9] = a >> 16; t[10] = a >> 8; t[11] = a;
  // redo partial checksum not needed: ack is not in the pseudo-header
  int mss = (fam == 4 ? 1460 : 1440) - 12;
  struct virtio_net_hdr v; memset(&v, 0, sizeof v);
  v.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM; v.csum_start = hl - (syn ? 40 : 32); v.csum_offset = 16;
  if (paylen > mss) { v.gso_type = fam == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6; v.gso_size = mss; v.hdr_len = hl; }
  struct iovec iov[3] = {{&v, sizeof v}, {hdr, hl}, {(void *)data, paylen}};
  if (writev(fd, iov, paylen ? 3 : 2) < 0) perror("writev");
  writes++;
}
static uint32_t rd32(const uint8_t *p) { return (p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]; }

static void pump(struct conn *c) {
  int mss = (fam == 4 ? 1460 : 1440) - 12;
  for (;;) {
    uint32_t wnd = c->rwnd < window_cap ? c->rwnd : window_cap;
    uint32_t infl = c->nxt - c->una;
    if (infl >= wnd) return;
    uint32_t room = wnd - infl;
    uint32_t n = trainSegs * mss; if (n > room) n = (room / mss) * mss;
    if (n == 0) return;
    if (spin_ns_per_byte > 0) spin(spin_ns_per_byte * n);
    send_packet(c, c->nxt, 0x10, payload + (c->nxt % 65536), n, 0);
    c->nxt += n; sent_bytes += n;
  }
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: tun-source 4|6 [WINDOW TRAIN_SEGS SPIN_NS_PER_BYTE SPIN_NS_PER_READ]\n"); return 2; }
  fam = atoi(argv[1]); if (argc > 2) window_cap = atoi(argv[2]); if (argc > 3) trainSegs = atoi(argv[3]); if (argc > 4) spin_ns_per_byte = atof(argv[4]); if (argc > 5) spin_ns_per_read = atof(argv[5]);
  if ((fam != 4 && fam != 6) || trainSegs < 1 || trainSegs > 90) { fprintf(stderr, "tun-source: bad arguments\n"); return 2; }
  for (int i = 0; i < (int)sizeof payload; i++) payload[i] = i * 7;
  fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK);
  struct ifreq ifr; memset(&ifr, 0, sizeof ifr); ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR; strcpy(ifr.ifr_name, "tcs0");
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); return 1; }
  if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) { perror("offload"); return 1; }
  if (system(fam == 4 ? "ip link set lo up && ip link set tcs0 up mtu 1500 txqueuelen 10000 && ip addr add 10.9.0.1/24 dev tcs0" :
                        "sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.router_solicitations=0 && ip link set lo up && ip link set tcs0 up mtu 1500 txqueuelen 10000 && ip -6 addr add fd00:0:0:9::1/64 dev tcs0 nodad")) return 1;
  fprintf(stderr, "ready\n");
  struct rusage r0, r1; int started = 0; uint32_t t0 = 0, last = now_ms();
  static uint8_t buf[70000];
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    int pr = poll(&p, 1, 1000);
    if (pr == 0 && started && now_ms() - last > 1500) break;
    if (pr == 0 && !started && now_ms() - last > 20000) break;
    for (int k = 0; k < 64; k++) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0) break;
      reads++; last = now_ms(); if (spin_ns_per_read > 0) spin(spin_ns_per_read);
      uint8_t *ip = buf + sizeof(struct virtio_net_hdr);
      int v = ip[0] >> 4; if (v != fam) continue;
      int iph = v == 4 ? (ip[0] & 15) * 4 : 40; int proto = v == 4 ? ip[9] : ip[6]; if (proto != 6) continue;
      uint8_t *t = ip + iph; const uint8_t *src = v == 4 ? ip + 12 : ip + 8; int alen = v == 4 ? 4 : 16;
      uint16_t sport = (t[0] << 8) | t[1]; uint8_t flags = t[13]; int doff = (t[12] >> 4) * 4;
      struct conn *c = NULL; int ci = -1;
      for (int i = 0; i < maxConn; i++) if (conns[i].used && conns[i].pport == sport && !memcmp(conns[i].peer, src, alen)) { c = &conns[i]; ci = i; break; }
      uint32_t tsv = 0; int wsopt = -1;
      for (int o = 20; o < doff;) { uint8_t kind = t[o]; if (kind == 0) break; if (kind == 1) { o++; continue; } int l = t[o + 1]; if (l < 2) break; if (kind == 8) tsv = rd32(t + o + 2); if (kind == 3) wsopt = t[o + 2]; o += l; }
      if (flags & 0x04) { if (c) c->used = 0; continue; }
      if ((flags & 0x02) && !c) {
        for (int i = 0; i < maxConn; i++) if (!conns[i].used) { c = &conns[i]; ci = i; break; }
        if (!c) continue;
        memset(c, 0, sizeof *c); c->used = 1; memcpy(c->peer, src, alen); c->pport = sport; c->iss = 1000000 * (ci + 1); c->tsr = tsv;
        c->wscale = wsopt < 0 ? 0 : wsopt; ackno[ci] = rd32(t + 4) + 1;
        send_packet(c, c->iss, 0x12, NULL, 0, 1); c->nxt = c->una = c->iss + 1;
        continue;
      }
      if (!c) continue;
      if (tsv) c->tsr = tsv;
      uint32_t a = rd32(t + 8);
      if ((int32_t)(a - c->una) > 0) c->una = a;
      c->rwnd = ((t[14] << 8) | t[15]) << c->wscale;
      if (!c->est) { c->est = 1; if (!started) { started = 1; getrusage(RUSAGE_SELF, &r0); t0 = now_ms(); sent_bytes = 0; writes = 0; reads = 0; } }
      if (flags & 0x01) { ackno[ci] = rd32(t + 4) + 1; send_packet(c, c->nxt, 0x11, NULL, 0, 0); c->used = 0; continue; }
    }
    for (int i = 0; i < maxConn; i++) if (conns[i].used && conns[i].est) pump(&conns[i]);
  }
  getrusage(RUSAGE_SELF, &r1);
  double us = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1e3 + (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e3;
  double sy = (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e3 + (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e3;
  double gb = sent_bytes / 1e9;
  printf("v%d sent %.2f GB in %u ms: %.0f MB/s; writes/GB %.0f reads/GB %.0f; user %.0f sys %.0f ms/GB\n", fam, gb, now_ms() - t0 - 1500, sent_bytes / 1e6 / ((now_ms() - t0 - 1500) / 1e3), writes / gb, reads / gb, us / gb, sy / gb);
  return 0;
}
