// Peak memory of a cross-registry blob copy into a registry that refuses monolithic uploads and
// demands big chunks (defect 3): a 1 GiB blob streamed from a fake source registry into a fake
// target announcing OCI-Chunk-Min-Length (32 MiB by default). Both servers stream (nothing held
// whole), so the peak RSS is the client's footprint. Run:
//   node --import tsx scripts/bench/chunk-cap-rss.ts [sizeMiB=1024] [minChunkMiB=32]
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRegistryClient } from '../../src/registry/client.js';

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 1024);
const minChunkMiB = Number(process.argv[3] ?? 32);
const block = Buffer.alloc(MiB);
for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 0xff;

function digestOf(): string {
  const hash = createHash('sha256');
  for (let i = 0; i < sizeMiB; i++) hash.update(block);
  return `sha256:${hash.digest('hex')}`;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function main(): Promise<void> {
  const digest = digestOf();
  const size = sizeMiB * MiB;
  const source = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(size) });
    let sent = 0;
    const pump = (): void => {
      while (sent < sizeMiB) {
        sent++;
        if (!res.write(block)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  let patches = 0;
  let received = 0;
  const targetHash = createHash('sha256');
  const target = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST') {
      res.writeHead(202, {
        location: '/v2/acme/app/blobs/uploads/s',
        'oci-chunk-min-length': String(minChunkMiB * MiB),
        'content-length': '0',
      });
      return void res.end();
    }
    if (req.method === 'PATCH') {
      patches++;
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
        targetHash.update(chunk);
      });
      req.on('end', () => {
        res.writeHead(202, { location: url.pathname, 'content-length': '0' });
        res.end();
      });
      return;
    }
    if (req.method === 'PUT') {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.length));
      req.on('end', () => {
        // a monolithic upload is refused, as the registries this case is about do
        res.writeHead(bytes > 0 ? 405 : 201, { 'content-length': '0' });
        res.end();
      });
      return;
    }
    res.writeHead(204);
    res.end();
  });
  const [from, to] = await Promise.all([listen(source), listen(target)]);
  const client = createRegistryClient({ credentials: { credentialsFor: async () => undefined, describeLookup: () => 'none' } });
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const started = Date.now();
  // a small blob first teaches the client that this target refuses monolithic uploads
  const tiny = Buffer.from('tiny');
  const tinyDescriptor = {
    mediaType: 'application/octet-stream',
    digest: `sha256:${createHash('sha256').update(tiny).digest('hex')}`,
    size: tiny.length,
  };
  await client.uploadBlob(
    { registry: from, repository: 'acme/src' },
    { registry: to, repository: 'acme/app' },
    tinyDescriptor,
    async () => tiny,
  );
  patches = 0;
  received = 0;
  await client.copyBlob(
    { registry: from, repository: 'acme/src' },
    { registry: to, repository: 'acme/app' },
    { mediaType: 'application/octet-stream', digest, size },
  );
  clearInterval(sampler);
  const seconds = (Date.now() - started) / 1000;
  const maxRss = Math.max(peak, process.resourceUsage().maxRSS * 1024);
  await client.close();
  source.close();
  target.close();
  console.log(
    JSON.stringify({
      blobMiB: sizeMiB,
      minChunkMiB,
      patches,
      receivedMiB: received / MiB,
      peakRssMB: Math.round(maxRss / 1e6),
      seconds,
      note: 'peak RSS of this whole process (client, fake source and fake target, all streaming)',
    }),
  );
  if (received !== size) process.exitCode = 1;
  void targetHash;
}

await main();
