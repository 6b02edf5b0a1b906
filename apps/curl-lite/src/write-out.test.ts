import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CurlError, EXIT } from './errors.js';
import { newTransferInfo, type TransferInfo } from './info.js';
import { formatWriteOut, readWriteOutArgument, writeOutJson } from './write-out.js';

function done(): TransferInfo {
  const info = newTransferInfo('http://10.0.0.1:8000/start', 0);
  Object.assign(info, {
    httpCode: 200,
    httpVersion: '1.1',
    method: 'GET',
    scheme: 'HTTP',
    urlEffective: 'http://10.0.0.1:8000/end',
    contentType: 'text/plain',
    numRedirects: 1,
    numConnects: 1,
    remoteIp: '10.0.0.1',
    remotePort: 8000,
    localIp: '10.0.0.2',
    localPort: 40000,
    sizeDownload: 1500,
    sizeUpload: 3,
    connectMs: 1.5,
    startTransferMs: 2.25,
    totalMs: 500,
    responseHeaders: ['Content-Type', 'text/plain', 'X-Twice', 'a', 'x-twice', 'b'],
  });
  return info;
}

const text = (template: string, info = done(), warnings: string[] = []): string =>
  formatWriteOut(template, info, (m) => warnings.push(m))
    .map((p) => p.text)
    .join('');

describe('-w formatting', () => {
  it('writes curl\'s common variables in curl\'s formats', () => {
    expect(text('%{http_code} %{size_download} %{time_total} %{url_effective} %{content_type} %{num_redirects}')).to.equal(
      '200 1500 0.500000 http://10.0.0.1:8000/end text/plain 1',
    );
    expect(text('%{remote_ip}:%{remote_port} %{local_ip}:%{local_port} %{size_upload} %{speed_download} %{exitcode}')).to.equal(
      '10.0.0.1:8000 10.0.0.2:40000 3 3000 0',
    );
    expect(text('%{time_connect} %{time_starttransfer} %{scheme} %{method} %{http_version} %{url}')).to.equal(
      '0.001500 0.002250 HTTP GET 1.1 http://10.0.0.1:8000/start',
    );
  });

  it('prints 000, empty addresses and port 0 when no response came, as curl', () => {
    const info = newTransferInfo('http://10.0.0.1:8009/', 0);
    info.exitCode = 7;
    info.errorMessage = 'Failed to connect';
    expect(text('%{http_code} %{exitcode} [%{remote_ip}] %{remote_port} %{errormsg} [%{content_type}]', info)).to.equal('000 7 [] 0 Failed to connect []');
  });

  it('reads \\n \\r \\t and %%, and writes other backslash pairs and lone % as they are', () => {
    expect(text('a\\nb\\tc\\rd %% \\\\ \\x %z 100%')).to.equal('a\nb\tc\rd % \\\\ \\x %z 100%');
  });

  it('warns about an unknown variable and writes nothing for it', () => {
    const warnings: string[] = [];
    expect(text('[%{nonesuch}]', done(), warnings)).to.equal('[]');
    expect(warnings).to.deep.equal(["unknown --write-out variable: 'nonesuch'"]);
  });

  it('writes an unclosed %{ as it is', () => {
    expect(text('x %{http_code')).to.equal('x %{http_code');
  });

  it('reads %header{name}, joining repeated headers', () => {
    expect(text('%header{content-type} %header{x-twice} [%header{missing}]')).to.equal('text/plain a, b []');
  });

  it('switches streams with %{stderr} and %{stdout}', () => {
    const pieces = formatWriteOut('a%{stderr}b%{stdout}c', done(), () => undefined);
    expect(pieces).to.deep.equal([
      { to: 'stdout', text: 'a' },
      { to: 'stderr', text: 'b' },
      { to: 'stdout', text: 'c' },
    ]);
  });

  it('writes %{json} as one object with numbers unquoted and missing strings null', () => {
    const info = done();
    info.referer = undefined;
    const json = JSON.parse(writeOutJson(info, 'v1')) as Record<string, unknown>;
    expect(json).to.include({ http_code: 200, size_download: 1500, url_effective: 'http://10.0.0.1:8000/end', referer: null, time_total: 0.5, curl_version: 'v1' });
    expect(writeOutJson(info, 'v1')).to.contain('"time_total":0.500000');
  });

  it('reads the format from @file, and fails with 26 when the file is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcptun-w-'));
    try {
      writeFileSync(join(dir, 'fmt'), '%{http_code}\\n');
      expect(readWriteOutArgument(`@${join(dir, 'fmt')}`)).to.equal('%{http_code}\\n');
      expect(readWriteOutArgument('@-', () => 'from stdin')).to.equal('from stdin');
      expect(readWriteOutArgument('plain')).to.equal('plain');
      const err = (() => {
        try {
          readWriteOutArgument(`@${join(dir, 'missing')}`);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).to.be.instanceOf(CurlError);
      expect((err as CurlError).exitCode).to.equal(EXIT.READ_ERROR);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
