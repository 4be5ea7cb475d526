// Fires the main worker's `scheduled` handler on request. Cloudflare fires it from the Cron
// Triggers of wrangler.toml; plain `workerd serve` never does, so startWorkerd's
// `scheduled: true` (scripts/lib/workerd.mjs) runs this small worker beside ours, on a port of
// its own, with a service binding WORKER to the main worker.
//
// It answers the request `wrangler dev --test-scheduled` answers:
//   GET /__scheduled?cron=<expression>[&time=<ms since the epoch>]
// runs the handler with `controller.cron` = the expression ("" when absent) and
// `controller.scheduledTime` = time (now when absent), and answers when the handler and
// everything it passed to `ctx.waitUntil` have finished, with the runtime's outcome as JSON:
// `{ "outcome": "ok" | "exception" | ..., "noRetry": boolean }`, status 200 for "ok" and 500
// otherwise (Miniflare's /cdn-cgi/handler/scheduled?format=json answers the same way). wrangler
// itself answers "Ran scheduled event" as text.
//
// The call is a service binding's `scheduled()`, which needs the compatibility flag
// `service_binding_extra_handlers`; workerd counts that flag as experimental, hence
// `--experimental` on the command line when this worker runs.

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname !== '/__scheduled') return new Response('Not found: ask for /__scheduled?cron=...\n', { status: 404 });
    if (request.method !== 'GET') return new Response('Method not allowed\n', { status: 405, headers: { Allow: 'GET' } });
    const cron = url.searchParams.get('cron') ?? '';
    const time = url.searchParams.get('time');
    const scheduledTime = time === null ? undefined : new Date(Number(time));
    if (scheduledTime !== undefined && Number.isNaN(scheduledTime.getTime())) {
      return new Response(`Bad time: ${time} (milliseconds since the epoch)\n`, { status: 400 });
    }
    const { outcome, noRetry } = await env.WORKER.scheduled({ cron, scheduledTime });
    return Response.json({ outcome, noRetry }, { status: outcome === 'ok' ? 200 : 500 });
  },
};
