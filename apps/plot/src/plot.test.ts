import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TraceRecord } from '@tcp-tun/net';
import { buildModel, plotTrace, PlotInputError, throughput } from './index.js';
import { lossyRun, type LossyRun } from './__tests__/lossy-run.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const MAIN = join(HERE, '..', 'dist', 'main.js');

/** The `d` attribute of the element with this id. */
function pathOf(svg: string, id: string): string {
  const m = new RegExp(`<path id="${id}" d="([^"]*)"`).exec(svg);
  expect(m, `path #${id}`).to.not.equal(null);
  return m![1]!;
}

describe('tcp-tun-plot', () => {
  const seed = Number(process.env.SEED ?? 11);
  let run: LossyRun;
  before(async function () {
    this.timeout(60_000);
    console.log(`      seed ${seed} (SEED=${seed} to replay)`);
    run = await lossyRun(seed);
  });

  it('renders a lossy transfer: time-sequence graph, ACK and window lines, every retransmission marked, SACKs, cwnd/RTT/throughput panels', () => {
    const { svg, model } = plotTrace(run.text);
    const segs = run.records.filter((r): r is Extract<TraceRecord, { type: 'seg' }> => r.type === 'seg' && r.conn === model.connection.conn);
    const retransmitted = segs.filter((s) => s.dir === 'out' && s.retx === true).length;
    expect(run.dropped, `seed ${seed}`).to.be.greaterThan(0);
    expect(retransmitted, `seed ${seed}`).to.be.greaterThan(0);
    expect(model.direction).to.equal('out');
    expect(svg.startsWith('<?xml')).to.equal(true);
    expect(svg).to.match(/<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    for (const id of ['tsg', 'panel-cwnd', 'panel-rtt', 'panel-throughput', 'sacks', 'retransmissions']) expect(svg, id).to.include(`id="${id}"`);
    // Each series is drawn, not just declared: the segments path has one I-beam per first transmission.
    const beams = pathOf(svg, 'segments').match(/V/g)?.length ?? 0;
    expect(beams, `seed ${seed}`).to.equal(model.data.length - retransmitted);
    for (const id of ['ack-line', 'rwnd-line', 'cwnd-line', 'inflight-line', 'srtt-line', 'throughput-line']) {
      expect(pathOf(svg, id).length, `#${id} seed ${seed}`).to.be.greaterThan(20);
    }
    // ssthresh falls below its initial value once loss is detected.
    expect(pathOf(svg, 'ssthresh-line').length, `seed ${seed}`).to.be.greaterThan(0);
    expect(svg.match(/class="retx"/g)?.length ?? 0, `seed ${seed}`).to.equal(retransmitted);
    expect(svg).to.include(`data-retransmissions="${retransmitted}"`);
    const sacked = segs.filter((s) => s.dir === 'in' && s.sack !== undefined).reduce((k, s) => k + s.sack!.length, 0);
    expect(svg.match(/class="sack"/g)?.length ?? 0, `seed ${seed}`).to.equal(sacked);
    // Tags balance (a cheap well-formedness check).
    expect(svg.match(/<g[ >]/g)?.length).to.equal(svg.match(/<\/g>/g)?.length);
  });

  it('measures throughput from acknowledged octets: the bins add up to the transfer', () => {
    const model = buildModel(run.records);
    const bins = throughput(model, 40);
    const width = (model.t1 - model.t0) / 40;
    const octets = bins.reduce((k, b) => k + (b.mbps * width * 1000) / 8, 0);
    // The SYN's and FIN's sequence numbers are acknowledged too.
    expect(Math.round(octets)).to.be.within(768 * 1024, 768 * 1024 + 2);
  });

  it('picks a connection by number or 4-tuple, and says which exist when none matches', () => {
    const { model } = plotTrace(run.text, { conn: '1' });
    const c = model.connection;
    expect(plotTrace(run.text, { conn: `${c.local}-${c.remote}` }).model.connection.conn).to.equal(1);
    expect(plotTrace(run.text, { conn: c.remote }).model.connection.conn).to.equal(1);
    expect(() => plotTrace(run.text, { conn: '9' })).to.throw(PlotInputError).with.property('code', 'ERR_NO_CONNECTION');
    expect(() => plotTrace('')).to.throw(PlotInputError).with.property('code', 'ERR_EMPTY_TRACE');
    // The other direction (the 8-octet reply) draws too.
    expect(plotTrace(run.text, { direction: 'in' }).model.data.length).to.be.greaterThan(0);
  });

  it('runs as a command: --help, --version, -o, --list, and a clear error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcptun-plot-'));
    try {
      expect(execFileSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8' })).to.include('--conn <which>');
      const pkg = JSON.parse(readFileSync(join(HERE, '..', 'package.json'), 'utf8')) as { version: string };
      expect(execFileSync(process.execPath, [MAIN, '--version'], { encoding: 'utf8' }).trim()).to.equal(pkg.version);
      writeFileSync(join(dir, 't.jsonl'), run.text);
      execFileSync(process.execPath, [MAIN, join(dir, 't.jsonl'), '-o', join(dir, 't.svg')], { stdio: 'pipe' });
      expect(readFileSync(join(dir, 't.svg'), 'utf8')).to.include('id="panel-rtt"');
      expect(execFileSync(process.execPath, [MAIN, join(dir, 't.jsonl'), '--list'], { encoding: 'utf8' })).to.match(/^1\t10\.0\.0\.2:\d+-10\.0\.0\.1:5001\tout \d+/);
      const bad = spawnSync(process.execPath, [MAIN, join(dir, 't.jsonl'), '--conn', '7'], { encoding: 'utf8' });
      expect(bad.status).to.equal(1);
      expect(bad.stderr).to.include('(ERR_NO_CONNECTION)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // PLOT_EXAMPLE=path writes the picture the READMEs show (docs/img/trace-example.svg).
  it('renders the same picture twice from the same trace (and writes it when PLOT_EXAMPLE is set)', () => {
    const svg = plotTrace(run.text).svg;
    expect(plotTrace(run.text).svg).to.equal(svg);
    const out = process.env.PLOT_EXAMPLE;
    if (out !== undefined) writeFileSync(out, svg);
  });
});
