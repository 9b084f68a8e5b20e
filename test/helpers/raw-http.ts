import { connect } from "node:net";

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Body bytes the client wrote; it stops once a whole answer has arrived, as curl does. */
  bytesSent: number;
  /** The server closed the connection. */
  closed: boolean;
  ms: number;
}

export interface RawBody {
  /** Send the head as given, unfinished (no blank line): for the headers timeout. */
  openHead?: boolean;
  /** Sent right after the head. */
  initial?: Buffer | string;
  /** Then `count` chunks of `chunk` (as chunked encoding when `chunked`), `intervalMs` apart (0: as fast as the socket takes them). */
  chunk?: Buffer;
  count?: number;
  chunked?: boolean;
  intervalMs?: number;
}

/**
 * One HTTP/1.1 exchange over a bare socket, for what fetch cannot do: a declared length never
 * sent, a body dribbled or streamed far past a limit, headers Node refuses. Resolves when a
 * whole answer has arrived or the server closed the connection (status 0 if it said nothing).
 */
export function rawExchange(port: number, head: string, body: RawBody = {}, timeoutMs = 30_000): Promise<RawAnswer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let received = Buffer.alloc(0);
    let bytesSent = 0;
    let done = false;
    let answered = false;
    let closed = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const text = received.toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const lines = (split >= 0 ? text.slice(0, split) : text).split("\r\n");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({
        status,
        headers,
        body: split >= 0 ? received.subarray(Buffer.byteLength(text.slice(0, split + 4), "latin1")).toString("utf8") : "",
        bytesSent,
        closed,
        ms: performance.now() - started,
      });
      socket.destroy();
    };
    const timer = setTimeout(finish, timeoutMs);
    const complete = () => {
      const text = received.toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      if (split < 0) return false;
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, split))?.[1];
      return length !== undefined && received.length >= split + 4 + Number(length);
    };
    socket.on("data", (d: Buffer) => {
      received = Buffer.concat([received, d]);
      // Give the server a moment to close after a complete answer, so `closed` means something
      // (a 413 lingers 500 ms, discarding, before it closes).
      if (!answered && complete()) {
        answered = true; // like curl, stop sending once the server has answered
        setTimeout(finish, 1000);
      }
    });
    socket.on("close", () => {
      closed = true;
      finish();
    });
    socket.on("error", () => {});
    socket.on("end", () => {
      closed = true;
    });
    socket.write(body.openHead || head.endsWith("\r\n\r\n") ? head : head.endsWith("\r\n") ? `${head}\r\n` : `${head}\r\n\r\n`);
    if (body.initial !== undefined) {
      socket.write(body.initial);
      bytesSent += Buffer.byteLength(body.initial);
    }
    const { chunk, count = 0, chunked = false, intervalMs = 0 } = body;
    if (!chunk || count === 0) return;
    let sent = 0;
    const frame = chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]) : chunk;
    const pump = () => {
      while (!answered && !done && !socket.destroyed && sent < count) {
        const ok = socket.write(frame);
        sent++;
        bytesSent += chunk.length;
        if (sent === count && chunked) socket.write("0\r\n\r\n");
        if (intervalMs > 0) return void setTimeout(pump, intervalMs);
        if (!ok) return void socket.once("drain", pump);
      }
    };
    pump();
  });
}

/** The parsed uniform error body of an answer, or undefined when it has none. */
export function errorCode(a: RawAnswer): string | undefined {
  try {
    return (JSON.parse(a.body) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}
