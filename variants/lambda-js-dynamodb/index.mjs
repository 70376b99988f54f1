// The counter as a Node.js Lambda function behind an API Gateway HTTP API (payload 2.0),
// with the AWS SDK for JavaScript v3. LATENCY_STORE names the table with the same URL the
// Rust function reads: dynamodb://TABLE?endpoint=URL&region=R&mode=atomic|read-modify-write
// &key=id&key_value=0&attribute=hits&create=true
//
// The client is built once per instance, at init (the original study found that this
// matters), with HTTP keep-alive so warm calls reuse their connection.
//
// Handler: index.handler

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent } from "node:https";
import { Agent as HttpAgent } from "node:http";
import {
  DynamoDBClient,
  CreateTableCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { NodeHttpHandler } from "@smithy/node-http-handler";

/** Parses the store URL; throws with a message that names the problem. */
export function parseStoreUrl(text) {
  const url = new URL(text);
  if (url.protocol !== "dynamodb:" || !url.hostname) {
    throw new Error("LATENCY_STORE must be dynamodb://TABLE?…");
  }
  const p = url.searchParams;
  const mode = p.get("mode") ?? "atomic";
  if (mode !== "atomic" && mode !== "read-modify-write") {
    throw new Error(`mode must be atomic or read-modify-write, not ${mode}`);
  }
  return {
    table: url.hostname,
    endpoint: p.get("endpoint") ?? undefined,
    region: p.get("region") ?? process.env.AWS_REGION,
    mode,
    keyName: p.get("key") ?? "id",
    keyValue: p.get("key_value") ?? "0",
    attribute: p.get("attribute") ?? "hits",
    create: p.get("create") === "true",
  };
}

const store = parseStoreUrl(process.env.LATENCY_STORE ?? "");
const client = new DynamoDBClient({
  region: store.region,
  endpoint: store.endpoint,
  requestHandler: new NodeHttpHandler({
    httpAgent: new HttpAgent({ keepAlive: true }),
    httpsAgent: new Agent({ keepAlive: true }),
    connectionTimeout: 2000,
    requestTimeout: 2000,
  }),
});
const names = { "#c": store.attribute, "#k": store.keyName };
const isNumber = (text) => text.trim() !== "" && !Number.isNaN(Number(text));

class CounterMissing extends Error {}

async function createTable() {
  try {
    await client.send(new DescribeTableCommand({ TableName: store.table }));
  } catch (err) {
    if (err.name !== "ResourceNotFoundException") throw err;
    await client.send(
      new CreateTableCommand({
        TableName: store.table,
        AttributeDefinitions: [
          { AttributeName: store.keyName, AttributeType: isNumber(store.keyValue) ? "N" : "S" },
        ],
        KeySchema: [{ AttributeName: store.keyName, KeyType: "HASH" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
    await waitUntilTableExists({ client, maxWaitTime: 30 }, { TableName: store.table });
  }
}

/** The table's key type (the study's tables have a number key `id`), read once at init as
 * the Rust store does: a string sent to a number key fails every call. */
async function keyType() {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: store.table }));
  const hash = Table.KeySchema.find((k) => k.KeyType === "HASH").AttributeName;
  if (hash !== store.keyName) {
    throw new Error(`table ${store.table} is keyed by ${hash}, not ${store.keyName}`);
  }
  const type = Table.AttributeDefinitions.find((a) => a.AttributeName === hash).AttributeType;
  if (type === "N" && !isNumber(store.keyValue)) {
    throw new Error(`table ${store.table} has a number key, but key_value is ${store.keyValue}`);
  }
  return type;
}

async function putZero() {
  try {
    await client.send(
      new PutItemCommand({
        TableName: store.table,
        Item: { ...key, [store.attribute]: { N: "0" } },
        ConditionExpression: "attribute_not_exists(#k)",
        ExpressionAttributeNames: { "#k": store.keyName },
      }),
    );
  } catch (err) {
    if (err.name !== "ConditionalCheckFailedException") throw err;
  }
}

// Creating the counter is explicit (create=true), once, at init.
if (store.create) await createTable();
const key = { [store.keyName]: { [await keyType()]: store.keyValue } };
if (store.create) await putZero();

async function incr() {
  if (store.mode === "read-modify-write") {
    const got = await client.send(
      new GetItemCommand({ TableName: store.table, Key: key, ConsistentRead: true }),
    );
    if (!got.Item) throw new CounterMissing(`counter item in table ${store.table} is missing`);
    const next = Number(got.Item[store.attribute]?.N ?? "0") + 1;
    await client.send(
      new PutItemCommand({ TableName: store.table, Item: { ...key, [store.attribute]: { N: String(next) } } }),
    );
    return next;
  }
  try {
    const out = await client.send(
      new UpdateItemCommand({
        TableName: store.table,
        Key: key,
        UpdateExpression: "ADD #c :one",
        ConditionExpression: "attribute_exists(#k)",
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ":one": { N: "1" } },
        ReturnValues: "UPDATED_NEW",
      }),
    );
    return Number(out.Attributes[store.attribute].N);
  } catch (err) {
    if (err.name === "ConditionalCheckFailedException") {
      throw new CounterMissing(`counter item in table ${store.table} is missing`);
    }
    throw err;
  }
}

/** The app's page, read once at init: page.html beside this file (the deployed zip
 * carries it, scripts/build-lambdas), else the repository's copy above it (a local run).
 * API Gateway sends `GET /` to the function, as for the Rust one. */
function readPage() {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 6; up += 1) {
    for (const candidate of [join(dir, "page.html"), join(dir, "crates", "app", "src", "page.html")]) {
      if (existsSync(candidate)) return readFileSync(candidate, "utf8");
    }
    dir = dirname(dir);
  }
  throw new Error("page.html is neither beside index.mjs nor in the repository above it");
}
const page = readPage();

const json = (statusCode, body, headers = {}) => ({
  statusCode,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

export const handler = async (event) => {
  const method = event.requestContext?.http?.method ?? "GET";
  const path = event.rawPath ?? "/";
  if (path === "/healthz") return json(200, { status: "pass" });
  if (path === "/" && (method === "GET" || method === "HEAD")) {
    return { statusCode: 200, headers: { "content-type": "text/html; charset=utf-8" }, body: page };
  }
  if (path !== "/hits") return json(404, { error: `no route for ${path}` });
  if (method !== "GET") return json(405, { error: `method ${method} not allowed on /hits` }, { allow: "GET" });
  try {
    const count = await incr();
    return { statusCode: 200, headers: { "content-type": "text/plain" }, body: String(count) };
  } catch (err) {
    // The detail goes to the log; the body never carries internals.
    console.warn(`store failed: ${err.message}`);
    return json(503, { error: "the counter store is unavailable" });
  }
};
