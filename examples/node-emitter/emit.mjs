// SPDX-License-Identifier: Apache-2.0
//
// Emit CloudEvents to Redcar with the official CloudEvents JavaScript SDK
// (npm package `cloudevents`), then read them back.
//
// Redcar speaks the CloudEvents HTTP binding, so the SDK needs nothing
// Redcar-specific: POST /events accepts
//   - binary mode:     attributes in ce-* headers, the body is the data;
//   - structured mode: the whole event as application/cloudevents+json;
//   - batch mode:      a JSON array as application/cloudevents-batch+json.
// Reading back, GET /events?... returns a batch, and the SDK's own parser
// turns it into CloudEvent objects again.
//
// Run:  npm install && node emit.mjs
// Env:  REDCAR_URL (default http://127.0.0.1:8519)
import { CloudEvent, HTTP, Mode, emitterFor, httpTransport } from "cloudevents";

const url = process.env.REDCAR_URL ?? "http://127.0.0.1:8519";
// A per-run suffix: (source, id) is Redcar's idempotency key, so re-running
// the example with fixed ids would only hit the duplicate rule.
const run = process.env.RUN ?? `${Date.now()}`;
const source = `/examples/node-emitter/${run}`;

// POST a message the SDK built ({headers, body}) with the fetch built into Node.
async function post(message, contentType) {
  const headers = { ...message.headers };
  if (contentType) headers["content-type"] = contentType;
  const res = await fetch(`${url}/events`, { method: "POST", headers, body: message.body });
  const answer = await res.json();
  if (!res.ok) throw new Error(`POST /events: ${res.status} ${answer.detail ?? JSON.stringify(answer)}`);
  return answer; // {seq, duplicate} or {items: [...]} for a batch
}

// 1. Binary mode with HTTP.binary: the data goes as the raw body.
const sensor = new CloudEvent({
  id: `reading-${run}-1`,
  source,
  type: "com.example.sensor.reading",
  subject: "sensors/greenhouse",
  datacontenttype: "application/json",
  data: { celsius: 21.5 },
  room: "greenhouse", // an extension attribute: travels as the ce-room header
});
let r = await post(HTTP.binary(sensor));
console.log(`binary      ${sensor.id} -> seq ${r.seq}`);

// 2. Structured mode with HTTP.structured: the whole event is the JSON body.
const alert = new CloudEvent({
  id: `alert-${run}-1`,
  source,
  type: "com.example.sensor.alert",
  subject: "sensors/greenhouse",
  datacontenttype: "text/plain",
  data: "too warm",
});
r = await post(HTTP.structured(alert));
console.log(`structured  ${alert.id} -> seq ${r.seq}`);

// Sending it again is safe: the same (source, id) is a retry, not a new event.
r = await post(HTTP.structured(alert));
console.log(`retry       ${alert.id} -> seq ${r.seq} duplicate=${r.duplicate}`);

// 3. The SDK's emitter over its own HTTP transport, the way an application
// usually sends: one call per event, the mode chosen once.
const emit = emitterFor(httpTransport(`${url}/events`), { mode: Mode.STRUCTURED });
const reading2 = sensor.cloneWith({ id: `reading-${run}-2`, data: { celsius: 22.0 } });
// httpTransport resolves with the response's headers and body but no status
// code, so check the body: Redcar answers {seq, duplicate} or a problem.
const sent = JSON.parse((await emit(reading2)).body);
if (sent.seq === undefined) throw new Error(`emitter: ${sent.detail ?? JSON.stringify(sent)}`);
console.log(`emitter     ${reading2.id} -> seq ${sent.seq} (structured, over httpTransport)`);

// 4. A batch: appended all-or-nothing. The SDK has no batch serializer, so
// the body is the JSON array of the events' structured forms.
const batch = [3, 4].map((n) => sensor.cloneWith({ id: `reading-${run}-${n}`, data: { celsius: 20 + n } }));
r = await post({ headers: {}, body: JSON.stringify(batch) }, "application/cloudevents-batch+json");
console.log(`batch       ${batch.map((e) => e.id).join(", ")} -> seqs ${r.items.map((i) => i.seq).join(", ")}`);

// Read this run's events back (oldest first) and let the SDK parse them.
const res = await fetch(`${url}/events?source=${encodeURIComponent(source)}`);
const events = HTTP.toEvent({
  headers: { "content-type": res.headers.get("content-type") },
  body: await res.text(),
});
console.log(`read back ${events.length} events from ${source}:`);
for (const ev of events) {
  // Redcar adds the log position as the extension attribute `seq`.
  console.log(`  seq ${ev.seq} ${ev.type} ${ev.id} ${JSON.stringify(ev.data)}`);
}

// One event in binary mode: ask for its data's own media type and the
// attributes come back as ce-* headers.
const one = await fetch(`${url}/events/${events[0].seq}`, { headers: { accept: "application/json" } });
const headers = Object.fromEntries(one.headers);
const back = HTTP.toEvent({ headers, body: await one.text() });
console.log(`binary read seq ${back.seq}: room=${back.room} data=${JSON.stringify(back.data)}`);
