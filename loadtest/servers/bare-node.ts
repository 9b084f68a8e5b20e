import { createServer } from "node:http";

/**
 * The box's floor for an HTTP answer: node:http and a fixed JSON body, no framework, no routing.
 * The crowd scenario's throughput is reported against it (and against bare Hono) in the same run.
 */
const body = JSON.stringify({ orderId: "baseline", status: "queued" });
createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(req.method === "POST" ? 202 : 200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
}).listen(Number(process.env.PORT), "127.0.0.1", () => process.stdout.write("ready\n"));
