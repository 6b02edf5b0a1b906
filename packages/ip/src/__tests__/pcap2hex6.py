import sys, struct
# Reads a classic pcap (Ethernet or Linux cooked v1) and prints one IPv6 packet per line as hex.
data = open(sys.argv[1], 'rb').read()
magic, _, _, _, _, _, linktype = struct.unpack('<IHHiIII', data[:24])
off = 24
while off + 16 <= len(data):
    _, _, incl, orig = struct.unpack('<IIII', data[off:off+16]); off += 16
    pkt = data[off:off+incl]; off += incl
    if linktype == 1:
        if pkt[12:14] != b'\x86\xdd': continue
        ip = pkt[14:]
    elif linktype == 113:
        if pkt[14:16] != b'\x86\xdd': continue
        ip = pkt[16:]
    elif linktype == 276:
        if pkt[0:2] != b'\x86\xdd': continue
        ip = pkt[20:]
    else:
        ip = pkt
    print(ip.hex())
