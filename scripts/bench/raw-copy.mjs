// Scenario (f)'s yardstick: the least any client can do to copy one blob between two registries
// on loopback. One undici GET from the source streamed as the body of one PUT (monolithic upload:
// POST, then PUT ?digest=) to the target. No hashing, no retries, no checks: the physical limit
// that our copy is measured against. Plain JavaScript, so that no TypeScript loader is timed.
//
//   node scripts/bench/raw-copy.mjs SOURCE_URL SOURCE_REPO DIGEST SIZE TARGET_URL TARGET_REPO
import { Agent } from 'undici';

const [sourceUrl, sourceRepo, digest, size, targetUrl, targetRepo] = process.argv.slice(2);
if (!targetRepo) {
  process.stderr.write('usage: raw-copy.mjs SOURCE_URL SOURCE_REPO DIGEST SIZE TARGET_URL TARGET_REPO\n');
  process.exit(2);
}
const agent = new Agent({ connections: 8 });

async function call(url, options) {
  const response = await agent.request({ origin: new URL(url).origin, path: new URL(url).pathname + new URL(url).search, ...options });
  return response;
}

const post = await call(`${targetUrl}/v2/${targetRepo}/blobs/uploads/`, { method: 'POST' });
await post.body.dump();
if (post.statusCode !== 202) throw new Error(`POST upload: ${post.statusCode}`);
const location = new URL(post.headers.location, targetUrl);
location.searchParams.set('digest', digest);

const get = await call(`${sourceUrl}/v2/${sourceRepo}/blobs/${digest}`, { method: 'GET', maxRedirections: 0 });
if (get.statusCode !== 200) throw new Error(`GET blob: ${get.statusCode}`);
const put = await call(location.toString(), {
  method: 'PUT',
  headers: { 'content-type': 'application/octet-stream', 'content-length': size },
  body: get.body,
});
await put.body.dump();
if (put.statusCode !== 201) throw new Error(`PUT blob: ${put.statusCode}`);
await agent.close();
