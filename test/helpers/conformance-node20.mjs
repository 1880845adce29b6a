// Lets the MCP conformance suite's CLI (@modelcontextprotocol/conformance) start on Node 20. Its
// single bundled file imports `globSync` from node:fs, which Node 20 does not have, for its
// tier-check command alone; the server scenarios never call it. Loaded with `node --import`, this
// drops that one name from the import as the file loads; nothing else of the suite is touched.
import { register } from 'node:module';

const hooks = `
export async function load(url, context, next) {
  const loaded = await next(url, context);
  if (!url.includes('/@modelcontextprotocol/conformance/dist/')) return loaded;
  return { ...loaded, source: String(loaded.source).replace(/\\bglobSync as (\\w+),/, '') };
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
