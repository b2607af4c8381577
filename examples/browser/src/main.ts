// The page's script: calls the Eliza service of examples/eliza/server.c
// with connect-web over the Connect protocol (POST and GET) and gRPC-Web,
// and writes what it gets into the elements of index.html. Every call
// that fails shows "error: [code] message" in its place instead. When all
// calls have settled, #status reads "done".
import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { ElizaService, FieldViolationSchema } from "./gen/eliza_pb.js";

const server = new URLSearchParams(location.search).get("server") ?? "http://127.0.0.1:8080";

function el(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`no element #${id}`);
  return e;
}
function show(id: string, text: string): void {
  el(id).textContent = text;
}
function addItem(id: string, text: string): void {
  const li = document.createElement("li");
  li.textContent = text;
  el(id).appendChild(li);
}

// The code as the Connect protocol spells it: InvalidArgument -> invalid_argument.
function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}
function failure(e: unknown): string {
  const err = ConnectError.from(e);
  return `error: [${codeName(err.code)}] ${err.rawMessage}`;
}

// A fetch that shows the HTTP method a call went out with (the transport
// picks GET after interceptors run, so it is read here).
function fetchShowingMethod(id: string): typeof fetch {
  return (input, init) => {
    show(id, init?.method ?? "GET");
    return globalThis.fetch(input, init);
  };
}

const connectPost = createConnectTransport({
  baseUrl: server,
  fetch: fetchShowingMethod("say-post-method"),
});
const connectGet = createConnectTransport({
  baseUrl: server,
  useBinaryFormat: true,
  useHttpGet: true,
  fetch: fetchShowingMethod("say-get-method"),
});
const connect = createConnectTransport({ baseUrl: server });
const grpcWeb = createGrpcWebTransport({ baseUrl: server });

// Code, message and details of an error the call is expected to end with.
async function expectError(prefix: string, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
    show(`${prefix}-code`, "(none: the call succeeded)");
  } catch (e) {
    const err = ConnectError.from(e);
    show(`${prefix}-code`, codeName(err.code));
    show(`${prefix}-message`, err.rawMessage);
    for (const d of err.details) {
      // Incoming details carry their type name and serialized value; a
      // FieldViolation is decoded with the generated schema.
      const type = "type" in d ? d.type : d.desc.typeName;
      if ("type" in d && d.type === FieldViolationSchema.typeName) {
        const v = fromBinary(FieldViolationSchema, d.value);
        addItem(`${prefix}-details`, `${type}: field=${v.field}, description=${v.description}`);
      } else {
        addItem(`${prefix}-details`, type);
      }
    }
  }
}

async function sayPost(): Promise<void> {
  try {
    const res = await createClient(ElizaService, connectPost).say({ sentence: "Hello, Eliza" });
    show("say-post", res.sentence);
  } catch (e) {
    show("say-post", failure(e));
  }
}

async function sayGet(): Promise<void> {
  try {
    const res = await createClient(ElizaService, connectGet).say({ sentence: "I feel happy" });
    show("say-get", res.sentence);
  } catch (e) {
    show("say-get", failure(e));
  }
}

async function introduce(): Promise<void> {
  try {
    let n = 0;
    for await (const res of createClient(ElizaService, connect).introduce({ name: "browser" })) {
      addItem("introduce", res.sentence);
      n++;
    }
    show("introduce-end", `(end of stream, ${n} messages)`);
  } catch (e) {
    show("introduce-end", failure(e));
  }
}

async function grpcWebSay(): Promise<void> {
  try {
    const client = createClient(ElizaService, grpcWeb);
    const res = await client.say({ sentence: "Can gRPC-Web reach you?" });
    show("grpcweb-say", res.sentence);
  } catch (e) {
    show("grpcweb-say", failure(e));
  }
}

async function main(): Promise<void> {
  show("origin", location.origin);
  show("server", server);
  await Promise.all([
    sayPost(),
    sayGet(),
    introduce(),
    expectError("error", () => createClient(ElizaService, connect).say({ sentence: "" })),
    grpcWebSay(),
    expectError("grpcweb-error", () => createClient(ElizaService, grpcWeb).say({ sentence: "" })),
  ]);
  show("status", "done");
}

void main();
