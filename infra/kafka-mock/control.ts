import { createConnection, type Socket } from "node:net";
import { createInterface, type Interface } from "node:readline";

/** Kafka protocol request keys used with `errors`/`clear` (the ApiKey of each request type). */
export const API_KEY = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  SyncGroup: 14,
} as const;

/** Kafka error codes worth injecting. Negative codes are librdkafka-internal. */
export const KAFKA_ERROR = {
  /** The broker drops the connection instead of answering. */
  transport: -195,
  notLeaderForPartition: 6,
  requestTimedOut: 7,
  notEnoughReplicas: 19,
  /** Not retriable. */
  invalidRecord: 87,
  unknownServerError: -1,
} as const;

/**
 * A client for the launcher's control channel: fault injection for reliability tests.
 * Commands are answered in order, so replies are matched to requests by position.
 */
export class KafkaMockControl {
  private socket?: Socket;
  private lines?: Interface;
  private waiting: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];

  constructor(private readonly address: string) {}

  private connect(): Promise<void> {
    if (this.socket) return Promise.resolve();
    const [host, port] = this.address.split(":");
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host, port: Number(port) }, () => resolve());
      socket.once("error", (err) => {
        reject(err);
        for (const w of this.waiting.splice(0)) w.reject(err);
      });
      this.socket = socket;
      this.lines = createInterface({ input: socket });
      this.lines.on("line", (line) => this.waiting.shift()?.resolve(line));
    });
  }

  async send(command: string): Promise<void> {
    await this.connect();
    const reply = await new Promise<string>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket?.write(`${command}\n`);
    });
    if (reply !== "ok") throw new Error(`kafka mock: "${command}" failed: ${reply}`);
  }

  createTopic(name: string, partitions: number) {
    return this.send(`topic ${name} ${partitions}`);
  }
  /** broker id, or -1 for every broker */
  brokerDown(broker = -1) {
    return this.send(`down ${broker}`);
  }
  brokerUp(broker = -1) {
    return this.send(`up ${broker}`);
  }
  setRtt(broker: number, ms: number) {
    return this.send(`rtt ${broker} ${ms}`);
  }
  /** The next `count` requests of `apiKey` fail with `errorCode`. */
  pushRequestErrors(apiKey: number, errorCode: number, count: number) {
    return this.send(`errors ${apiKey} ${errorCode} ${count}`);
  }
  clearRequestErrors(apiKey: number) {
    return this.send(`clear ${apiKey}`);
  }

  close(): void {
    this.lines?.close();
    this.socket?.end();
    this.socket = undefined;
  }
}
